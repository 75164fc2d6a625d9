// isomorphic-git as a second git client (issue 5, Tests): it clones and pushes over hubgate's
// smart HTTP with the token from its onAuth callback, and real git sees what it pushed (and
// the other way round). A private repo without credentials and a push with a read token fail
// the way the client reports them: 401 to onAuth / onAuthFailure, 403 with hubgate's message.
import fs from 'node:fs';
import path from 'node:path';
import git, { Errors } from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, type RunResult, startHubgate, tempDir } from './helpers/hubgate.js';

function ok(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout.trim();
}

const author = { name: 'Iso Author', email: 'iso@example.com' };

describe('isomorphic-git against hubgate', () => {
  let hub: Hubgate;
  let alice: string;
  let aliceRead: string;
  let bob: string;
  const url = (repo: string) => `${hub.url}/${repo}`;
  /** An onAuth callback that hands out `token` as the password, counting its calls. */
  const tokenAuth = (token: string) => {
    const calls: string[] = [];
    return { calls, onAuth: (u: string) => (calls.push(u), { username: 'x', password: token }) };
  };

  beforeAll(async () => {
    hub = await startHubgate();
    alice = await hub.userWithToken('alice');
    aliceRead = await hub.userWithToken('alice', 'read');
    bob = await hub.userWithToken('bob');
    ok(await hub.cli(['repo', 'create', 'alice/iso']), 'repo create');
    ok(await hub.cli(['repo', 'create', 'alice/hidden', '--private']), 'repo create');
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('clones a private repo with the token from onAuth, commits, pushes; real git clones the commit', async () => {
    const dir = tempDir('hubgate-iso-');
    const auth = tokenAuth(alice);
    await git.clone({ fs, http, dir, url: url('alice/hidden'), onAuth: auth.onAuth, singleBranch: true });
    // The first request went without credentials, got 401, and was repeated with the token.
    expect(auth.calls).toEqual([url('alice/hidden')]);
    expect(fs.readFileSync(path.join(dir, '.gitattributes'), 'utf8')).toContain('filter=lfs');

    const content = `written by isomorphic-git at ${Date.now()}\n`;
    fs.mkdirSync(path.join(dir, 'docs'));
    fs.writeFileSync(path.join(dir, 'docs', 'iso.txt'), content);
    await git.add({ fs, dir, filepath: 'docs/iso.txt' });
    const commit = await git.commit({ fs, dir, message: 'Add docs/iso.txt from isomorphic-git', author });
    const pushed = await git.push({ fs, http, dir, remote: 'origin', ref: 'main', onAuth: auth.onAuth });
    expect(pushed.ok).toBe(true);
    expect(pushed.refs['refs/heads/main']).toEqual({ ok: true, error: '' });

    const work = tempDir('hubgate-iso-check-');
    ok(await hub.git(['clone', '-q', hub.remote('alice/hidden', alice), '.'], { cwd: work }), 'git clone');
    expect(ok(await hub.git(['rev-parse', 'HEAD'], { cwd: work }), 'rev-parse')).toBe(commit);
    expect(ok(await hub.git(['log', '-1', '--format=%an <%ae>|%s'], { cwd: work }), 'log')).toBe('Iso Author <iso@example.com>|Add docs/iso.txt from isomorphic-git');
    expect(fs.readFileSync(path.join(work, 'docs', 'iso.txt'), 'utf8')).toBe(content);
    // The server's repository is sound after the push.
    ok(await hub.git(['--git-dir', hub.repoDir('alice/hidden'), 'fsck', '--strict', '--no-progress']), 'git fsck');
  });

  it('a public repo clones anonymously; its push asks onAuth; what real git pushes next, isomorphic-git fetches', async () => {
    const dir = tempDir('hubgate-iso-');
    await git.clone({ fs, http, dir, url: url('alice/iso'), singleBranch: true });
    fs.writeFileSync(path.join(dir, 'a.txt'), 'a\n');
    await git.add({ fs, dir, filepath: 'a.txt' });
    await git.commit({ fs, dir, message: 'a', author });
    const auth = tokenAuth(alice);
    expect((await git.push({ fs, http, dir, ref: 'main', onAuth: auth.onAuth })).ok).toBe(true);
    expect(auth.calls.length).toBe(1);

    // Real git adds a commit on top; isomorphic-git fetches it and reads the file.
    const work = tempDir('hubgate-iso-git-');
    ok(await hub.git(['clone', '-q', hub.remote('alice/iso', alice), '.'], { cwd: work }), 'git clone');
    fs.writeFileSync(path.join(work, 'b.txt'), 'from real git\n');
    ok(await hub.git(['add', 'b.txt'], { cwd: work }), 'add');
    ok(await hub.git(['commit', '-q', '-m', 'b'], { cwd: work }), 'commit');
    ok(await hub.git(['push', '-q', 'origin', 'main'], { cwd: work }), 'push');
    const tip = ok(await hub.git(['rev-parse', 'HEAD'], { cwd: work }), 'rev-parse');
    const fetched = await git.fetch({ fs, http, dir, singleBranch: true, ref: 'main' });
    expect(fetched.fetchHead).toBe(tip);
    const { blob } = await git.readBlob({ fs, dir, oid: tip, filepath: 'b.txt' });
    expect(Buffer.from(blob).toString()).toBe('from real git\n');
  });

  it('speaks protocol v2 with hubgate (ls-refs through getRemoteInfo2)', async () => {
    const info = await git.getRemoteInfo2({ http, url: url('alice/iso'), protocolVersion: 2 });
    expect(info.protocolVersion).toBe(2);
    const main = ok(await hub.git(['--git-dir', hub.repoDir('alice/iso'), 'rev-parse', 'main']), 'rev-parse');
    const refs = await git.listServerRefs({ http, url: url('alice/iso'), protocolVersion: 2, prefix: 'refs/heads/' });
    expect(refs).toEqual([{ ref: 'refs/heads/main', oid: main }]);
  });

  it('a private repo without credentials fails with 401; wrong credentials reach onAuthFailure', async () => {
    const none = await git.clone({ fs, http, dir: tempDir('hubgate-iso-'), url: url('alice/hidden') }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(Errors.HttpError);
    expect((none as InstanceType<typeof Errors.HttpError>).data.statusCode).toBe(401);

    // bob's valid token: the repo is hidden from him, 404 as for a missing repo.
    const hidden = await git.clone({ fs, http, dir: tempDir('hubgate-iso-'), url: url('alice/hidden'), onAuth: tokenAuth(bob).onAuth }).catch((e: unknown) => e);
    expect(hidden).toBeInstanceOf(Errors.HttpError);
    expect((hidden as InstanceType<typeof Errors.HttpError>).data.statusCode).toBe(404);

    const failures: number[] = [];
    const wrong = await git
      .clone({
        fs,
        http,
        dir: tempDir('hubgate-iso-'),
        url: url('alice/hidden'),
        onAuth: () => ({ username: 'x', password: 'hf_not-a-real-token-000000000000000000000000' }),
        onAuthFailure: () => (failures.push(1), { cancel: true }),
      })
      .catch((e: unknown) => e);
    expect(failures.length).toBe(1);
    expect(wrong).toBeInstanceOf(Errors.UserCanceledError);
  });

  it('a read token clones but cannot push: 403 with hubgate message naming the role; nothing moves', async () => {
    const dir = tempDir('hubgate-iso-');
    await git.clone({ fs, http, dir, url: url('alice/hidden'), onAuth: tokenAuth(aliceRead).onAuth, singleBranch: true });
    const before = ok(await hub.git(['--git-dir', hub.repoDir('alice/hidden'), 'rev-parse', 'main']), 'rev-parse');
    fs.writeFileSync(path.join(dir, 'nope.txt'), 'nope\n');
    await git.add({ fs, dir, filepath: 'nope.txt' });
    await git.commit({ fs, dir, message: 'nope', author });
    const err = await git.push({ fs, http, dir, ref: 'main', onAuth: tokenAuth(aliceRead).onAuth }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Errors.HttpError);
    const data = (err as InstanceType<typeof Errors.HttpError>).data;
    expect(data.statusCode).toBe(403);
    expect(data.response).toContain('Your token has the read role and cannot write alice/hidden: create a token with the write role');
    expect(ok(await hub.git(['--git-dir', hub.repoDir('alice/hidden'), 'rev-parse', 'main']), 'rev-parse')).toBe(before);
  });
});
