import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settledLog, tempDir } from './helpers/hubgate.js';
import { type SshHubgate, startSshHubgate } from './helpers/ssh.js';

// git over SSH with `serve --workers 2`: every worker serves the shared SSH port, as it serves HTTP.

let hub: SshHubgate;
let token: string;
let key: { file: string; id: number };

beforeAll(async () => {
  hub = await startSshHubgate({ env: { HUBGATE_WORKERS: '2' } });
  token = await hub.userWithToken('alice');
  key = await hub.addKey('alice');
  expect((await hub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
  await hub.pushFiles('alice/m', token, { 'README.md': '# m\n' }, 'first');
});
afterAll(() => hub?.stop());

describe('git over SSH with workers', () => {
  it('clones concurrently and pushes through the workers sharing the SSH port', async () => {
    const env = { GIT_SSH_COMMAND: hub.sshCommand(key.file) };
    const dirs = Array.from({ length: 6 }, () => tempDir());
    const clones = await Promise.all(dirs.map((dir) => hub.git(['clone', '-q', hub.sshRemote('alice/m'), '.'], { cwd: dir, env })));
    for (const c of clones) expect(c.code, c.stderr).toBe(0);
    for (const dir of dirs) expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('# m\n');
    fs.writeFileSync(path.join(dirs[0], 'w.txt'), 'pushed over ssh\n');
    await hub.git(['add', 'w.txt'], { cwd: dirs[0] });
    await hub.git(['commit', '-qm', 'over ssh'], { cwd: dirs[0] });
    const pushed = await hub.git(['push', '-q', 'origin', 'main'], { cwd: dirs[0], env });
    expect(pushed.code, pushed.stderr).toBe(0);
    const head = (await hub.git(['rev-parse', 'HEAD'], { cwd: dirs[0] })).stdout.trim();
    expect((await hub.git(['--git-dir', hub.repoDir('alice/m'), 'rev-parse', 'refs/heads/main'])).stdout.trim()).toBe(head);
    // Both workers took SSH connections: each logged commands under its own pid.
    // Log lines reach the test through each worker's asynchronous writer: read once the log has settled.
    const pids = new Set((await settledLog(hub)).split('\n').filter((l) => l.includes('"ssh command"')).map((l) => JSON.parse(l).pid));
    expect(pids.size).toBe(2);
  });
});
