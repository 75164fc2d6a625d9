import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, type Hubgate, run, type RunResult, startHubgate, tempDir } from './hubgate.js';
import { generateKey } from './ssh-keys.js';

// hubgate with git over SSH on a free port, driven by the real OpenSSH client: the host keys
// pinned from the server's data directory (StrictHostKeyChecking), one key per test user.

export interface SshHubgate extends Hubgate {
  sshPort: number;
  /** known_hosts for the server's host keys, read from DATA/ssh/*.pub. */
  knownHosts: string;
  /** A new ed25519 key added to `user` (`hubgate ssh-key add`): its file and id. */
  addKey(user: string): Promise<{ file: string; id: number }>;
  /** The ssh command line git runs (GIT_SSH_COMMAND) with `keyFile`. */
  sshCommand(keyFile: string, extra?: string[]): string;
  /** Runs `ssh ... git@127.0.0.1 COMMAND` with `keyFile`. */
  ssh(keyFile: string, command: string, extra?: string[]): Promise<RunResult>;
  /** `ssh://git@127.0.0.1:PORT/REPO`. */
  sshRemote(repoPath: string): string;
}

export async function startSshHubgate(opts: { env?: NodeJS.ProcessEnv; dataDir?: string } = {}): Promise<SshHubgate> {
  const sshPort = await freePort();
  const hub = await startHubgate({ dataDir: opts.dataDir, env: { HUBGATE_SSH_PORT: String(sshPort), ...opts.env } });
  // The HTTP port answers first; SSH listens right after.
  for (let i = 0; ; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(sshPort, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (open) break;
    if (i > 100) throw new Error(`SSH did not start:\n${hub.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const knownHosts = path.join(tempDir('hubgate-known-'), 'known_hosts');
  const sshDir = path.join(hub.dataDir, 'ssh');
  const lines = fs.readdirSync(sshDir).filter((f) => f.endsWith('.pub')).map((f) => `[127.0.0.1]:${sshPort} ${fs.readFileSync(path.join(sshDir, f), 'utf8').trim()}`);
  fs.writeFileSync(knownHosts, `${lines.join('\n')}\n`);
  const options = (keyFile: string, extra: string[] = []) => [
    '-F', '/dev/null', '-i', keyFile, '-p', String(sshPort), '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', ...extra,
  ];
  return Object.assign(hub, {
    sshPort,
    knownHosts,
    async addKey(user: string) {
      const key = await generateKey('ed25519');
      const r = await hub.cli(['ssh-key', 'add', user, '--title', `${user}'s laptop`], key.pub);
      if (r.code !== 0) throw new Error(`ssh-key add failed: ${r.stderr}`);
      return { file: key.file, id: Number(r.stdout.split('\t')[0]) };
    },
    sshCommand: (keyFile: string, extra: string[] = []) => ['ssh', ...options(keyFile, extra)].join(' '),
    ssh: (keyFile: string, command: string, extra: string[] = []) => run('ssh', [...options(keyFile, extra), 'git@127.0.0.1', command]),
    sshRemote: (repoPath: string) => `ssh://git@127.0.0.1:${sshPort}/${repoPath}`,
  });
}
