// Moving repos (issue 12 item 5): POST /api/repos/move as huggingface_hub's move_repo sends it,
// within a namespace or to one where the caller may create repos; the repo keeps its history,
// LFS files, access requests, locks and settings; its old name redirects (API and resolve 307,
// git and git-lfs follow theirs, pages 302) for whoever may see it, until a repo takes the name.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, requestsLogged, type RunResult, startHubgate, tempDir } from './helpers/hubgate.js';

const LFS = 'application/vnd.git-lfs+json';

describe('moving repos', () => {
  let hub: Hubgate;
  const tokens: Record<string, string> = {};

  const api = (method: string, urlPath: string, token?: string, body?: unknown, redirect: RequestRedirect = 'manual') =>
    fetch(`${hub.url}${urlPath}`, {
      method,
      redirect,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  /** move_repo's request: {"fromRepo", "toRepo", "type"}. */
  const move = (who: string, fromRepo: string, toRepo: string, type = 'model') => api('POST', '/api/repos/move', tokens[who], { fromRepo, toRepo, type });
  const cli = async (...args: string[]) => {
    const r = await hub.cli(args);
    if (r.code !== 0) throw new Error(`hubgate ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const ok = (r: RunResult, what: string): string => {
    if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  const audit = (action: string) => {
    const db = new Database(path.join(hub.dataDir, 'hubgate.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('select actor, repo, details from audit_log where action = ? order by id').all(action) as { actor: string | null; repo: string; details: string }[];
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    hub = await startHubgate();
    for (const name of ['alice', 'bob', 'carol']) tokens[name] = await hub.userWithToken(name);
    tokens.aliceRead = (await hub.cli(['token', 'create', 'alice', '--role', 'read'])).stdout.trim();
    await cli('org', 'create', 'lab');
    await cli('org', 'add', 'lab', 'alice', '--role', 'write');
    await cli('org', 'add', 'lab', 'bob', '--role', 'admin');
    await cli('org', 'create', 'closed');
    await cli('org', 'add', 'closed', 'alice', '--role', 'read');
    for (const args of [
      ['alice/one'], ['alice/tomove'], ['alice/secret', '--private'], ['alice/chain1'], ['alice/taken'], ['alice/stays'],
      ['alice/corpus', '--type', 'dataset'], ['alice/gated', '--gated', 'manual'], ['alice/lfsrepo'], ['lab/orgrepo'],
    ]) await cli('repo', 'create', ...args);
    ok(await hub.git(['lfs', 'install', '--skip-repo']), 'git lfs install');
  }, 60_000);
  afterAll(() => hub?.stop());

  it('renames within a namespace: 200, the old API, resolve and page addresses redirect to the new name', async () => {
    const head = await hub.pushFiles('alice/one', tokens.alice, { 'README.md': '# one\n', 'a%b.txt': 'percent\n' });
    const moved = await move('alice', 'alice/one', 'alice/two');
    expect(moved.status).toBe(200);
    expect(await moved.json()).toMatchObject({ url: `${hub.url}/alice/two`, name: 'alice/two' });
    expect(fs.existsSync(hub.repoDir('alice/one'))).toBe(false);
    expect(fs.existsSync(hub.repoDir('alice/two'))).toBe(true);

    // The Hub API: 307 to the same route under the new name, which answers for the repo.
    const info = await api('GET', '/api/models/alice/one', tokens.alice);
    expect(info.status).toBe(307);
    expect(info.headers.get('location')).toBe('/api/models/alice/two');
    expect(info.headers.get('cache-control')).toBe('no-store');
    const followed = await api('GET', '/api/models/alice/one', tokens.alice, undefined, 'follow');
    expect(followed.status).toBe(200);
    expect(await followed.json()).toMatchObject({ id: 'alice/two', sha: head });
    const tree = await api('GET', '/api/models/alice/one/tree/main?recursive=1', undefined);
    expect([tree.status, tree.headers.get('location')]).toEqual([307, '/api/models/alice/two/tree/main?recursive=1']);
    // Resolve: the rest of the path and the query as sent, percent-encoding included.
    const file = await api('GET', '/alice/one/resolve/main/a%25b.txt?download=true');
    expect([file.status, file.headers.get('location')]).toEqual([307, '/alice/two/resolve/main/a%25b.txt?download=true']);
    expect(await (await api('GET', '/alice/one/resolve/main/a%25b.txt', undefined, undefined, 'follow')).text()).toBe('percent\n');
    const slashed = await api('HEAD', '/alice/one.git/resolve/feature%2Fx/README.md');
    expect([slashed.status, slashed.headers.get('location')]).toEqual([307, '/alice/two.git/resolve/feature%2Fx/README.md']);
    // The repo's page: 302 (a browser keeps no temporary redirect, and a new repo may take the name).
    const page = await api('GET', '/alice/one');
    expect([page.status, page.headers.get('location')]).toEqual([302, '/alice/two']);
    expect(audit('repo.move').at(-1)).toMatchObject({ actor: 'alice', repo: 'models/alice/two' });
    expect(JSON.parse(audit('repo.move').at(-1)!.details)).toEqual({ from: 'models/alice/one', to: 'models/alice/two' });
  });

  it('transfers to an organization where the caller may create repos; git clone and push through the old address', async () => {
    const head = await hub.pushFiles('alice/tomove', tokens.alice, { 'README.md': '# tomove\n' });
    const work = tempDir('hubgate-move-clone-');
    ok(await hub.git(['clone', '--quiet', hub.remote('alice/tomove', tokens.alice), '.'], { cwd: work }), 'clone before the move');

    const loggedBefore = (await requestsLogged(hub)).length;
    // alice administers alice/tomove and may create repos in lab (a write member).
    expect((await move('alice', 'alice/tomove', 'lab/moved')).status).toBe(200);
    expect((await api('GET', '/api/models/lab/moved', tokens.alice, undefined, 'follow')).status).toBe(200);

    // A fresh clone through the old address: git follows the redirect of info/refs and says so.
    const fresh = tempDir('hubgate-move-fresh-');
    const clone = await hub.git(['clone', hub.remote('alice/tomove', tokens.alice), '.'], { cwd: fresh });
    expect(clone.code, clone.stderr).toBe(0);
    expect(clone.stderr).toContain(`warning: redirecting to http://127.0.0.1:${hub.port}/lab/moved`);
    expect(ok(await hub.git(['rev-parse', 'HEAD'], { cwd: fresh }), 'rev-parse').trim()).toBe(head);

    // A push from the clone made before the move, whose origin is still the old address.
    fs.writeFileSync(path.join(work, 'more.txt'), 'more\n');
    ok(await hub.git(['add', 'more.txt'], { cwd: work }), 'add');
    ok(await hub.git(['commit', '-qm', 'more'], { cwd: work }), 'commit');
    const push = await hub.git(['push', 'origin', 'main'], { cwd: work });
    expect(push.code, push.stderr).toBe(0);
    expect(push.stderr).toContain('warning: redirecting to');
    const pushed = ok(await hub.git(['rev-parse', 'HEAD'], { cwd: work }), 'rev-parse').trim();
    expect((await (await api('GET', '/api/models/lab/moved', tokens.alice)).json()).sha).toBe(pushed);
    // Only info/refs was asked at the old address; the packs went to the new one.
    const logged = (await requestsLogged(hub)).slice(loggedBefore);
    const old = logged.filter((r) => r.path.startsWith('/alice/tomove/'));
    expect(old.length).toBeGreaterThanOrEqual(2);
    expect(old.every((r) => r.method === 'GET' && r.path === '/alice/tomove/info/refs' && r.status === 307)).toBe(true);
    expect(logged.some((r) => r.method === 'POST' && r.path === '/lab/moved/git-receive-pack' && r.status === 200)).toBe(true);

    // The type stays: a dataset moves under /datasets/ and /api/datasets/.
    expect((await move('alice', 'alice/corpus', 'lab/corpus', 'dataset')).status).toBe(200);
    const dataset = await api('GET', '/api/datasets/alice/corpus/revision/main', tokens.alice);
    expect([dataset.status, dataset.headers.get('location')]).toEqual([307, '/api/datasets/lab/corpus/revision/main']);
    const refs = await api('GET', '/datasets/alice/corpus.git/info/refs?service=git-upload-pack');
    expect([refs.status, refs.headers.get('location')]).toEqual([307, '/datasets/lab/corpus.git/info/refs?service=git-upload-pack']);
  });

  it('refuses without admin on the source or create rights in the target, a taken name, and bad ids; nothing moves', async () => {
    const cases: [string, string, string, number, string][] = [
      // Creating in an organization needs write in it; in another user's namespace, being them.
      ['alice', 'alice/stays', 'closed/stays', 403, 'You cannot create repos in "closed"'],
      ['alice', 'alice/stays', 'bob/stays', 403, 'You cannot create repos in "bob"'],
      ['alice', 'alice/stays', 'nobody/stays', 404, 'no user or organization named "nobody"'],
      // Moving needs admin on the source: bob may only read alice's public repo; alice only writes lab's.
      ['bob', 'alice/stays', 'bob/stays', 403, ''],
      ['alice', 'lab/orgrepo', 'alice/orgrepo', 403, ''],
      ['carol', 'alice/secret2', 'carol/secret', 404, ''],
      ['aliceRead', 'alice/stays', 'alice/other', 403, ''],
      ['alice', 'alice/nosuch', 'alice/other', 404, ''],
      ['alice', 'alice/stays', 'alice/taken', 409, 'alice/taken already exists'],
      ['alice', 'alice/stays', 'alice/bad..name', 400, ''],
      ['alice', 'alice/stays', 'alice/a/b', 400, 'use NAMESPACE/NAME'],
      ['alice', 'alice/stays', 'api/stays', 400, 'reserved'],
    ];
    for (const [who, from, to, status, message] of cases) {
      const res = await move(who, from, to);
      const body = await res.json();
      expect([who, from, to, res.status], JSON.stringify(body)).toEqual([who, from, to, status]);
      expect(body.error).toContain(message);
      expect(res.headers.get('x-error-message')).toBeTruthy();
    }
    const anonymous = await api('POST', '/api/repos/move', undefined, { fromRepo: 'alice/stays', toRepo: 'alice/other', type: 'model' });
    expect(anonymous.status).toBe(401);
    expect((await api('POST', '/api/repos/move', tokens.alice, { fromRepo: 'alice/stays', toRepo: 'alice/other', type: 'widget' })).status).toBe(400);
    expect((await api('POST', '/api/repos/move', tokens.alice, { fromRepo: 'alice/stays' })).status).toBe(400);
    // bob administers lab: an org's admin moves its repos.
    expect((await move('bob', 'lab/orgrepo', 'lab/orgrepo2')).status).toBe(200);
    for (const repo of ['alice/stays', 'alice/taken']) expect(fs.existsSync(hub.repoDir(repo))).toBe(true);
    expect((await api('GET', '/api/models/alice/stays', tokens.alice)).status).toBe(200);
  });

  it("a private repo's redirect is shown only to those who may see it; others get the answer for a missing repo", async () => {
    await hub.pushFiles('alice/secret', tokens.alice, { 'README.md': '# secret\n' });
    expect((await move('alice', 'alice/secret', 'alice/secret2')).status).toBe(200);
    // alice: redirected; carol and anonymous callers: exactly what a repo that never existed answers.
    expect((await api('GET', '/api/models/alice/secret', tokens.alice)).status).toBe(307);
    const answer = async (url: string, token?: string) => {
      const res = await api('GET', url, token);
      return { status: res.status, location: res.headers.get('location'), code: res.headers.get('x-error-code'), auth: res.headers.get('www-authenticate'), body: (await res.text()).replace('nosuch', 'secret') };
    };
    for (const token of [tokens.carol, undefined]) {
      for (const [url, missing] of [
        ['/api/models/alice/secret', '/api/models/alice/nosuch'],
        ['/api/models/alice/secret/tree/main', '/api/models/alice/nosuch/tree/main'],
        ['/alice/secret/resolve/main/README.md', '/alice/nosuch/resolve/main/README.md'],
        ['/alice/secret.git/info/refs?service=git-upload-pack', '/alice/nosuch.git/info/refs?service=git-upload-pack'],
      ]) {
        const seen = await answer(url, token);
        expect(seen.location).toBeNull();
        expect(seen).toEqual(await answer(missing, token));
      }
      const batch = await fetch(`${hub.url}/alice/secret.git/info/lfs/objects/batch`, {
        method: 'POST', redirect: 'manual', headers: { 'Content-Type': LFS, Accept: LFS, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ operation: 'download', objects: [{ oid: 'a'.repeat(64), size: 1 }] }),
      });
      expect(batch.status).toBe(token ? 404 : 401);
    }
    const refused = await hub.git(['clone', hub.remote('alice/secret', tokens.carol), 'c']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).not.toContain('secret2');
    expect((await hub.git(['clone', '--quiet', hub.remote('alice/secret', tokens.alice), 'c'])).code).toBe(0);
  });

  it('chains collapse to the current name; a repo created or moved at an old name takes it', async () => {
    expect((await move('alice', 'alice/chain1', 'alice/chain2')).status).toBe(200);
    expect((await move('alice', 'alice/chain2', 'alice/chain3')).status).toBe(200);
    for (const old of ['chain1', 'chain2']) expect((await api('GET', `/api/models/alice/${old}`)).headers.get('location')).toBe('/api/models/alice/chain3');
    // Moving back to its first name: that name is the repo again, the others lead there.
    expect((await move('alice', 'alice/chain3', 'alice/chain1')).status).toBe(200);
    expect((await api('GET', '/api/models/alice/chain1')).status).toBe(200);
    for (const old of ['chain2', 'chain3']) expect((await api('GET', `/api/models/alice/${old}`)).headers.get('location')).toBe('/api/models/alice/chain1');
    // A case-only rename leaves no redirect to itself.
    expect((await move('alice', 'alice/chain1', 'alice/Chain1')).status).toBe(200);
    expect(await (await api('GET', '/api/models/alice/chain1', undefined, undefined, 'follow')).json()).toMatchObject({ id: 'alice/Chain1' });

    // A new repo at the name of alice/one (moved to alice/two in the first test) is what the name means now.
    const created = await api('POST', '/api/repos/create', tokens.alice, { name: 'one', type: 'model' });
    expect(created.status).toBe(200);
    const info = await api('GET', '/api/models/alice/one', tokens.alice);
    expect(info.status).toBe(200);
    expect((await info.json()).id).toBe('alice/one');
    const tree = await api('GET', '/api/models/alice/one/tree/main', tokens.alice);
    expect(((await tree.json()) as { path: string }[]).map((e) => e.path)).toEqual(['.gitattributes']);
    // ... even once deleted: the old redirect does not come back.
    expect((await api('DELETE', '/api/repos/delete', tokens.alice, { name: 'alice/one' })).status).toBe(200);
    expect((await api('GET', '/api/models/alice/one', tokens.alice)).status).toBe(404);
    expect((await api('GET', '/api/models/alice/two', tokens.alice)).status).toBe(200);
    // Routes naming the repo in their body take no old name: alice/secret is gone, not alice/secret2.
    expect((await api('DELETE', '/api/repos/delete', tokens.alice, { name: 'alice/secret' })).status).toBe(404);
    expect((await move('alice', 'alice/secret', 'alice/secret3')).status).toBe(404);
  });

  it("a deleted namespace's old names lead nowhere; `hubgate repo rename` leaves a redirect too", async () => {
    await cli('org', 'create', 'shortlived');
    await cli('org', 'add', 'shortlived', 'alice', '--role', 'admin');
    await cli('repo', 'create', 'shortlived/kept');
    expect((await move('alice', 'shortlived/kept', 'alice/kept')).status).toBe(200);
    expect((await api('GET', '/api/models/shortlived/kept')).headers.get('location')).toBe('/api/models/alice/kept');
    await cli('org', 'delete', 'shortlived');
    expect((await api('GET', '/api/models/shortlived/kept', tokens.alice)).status).toBe(404);
    expect((await api('GET', '/api/models/alice/kept')).status).toBe(200);

    expect(await cli('repo', 'rename', 'alice/kept', 'alice/kept2')).toContain('alice/kept2');
    expect((await api('GET', '/api/models/alice/kept')).headers.get('location')).toBe('/api/models/alice/kept2');
  });

  it('LFS files download and upload through the old address (git-lfs follows the batch redirect)', async () => {
    const work = tempDir('hubgate-move-lfs-');
    const git = async (args: string[], cwd = work) => ok(await hub.git(args, { cwd }), `git ${args.join(' ')}`);
    await git(['clone', '--quiet', hub.remote('alice/lfsrepo', tokens.alice), '.']);
    await git(['lfs', 'track', '*.bin']);
    const first = crypto.randomBytes(200_000);
    fs.writeFileSync(path.join(work, 'first.bin'), first);
    await git(['add', '.gitattributes', 'first.bin']);
    await git(['commit', '-qm', 'first']);
    await git(['push', '--quiet', 'origin', 'main']);

    expect((await move('alice', 'alice/lfsrepo', 'lab/lfsrepo')).status).toBe(200);

    // A clone through the old address: git-lfs's batch at the old address is redirected, the object downloads.
    const fresh = tempDir('hubgate-move-lfs-fresh-');
    await git(['clone', '--quiet', hub.remote('alice/lfsrepo', tokens.alice), '.'], fresh);
    expect(fs.readFileSync(path.join(fresh, 'first.bin')).equals(first)).toBe(true);
    // A push of a new LFS file from the clone whose origin is the old address.
    const second = crypto.randomBytes(150_000);
    fs.writeFileSync(path.join(work, 'second.bin'), second);
    await git(['add', 'second.bin']);
    await git(['commit', '-qm', 'second']);
    await git(['push', '--quiet', 'origin', 'main']);
    const logged = (await requestsLogged(hub));
    expect(logged.some((r) => r.method === 'POST' && r.path === '/alice/lfsrepo.git/info/lfs/objects/batch' && r.status === 307)).toBe(true);
    expect(logged.some((r) => r.method === 'POST' && r.path === '/lab/lfsrepo.git/info/lfs/objects/batch' && r.status === 200)).toBe(true);
    const got = await api('GET', '/lab/lfsrepo/resolve/main/second.bin', tokens.alice, undefined, 'follow');
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(second)).toBe(true);
    const viaOld = await api('GET', '/alice/lfsrepo/resolve/main/first.bin', tokens.alice, undefined, 'follow');
    expect(Buffer.from(await viaOld.arrayBuffer()).equals(first)).toBe(true);
  });

  it('access requests, locks and settings move with the repo', async () => {
    expect((await api('POST', '/alice/gated/ask-access', tokens.bob, { fields: {} })).status).toBe(201);
    expect((await api('POST', '/api/models/alice/gated/user-access-request/grant', tokens.alice, { user: 'carol' })).status).toBe(200);
    const lock = await fetch(`${hub.url}/alice/gated.git/info/lfs/locks`, {
      method: 'POST', headers: { Authorization: `Bearer ${tokens.alice}`, 'Content-Type': LFS, Accept: LFS }, body: JSON.stringify({ path: 'weights.bin' }),
    });
    expect(lock.status).toBe(201);
    expect((await api('PUT', '/api/models/alice/gated/settings', tokens.alice, { gated: 'auto' })).status).toBe(200);

    expect((await move('alice', 'alice/gated', 'alice/gated2')).status).toBe(200);

    const requests = async (status: string) => {
      const res = await api('GET', `/api/models/alice/gated2/user-access-request/${status}`, tokens.alice);
      expect(res.status).toBe(200);
      return ((await res.json()) as { user: { user: string } }[]).map((r) => r.user.user);
    };
    expect(await requests('pending')).toEqual(['bob']);
    expect(await requests('accepted')).toEqual(['carol']);
    const locks = await fetch(`${hub.url}/alice/gated2.git/info/lfs/locks`, { headers: { Authorization: `Bearer ${tokens.alice}`, Accept: LFS } });
    expect(((await locks.json()) as { locks: { path: string; owner: { name: string } }[] }).locks.map((l) => [l.path, l.owner.name])).toEqual([['weights.bin', 'alice']]);
    const info = await (await api('GET', '/api/models/alice/gated2', tokens.alice)).json();
    expect(info).toMatchObject({ id: 'alice/gated2', private: false, gated: 'auto' });
    // carol, accepted, may read it at its new name; bob, pending, may not (and is told it is gated).
    expect((await api('GET', '/alice/gated2/resolve/main/.gitattributes', tokens.carol)).status).toBe(200);
    expect((await api('GET', '/alice/gated2/resolve/main/.gitattributes', tokens.bob)).status).toBe(403);
    // The old lock address leads there too (LFS locks GET follows a 307).
    const oldLocks = await fetch(`${hub.url}/alice/gated.git/info/lfs/locks`, { redirect: 'manual', headers: { Authorization: `Bearer ${tokens.alice}`, Accept: LFS } });
    expect([oldLocks.status, oldLocks.headers.get('location')]).toEqual([307, '/alice/gated2.git/info/lfs/locks']);
  });
});
