import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/hubgate.js';
import { type SshHubgate, startSshHubgate } from './helpers/ssh.js';

// Git LFS over an SSH remote with no extra configuration: git-lfs asks `git-lfs-authenticate`
// for the LFS API and a short-lived token scoped to the repo and the operation, then moves the
// files over HTTP. The token reaches that repo's LFS routes only.

let hub: SshHubgate;
let key: { file: string; id: number };
let bobKey: { file: string; id: number };

beforeAll(async () => {
  hub = await startSshHubgate();
  await hub.userWithToken('alice');
  await hub.userWithToken('bob');
  key = await hub.addKey('alice');
  bobKey = await hub.addKey('bob');
  for (const repo of ['alice/big', 'alice/other']) expect((await hub.cli(['repo', 'create', repo])).code).toBe(0);
  expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
});
afterAll(() => hub?.stop());

describe('Git LFS over SSH', () => {
  it('pushes and clones a 20 MB LFS file over an ssh remote with no extra configuration', async () => {
    const env = { GIT_SSH_COMMAND: hub.sshCommand(key.file) };
    const work = tempDir();
    const git = async (args: string[], cwd = work) => {
      const r = await hub.git(args, { cwd, env });
      expect(r.code, `git ${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r;
    };
    await git(['clone', '-q', hub.sshRemote('alice/big'), '.']);
    await git(['lfs', 'track', '*.bin']);
    const data = crypto.randomBytes(20 * 1024 * 1024);
    fs.writeFileSync(path.join(work, 'weights.bin'), data);
    await git(['add', '.gitattributes', 'weights.bin']);
    await git(['commit', '-qm', 'weights']);
    await git(['push', 'origin', 'main']);
    const oid = crypto.createHash('sha256').update(data).digest('hex');
    // The object is in hubgate's store, reachable through the Hub's resolve route.
    const resolved = await fetch(`${hub.url}/alice/big/resolve/main/weights.bin`, { method: 'HEAD', redirect: 'manual' });
    expect([200, 302]).toContain(resolved.status);

    const copy = tempDir();
    await git(['clone', '-q', hub.sshRemote('alice/big'), '.'], copy);
    const got = fs.readFileSync(path.join(copy, 'weights.bin'));
    expect(got.length).toBe(data.length);
    expect(crypto.createHash('sha256').update(got).digest('hex')).toBe(oid);
  });

  it('answers git-lfs-authenticate with a token for that repo and operation only', async () => {
    const r = await hub.ssh(key.file, 'git-lfs-authenticate alice/big download');
    expect(r.code, r.stderr).toBe(0);
    const answer = JSON.parse(r.stdout);
    expect(answer.href).toBe(`${hub.url}/alice/big.git/info/lfs`);
    expect(answer.expires_in).toBeGreaterThan(0);
    expect(answer.expires_in).toBeLessThanOrEqual(900);
    const auth = answer.header.Authorization as string;
    expect(auth).toMatch(/^Bearer hgssh\./);
    const batch = (repo: string, operation: string) =>
      fetch(`${hub.url}/${repo}.git/info/lfs/objects/batch`, {
        method: 'POST',
        headers: { Authorization: auth, Accept: 'application/vnd.git-lfs+json', 'Content-Type': 'application/vnd.git-lfs+json' },
        body: JSON.stringify({ operation, objects: [{ oid: 'a'.repeat(64), size: 1 }] }),
      });
    expect((await batch('alice/big', 'download')).status).toBe(200);
    // A download token cannot upload, reach another repo, or the API.
    expect((await batch('alice/big', 'upload')).status).toBe(403);
    expect((await batch('alice/other', 'download')).status).toBe(401);
    expect((await fetch(`${hub.url}/api/whoami-v2`, { headers: { Authorization: auth } })).status).toBe(401);
    // An upload token may upload.
    const up = JSON.parse((await hub.ssh(key.file, "git-lfs-authenticate 'alice/big.git' upload")).stdout);
    const upload = await fetch(`${hub.url}/alice/big.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { Authorization: up.header.Authorization, 'Content-Type': 'application/vnd.git-lfs+json' },
      body: JSON.stringify({ operation: 'upload', objects: [{ oid: 'b'.repeat(64), size: 1 }] }),
    });
    expect(upload.status).toBe(200);
    // bob may read alice/big but not write it: no upload token for him.
    const refused = await hub.ssh(bobKey.file, 'git-lfs-authenticate alice/big upload');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('You do not have write access to alice/big');
    expect(refused.stdout).toBe('');
  });
});
