import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, ownProcess, run, tempDir } from './helpers/hubgate.js';
import { generateKey } from './helpers/ssh-keys.js';
import { type SshHubgate, startSshHubgate } from './helpers/ssh.js';

// The SSH server under bad conditions: a client killed in the middle of a push leaves nothing
// behind, a stream of connections with unknown keys changes nothing, and the port being taken
// stops the start with one line naming the setting.

let hub: SshHubgate;
let key: { file: string; id: number };
let token: string;

beforeAll(async () => {
  hub = await startSshHubgate({ env: { HUBGATE_SSH_MAX_CONNECTIONS_PER_IP: '50' } });
  token = await hub.userWithToken('alice');
  key = await hub.addKey('alice');
  expect((await hub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
  await hub.pushFiles('alice/m', token, { 'README.md': '# m\n' });
});
afterAll(() => hub?.stop());

const incoming = () => fs.readdirSync(path.join(hub.repoDir('alice/m'), 'objects')).filter((n) => n.startsWith('tmp_objdir-incoming-'));
const mainRef = async () => (await hub.git(['--git-dir', hub.repoDir('alice/m'), 'rev-parse', 'refs/heads/main'])).stdout.trim();

describe('SSH under bad conditions', () => {
  it('leaves no quarantine and no ref change when the client is killed mid-push', async () => {
    const before = await mainRef();
    const work = tempDir();
    const home = tempDir('hubgate-home-');
    const env = clientEnv(home, { GIT_SSH_COMMAND: hub.sshCommand(key.file) });
    expect((await run('git', ['clone', '-q', hub.sshRemote('alice/m'), '.'], { cwd: work, env })).code).toBe(0);
    // Incompressible data: a pack of ~40 MB, so the push is still sending when its quarantine appears.
    fs.writeFileSync(path.join(work, 'noise.txt'), crypto.randomBytes(30 * 1024 * 1024).toString('base64'));
    await run('git', ['add', 'noise.txt'], { cwd: work, env });
    await run('git', ['commit', '-qm', 'big'], { cwd: work, env });
    // The push (git and its ssh, in their own process group) is killed as soon as its quarantine appears.
    const push = ownProcess(spawn('git', ['push', 'origin', 'main'], { cwd: work, env, stdio: 'ignore', detached: true }));
    const deadline = Date.now() + 30_000;
    while (incoming().length === 0 && Date.now() < deadline && push.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    expect(incoming().length, 'the push reached the server (its quarantine appeared)').toBeGreaterThan(0);
    process.kill(-push.pid!, 'SIGKILL'); // git and its ssh
    await new Promise((r) => push.once('exit', r));
    // receive-pack reads EOF, removes its quarantine and exits.
    const gone = Date.now() + 20_000;
    while (incoming().length > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(incoming()).toEqual([]);
    expect(await mainRef()).toBe(before);
    expect(fs.readdirSync(path.join(hub.repoDir('alice/m'), 'refs', 'heads')).filter((n) => n.endsWith('.lock'))).toEqual([]);
  });

  it('survives 200 connection attempts with unknown keys and raw garbage, and serves a good clone after', async () => {
    const stranger = await generateKey('ed25519');
    for (let i = 0; i < 200; i++) {
      if (i % 2 === 0) {
        const r = await hub.ssh(stranger.file, "git-upload-pack 'alice/m'", ['-o', 'ConnectTimeout=10']);
        expect(r.code).toBe(255);
      } else {
        // Not SSH at all: a line of junk, then the connection is dropped.
        await new Promise<void>((resolve) => {
          const socket = net.connect(hub.sshPort, '127.0.0.1', () => socket.end('GET / HTTP/1.0\r\n\r\n'));
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
          socket.resume();
        });
      }
    }
    expect(hub.process.exitCode).toBeNull();
    const dir = tempDir();
    const r = await hub.git(['clone', '-q', hub.sshRemote('alice/m'), '.'], { cwd: dir, env: { GIT_SSH_COMMAND: hub.sshCommand(key.file) } });
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('# m\n');
  }, 240_000);

  it('closes a session that stops moving after HUBGATE_SSH_IDLE_TIMEOUT_MS, keepalives or not', async () => {
    // A server of its own: a short idle timeout would cut the other tests' pushes while git packs.
    const idle = await startSshHubgate({ env: { HUBGATE_SSH_IDLE_TIMEOUT_MS: '3000' } });
    try {
      await idle.userWithToken('alice');
      const own = await idle.addKey('alice');
      expect((await idle.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
      // upload-pack sends its advertisement, then waits for wants that never come; the client
      // answers keepalives all along (ServerAlive as well), which must not count as activity.
      const started = Date.now();
      const args = idle.sshCommand(own.file, ['-o', 'ServerAliveInterval=1']).split(' ').slice(1);
      const client = ownProcess(spawn('ssh', [...args, 'git@127.0.0.1', "git-upload-pack 'alice/m'"], { stdio: ['pipe', 'pipe', 'pipe'] }));
      let out = '';
      client.stdout.on('data', (b) => (out += b));
      const code = await new Promise<number | null>((resolve) => client.once('exit', resolve));
      const elapsed = Date.now() - started;
      expect(out).toContain('refs/heads/main');
      expect(code).toBe(255);
      expect(elapsed).toBeGreaterThanOrEqual(2500);
      expect(elapsed).toBeLessThan(15_000);
      client.stdin.destroy();
    } finally {
      await idle.stop();
    }
  });

  it('caps the connections of one address', async () => {
    // More idle connections than the cap: the ones over it are closed at once, without a word of SSH.
    const sockets = await Promise.all(Array.from({ length: 55 }, () => new Promise<{ socket: net.Socket; greeting: Promise<string> }>((resolve) => {
      const socket = net.connect(hub.sshPort, '127.0.0.1');
      const greeting = new Promise<string>((done) => {
        let got = '';
        socket.on('data', (b) => { got += b; done(got); });
        socket.on('close', () => done(got));
        socket.on('error', () => done(got));
      });
      socket.on('connect', () => resolve({ socket, greeting }));
      socket.on('error', () => resolve({ socket, greeting }));
    })));
    const greetings = await Promise.all(sockets.map((s) => s.greeting));
    expect(greetings.filter((g) => g.startsWith('SSH-2.0-hubgate')).length).toBe(50);
    expect(greetings.filter((g) => g === '').length).toBe(5);
    for (const { socket } of sockets) socket.destroy();
  });

  it('keeps its host keys across a restart, and refuses the key of a user disabled since', async () => {
    const files = ['ed25519', 'rsa'].flatMap((kind) => [`ssh_host_${kind}_key`, `ssh_host_${kind}_key.pub`]);
    const read = () => files.map((f) => fs.readFileSync(path.join(hub.dataDir, 'ssh', f), 'utf8'));
    const before = read();
    await hub.stop();
    hub = await startSshHubgate({ dataDir: hub.dataDir });
    expect(read()).toEqual(before);
    const env = { GIT_SSH_COMMAND: hub.sshCommand(key.file) };
    expect((await hub.git(['clone', '-q', hub.sshRemote('alice/m'), 'c'], { env })).code).toBe(0);
    expect((await hub.cli(['user', 'disable', 'alice'])).code).toBe(0);
    const refused = await hub.ssh(key.file, "git-upload-pack 'alice/m'");
    expect(refused.code).toBe(255);
    expect(refused.stderr).toContain('Permission denied (publickey)');
  });
});
