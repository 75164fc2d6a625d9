// The Git LFS File Locking API: real `git lfs lock` / `locks` / `unlock` (and `--force`) from
// several users of one org repo, and the wire details (409 with the existing lock, cursor
// pagination, filters, verify's ours/theirs, access, bad input, repo scoping) over fetch.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, type RunResult, startHubgate, tempDir } from './helpers/hubgate.js';
import { poll } from './helpers/git-client.js';

const LFS = 'application/vnd.git-lfs+json';

interface WireLock {
  id: string;
  path: string;
  locked_at: string;
  owner: { name: string };
}

function ok(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

describe('LFS locks', () => {
  let hub: Hubgate;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    hub = await startHubgate();
    // alice and bob write to the org's repos, carol administers them, dave is no member.
    for (const name of ['alice', 'bob', 'carol', 'dave']) tokens[name] = await hub.userWithToken(name);
    tokens.aliceRead = await hub.userWithToken('alice', 'read');
    ok(await hub.cli(['org', 'create', 'studio']), 'org create');
    for (const [user, role] of [['alice', 'write'], ['bob', 'write'], ['carol', 'admin']]) {
      expect(ok(await hub.cli(['org', 'add', 'studio', user, '--role', role]), `org add ${user}`)).toMatch(`${user} is now a member of studio with the ${role} role`);
    }
    for (const repo of ['studio/assets', 'studio/api', 'studio/paged', 'alice/other']) ok(await hub.cli(['repo', 'create', repo]), `repo create ${repo}`);
    ok(await hub.cli(['repo', 'create', 'studio/secret', '--private']), 'repo create studio/secret');
    // The tests' HOME has no git-lfs filters yet.
    ok(await hub.git(['lfs', 'install', '--skip-repo']), 'git lfs install');
  });
  afterAll(() => hub?.stop());

  /** A request to {repo}.git/info/lfs/{rest}; a string body is sent as is. */
  async function api(
    repo: string,
    rest: string,
    opts: { method?: string; token?: string; body?: unknown; contentType?: string } = {},
  ): Promise<{ status: number; headers: Headers; json: any }> {
    const headers: Record<string, string> = { Accept: LFS };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['Content-Type'] = opts.contentType ?? LFS;
    }
    const res = await fetch(`${hub.url}/${repo}.git/info/lfs/${rest}`, { method: opts.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  }

  const lock = (repo: string, token: string, p: string, ref?: string) => api(repo, 'locks', { token, body: ref ? { path: p, ref: { name: ref } } : { path: p } });
  const listAll = async (repo: string, query = ''): Promise<WireLock[]> => {
    const r = await api(repo, `locks${query}`, { token: tokens.carol });
    expect(r.status).toBe(200);
    return r.json.locks;
  };

  describe('through git-lfs', () => {
    const clones: Record<string, string> = {};
    const git = (user: string, args: string[]) => hub.git(args, { cwd: clones[user] });

    beforeAll(async () => {
      for (const user of ['alice', 'bob', 'carol']) {
        clones[user] = tempDir(`hubgate-locks-${user}-`);
        ok(await git(user, ['clone', hub.remote('studio/assets', tokens[user]), '.']), `clone for ${user}`);
        if (user === 'alice') {
          ok(await git(user, ['checkout', '-B', 'main']), 'checkout');
          ok(await git(user, ['lfs', 'track', '*.bin']), 'lfs track');
          for (const f of ['a.bin', 'b.bin']) fs.writeFileSync(path.join(clones.alice, f), `${f} contents\n`);
          ok(await git(user, ['add', '.gitattributes', 'a.bin', 'b.bin']), 'add');
          ok(await git(user, ['commit', '-q', '-m', 'binaries']), 'commit');
          ok(await git(user, ['push', '-q', 'origin', 'main']), 'push');
        } else {
          ok(await git(user, ['pull', '-q', 'origin', 'main']), `pull for ${user}`);
          ok(await git(user, ['checkout', '-B', 'main', 'origin/main']), `checkout for ${user}`);
        }
      }
    });

    it('lock, locks, unlock by the owner', async () => {
      const locked = await git('alice', ['lfs', 'lock', 'a.bin']);
      ok(locked, 'lfs lock');
      expect(locked.stdout).toMatch(/Locked a\.bin/);

      const seen: { id: string; path: string; owner: { name: string } }[] = JSON.parse(ok(await git('bob', ['lfs', 'locks', '--json']), 'lfs locks'));
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ path: 'a.bin', owner: { name: 'alice' } });
      expect(ok(await git('bob', ['lfs', 'locks']), 'lfs locks')).toMatch(/^a\.bin\s+alice\s+ID:\d+/m);

      ok(await git('alice', ['lfs', 'unlock', 'a.bin']), 'lfs unlock');
      expect(JSON.parse(ok(await git('bob', ['lfs', 'locks', '--json']), 'lfs locks'))).toEqual([]);
    });

    it("refuses a second lock on the same path, and someone else's unlock without --force", async () => {
      ok(await git('alice', ['lfs', 'lock', 'b.bin']), 'lfs lock');
      const again = await git('bob', ['lfs', 'lock', 'b.bin']);
      expect(again.code).not.toBe(0);
      expect(again.stderr).toMatch(/already created lock/);

      const unlock = await git('bob', ['lfs', 'unlock', 'b.bin']);
      expect(unlock.code).not.toBe(0);
      expect(unlock.stderr).toMatch(/b\.bin is locked by alice; use --force as a repo admin/);
      expect((await listAll('studio/assets')).map((l) => [l.path, l.owner.name])).toEqual([['b.bin', 'alice']]);
    });

    it('--force works for an org admin, not for a write member', async () => {
      const bob = await git('bob', ['lfs', 'unlock', '--force', 'b.bin']);
      expect(bob.code).not.toBe(0);
      expect(bob.stderr).toMatch(/locked by alice/);
      expect(bob.stderr).toMatch(/admin access/);
      expect((await listAll('studio/assets')).map((l) => l.path)).toEqual(['b.bin']);

      ok(await git('carol', ['lfs', 'unlock', '--force', 'b.bin']), 'carol lfs unlock --force');
      expect(await listAll('studio/assets')).toEqual([]);
      // The log is written asynchronously: the line may follow the answer on a busy machine.
      expect(await poll(() => /lfs lock force-removed by a repo admin/.test(hub.log()), 5000, 50)).toBe(true);
    });

    it('git push (with lfs.locksverify) refuses changes to a file someone else has locked, and lets the owner push', async () => {
      // Without lfs.locksverify git-lfs only warns about other users' locks; with it, they halt the push.
      for (const user of ['alice', 'bob']) ok(await git(user, ['config', 'lfs.locksverify', 'true']), 'config');
      ok(await git('alice', ['lfs', 'lock', 'a.bin']), 'lfs lock');
      ok(await git('bob', ['pull', '-q', 'origin', 'main']), 'pull');
      fs.writeFileSync(path.join(clones.bob, 'a.bin'), 'bob was here\n');
      ok(await git('bob', ['commit', '-q', '-am', 'bob edits a locked file']), 'commit');
      const push = await git('bob', ['push', 'origin', 'main']);
      expect(push.code).not.toBe(0);
      // git-lfs lists the locks on stdout and says why on stderr.
      expect(push.stdout + push.stderr).toMatch(/Unable to push locked files/);
      expect(push.stdout + push.stderr).toMatch(/a\.bin - alice/);
      expect(push.stderr).toMatch(/Cannot update locked files/);
      ok(await git('bob', ['reset', '-q', '--hard', 'origin/main']), 'reset');

      fs.writeFileSync(path.join(clones.alice, 'a.bin'), 'alice edits her locked file\n');
      ok(await git('alice', ['commit', '-q', '-am', 'alice edits a.bin']), 'commit');
      ok(await git('alice', ['push', '-q', 'origin', 'main']), 'owner push');
      ok(await git('alice', ['lfs', 'unlock', 'a.bin']), 'lfs unlock');
    });
  });

  describe('over HTTP', () => {
    it('creates with 201 and answers a second lock of the path with 409 carrying the existing lock', async () => {
      const first = await lock('studio/api', tokens.alice, 'models/weights.bin', 'refs/heads/main');
      expect(first.status).toBe(201);
      expect(first.headers.get('content-type')).toMatch(/^application\/vnd\.git-lfs\+json/);
      expect(Object.keys(first.json)).toEqual(['lock']);
      const created: WireLock = first.json.lock;
      expect(created).toEqual({ id: expect.stringMatching(/^[0-9]+$/), path: 'models/weights.bin', locked_at: expect.any(String), owner: { name: 'alice' } });
      expect(created.locked_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Math.abs(Date.parse(created.locked_at) - Date.now())).toBeLessThan(60_000);

      for (const who of ['bob', 'alice']) {
        const second = await lock('studio/api', tokens[who], 'models/weights.bin');
        expect(second.status).toBe(409);
        expect(second.json).toMatchObject({ lock: created, message: 'already created lock' });
        expect(second.json.request_id).toEqual(expect.any(String));
      }
      expect((await listAll('studio/api', '?path=models/weights.bin')).map((l) => l.id)).toEqual([created.id]);
    });

    it('pages through every lock with limit=2 and next_cursor, newest first, without duplicates', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const r = await lock('studio/paged', i % 2 ? tokens.bob : tokens.alice, `dir/file-${i}.bin`);
        expect(r.status).toBe(201);
        ids.push(r.json.lock.id);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const r = await api('studio/paged', `locks?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: tokens.bob });
        expect(r.status).toBe(200);
        expect(r.json.locks.length).toBeLessThanOrEqual(2);
        seen.push(...r.json.locks.map((l: WireLock) => l.id));
        cursor = r.json.next_cursor;
        if (cursor !== undefined) expect(typeof cursor).toBe('string');
        // A lock created mid-walk does not disturb the pages still to come.
        if (++pages === 2) expect((await lock('studio/paged', tokens.alice, 'dir/late.bin')).status).toBe(201);
      } while (cursor);
      expect(pages).toBe(4);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual([...ids].reverse());

      // The default limit (100) returns them all on one page, with no next_cursor.
      const all = await api('studio/paged', 'locks', { token: tokens.bob });
      expect(all.json.locks).toHaveLength(8);
      expect(all.json.next_cursor).toBeUndefined();
    });

    it('filters by path, id and refspec; an unknown filter value gives an empty list', async () => {
      const main = await lock('studio/api', tokens.bob, 'filter/main.bin', 'refs/heads/main');
      const feature = await lock('studio/api', tokens.bob, 'filter/feature.bin', 'refs/heads/feature');
      const anyRef = await lock('studio/api', tokens.bob, 'filter/any.bin');
      expect([main.status, feature.status, anyRef.status]).toEqual([201, 201, 201]);

      expect((await listAll('studio/api', '?path=filter/feature.bin')).map((l) => l.id)).toEqual([feature.json.lock.id]);
      expect((await listAll('studio/api', `?id=${main.json.lock.id}`)).map((l) => l.path)).toEqual(['filter/main.bin']);
      expect(await listAll('studio/api', `?id=${main.json.lock.id}&path=filter/any.bin`)).toEqual([]);
      expect(await listAll('studio/api', '?path=filter/none.bin')).toEqual([]);
      expect(await listAll('studio/api', '?id=999999')).toEqual([]);
      expect(await listAll('studio/api', '?id=not-a-lock')).toEqual([]);

      // A refspec selects the locks taken for that ref and those taken without one.
      const paths = async (q: string) => (await listAll('studio/api', q)).map((l) => l.path).filter((p) => p.startsWith('filter/'));
      expect(await paths('?refspec=refs/heads/feature')).toEqual(['filter/any.bin', 'filter/feature.bin']);
      expect(await paths('?refspec=refs/heads/main')).toEqual(['filter/any.bin', 'filter/main.bin']);
      expect(await paths('')).toEqual(['filter/any.bin', 'filter/feature.bin', 'filter/main.bin']);
    });

    it("verify splits the repo's locks into ours and theirs for the caller, with a cursor", async () => {
      await lock('alice/other', tokens.alice, 'not-in-this-repo.bin');
      const verify = async (token: string, body: unknown) => {
        const r = await api('studio/paged', 'locks/verify', { token, body });
        expect(r.status).toBe(200);
        return r.json as { ours: WireLock[]; theirs: WireLock[]; next_cursor?: string };
      };
      const all = await listAll('studio/paged');
      const byAlice = all.filter((l) => l.owner.name === 'alice').map((l) => l.id);
      const byBob = all.filter((l) => l.owner.name === 'bob').map((l) => l.id);
      expect(byAlice.length).toBeGreaterThan(0);
      expect(byBob.length).toBeGreaterThan(0);

      const forAlice = await verify(tokens.alice, { ref: { name: 'refs/heads/main' } });
      expect(forAlice.ours.map((l) => l.id)).toEqual(byAlice);
      expect(forAlice.theirs.map((l) => l.id)).toEqual(byBob);
      expect(forAlice.next_cursor).toBeUndefined();
      const forBob = await verify(tokens.bob, {});
      expect(forBob.ours.map((l) => l.id)).toEqual(byBob);
      expect(forBob.theirs.map((l) => l.id)).toEqual(byAlice);
      // carol holds no lock here: everything is theirs.
      expect((await verify(tokens.carol, {})).ours).toEqual([]);

      const walked: string[] = [];
      let body: { limit: number; cursor?: string } = { limit: 3 };
      for (;;) {
        const page = await verify(tokens.alice, body);
        expect(page.ours.length + page.theirs.length).toBeLessThanOrEqual(3);
        walked.push(...page.ours.map((l) => l.id), ...page.theirs.map((l) => l.id));
        if (!page.next_cursor) break;
        body = { limit: 3, cursor: page.next_cursor };
      }
      expect(walked.sort()).toEqual(all.map((l) => l.id).sort());

      // verify covers every lock of the repo, whatever ref it was taken on (a path has one lock per repo).
      const onFeature = await lock('studio/paged', tokens.bob, 'feature-only.bin', 'refs/heads/feature');
      expect(onFeature.status).toBe(201);
      expect((await verify(tokens.alice, { ref: { name: 'refs/heads/main' } })).theirs.map((l) => l.id)).toContain(onFeature.json.lock.id);

      // A repo without locks gives two empty arrays.
      const empty = await api('studio/secret', 'locks/verify', { token: tokens.alice, body: {} });
      expect(empty.json).toEqual({ ours: [], theirs: [] });
    });

    it('needs write to lock, verify and unlock: a read token gets 403 from the policy, a non-member 403, anonymous 401', async () => {
      const before = await listAll('studio/api');
      const readToken = await lock('studio/api', tokens.aliceRead, 'read-only.bin');
      expect(readToken.status).toBe(403);
      expect(readToken.headers.get('content-type')).toMatch(/^application\/vnd\.git-lfs\+json/);
      expect(readToken.json.message).toMatch(/read role/);
      expect(readToken.json.request_id).toEqual(expect.any(String));
      expect((await api('studio/api', 'locks/verify', { token: tokens.aliceRead, body: {} })).status).toBe(403);
      expect((await api('studio/api', `locks/${before[0].id}/unlock`, { token: tokens.aliceRead, body: { force: true } })).status).toBe(403);

      const outsider = await lock('studio/api', tokens.dave, 'outsider.bin');
      expect(outsider.status).toBe(403);
      expect(outsider.json.message).toMatch(/write access/);

      for (const [rest, body] of [['locks', { path: 'anon.bin' }], ['locks/verify', {}], [`locks/${before[0].id}/unlock`, { force: true }]] as const) {
        const anon = await api('studio/api', rest, { body });
        expect(anon.status).toBe(401);
        expect(anon.headers.get('lfs-authenticate')).toMatch(/^Basic /);
        expect(anon.json.message).toEqual(expect.any(String));
      }
      expect(await listAll('studio/api')).toEqual(before);

      // Reading is read access: the read token and, on a public repo, anyone may list.
      expect((await api('studio/api', 'locks', { token: tokens.aliceRead })).status).toBe(200);
      expect((await api('studio/api', 'locks')).status).toBe(200);
      // A private repo: 401 to anonymous (so git-lfs asks for credentials), 404 to a non-member.
      const anonPrivate = await api('studio/secret', 'locks');
      expect(anonPrivate.status).toBe(401);
      expect(anonPrivate.headers.get('lfs-authenticate')).toMatch(/^Basic /);
      expect((await api('studio/secret', 'locks', { token: tokens.dave })).status).toBe(404);
      expect((await api('studio/secret', 'locks', { token: tokens.bob })).status).toBe(200);
    });

    it('answers bad input with 4xx and creates nothing', async () => {
      const before = await listAll('studio/api');
      const bad: [string, unknown, string | undefined, number][] = [
        ['malformed JSON', '{"path": "x.bin"', undefined, 400],
        ['wrong content type', JSON.stringify({ path: 'x.bin' }), 'text/plain', 415],
        ['not an object', '["x.bin"]', undefined, 422],
        ['no path', { ref: { name: 'refs/heads/main' } }, undefined, 422],
        ['path not a string', { path: 7 }, undefined, 422],
        ['empty path', { path: '' }, undefined, 422],
        ['parent segment', { path: '../x' }, undefined, 422],
        ['inner parent segment', { path: 'a/../../x' }, undefined, 422],
        ['absolute path', { path: '/etc/passwd' }, undefined, 422],
        ['NUL', { path: 'x\u0000.bin' }, undefined, 422],
        ['too long', { path: 'x'.repeat(1025) }, undefined, 422],
        ['CR LF (forged lines in git-lfs output)', { path: 'x.bin\r\nLocked y.bin' }, undefined, 422],
        ['newline', { path: 'a\nb.bin' }, undefined, 422],
        ['terminal escape', { path: '\u001b[2Jx.bin' }, undefined, 422],
        ['whitespace only', { path: '   ' }, undefined, 422],
        ['whitespace-only segment', { path: 'models/ /x.bin' }, undefined, 422],
        ['lone surrogate', { path: 'x\ud800.bin' }, undefined, 422],
        ['bad ref', { path: 'x.bin', ref: { name: 5 } }, undefined, 422],
        ['ref with a newline', { path: 'x.bin', ref: { name: 'refs/heads/main\nx' } }, undefined, 422],
      ];
      for (const [what, body, contentType, status] of bad) {
        const r = await api('studio/api', 'locks', { token: tokens.alice, body, contentType });
        expect(r.status, what).toBe(status);
        expect(r.headers.get('content-type'), what).toMatch(/^application\/vnd\.git-lfs\+json/);
        expect(r.json.message, what).toEqual(expect.any(String));
      }
      expect(await listAll('studio/api')).toEqual(before);
      // 1024 characters is still a path.
      const longest = await lock('studio/api', tokens.alice, 'y'.repeat(1024));
      expect(longest.status).toBe(201);

      for (const q of ['limit=0', 'limit=abc', 'limit=101', 'limit=-1', 'limit=1.5', 'cursor=abc', 'cursor=0', 'limit=1&limit=2']) {
        const r = await api('studio/api', `locks?${q}`, { token: tokens.alice });
        expect(r.status, q).toBe(422);
        expect(r.json.message, q).toEqual(expect.any(String));
      }
      for (const body of [{ limit: 0 }, { limit: 'abc' }, { limit: 101 }, { cursor: 'abc' }, { ref: 'refs/heads/main' }]) {
        expect((await api('studio/api', 'locks/verify', { token: tokens.alice, body })).status, JSON.stringify(body)).toBe(422);
      }
      expect((await api('studio/api', 'locks/verify', { token: tokens.alice, body: '{', contentType: LFS })).status).toBe(400);
      const id = longest.json.lock.id;
      expect((await api('studio/api', `locks/${id}/unlock`, { token: tokens.alice, body: { force: 'yes' } })).status).toBe(422);
      expect((await api('studio/api', `locks/${id}/unlock`, { token: tokens.alice, body: '{}', contentType: 'text/plain' })).status).toBe(415);
      expect((await api('studio/api', 'locks', { token: tokens.alice, method: 'DELETE' })).status).toBe(405);
      expect((await api('studio/api', 'locks/verify', { token: tokens.alice })).status).toBe(405);
      expect((await api('studio/api', `locks/${id}`, { token: tokens.alice })).status).toBe(404);
      expect((await listAll('studio/api')).map((l) => l.id)).toContain(id);
    });

    it('unlock: the owner; someone else only with force as an admin; 404 for an unknown id', async () => {
      const created = (await lock('studio/api', tokens.alice, 'unlock/me.bin')).json.lock as WireLock;
      const unlock = (token: string, body: unknown, id = created.id) => api('studio/api', `locks/${id}/unlock`, { token, body });

      const bob = await unlock(tokens.bob, {});
      expect(bob.status).toBe(403);
      expect(bob.json.message).toMatch(/^unlock\/me\.bin is locked by alice; use --force as a repo admin/);
      expect((await unlock(tokens.bob, { force: true })).status).toBe(403);
      expect((await unlock(tokens.carol, { force: false })).status).toBe(403);
      expect((await listAll('studio/api', `?id=${created.id}`)).length).toBe(1);

      const byOwner = await unlock(tokens.alice, { ref: { name: 'refs/heads/main' } });
      expect(byOwner.status).toBe(200);
      expect(byOwner.json).toEqual({ lock: created });
      expect(await listAll('studio/api', `?id=${created.id}`)).toEqual([]);
      const gone = await unlock(tokens.alice, {});
      expect(gone.status).toBe(404);
      expect(gone.headers.get('content-type')).toMatch(/^application\/vnd\.git-lfs\+json/);
      for (const id of ['999999', 'abc', '0', '1e3']) expect((await unlock(tokens.carol, { force: true }, id)).status, id).toBe(404);

      // An admin may force; the path can then be locked again.
      const again = (await lock('studio/api', tokens.bob, 'unlock/me.bin')).json.lock as WireLock;
      const forced = await unlock(tokens.carol, { force: true }, again.id);
      expect(forced.status).toBe(200);
      expect(forced.json.lock).toEqual(again);
      expect((await lock('studio/api', tokens.carol, 'unlock/me.bin')).status).toBe(201);
    });

    it("never shows or removes another repo's lock through this repo", async () => {
      const other = await lock('alice/other', tokens.alice, 'shared/name.bin');
      expect(other.status).toBe(201);
      const id: string = other.json.lock.id;
      // The same path can be locked independently in another repo.
      expect((await lock('studio/api', tokens.bob, 'shared/name.bin')).status).toBe(201);

      expect(await listAll('studio/api', `?id=${id}`)).toEqual([]);
      for (const token of [tokens.alice, tokens.carol]) {
        const r = await api('studio/api', `locks/${id}/unlock`, { token, body: { force: true } });
        expect(r.status).toBe(404);
      }
      const verify = await api('studio/api', 'locks/verify', { token: tokens.alice, body: {} });
      expect([...verify.json.ours, ...verify.json.theirs].map((l: WireLock) => l.id)).not.toContain(id);
      const still = await api('alice/other', `locks?id=${id}`, { token: tokens.alice });
      expect(still.json.locks).toEqual([other.json.lock]);
    });

    it('serves the same locks under the path without .git', async () => {
      const r = await fetch(`${hub.url}/studio/api/info/lfs/locks?path=shared/name.bin`, { headers: { Authorization: `Bearer ${tokens.bob}` } });
      expect(r.status).toBe(200);
      expect((await r.json()).locks.map((l: WireLock) => l.owner.name)).toEqual(['bob']);
    });
  });
});
