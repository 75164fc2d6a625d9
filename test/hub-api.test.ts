// The read side of the Hub API (issue 5 items 1, 2 and 6): whoami, create and delete repos,
// repo info and tree listings, and CORS, driven by @huggingface/hub against a real hubgate and
// checked against what real git sees; plus the exact JSON shapes huggingface_hub (Python) reads.
import fs from 'node:fs';
import path from 'node:path';
import { createRepo, datasetInfo, deleteRepo, listFiles, modelInfo, pathsInfo, repoExists, whoAmI } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';
import { rawRequest } from './helpers/wire.js';

const TRUSTED_ORIGIN = 'https://app.example.com';
const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('Hub API: whoami, repos, info, tree, CORS', () => {
  let hub: Hubgate;
  const tok: Record<string, string> = {};

  /** Options for @huggingface/hub calls as `who` (anonymous when undefined), as any client code passes them. */
  const as = (who?: string) => ({ hubUrl: hub.url, ...(who ? { accessToken: tok[who] } : {}) });

  const api = (method: string, urlPath: string, who?: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${hub.url}${urlPath}`, {
      method,
      headers: { ...(who ? { Authorization: `Bearer ${tok[who]}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  const json = async (res: Response) => (await res.json()) as Record<string, any>;

  async function must(args: string[], cwd: string): Promise<string> {
    const r = await hub.git(args, { cwd });
    if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Clones `repo`, writes `files` (nested paths allowed), commits and pushes `branch`; returns the pushed commit. */
  async function push(repo: string, who: string, files: Record<string, string | Buffer>, branch = 'main'): Promise<string> {
    const work = tempDir('hubgate-hubapi-');
    await must(['clone', '-q', hub.remote(repo, tok[who]), '.'], work);
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(work, name)), { recursive: true });
      fs.writeFileSync(path.join(work, name), content);
    }
    await must(['add', '-A'], work);
    await must(['commit', '-q', '-m', 'files'], work);
    await must(['push', '-q', 'origin', `HEAD:refs/heads/${branch}`], work);
    return must(['rev-parse', 'HEAD'], work);
  }

  /** What real git says about a repo on the server. */
  const serverGit = (repo: string, args: string[]) => must(['--git-dir', hub.repoDir(repo), ...args], tempDir());

  beforeAll(async () => {
    hub = await startHubgate({ env: { HUBGATE_CORS_ORIGINS: `${TRUSTED_ORIGIN}, http://localhost:5173` } });
    const cli = async (args: string[]) => {
      const r = await hub.cli(args);
      if (r.code !== 0) throw new Error(`hubgate ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    await cli(['user', 'create', 'alice', '--email', 'alice@example.com', '--fullname', 'Alice Liddell']);
    tok.alice = await cli(['token', 'create', 'alice', '--role', 'write', '--name', 'laptop']);
    tok.aliceRead = await cli(['token', 'create', 'alice', '--role', 'read', '--name', 'ci']);
    tok.bob = await hub.userWithToken('bob');
    tok.carol = await hub.userWithToken('carol');
    await cli(['org', 'create', 'acme', '--fullname', 'ACME Corp']);
    await cli(['org', 'create', 'zeta']);
    await cli(['org', 'add', 'acme', 'alice', '--role', 'admin']);
    await cli(['org', 'add', 'zeta', 'alice', '--role', 'read']);
    await cli(['org', 'add', 'acme', 'bob', '--role', 'read']);
    await cli(['org', 'add', 'acme', 'carol', '--role', 'write']);
    await must(['lfs', 'install', '--skip-repo'], tempDir());
  });
  afterAll(async () => {
    await hub?.stop();
  });

  describe('whoami', () => {
    it('answers the token owner, orgs and token with @huggingface/hub and in the shape huggingface_hub reads', async () => {
      const me = await whoAmI(as('alice'));
      expect(me).toMatchObject({ type: 'user', name: 'alice', fullname: 'Alice Liddell', email: 'alice@example.com' });
      expect(me.auth.accessToken).toMatchObject({ displayName: 'laptop', role: 'write' });
      expect(me.auth.accessToken!.createdAt).toBeInstanceOf(Date);

      const raw = await json(await api('GET', '/api/whoami-v2', 'aliceRead'));
      expect(raw.name).toBe('alice');
      expect(raw.orgs).toEqual([
        { type: 'org', name: 'acme', fullname: 'ACME Corp', roleInOrg: 'admin' },
        { type: 'org', name: 'zeta', fullname: '', roleInOrg: 'read' },
      ]);
      expect(raw.auth).toEqual({ type: 'access_token', accessToken: { displayName: 'ci', role: 'read', createdAt: expect.stringMatching(ISO_Z) } });
      expect((await json(await api('GET', '/api/whoami-v2', 'bob'))).orgs).toEqual([{ type: 'org', name: 'acme', fullname: 'ACME Corp', roleInOrg: 'read' }]);
    });

    it('answers 401 without a token, and 401 with the exact message for an invalid one', async () => {
      const anon = await api('GET', '/api/whoami-v2');
      expect(anon.status).toBe(401);
      expect((await json(anon)).error).toMatch(/access token/);

      const bad = await fetch(`${hub.url}/api/whoami-v2`, { headers: { Authorization: `Bearer hf_${'A'.repeat(43)}` } });
      expect(bad.status).toBe(401);
      expect(bad.headers.get('x-error-message')).toBe('Invalid credentials in Authorization header');
      const garbage = await fetch(`${hub.url}/api/whoami-v2`, { headers: { Authorization: 'Bearer not-a-token' } });
      expect(garbage.status).toBe(401);
      expect(garbage.headers.get('x-error-message')).toBe('Invalid credentials in Authorization header');
    });
  });

  describe('create and delete', () => {
    it('creates in the own namespace with @huggingface/hub; info sha is what git ls-remote says', async () => {
      const created = await createRepo({ repo: 'alice/first', ...as('alice') });
      expect(created.repoUrl).toBe(`${hub.url}/alice/first`);
      const lsRemote = await must(['ls-remote', hub.remote('alice/first', tok.alice), 'refs/heads/main'], tempDir());
      const info = await json(await api('GET', '/api/models/alice/first', 'alice'));
      expect(info.sha).toBe(lsRemote.split('\t')[0]);
      expect(info.siblings).toEqual([{ rfilename: '.gitattributes' }]);
      const viaClient = await modelInfo({ name: 'alice/first', ...as('alice') });
      expect(viaClient).toMatchObject({ name: 'alice/first', private: false, gated: false });
      expect(viaClient.updatedAt.toISOString()).toBe(info.lastModified);
    });

    it('creates datasets and private repos; the 0.x and 1.x bodies of huggingface_hub give {url, name, id}', async () => {
      // huggingface_hub 0.x: organization null, "private", "type" (hf-wire.md §5).
      const v0 = await api('POST', '/api/repos/create', 'alice', { name: 'data0', organization: null, private: true, type: 'dataset' });
      expect(v0.status).toBe(200);
      const body0 = await json(v0);
      expect(body0).toEqual({ url: `${hub.url}/datasets/alice/data0`, name: 'alice/data0', id: expect.any(String) });
      // 1.x: "visibility" instead of "private"; a space's sdk and hardware are ignored.
      const v1 = await api('POST', '/api/repos/create', 'alice', { name: 'space1', organization: 'alice', visibility: 'public', type: 'space', sdk: 'gradio', hardware: 'cpu-basic' });
      expect(await json(v1)).toMatchObject({ url: `${hub.url}/spaces/alice/space1`, name: 'alice/space1' });

      const d = await datasetInfo({ name: 'alice/data0', ...as('alice') });
      expect(d).toMatchObject({ name: 'alice/data0', private: true });
      expect((await json(await api('GET', '/api/spaces/alice/space1', 'alice'))).private).toBe(false);
      expect(fs.existsSync(hub.repoDir('datasets/alice/data0'))).toBe(true);
    });

    it('answers 409 with the url for an existing repo (create_repo(exist_ok=True) reads it)', async () => {
      await createRepo({ repo: 'alice/twice', ...as('alice') });
      const again = await api('POST', '/api/repos/create', 'alice', { name: 'twice', organization: 'alice' });
      expect(again.status).toBe(409);
      expect(await json(again)).toEqual({ error: 'You already created this model repo: alice/twice', url: `${hub.url}/alice/twice` });
      await expect(createRepo({ repo: 'alice/twice', ...as('alice') })).rejects.toMatchObject({ statusCode: 409 });
    });

    it('creates in an org for write and admin members only, never with a read token', async () => {
      expect((await createRepo({ repo: 'acme/by-admin', ...as('alice') })).repoUrl).toBe(`${hub.url}/acme/by-admin`);
      expect((await createRepo({ repo: { type: 'dataset', name: 'acme/by-writer' }, ...as('carol') })).repoUrl).toBe(`${hub.url}/datasets/acme/by-writer`);

      const byReader = api('POST', '/api/repos/create', 'bob', { name: 'by-reader', organization: 'acme' });
      expect((await byReader).status).toBe(403);
      expect((await json(await byReader)).error).toMatch(/cannot create repos in "acme"/);
      await expect(createRepo({ repo: 'acme/by-reader2', ...as('bob') })).rejects.toMatchObject({ statusCode: 403 });
      await expect(createRepo({ repo: 'zeta/nope', ...as('alice') })).rejects.toMatchObject({ statusCode: 403 });
      // Someone else's user namespace, and a namespace that does not exist.
      expect((await api('POST', '/api/repos/create', 'bob', { name: 'mine', organization: 'alice' })).status).toBe(403);
      const missing = await api('POST', '/api/repos/create', 'bob', { name: 'x', organization: 'nobody' });
      expect(missing.status).toBe(404);
      expect((await json(missing)).error).toMatch(/no user or organization named "nobody"/);

      const readToken = await api('POST', '/api/repos/create', 'aliceRead', { name: 'read-token' });
      expect(readToken.status).toBe(403);
      expect(readToken.headers.get('x-error-message')).toMatch(/read role/);
      const anon = await api('POST', '/api/repos/create', undefined, { name: 'anon', organization: 'alice' });
      expect(anon.status).toBe(401);

      for (const repo of ['acme/by-reader', 'acme/by-reader2', 'zeta/nope', 'alice/mine', 'alice/read-token', 'alice/anon']) {
        expect(fs.existsSync(hub.repoDir(repo)), repo).toBe(false);
        expect((await api('GET', `/api/models/${repo}`, 'alice')).status, repo).toBe(404);
      }
    });

    it('refuses bad bodies with a 400 that says what is wrong, and creates nothing', async () => {
      const before = fs.readdirSync(path.join(hub.dataDir, 'repos', 'models', 'alice')).sort();
      const cases: [unknown, RegExp][] = [
        ['{"name": "broken', /malformed JSON/],
        [{ name: 'a..b' }, /'\.\.' is not allowed/],
        [{ name: '../../etc' }, /invalid repo name/],
        [{ name: 'ok', organization: '..' }, /invalid namespace/],
        [{ name: 'x.git' }, /cannot end in \.git/],
        [{ name: 'ok', type: 'widget' }, /type: use model, dataset or space/],
        [{ name: 'ok', private: 'yes' }, /private/],
        [{ name: 'ok', visibility: 'protected' }, /visibility: use public or private/],
        [{ name: 'ok', private: true, visibility: 'public' }, /disagree/],
        [{ name: 'ok', files: [{ path: 'a', content: 'eA==' }] }, /upload them/],
        [{}, /name/],
        [{ name: 'a/b/c' }, /invalid repo name/],
      ];
      for (const [body, message] of cases) {
        const res = await api('POST', '/api/repos/create', 'alice', body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect((await json(res)).error, JSON.stringify(body)).toMatch(message);
        expect(res.headers.get('x-error-message')).toBeTruthy();
      }
      expect(fs.readdirSync(path.join(hub.dataDir, 'repos', 'models', 'alice')).sort()).toEqual(before);
      expect((await api('GET', '/api/models/alice/ok', 'alice')).status).toBe(404);
    });

    it('deletes with @huggingface/hub: then 404 everywhere, the directory gone, the name free again', async () => {
      await createRepo({ repo: 'alice/doomed', ...as('alice') });
      const first = await push('alice/doomed', 'alice', { 'a.txt': 'one' });
      await deleteRepo({ repo: 'alice/doomed', ...as('alice') });

      const info = await api('GET', '/api/models/alice/doomed', 'alice');
      expect(info.status).toBe(404);
      expect(info.headers.get('x-error-code')).toBe('RepoNotFound');
      expect(await repoExists({ repo: 'alice/doomed', ...as('alice') })).toBe(false);
      expect((await hub.git(['ls-remote', hub.remote('alice/doomed', tok.alice)])).code).not.toBe(0);
      expect(fs.existsSync(hub.repoDir('alice/doomed'))).toBe(false);
      expect(fs.readdirSync(path.join(hub.dataDir, 'trash'))).toEqual([]);
      await expect(deleteRepo({ repo: 'alice/doomed', ...as('alice') })).rejects.toMatchObject({ statusCode: 404 });

      // The same name again is a new repo, without the old history.
      await createRepo({ repo: 'alice/doomed', ...as('alice') });
      const fresh = await json(await api('GET', '/api/models/alice/doomed', 'alice'));
      expect(fresh.sha).not.toBe(first);
      expect(fresh.siblings).toEqual([{ rfilename: '.gitattributes' }]);
    });

    it('deletes only for the owner or an org admin with a write token; hidden repos are 404', async () => {
      await createRepo({ repo: 'acme/keep', ...as('alice') });
      await api('POST', '/api/repos/create', 'alice', { name: 'secret', private: true });
      const del = (who: string | undefined, body: unknown) => api('DELETE', '/api/repos/delete', who, body);

      expect((await del('bob', { name: 'keep', organization: 'acme' })).status).toBe(403);
      expect((await del('carol', { name: 'keep', organization: 'acme' })).status).toBe(403);
      const readToken = await del('aliceRead', { name: 'keep', organization: 'acme' });
      expect(readToken.status).toBe(403);
      expect(readToken.headers.get('x-error-message')).toMatch(/read role/);
      const hidden = await del('bob', { name: 'secret', organization: 'alice' });
      expect(hidden.status).toBe(404);
      expect(hidden.headers.get('x-error-code')).toBe('RepoNotFound');
      expect((await del(undefined, { name: 'keep', organization: 'acme' })).status).toBe(401);
      expect((await del('alice', { name: 'keep', organization: 'acme', type: 'dataset' })).status).toBe(404);
      expect((await del('alice', { name: '..', organization: 'acme' })).status).toBe(400);
      expect(fs.existsSync(hub.repoDir('acme/keep'))).toBe(true);
      expect(fs.existsSync(hub.repoDir('alice/secret'))).toBe(true);

      // An org admin deletes the org's repo; the owner deletes her private one (no organization: her own namespace).
      expect((await del('alice', { name: 'keep', organization: 'acme' })).status).toBe(200);
      expect((await del('alice', { name: 'secret' })).status).toBe(200);
      expect(fs.existsSync(hub.repoDir('acme/keep'))).toBe(false);
      expect(fs.existsSync(hub.repoDir('alice/secret'))).toBe(false);
    });
  });

  describe('repo info and tree', () => {
    let tip: string;
    const WEIGHTS = Buffer.alloc(3000, 7);
    const MANY = 1005;

    beforeAll(async () => {
      await createRepo({ repo: 'alice/full', ...as('alice') });
      const files: Record<string, string | Buffer> = {
        'README.md': '---\nlicense: mit\ntags:\n  - demo\n---\n# Full\n',
        'config.json': '{"a": 1}\n',
        'model.safetensors': WEIGHTS, // LFS by the default .gitattributes
        'sub/deeper/leaf.txt': 'leaf\n',
        'sub/b.txt': 'b\n',
      };
      for (let i = 0; i < MANY; i++) files[`many/f${String(i).padStart(4, '0')}.txt`] = `${i}\n`;
      tip = await push('alice/full', 'alice', files);
      await push('alice/full', 'alice', { 'feature-only.txt': 'x' }, 'feature/x');
    });

    it('repo info: the shape huggingface_hub reads, sha and dates from git, cardData from the README', async () => {
      const info = await json(await api('GET', '/api/models/alice/full'));
      expect(info).toMatchObject({
        id: 'alice/full', modelId: 'alice/full', author: 'alice', sha: tip, private: false, gated: false, disabled: false,
        cardData: { license: 'mit', tags: ['demo'] },
      });
      const committed = await serverGit('alice/full', ['log', '-1', '--format=%cI', 'main']);
      expect(info.lastModified).toBe(new Date(committed).toISOString());
      expect(info.createdAt).toMatch(ISO_Z);
      const names = (info.siblings as { rfilename: string }[]).map((s) => s.rfilename);
      const gitNames = (await serverGit('alice/full', ['ls-tree', '-r', '--name-only', 'main'])).split('\n');
      expect(names).toEqual(gitNames);
      expect(names).toHaveLength(MANY + 6);
      expect(info.siblings[0]).toEqual({ rfilename: '.gitattributes' });

      // The same at a revision: a branch with '/' quoted as huggingface_hub quotes it, and a commit id.
      const feature = await json(await api('GET', '/api/models/alice/full/revision/feature%2Fx'));
      expect(feature.sha).toBe(await serverGit('alice/full', ['rev-parse', 'refs/heads/feature/x']));
      expect(feature.siblings.map((s: { rfilename: string }) => s.rfilename)).toContain('feature-only.txt');
      expect((await json(await api('GET', `/api/models/alice/full/revision/${tip}`))).sha).toBe(tip);
      expect((await json(await api('GET', '/api/models/alice/full/revision/HEAD'))).sha).toBe(tip);

      // `expand` selects fields, as on the Hub: the file list only when asked for.
      const selected = await json(await api('GET', '/api/models/alice/full/revision/HEAD?expand=private&expand=gated'));
      expect(selected).toMatchObject({ id: 'alice/full', sha: tip, private: false, gated: false });
      expect(selected.siblings).toBeUndefined();
      expect((await json(await api('GET', '/api/models/alice/full?expand=siblings'))).siblings).toHaveLength(MANY + 6);
    });

    it('files_metadata (blobs=True): sizes, blob ids and LFS sha256 as git and git-lfs know them', async () => {
      const info = await json(await api('GET', '/api/models/alice/full/revision/main?blobs=True&securityStatus=True'));
      const byName = new Map((info.siblings as { rfilename: string }[]).map((s) => [s.rfilename, s]));
      const pointer = await serverGit('alice/full', ['cat-file', 'blob', 'main:model.safetensors']);
      const sha256 = /oid sha256:([0-9a-f]{64})/.exec(pointer)![1];
      expect(byName.get('model.safetensors')).toEqual({
        rfilename: 'model.safetensors',
        size: WEIGHTS.length,
        blobId: await serverGit('alice/full', ['rev-parse', 'main:model.safetensors']),
        lfs: { sha256, size: WEIGHTS.length, pointerSize: pointer.length + 1 },
      });
      expect(sha256).toBe((await import('node:crypto')).createHash('sha256').update(WEIGHTS).digest('hex'));
      expect(byName.get('config.json')).toEqual({ rfilename: 'config.json', size: 9, blobId: await serverGit('alice/full', ['rev-parse', 'main:config.json']) });
    });

    it('lists with @huggingface/hub listFiles: recursive across pages, a folder, and LFS details', async () => {
      const all = [];
      for await (const entry of listFiles({ repo: 'alice/full', recursive: true, ...as('alice') })) all.push(entry);
      const gitAll = (await serverGit('alice/full', ['ls-tree', '-r', '-t', '--name-only', 'main'])).split('\n');
      expect(all.map((e) => e.path)).toEqual(gitAll); // more than one page of 1000: the client followed Link
      expect(all.filter((e) => e.type === 'directory').map((e) => e.path)).toEqual(['many', 'sub', 'sub/deeper']);
      const weights = all.find((e) => e.path === 'model.safetensors')!;
      expect(weights).toMatchObject({ type: 'file', size: WEIGHTS.length, lfs: { size: WEIGHTS.length, pointerSize: expect.any(Number) } });
      expect(weights.oid).toBe(await serverGit('alice/full', ['rev-parse', 'main:model.safetensors']));

      const sub = [];
      for await (const entry of listFiles({ repo: 'alice/full', path: 'sub', ...as('alice') })) sub.push(entry);
      expect(sub).toEqual([
        { type: 'file', oid: await serverGit('alice/full', ['rev-parse', 'main:sub/b.txt']), size: 2, path: 'sub/b.txt' },
        { type: 'directory', oid: await serverGit('alice/full', ['rev-parse', 'main:sub/deeper']), size: 0, path: 'sub/deeper' },
      ]);
      const top = [];
      for await (const entry of listFiles({ repo: 'alice/full', ...as() })) top.push(entry.path);
      expect(top).toEqual(['.gitattributes', 'README.md', 'config.json', 'many', 'model.safetensors', 'sub']);
    });

    it('pages with limit and cursor through Link rel="next", pinned to the first page\'s commit', async () => {
      const seen: string[] = [];
      let url: string | null = `${hub.url}/api/models/alice/full/tree/main/many?limit=400`;
      let pages = 0;
      while (url) {
        const res = await fetch(url);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-repo-commit')).toBe(tip);
        seen.push(...((await res.json()) as { path: string }[]).map((e) => e.path));
        pages++;
        const link = res.headers.get('link');
        url = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1] : null;
        if (url) expect(url).toContain(`/tree/${tip}/many?`);
      }
      expect(pages).toBe(3);
      expect(seen).toEqual((await serverGit('alice/full', ['ls-tree', '--name-only', 'main', 'many/'])).split('\n'));
    });

    it('expand: each entry\'s last commit, in pages of 50, in the tree and in paths-info (JSON and form bodies)', async () => {
      const lastOf = async (p: string) => (await serverGit('alice/full', ['log', '-1', '--format=%H%x00%cI%x00%s', 'main', '--', p])).split('\0');
      const res = await fetch(`${hub.url}/api/models/alice/full/tree/main?expand=True`);
      const top = (await res.json()) as { path: string; lastCommit: { id: string; title: string; date: string } }[];
      const [id, date, title] = await lastOf('config.json');
      expect(top.find((e) => e.path === 'config.json')!.lastCommit).toEqual({ id, title, date: new Date(date).toISOString() });
      const many = await fetch(`${hub.url}/api/models/alice/full/tree/main/many?expand=true`);
      expect(((await many.json()) as unknown[]).length).toBe(50);
      expect(many.headers.get('link')).toMatch(/expand=true.*cursor=50/);

      const infos = await pathsInfo({ repo: 'alice/full', paths: ['model.safetensors', 'sub', 'nope.txt'], expand: true, revision: 'main', ...as('alice') });
      expect(infos.map((i) => [i.path, i.type])).toEqual([['model.safetensors', 'file'], ['sub', 'directory']]);
      expect(infos[0]).toMatchObject({ size: WEIGHTS.length, oid: await serverGit('alice/full', ['rev-parse', 'main:model.safetensors']), lfs: { size: WEIGHTS.length } });
      expect(infos[0].lastCommit).toMatchObject({ id: (await lastOf('model.safetensors'))[0] });
      // huggingface_hub's get_paths_info posts a form.
      const form = await fetch(`${hub.url}/api/models/alice/full/paths-info/main`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'paths=config.json&paths=sub%2Fb.txt&expand=False',
      });
      expect(await form.json()).toEqual([
        { type: 'file', oid: await serverGit('alice/full', ['rev-parse', 'main:config.json']), size: 9, path: 'config.json' },
        { type: 'file', oid: await serverGit('alice/full', ['rev-parse', 'main:sub/b.txt']), size: 2, path: 'sub/b.txt' },
      ]);
      const bad = await api('POST', '/api/models/alice/full/paths-info/main', undefined, { paths: ['../etc/passwd'] });
      expect(bad.status).toBe(400);
      expect((await api('POST', '/api/models/alice/full/paths-info/nope', undefined, { paths: ['a'] })).headers.get('x-error-code')).toBe('RevisionNotFound');
    });

    it('answers RevisionNotFound, EntryNotFound, and 400 for revisions and paths that must not reach git', async () => {
      const noRev = await api('GET', '/api/models/alice/full/revision/nope');
      expect(noRev.status).toBe(404);
      expect(noRev.headers.get('x-error-code')).toBe('RevisionNotFound');
      expect((await json(noRev)).error).toMatch(/nope/);
      const noTreeRev = await api('GET', '/api/models/alice/full/tree/nope');
      expect(noTreeRev.headers.get('x-error-code')).toBe('RevisionNotFound');
      const noPath = await api('GET', '/api/models/alice/full/tree/main/missing/dir');
      expect(noPath.status).toBe(404);
      expect(noPath.headers.get('x-error-code')).toBe('EntryNotFound');
      const aFile = await api('GET', '/api/models/alice/full/tree/main/config.json');
      expect(aFile.headers.get('x-error-code')).toBe('EntryNotFound');
      expect((await json(aFile)).error).toMatch(/is a file/);
      await expect(listFiles({ repo: 'alice/full', revision: 'nope', ...as() }).next()).rejects.toMatchObject({ statusCode: 404 });

      for (const bad of [
        '/api/models/alice/full/tree/main/%2e%2e/etc',
        '/api/models/alice/full/tree/main/sub/../..',
        '/api/models/alice/full/tree/-h',
        '/api/models/alice/full/tree/main..feature',
        '/api/models/alice/full/tree/main%0Aother',
        '/api/models/alice/full/tree/main%3Aconfig.json',
        '/api/models/alice/full/revision/--output=x',
        '/api/models/alice/full/revision/main@%7B0%7D',
        '/api/models/alice/full/tree/main/sub%00x',
        '/api/models/alice/full/tree/main?limit=0',
        '/api/models/alice/full/tree/main?cursor=abc',
      ]) {
        const res = await rawRequest(hub.port, { path: bad });
        expect(res.status, bad).toBe(400);
        expect(JSON.parse(res.text).error, bad).toMatch(/revision|path|limit|cursor/);
      }
      expect((await api('GET', '/api/widgets/alice/full')).status).toBe(404);
    });
  });

  describe('private and gated repos', () => {
    beforeAll(async () => {
      await api('POST', '/api/repos/create', 'alice', { name: 'hidden', private: true });
      await api('POST', '/api/repos/create', 'alice', { name: 'gated', gated: 'manual' });
      await push('alice/gated', 'alice', { 'weights.txt': 'secret weights\n' });
    });

    it('keeps a private repo invisible: 404 RepoNotFound to others, 401 RepoNotFound to anonymous', async () => {
      for (const p of ['/api/models/alice/hidden', '/api/models/alice/hidden/revision/main', '/api/models/alice/hidden/tree/main']) {
        const other = await api('GET', p, 'bob');
        expect(other.status, p).toBe(404);
        expect(other.headers.get('x-error-code'), p).toBe('RepoNotFound');
        const anon = await api('GET', p);
        expect(anon.status, p).toBe(401);
        expect(anon.headers.get('x-error-code'), p).toBe('RepoNotFound');
        expect((await api('GET', p, 'alice')).status, p).toBe(200);
      }
      // A missing repo is answered exactly the same way.
      const missing = await api('GET', '/api/models/alice/never', 'bob');
      const hidden = await api('GET', '/api/models/alice/hidden', 'bob');
      expect(await missing.text()).toBe((await hidden.text()).replace('hidden', 'never'));
      expect(await repoExists({ repo: 'alice/hidden', ...as('bob') })).toBe(false);
      expect(await repoExists({ repo: 'alice/hidden', ...as('alice') })).toBe(true);
    });

    it('shows a gated repo\'s info and file names, but its tree and file metadata only after access is granted', async () => {
      const info = await json(await api('GET', '/api/models/alice/gated', 'bob'));
      expect(info).toMatchObject({ id: 'alice/gated', gated: 'manual', private: false });
      expect(info.siblings).toEqual([{ rfilename: '.gitattributes' }, { rfilename: 'weights.txt' }]);
      expect((await modelInfo({ name: 'alice/gated', ...as() })).gated).toBe('manual');

      const tree = await api('GET', '/api/models/alice/gated/tree/main', 'bob');
      expect(tree.status).toBe(403);
      expect(tree.headers.get('x-error-code')).toBe('GatedRepo');
      const anonTree = await api('GET', '/api/models/alice/gated/tree/main');
      expect(anonTree.status).toBe(401);
      expect(anonTree.headers.get('x-error-code')).toBe('GatedRepo');
      const blobs = await api('GET', '/api/models/alice/gated?blobs=true', 'bob');
      expect(blobs.status).toBe(403);
      expect(blobs.headers.get('x-error-code')).toBe('GatedRepo');
      await expect(listFiles({ repo: 'alice/gated', ...as('bob') }).next()).rejects.toMatchObject({ statusCode: 403 });
      await expect(pathsInfo({ repo: 'alice/gated', paths: ['weights.txt'], ...as('bob') })).rejects.toMatchObject({ statusCode: 403 });
      // The author is never gated.
      expect((await api('GET', '/api/models/alice/gated/tree/main', 'alice')).status).toBe(200);

      const grant = await api('POST', '/api/models/alice/gated/user-access-request/grant', 'alice', { user: 'bob' });
      expect(grant.status).toBe(200);
      const files = [];
      for await (const entry of listFiles({ repo: 'alice/gated', ...as('bob') })) files.push(entry.path);
      expect(files).toEqual(['.gitattributes', 'weights.txt']);
      expect((await api('GET', '/api/models/alice/gated?blobs=1', 'bob')).status).toBe(200);
    });
  });

  describe('CORS', () => {
    const preflight = (urlPath: string, origin: string) =>
      fetch(`${hub.url}${urlPath}`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
      });

    it('answers preflights with credentials only for configured origins', async () => {
      const trusted = await preflight('/api/repos/create', TRUSTED_ORIGIN);
      expect(trusted.status).toBe(204);
      expect(trusted.headers.get('access-control-allow-origin')).toBe(TRUSTED_ORIGIN);
      expect(trusted.headers.get('access-control-allow-credentials')).toBe('true');
      expect(trusted.headers.get('access-control-allow-methods')).toMatch(/DELETE/);
      expect(trusted.headers.get('access-control-allow-headers')).toMatch(/Authorization.*Content-Type.*Range/);
      expect(trusted.headers.get('vary')).toMatch(/Origin/);
      const local = await preflight('/api/whoami-v2', 'http://localhost:5173');
      expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');

      const other = await preflight('/api/repos/create', 'https://elsewhere.example');
      expect(other.status).toBe(204);
      expect(other.headers.get('access-control-allow-origin')).toBe('*');
      expect(other.headers.get('access-control-allow-credentials')).toBeNull();

      for (const p of [
        '/alice/full/resolve/main/config.json',
        '/datasets/alice/data0/resolve/main/x',
        '/alice/full.git/info/lfs/objects/batch',
        '/alice/full/info/lfs/locks',
        '/alice/full.git/info/refs',
        '/alice/full.git/git-upload-pack',
      ]) {
        const res = await preflight(p, 'https://elsewhere.example');
        expect(res.status, p).toBe(204);
        expect(res.headers.get('access-control-allow-origin'), p).toBe('*');
      }
    });

    it('puts CORS headers on API answers, errors included, and never on the HTML pages', async () => {
      const res = await fetch(`${hub.url}/api/models/alice/nothing-here`, { headers: { Origin: 'https://elsewhere.example' } });
      expect(res.status).toBe(401);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-expose-headers')).toMatch(/X-Error-Code.*X-Error-Message.*X-Repo-Commit.*X-Linked-Etag.*X-Linked-Size.*ETag.*Content-Range.*Link/);
      const withToken = await api('GET', '/api/whoami-v2', 'alice', undefined, { Origin: TRUSTED_ORIGIN });
      expect(withToken.status).toBe(200);
      expect(withToken.headers.get('access-control-allow-origin')).toBe(TRUSTED_ORIGIN);

      for (const page of ['/alice/full', '/login', '/']) {
        const html = await fetch(`${hub.url}${page}`, { headers: { Origin: TRUSTED_ORIGIN } });
        expect(html.headers.get('access-control-allow-origin'), page).toBeNull();
        const pre = await preflight(page, TRUSTED_ORIGIN);
        expect(pre.headers.get('access-control-allow-origin'), page).toBeNull();
      }
    });

    it('refuses a bad HUBGATE_CORS_ORIGINS at start with a message naming the setting', async () => {
      const bad = await startHubgate({ env: { HUBGATE_CORS_ORIGINS: 'https://ok.example, *' } }).then(
        (h) => h.stop().then(() => ''),
        (err: Error) => err.message,
      );
      expect(bad).toMatch(/HUBGATE_CORS_ORIGINS/);
    });
  });
});
