import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, tempDir } from './helpers/hubgate.js';
import { type SshHubgate, startSshHubgate } from './helpers/ssh.js';

// git over SSH with the real OpenSSH client and git: clone, fetch, push, shallow and partial
// clones at protocol v0 and v2, the scp-like address, and the host keys kept across restarts.

let hub: SshHubgate;
let token: string;
let key: { file: string; id: number };

beforeAll(async () => {
  hub = await startSshHubgate();
  token = await hub.userWithToken('alice');
  key = await hub.addKey('alice');
  const made = await hub.cli(['repo', 'create', 'alice/m']);
  expect(made.code, made.stderr).toBe(0);
  await hub.pushFiles('alice/m', token, { 'README.md': '# m\n', 'a.txt': 'one\n' }, 'first');
  await hub.pushFiles('alice/m', token, { 'b.txt': 'two\n' }, 'second');
});
afterAll(() => hub?.stop());

const sshEnv = (extra: NodeJS.ProcessEnv = {}) => ({ GIT_SSH_COMMAND: hub.sshCommand(key.file), ...extra });

describe('git over SSH', () => {
  it('clones at protocol v0 and v2 (v2 negotiated through the GIT_PROTOCOL env request)', async () => {
    for (const version of ['0', '2']) {
      const dir = tempDir();
      const r = await hub.git(['-c', `protocol.version=${version}`, 'clone', hub.sshRemote('alice/m'), 'c'], { cwd: dir, env: sshEnv({ GIT_TRACE_PACKET: '1' }) });
      expect(r.code, r.stderr).toBe(0);
      expect(fs.readFileSync(path.join(dir, 'c', 'b.txt'), 'utf8')).toBe('two\n');
      // v2 servers answer with "version 2" first; v0 with the refs at once.
      expect(r.stderr.includes('< version 2'), `protocol ${version}`).toBe(version === '2');
    }
  });
});

describe('git over SSH: fetch, push, shallow and partial clones', () => {
  it('pushes over SSH (the hooks run: the push is audited) and fetches the push into another clone', async () => {
    const a = tempDir();
    const b = tempDir();
    expect((await hub.git(['clone', '-q', hub.sshRemote('alice/m.git'), '.'], { cwd: a, env: sshEnv() })).code).toBe(0);
    expect((await hub.git(['clone', '-q', hub.sshRemote('alice/m'), '.'], { cwd: b, env: sshEnv() })).code).toBe(0);
    fs.writeFileSync(path.join(a, 'c.txt'), 'three\n');
    await hub.git(['add', 'c.txt'], { cwd: a });
    await hub.git(['commit', '-qm', 'third over ssh'], { cwd: a });
    const pushed = await hub.git(['push', 'origin', 'main'], { cwd: a, env: sshEnv() });
    expect(pushed.code, pushed.stderr).toBe(0);
    const head = (await hub.git(['rev-parse', 'HEAD'], { cwd: a })).stdout.trim();
    const server = await hub.git(['--git-dir', hub.repoDir('alice/m'), 'rev-parse', 'refs/heads/main']);
    expect(server.stdout.trim()).toBe(head);
    const fetched = await hub.git(['pull', '-q', '--ff-only'], { cwd: b, env: sshEnv() });
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fs.readFileSync(path.join(b, 'c.txt'), 'utf8')).toBe('three\n');
    // The post-receive hook audited the push as alice's.
    const audit = await hub.cli(['audit', '--repo', 'alice/m', '--limit', '1']);
    expect(audit.stdout).toMatch(new RegExp(`alice\\s+push\\s+models/alice/m\\s.*new=${head}`));
  });

  it('makes shallow clones and deepens them, at v0 and v2', async () => {
    for (const version of ['0', '2']) {
      const dir = tempDir();
      const clone = await hub.git(['-c', `protocol.version=${version}`, 'clone', '-q', '--depth', '1', hub.sshRemote('alice/m'), '.'], { cwd: dir, env: sshEnv() });
      expect(clone.code, clone.stderr).toBe(0);
      expect((await hub.git(['rev-list', '--count', 'HEAD'], { cwd: dir })).stdout.trim()).toBe('1');
      const deepen = await hub.git(['-c', `protocol.version=${version}`, 'fetch', '-q', '--deepen', '1'], { cwd: dir, env: sshEnv() });
      expect(deepen.code, deepen.stderr).toBe(0);
      expect((await hub.git(['rev-list', '--count', 'HEAD'], { cwd: dir })).stdout.trim()).toBe('2');
    }
  });

  it('makes partial clones (--filter=blob:none) and fetches missing blobs on checkout, at v0 and v2', async () => {
    for (const version of ['0', '2']) {
      const dir = tempDir();
      const clone = await hub.git(['-c', `protocol.version=${version}`, 'clone', '-q', '--filter=blob:none', '--no-checkout', hub.sshRemote('alice/m'), '.'], { cwd: dir, env: sshEnv() });
      expect(clone.code, clone.stderr).toBe(0);
      expect((await hub.git(['config', 'remote.origin.partialclonefilter'], { cwd: dir })).stdout.trim()).toBe('blob:none');
      // No blob came with the clone: every one is missing until checkout fetches it.
      const missing = await hub.git(['rev-list', '--objects', '--missing=print', 'HEAD'], { cwd: dir });
      expect(missing.stdout.split('\n').filter((l) => l.startsWith('?')).length).toBeGreaterThanOrEqual(3);
      const checkout = await hub.git(['-c', `protocol.version=${version}`, 'checkout', '-q', 'main'], { cwd: dir, env: sshEnv() });
      expect(checkout.code, checkout.stderr).toBe(0);
      expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('one\n');
    }
  });

  it('takes the scp-like address with the port from ~/.ssh/config, for datasets too', async () => {
    const made = await hub.cli(['repo', 'create', 'alice/data', '--type', 'dataset']);
    expect(made.code, made.stderr).toBe(0);
    await hub.pushFiles('datasets/alice/data', token, { 'rows.csv': 'a,b\n' });
    const config = path.join(tempDir('hubgate-sshcfg-'), 'config');
    fs.writeFileSync(config, `Host hubgate-test\n  HostName 127.0.0.1\n  Port ${hub.sshPort}\n  User git\n  IdentityFile ${key.file}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${hub.knownHosts}\n  StrictHostKeyChecking yes\n  HostKeyAlias [127.0.0.1]:${hub.sshPort}\n  BatchMode yes\n`);
    const dir = tempDir();
    const r = await hub.git(['clone', '-q', 'git@hubgate-test:datasets/alice/data', '.'], { cwd: dir, env: { GIT_SSH_COMMAND: `ssh -F ${config}` } });
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'rows.csv'), 'utf8')).toBe('a,b\n');
  });

  it('made its host keys in the data directory (0600 private keys OpenSSH reads, matching .pub files)', async () => {
    for (const kind of ['ed25519', 'rsa']) {
      const file = path.join(hub.dataDir, 'ssh', `ssh_host_${kind}_key`);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const pub = fs.readFileSync(`${file}.pub`, 'utf8');
      expect(pub).toMatch(kind === 'ed25519' ? /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5/ : /^ssh-rsa AAAAB3NzaC1yc2E/);
      // ssh-keygen reads the private key and derives the same public key.
      const derived = await run('ssh-keygen', ['-y', '-f', file]);
      expect(derived.code, derived.stderr).toBe(0);
      expect(derived.stdout.trim().split(' ').slice(0, 2)).toEqual(pub.trim().split(' ').slice(0, 2));
      if (kind === 'rsa') expect((await run('ssh-keygen', ['-lf', `${file}.pub`])).stdout).toMatch(/^3072 SHA256:/);
    }
  });
});

describe('the SSH clone URL on the pages', () => {
  it('shows the SSH clone command next to the HTTP one', async () => {
    const page = await (await fetch(`${hub.url}/alice/m`)).text();
    expect(page).toContain(`git clone ${hub.url}/alice/m`);
    expect(page).toContain(`git clone ssh://git@127.0.0.1:${hub.sshPort}/alice/m`);
  });
});

describe('large transfers with every cipher offered', () => {
  it('clones a 16 MB pack completely and exits, whichever cipher the client picks', async () => {
    expect((await hub.cli(['repo', 'create', 'alice/big'])).code).toBe(0);
    const files = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`noise${i}.txt`, crypto.randomBytes(3 * 1024 * 1024).toString('base64')]));
    const head = await hub.pushFiles('alice/big', token, files);
    for (const cipher of ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr']) {
      const dir = tempDir();
      const started = Date.now();
      const r = await hub.git(['clone', '-q', hub.sshRemote('alice/big'), '.'], { cwd: dir, env: { GIT_SSH_COMMAND: hub.sshCommand(key.file, ['-c', cipher]) } });
      expect(r.code, `${cipher}: ${r.stderr}`).toBe(0);
      expect((await hub.git(['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim()).toBe(head);
      expect(fs.readFileSync(path.join(dir, 'noise3.txt'), 'utf8')).toBe(files['noise3.txt']);
      // The exit status follows the last byte at once (it once waited for a drain that never came).
      expect(Date.now() - started, cipher).toBeLessThan(30_000);
    }
  });
});

describe('metrics of git over SSH', () => {
  it('counts SSH git processes in the git service metrics', async () => {
    const count = async () => {
      const text = await (await fetch(`${hub.url}/metrics`)).text();
      return Number(/^hubgate_git_service_duration_seconds_count\{service="upload-pack",outcome="ok"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    const before = await count();
    const r = await hub.git(['clone', '-q', hub.sshRemote('alice/m'), 'c'], { env: sshEnv() });
    expect(r.code, r.stderr).toBe(0);
    expect(await count()).toBe(before + 1);
  });
});
