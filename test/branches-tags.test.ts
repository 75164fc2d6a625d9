// Branches and tags through the Hub API (issue 12): @huggingface/hub's createBranch, deleteBranch
// and uploadFiles to a branch, checked with real git clones; tags and every refused form as
// huggingface_hub sends them (raw HTTP, names percent-encoded in the path), each refusal a 4xx
// with a message and the repo's refs as they were; access as for any write; audit entries.
import path from 'node:path';
import { createBranch, deleteBranch, HubApiError, uploadFiles } from '@huggingface/hub';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, run, startHubgate, tempDir } from './helpers/hubgate.js';

const blob = (s: string) => new Blob([Buffer.from(s)]);

describe('branches and tags through the Hub API', () => {
  let hub: Hubgate;
  let alice: string;
  let aliceRead: string;
  let bob: string;

  beforeAll(async () => {
    hub = await startHubgate();
    alice = await hub.userWithToken('alice');
    aliceRead = (await hub.cli(['token', 'create', 'alice', '--role', 'read'])).stdout.trim();
    bob = await hub.userWithToken('bob');
    for (const args of [['alice/m'], ['alice/refused'], ['alice/secret', '--private']]) {
      const created = await hub.cli(['repo', 'create', ...args]);
      expect(created.code, created.stderr).toBe(0);
    }
    await uploadFiles({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, files: [{ path: 'README.md', content: blob('# m\n') }] });
  });
  afterAll(() => hub?.stop());

  const api = (method: string, urlPath: string, token: string | undefined, body?: unknown) =>
    fetch(`${hub.url}${urlPath}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  async function expectError(res: Response, status: number, message: RegExp, code?: string): Promise<void> {
    const text = await res.text();
    expect(res.status, text).toBe(status);
    expect(JSON.parse(text).error).toMatch(message);
    expect(res.headers.get('x-error-message')).toBeTruthy();
    if (code) expect(res.headers.get('x-error-code')).toBe(code);
  }

  /** git in the server's bare repo (reads only). */
  async function bare(repo: string, args: string[]): Promise<string> {
    const r = await run('git', ['--git-dir', hub.repoDir(repo), ...args]);
    if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }
  const refs = (repo: string) => bare(repo, ['for-each-ref', '--format=%(refname) %(objectname)']);
  const tip = async (repo: string, ref: string) => (await bare(repo, ['rev-parse', '--verify', ref])).trim();

  function auditRows(action: string): { actor: string | null; repo: string | null; details: Record<string, unknown> }[] {
    const sqlite = new Database(path.join(hub.dataDir, 'hubgate.sqlite'), { readonly: true, fileMustExist: true });
    try {
      const rows = sqlite.prepare('select actor, repo, details from audit_log where action = ? order by id').all(action) as { actor: string; repo: string; details: string }[];
      return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
    } finally {
      sqlite.close();
    }
  }

  it('createBranch, then uploadFiles to it: the commit is on that branch only, as a git clone shows', async () => {
    const main = await tip('alice/m', 'refs/heads/main');
    await createBranch({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'dev' });
    expect(await tip('alice/m', 'refs/heads/dev')).toBe(main);

    const out = await uploadFiles({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'dev', commitTitle: 'Only on dev', files: [{ path: 'dev.txt', content: blob('dev\n') }] });
    const dev = await tip('alice/m', 'refs/heads/dev');
    expect(out?.commit.oid).toBe(dev);
    expect(await tip('alice/m', 'refs/heads/main')).toBe(main);
    expect((await bare('alice/m', ['rev-parse', 'dev^'])).trim()).toBe(main);
    expect((await (await api('GET', '/api/models/alice/m/revision/dev', alice)).json()).sha).toBe(dev);

    const dir = tempDir('hubgate-clone-');
    const clone = await hub.git(['clone', '-q', hub.remote('alice/m', alice), '.'], { cwd: dir });
    expect(clone.code, clone.stderr).toBe(0);
    const onDev = await hub.git(['show', 'origin/dev:dev.txt'], { cwd: dir });
    expect(onDev.stdout).toBe('dev\n');
    expect((await hub.git(['log', '-1', '--format=%s|%an', 'origin/dev'], { cwd: dir })).stdout.trim()).toBe('Only on dev|alice');
    expect((await hub.git(['cat-file', '-e', 'origin/main:dev.txt'], { cwd: dir })).code).not.toBe(0);

    // A branch whose name holds '/', sent percent-encoded by the client (feature%2Fx), for preupload and commit alike.
    await createBranch({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'feature/x', revision: 'dev' });
    expect(await tip('alice/m', 'refs/heads/feature/x')).toBe(dev);
    await uploadFiles({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'feature/x', files: [{ path: 'x.bin', content: new Blob([Buffer.from([0, 1, 2])]) }] });
    expect((await bare('alice/m', ['rev-parse', 'feature/x^'])).trim()).toBe(dev);
    expect(await tip('alice/m', 'refs/heads/dev')).toBe(dev);
    expect(await tip('alice/m', 'refs/heads/main')).toBe(main);

    expect(auditRows('branch.create').map((r) => [r.actor, r.repo, r.details.branch, r.details.commit, r.details.from])).toEqual([
      ['alice', 'models/alice/m', 'dev', main, 'default branch'],
      ['alice', 'models/alice/m', 'feature/x', dev, 'dev'],
    ]);
  });

  it('creates from a commit or the default branch as huggingface_hub asks ({} or {"startingPoint"}), answers 409 for an existing branch, and makes empty or overwritten branches as @huggingface/hub asks', async () => {
    const main = await tip('alice/m', 'refs/heads/main');
    const first = (await bare('alice/m', ['rev-list', '--max-parents=0', 'main'])).trim();
    const made = await api('POST', '/api/models/alice/m/branch/from-commit', alice, { startingPoint: first });
    expect(made.status, await made.clone().text()).toBe(200);
    expect(await made.json()).toEqual({ name: 'from-commit', ref: 'refs/heads/from-commit', targetCommit: first });
    expect((await api('POST', '/api/models/alice/m/branch/plain', alice, {})).status).toBe(200);
    expect(await tip('alice/m', 'refs/heads/plain')).toBe(main);

    const before = await refs('alice/m');
    await expectError(await api('POST', '/api/models/alice/m/branch/plain', alice, {}), 409, /branch "plain" already exists in alice\/m/);
    await expectError(await api('POST', '/api/models/alice/m/branch/nowhere', alice, { startingPoint: 'no-such-rev' }), 404, /startingPoint "no-such-rev" is not a branch, tag or commit/, 'RevisionNotFound');
    await expectError(await api('POST', '/api/models/alice/m/branch/bad-start', alice, { startingPoint: 'main~1' }), 400, /startingPoint: invalid revision/);
    await expectError(await api('POST', '/api/models/alice/m/branch/both', alice, { startingPoint: 'main', emptyBranch: true }), 400, /either startingPoint or emptyBranch/);
    // A branch cannot be a folder of another: git keeps refs as files.
    await expectError(await api('POST', '/api/models/alice/m/branch/plain%2Fsub', alice, {}), 409, /next to branch "plain"/);
    expect(await refs('alice/m')).toBe(before);

    const existing = await createBranch({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'plain' }).catch((e: unknown) => e);
    expect(existing).toBeInstanceOf(HubApiError);
    expect((existing as HubApiError).statusCode).toBe(409);

    // empty: a first commit with no files; overwrite without a starting point leaves it as it is; with one, moves it.
    await createBranch({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'empty', empty: true });
    const empty = await tip('alice/m', 'refs/heads/empty');
    expect(await bare('alice/m', ['ls-tree', 'empty'])).toBe('');
    expect((await bare('alice/m', ['rev-list', '--count', 'empty'])).trim()).toBe('1');
    await createBranch({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'empty', overwrite: true });
    expect(await tip('alice/m', 'refs/heads/empty')).toBe(empty);
    await createBranch({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'empty', overwrite: true, revision: 'main' });
    expect(await tip('alice/m', 'refs/heads/empty')).toBe(main);
    expect(auditRows('branch.create').at(-1)?.details).toMatchObject({ branch: 'empty', commit: main, old: empty });
  });

  it('deleteBranch removes a branch, never the default one; a missing branch is 404 RevisionNotFound', async () => {
    await createBranch({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'gone' });
    const gone = await tip('alice/m', 'refs/heads/gone');
    await deleteBranch({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'gone' });
    expect(await refs('alice/m')).not.toMatch(/refs\/heads\/gone /);
    // Readers see it gone at once (the repo's warm git reader included).
    expect((await api('GET', '/api/models/alice/m/revision/gone', alice)).status).toBe(404);
    expect(auditRows('branch.delete').at(-1)).toMatchObject({ actor: 'alice', repo: 'models/alice/m', details: { branch: 'gone', commit: gone } });

    const before = await refs('alice/m');
    await expectError(await api('DELETE', '/api/models/alice/m/branch/gone', alice), 404, /alice\/m has no branch "gone"/, 'RevisionNotFound');
    await expectError(await api('DELETE', '/api/models/alice/m/branch/main', alice), 403, /"main" is the default branch of alice\/m: it cannot be deleted/);
    const refused = await deleteBranch({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'main' }).catch((e: unknown) => e);
    expect((refused as HubApiError).statusCode).toBe(403);
    expect(await refs('alice/m')).toBe(before);
  });

  it('commits and preuploads only to branches that exist: 404 RevisionNotFound otherwise (refs/pr/1 too)', async () => {
    const before = await refs('alice/m');
    const missing = await uploadFiles({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, branch: 'nope', files: [{ path: 'a.txt', content: blob('a') }] }).catch((e: unknown) => e);
    expect((missing as HubApiError).statusCode).toBe(404);
    const body = `${JSON.stringify({ key: 'header', value: { summary: 'x' } })}\n`;
    for (const rev of ['nope', 'refs%2Fpr%2F1']) {
      const res = await fetch(`${hub.url}/api/models/alice/m/commit/${rev}`, { method: 'POST', headers: { Authorization: `Bearer ${alice}`, 'Content-Type': 'application/x-ndjson' }, body });
      await expectError(res, 404, /Invalid rev id/, 'RevisionNotFound');
      await expectError(await api('POST', `/api/models/alice/m/preupload/${rev}`, alice, { files: [] }), 404, /Invalid rev id/, 'RevisionNotFound');
    }
    // refs/heads/dev spelled out is the branch dev, for commits as before.
    const res = await fetch(`${hub.url}/api/models/alice/m/commit/refs%2Fheads%2Fdev`, { method: 'POST', headers: { Authorization: `Bearer ${alice}`, 'Content-Type': 'application/x-ndjson' }, body: body + `${JSON.stringify({ key: 'file', value: { path: 'r.txt', content: Buffer.from('r').toString('base64') } })}\n` });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await bare('alice/m', ['show', 'dev:r.txt']))).toBe('r');
    expect((await refs('alice/m')).replace(/refs\/heads\/dev \S+/, '')).toBe(before.replace(/refs\/heads\/dev \S+/, ''));
  });

  it('tags a revision: lightweight without a message, annotated by the caller with one; git ls-remote --tags shows them; 409 when the tag exists; delete', async () => {
    const main = await tip('alice/m', 'refs/heads/main');
    const dev = await tip('alice/m', 'refs/heads/dev');
    const light = await api('POST', '/api/models/alice/m/tag/main', alice, { tag: 'v1' });
    expect(light.status, await light.clone().text()).toBe(200);
    expect(await light.json()).toEqual({ name: 'v1', ref: 'refs/tags/v1', targetCommit: main });
    expect((await bare('alice/m', ['cat-file', '-t', 'refs/tags/v1'])).trim()).toBe('commit');

    // huggingface_hub: tag/{revision} percent-encoded, {"tag", "message"}.
    const annotated = await api('POST', `/api/models/alice/m/tag/${encodeURIComponent('dev')}`, alice, { tag: 'release/v2', message: 'Release 2\n\nWith notes.' });
    expect(annotated.status, await annotated.clone().text()).toBe(200);
    expect((await annotated.json()).targetCommit).toBe(dev);
    expect((await bare('alice/m', ['cat-file', '-t', 'refs/tags/release/v2'])).trim()).toBe('tag');
    const described = await bare('alice/m', ['for-each-ref', '--format=%(taggername) %(taggeremail)|%(*objectname)|%(contents)', 'refs/tags/release/v2']);
    expect(described).toBe(`alice <alice@example.com>|${dev}|Release 2\n\nWith notes.\n\n`);
    // A short commit id and a tag are revisions too.
    expect((await api('POST', `/api/models/alice/m/tag/${main.slice(0, 7)}`, alice, { tag: 'short' })).status).toBe(200);
    expect(await tip('alice/m', 'refs/tags/short')).toBe(main);
    expect((await api('POST', '/api/models/alice/m/tag/release%2Fv2', alice, { tag: 'of-a-tag' })).status).toBe(200);
    expect(await tip('alice/m', 'refs/tags/of-a-tag')).toBe(dev);

    const listed = await hub.git(['ls-remote', '--tags', hub.remote('alice/m', alice)]);
    expect(listed.code, listed.stderr).toBe(0);
    const tagObject = await tip('alice/m', 'refs/tags/release/v2');
    expect(listed.stdout).toContain(`${main}\trefs/tags/v1\n`);
    expect(listed.stdout).toContain(`${tagObject}\trefs/tags/release/v2\n`);
    expect(listed.stdout).toContain(`${dev}\trefs/tags/release/v2^{}\n`);

    const before = await refs('alice/m');
    await expectError(await api('POST', '/api/models/alice/m/tag/dev', alice, { tag: 'v1' }), 409, /tag "v1" already exists in alice\/m/);
    await expectError(await api('POST', '/api/models/alice/m/tag/no-such-rev', alice, { tag: 'v9' }), 404, /no-such-rev is not a branch, tag or commit/, 'RevisionNotFound');
    await expectError(await api('POST', '/api/models/alice/m/tag/main', alice, {}), 400, /invalid tag request: tag/);
    await expectError(await api('POST', '/api/models/alice/m/tag/main', alice, { tag: 'v9', message: 'bad\u0007bell' }), 400, /the tag message holds a control character/);
    expect(await refs('alice/m')).toBe(before);

    expect(auditRows('tag.create').map((r) => [r.actor, r.details.tag, r.details.commit, r.details.annotated])).toEqual([
      ['alice', 'v1', main, false],
      ['alice', 'release/v2', dev, true],
      ['alice', 'short', main, false],
      ['alice', 'of-a-tag', dev, false],
    ]);

    const deleted = await api('DELETE', '/api/models/alice/m/tag/release%2Fv2', alice);
    expect(deleted.status, await deleted.clone().text()).toBe(200);
    expect(await refs('alice/m')).not.toMatch(/refs\/tags\/release\/v2 /);
    expect(auditRows('tag.delete').at(-1)).toMatchObject({ actor: 'alice', details: { tag: 'release/v2', object: tagObject } });
    await expectError(await api('DELETE', '/api/models/alice/m/tag/release%2Fv2', alice), 404, /has no tag "release\/v2"/, 'RevisionNotFound');
  });

  it('refuses branch and tag names git refuses, and full ref names, with a 400 saying the rule; nothing changes', async () => {
    const before = await refs('alice/refused');
    const forms: [string, RegExp][] = [
      ['a..b', /'\.\.'/],
      ['x@{1}', /'@\{'/],
      ['a\nb', /control characters/],
      ['a\tb', /control characters/],
      ['a\u0000b', /control characters/],
      ['refs/heads/x', /short name \(x\), not a full ref name/],
      ['refs/tags/x', /not a full ref name/],
      ['x.lock', /'\.lock'/],
      ['a b', /spaces/],
      ['-x', /start with '-'/],
      ['main~1', /~ \^ : \? \* \[/],
      ['a:b', /~ \^ : \? \* \[/],
      ['x/', /start or end with '\/'/],
      ['.x', /start with '\.'/],
      ['x.', /end with '\.'/],
      ['HEAD', /reserved/],
      ['ü', /printable ASCII/],
    ];
    for (const [name, rule] of forms) {
      await expectError(await api('POST', `/api/models/alice/refused/branch/${encodeURIComponent(name)}`, alice, {}), 400, new RegExp(`invalid branch name .*${rule.source}`));
      await expectError(await api('POST', '/api/models/alice/refused/tag/main', alice, { tag: name }), 400, new RegExp(`invalid tag name .*${rule.source}`));
    }
    // A full ref name with its slashes left as they are is refused the same way.
    await expectError(await api('POST', '/api/models/alice/refused/branch/refs/heads/x', alice, {}), 400, /not a full ref name/);
    await expectError(await api('POST', '/api/models/alice/refused/branch/dev', alice, { startingPoint: 'HEAD@{1}' }), 400, /startingPoint/);
    expect(await refs('alice/refused')).toBe(before);
  });

  it('needs write access: a read token is 403, anonymous 401, an outsider 404 on a private repo (403 on a public one); nothing changes', async () => {
    const refsBefore = { m: await refs('alice/m'), secret: await refs('alice/secret') };
    const calls: [string, string, unknown][] = [
      ['POST', 'branch/denied', {}],
      ['DELETE', 'branch/dev', undefined],
      ['POST', 'tag/main', { tag: 'denied' }],
      ['DELETE', 'tag/v1', undefined],
    ];
    for (const [method, rest, body] of calls) {
      await expectError(await api(method, `/api/models/alice/m/${rest}`, aliceRead, body), 403, /read/);
      const anonymous = await api(method, `/api/models/alice/m/${rest}`, undefined, body);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="hubgate"');
      expect((await api(method, `/api/models/alice/m/${rest}`, bob, body)).status).toBe(403);
      await expectError(await api(method, `/api/models/alice/secret/${rest}`, bob, body), 404, /alice\/secret/, 'RepoNotFound');
      expect((await api(method, `/api/models/alice/secret/${rest}`, undefined, body)).status).toBe(401);
    }
    expect({ m: await refs('alice/m'), secret: await refs('alice/secret') }).toEqual(refsBefore);
    // The owner may: the private repo gets its branch.
    expect((await api('POST', '/api/models/alice/secret/branch/dev', alice, {})).status).toBe(200);
  });
});
