// A refused API commit or a preupload leaves nothing in the repo's object store: objects are
// written into a quarantine that moves into the repo only when the commit is accepted, as git
// does for a push. Checked with git itself (count-objects, fsck --unreachable) on the bare repo.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCustomHook } from './helpers/git-client.js';
import { type Hubgate, run, startHubgate } from './helpers/hubgate.js';

let hub: Hubgate;
let token: string;
const REPO = 'alice/q';

beforeAll(async () => {
  hub = await startHubgate();
  token = await hub.userWithToken('alice');
  const created = await hub.cli(['repo', 'create', REPO]);
  if (created.code !== 0) throw new Error(created.stderr);
});
afterAll(() => hub?.stop());

async function bare(args: string[]): Promise<string> {
  const r = await run('git', ['--git-dir', hub.repoDir(REPO), ...args]);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** What the object store holds: loose and packed counts and sizes, and the unreachable objects. */
async function objectStore(): Promise<{ counts: string; unreachable: string; quarantines: string[] }> {
  return {
    counts: await bare(['count-objects', '-v']),
    unreachable: await bare(['fsck', '--unreachable', '--no-reflogs', '--no-progress']),
    quarantines: fs.readdirSync(`${hub.repoDir(REPO)}/objects`).filter((n) => n.startsWith('tmp_objdir-')),
  };
}

function commit(lines: unknown[], extra: { parentCommit?: string } = {}): Promise<Response> {
  const body = [{ key: 'header', value: { summary: 'a commit', ...extra } }, ...lines].map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
  return fetch(`${hub.url}/api/models/${REPO}/commit/main`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-ndjson' },
    body,
  });
}
const file = (p: string, content: Buffer | string) => ({ key: 'file', value: { path: p, content: Buffer.from(content).toString('base64'), encoding: 'base64' } });
const head = async () => (await bare(['rev-parse', 'main'])).trim();

describe('objects of refused commits and of preuploads', () => {
  it('a commit refused by a pre-receive hook leaves no object behind (its 3 MB blob included)', async () => {
    installCustomHook(hub.repoDir(REPO), '10-refuse', '#!/bin/sh\necho "refused by the test hook" >&2\nexit 1\n');
    try {
      const before = await objectStore();
      const tip = await head();
      const res = await commit([file('weights.bin', crypto.randomBytes(3 * 1024 * 1024)), file('notes.txt', 'notes\n')]);
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatch(/refused by the test hook/);
      expect(await head()).toBe(tip);
      expect(await objectStore()).toStrictEqual(before);
    } finally {
      fs.rmSync(`${hub.repoDir(REPO)}/custom_hooks`, { recursive: true, force: true });
    }
  });

  it('a commit refused for a stale parentCommit, or for a bad line after its files, leaves no object behind', async () => {
    const before = await objectStore();
    const tip = await head();
    const stale = await commit([file('a.txt', crypto.randomBytes(1000))], { parentCommit: '0'.repeat(40) });
    expect(stale.status).toBe(400);
    const badLine = await commit([file('b.txt', crypto.randomBytes(1000)), '{"key": "copyFile", "value": {}}']);
    expect(badLine.status).toBe(400);
    expect(await head()).toBe(tip);
    expect(await objectStore()).toStrictEqual(before);
  });

  it('a preupload with gitAttributes writes nothing into the repo', async () => {
    const before = await objectStore();
    const res = await fetch(`${hub.url}/api/models/${REPO}/preupload/main`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'x.dat', size: 10, sample: Buffer.from('hello').toString('base64') }], gitAttributes: `*.dat filter=lfs diff=lfs merge=lfs -text\n# ${crypto.randomUUID()}\n` }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).files[0].uploadMode).toBe('lfs');
    expect(await objectStore()).toStrictEqual(before);
  });

  it('an accepted commit: the hook sees the new objects inside the quarantine, then they are in the repo and fsck is clean', async () => {
    // As in a push: GIT_QUARANTINE_PATH is set and the new blob is readable through it.
    installCustomHook(
      hub.repoDir(REPO),
      '10-look',
      '#!/bin/sh\nread old new ref\n[ -n "$GIT_QUARANTINE_PATH" ] || { echo "no quarantine" >&2; exit 1; }\necho "hook read: $(git cat-file blob "$new:kept.txt")"\n',
    );
    try {
      const res = await commit([file('kept.txt', 'kept\n')]);
      const body = await res.json();
      expect(res.status, body.error).toBe(200);
      expect(body.hookOutput).toContain('hook read: kept');
      expect(body.commitOid).toBe(await head());
      expect(await bare(['show', 'main:kept.txt'])).toBe('kept\n');
      const after = await objectStore();
      expect(after.unreachable).toBe('');
      expect(after.quarantines).toEqual([]);
      await bare(['fsck', '--strict', '--no-progress']);
    } finally {
      fs.rmSync(`${hub.repoDir(REPO)}/custom_hooks`, { recursive: true, force: true });
    }
  });
});
