// A full or read-only disk, for real: the repos (or the whole data directory, database included)
// on a small tmpfs, filled with a file until ENOSPC, or made read-only. Every surface answers
// in its own format with a message the client shows (API JSON + X-Error-Message, an HTML page,
// git's "remote:" lines, one line from the CLI); nothing moves, nothing half-made stays, reads go
// on, and the same operations succeed once space is freed. Needs root (mount); skipped otherwise.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, newWorkRepo, ok } from './helpers/git-client.js';
import { type Hubgate, run, startHubgate, tempDir } from './helpers/hubgate.js';
import { type SshHubgate, startSshHubgate } from './helpers/ssh.js';

const DISK_FULL = /the server's disk is full: nothing was changed; ask the administrator to free space, then try again/;
const READ_ONLY = /the server's storage is read-only or cannot be written: nothing was changed/;

function mount(dir: string, size: string): void {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' }); // still busy: detach now, freed when closed
  }
}

/** Whether this machine lets the tests mount a tmpfs (root, no container that forbids it). */
function mountPermitted(): boolean {
  const probe = tempDir('hubgate-mount-probe-');
  try {
    mount(probe, '1m');
    unmount(probe);
    return true;
  } catch {
    return false;
  }
}

/** Fills the file system of `dir` with one file until the kernel says ENOSPC; returns the file. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = fs.openSync(file, 'w');
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          fs.writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/**
 * Makes `dir` read-only with a read-only bind mount over it (remounting the tmpfs itself would be
 * refused while git still maps a pack that repacking deleted), or writable again.
 */
function setReadOnly(dir: string, readOnly: boolean): void {
  if (readOnly) {
    execFileSync('mount', ['--bind', dir, dir], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'remount,bind,ro', dir], { stdio: 'pipe' });
  } else {
    execFileSync('mount', ['-o', 'remount,bind,rw', dir], { stdio: 'pipe' });
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' }); // the bind mount only; the tmpfs stays
  }
}

const canMount = mountPermitted();
if (!canMount) console.warn('disk-faults: skipped: mounting a tmpfs is not permitted here (run the tests as root on Linux)');

async function bare(hub: Hubgate, repo: string, args: string[]): Promise<string> {
  const r = await run('git', ['--git-dir', hub.repoDir(repo), ...args]);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} in ${repo}: ${r.stderr}`);
  return r.stdout;
}
const head = (hub: Hubgate, repo: string) => bare(hub, repo, ['rev-parse', 'main']).then((s) => s.trim());

async function apiCommit(hub: Hubgate, token: string, repo: string, name: string): Promise<Response> {
  const lines = [{ key: 'header', value: { summary: `add ${name}` } }, { key: 'file', value: { path: name, content: crypto.randomBytes(64 * 1024).toString('base64') } }];
  return fetch(`${hub.url}/api/models/${repo}/commit/main`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-ndjson' },
    body: lines.map((l) => JSON.stringify(l)).join('\n'),
  });
}

function apiCreate(hub: Hubgate, token: string, name: string): Promise<Response> {
  return fetch(`${hub.url}/api/repos/create`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name }),
  });
}

/** An API error as huggingface_hub shows it: the X-Error-Message header and the JSON body agree. */
async function expectApiFault(res: Response, status: number, message: RegExp): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('x-error-message')).toMatch(message);
  expect((await res.json()).error).toMatch(message);
}

describe.skipIf(!canMount)('the repos on a full, then read-only, disk', () => {
  let hub: SshHubgate;
  let token: string;
  let sshKey: string;
  let reposMount: string;
  let work: string;
  let filler: string;
  const repos = ['alice/m'];

  beforeAll(async () => {
    const dataDir = path.join(tempDir(), 'data');
    reposMount = path.join(dataDir, 'repos');
    mount(reposMount, '16m');
    hub = await startSshHubgate({ dataDir });
    token = await hub.userWithToken('alice');
    sshKey = (await hub.addKey('alice')).file;
    const created = await hub.cli(['repo', 'create', 'alice/m']);
    if (created.code !== 0) throw new Error(created.stderr);
    // A commit ready to push, made while there was room.
    work = await newWorkRepo(hub.remote('alice/m', token));
    ok(await git(['pull', '-q', 'origin', 'main'], work));
    fs.writeFileSync(path.join(work, 'data.bin'), crypto.randomBytes(256 * 1024));
    ok(await git(['add', 'data.bin'], work));
    ok(await git(['commit', '-qm', 'data'], work));
  });
  afterAll(async () => {
    await hub?.stop();
    if (reposMount) unmount(reposMount);
  });

  async function fsckAll(): Promise<void> {
    for (const repo of repos) await bare(hub, repo, ['fsck', '--strict', '--no-progress']);
  }

  it('full: API commit and repo creation answer 507 JSON, the CLI one line, a push "remote: ..."; no ref moves, nothing half-made stays', async () => {
    const before = await head(hub, 'alice/m');
    filler = fill(reposMount);

    await expectApiFault(await apiCommit(hub, token, 'alice/m', 'a.bin'), 507, DISK_FULL);
    await expectApiFault(await apiCreate(hub, token, 'new'), 507, DISK_FULL);
    expect(fs.existsSync(hub.repoDir('alice/new'))).toBe(false);
    expect((await fetch(`${hub.url}/api/models/alice/new`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(404);

    const cli = await hub.cli(['repo', 'create', 'alice/cli']);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(DISK_FULL);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(hub.repoDir('alice/cli'))).toBe(false);

    const push = await git(['push', 'origin', 'main'], work);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/remote: the server's disk is full/);
    // Over SSH, refused before receive-pack starts, in the same words.
    const sshPush = await git(['push', hub.sshRemote('alice/m'), 'main'], work, { env: { GIT_SSH_COMMAND: hub.sshCommand(sshKey) } });
    expect(sshPush.code).not.toBe(0);
    expect(sshPush.stderr).toMatch(/the server's disk is full: nothing was changed/);

    // Nothing moved or stayed behind; reads go on.
    expect(await head(hub, 'alice/m')).toBe(before);
    expect(fs.readdirSync(path.join(hub.repoDir('alice/m'), 'objects')).filter((n) => n.startsWith('tmp_objdir-'))).toEqual([]);
    expect(fs.existsSync(path.join(reposMount, '.tmp')) ? fs.readdirSync(path.join(reposMount, '.tmp')) : []).toEqual([]);
    expect(fs.readdirSync(path.join(hub.dataDir, 'tmp'))).toEqual([]);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    expect(ok(await git(['ls-remote', 'origin', 'refs/heads/main'], work)).split('\t')[0]).toBe(before);
    await fsckAll();
  });

  it('nearly full: a push larger than the space left is refused by git with the reason, and leaves no quarantine', async () => {
    const before = await head(hub, 'alice/m');
    fs.truncateSync(filler, fs.statSync(filler).size - 2 * 1024 * 1024); // 2 MiB free: past the 1 MiB a push needs to start
    fs.writeFileSync(path.join(work, 'big.bin'), crypto.randomBytes(4 * 1024 * 1024));
    ok(await git(['add', 'big.bin'], work));
    ok(await git(['commit', '-qm', 'big'], work));
    const push = await git(['push', 'origin', 'main'], work);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/remote: .*No space left on device/);
    expect(await head(hub, 'alice/m')).toBe(before);
    expect(fs.readdirSync(path.join(hub.repoDir('alice/m'), 'objects')).filter((n) => n.startsWith('tmp_objdir-'))).toEqual([]);
    await fsckAll();
  });

  it('once space is freed, the same commit, creations and push succeed', async () => {
    fs.rmSync(filler);
    const commit = await apiCommit(hub, token, 'alice/m', 'a.bin');
    expect(commit.status, await commit.clone().text()).toBe(200);
    const create = await apiCreate(hub, token, 'new');
    expect(create.status, await create.clone().text()).toBe(200);
    expect((await hub.cli(['repo', 'create', 'alice/cli'])).code).toBe(0);
    repos.push('alice/new', 'alice/cli');
    for (const repo of ['alice/new', 'alice/cli']) expect(await bare(hub, repo, ['ls-tree', '--name-only', 'main'])).toBe('.gitattributes\n');
    ok(await git(['pull', '-q', '--no-rebase', 'origin', 'main'], work));
    ok(await git(['push', '-q', 'origin', 'main'], work));
    expect(await head(hub, 'alice/m')).toBe(ok(await git(['rev-parse', 'HEAD'], work)).trim());
    await fsckAll();
  });

  it('read-only: API commit and repo creation answer 503 with Retry-After, a push "remote: ..."; then it works again', async () => {
    const before = await head(hub, 'alice/m');
    fs.writeFileSync(path.join(work, 'more.txt'), 'more\n');
    ok(await git(['add', 'more.txt'], work));
    ok(await git(['commit', '-qm', 'more'], work));
    setReadOnly(reposMount, true);
    try {
      const commit = await apiCommit(hub, token, 'alice/m', 'b.bin');
      expect(commit.headers.get('retry-after')).toMatch(/^\d+$/);
      await expectApiFault(commit, 503, READ_ONLY);
      await expectApiFault(await apiCreate(hub, token, 'other'), 503, READ_ONLY);
      const push = await git(['push', 'origin', 'main'], work);
      expect(push.code).not.toBe(0);
      expect(push.stderr).toMatch(/remote: the server's storage is read-only/);
      expect(await head(hub, 'alice/m')).toBe(before);
      expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    } finally {
      setReadOnly(reposMount, false);
    }
    expect((await apiCommit(hub, token, 'alice/m', 'b.bin')).status).toBe(200);
    ok(await git(['pull', '-q', '--no-rebase', 'origin', 'main'], work));
    ok(await git(['push', '-q', 'origin', 'main'], work));
    expect((await apiCreate(hub, token, 'other')).status).toBe(200);
    repos.push('alice/other');
    await fsckAll();
  });
});

describe.skipIf(!canMount)('the whole data directory (database included) on a full disk', () => {
  let hub: Hubgate;
  let dataDir: string;
  let token: string;
  let filler: string;
  const PASSWORD = 'carol-password-1';
  const CSRF = 'c'.repeat(43);

  beforeAll(async () => {
    dataDir = path.join(tempDir(), 'data');
    mount(dataDir, '24m');
    hub = await startHubgate({ dataDir });
    const user = await hub.cli(['user', 'create', 'carol', '--email', 'carol@example.com', '--password-stdin'], `${PASSWORD}\n`);
    if (user.code !== 0) throw new Error(user.stderr);
    token = (await hub.cli(['token', 'create', 'carol', '--role', 'read'])).stdout.trim();
    const repo = await hub.cli(['repo', 'create', 'carol/r']);
    if (repo.code !== 0) throw new Error(repo.stderr);
  });
  afterAll(async () => {
    await hub?.stop();
    if (dataDir) unmount(dataDir);
  });

  const signIn = () =>
    fetch(`${hub.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `hubgate_login_csrf=${CSRF}` },
      body: new URLSearchParams({ csrf: CSRF, username: 'carol', password: PASSWORD }).toString(),
    });

  it('signing in answers a 507 HTML page, the CLI one line; clones with a token still work', async () => {
    filler = fill(dataDir);
    const page = await signIn();
    expect(page.status).toBe(507);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/disk is full: nothing was changed; ask the administrator to free space/);

    const cli = await hub.cli(['user', 'create', 'dave', '--email', 'dave@example.com']);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(DISK_FULL);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);

    // Reading needs no room: the token's "last used" bookkeeping must not turn a clone away.
    const clone = await git(['clone', '-q', hub.remote('carol/r', token), 'r'], tempDir('hubgate-clone-'));
    expect(clone.code, clone.stderr).toBe(0);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
  });

  it('once space is freed, signing in and the CLI succeed', async () => {
    fs.rmSync(filler);
    const page = await signIn();
    expect(page.status).toBe(303);
    expect((await hub.cli(['user', 'create', 'dave', '--email', 'dave@example.com'])).code).toBe(0);
    await bare(hub, 'carol/r', ['fsck', '--strict', '--no-progress']);
  });
});
