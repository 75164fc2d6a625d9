// Defect: a server killed (kill -9) while it hashed a completed multipart upload left the row
// in 'hashing' for good: after a restart the verify URL git-lfs holds and an API commit naming
// the oid polled forever, and the staged bytes were never swept. Now the hashing runs under a
// lease in the database; whoever finds it lapsed (verify, a commit, the sweep) hashes again,
// and every wait answers. Also: files a crash leaves under lfs/tmp and lfs/staging are removed
// at start. Real hubgate processes, real kill -9, restart on the same data dir and port.
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';
import { lfsClient, MiB, randomObject } from './helpers/lfs-client.js';

const ENV = { HUBGATE_LFS_MULTIPART_THRESHOLD: String(MiB), HUBGATE_LFS_MULTIPART_CHUNK: String(5 * MiB), HUBGATE_LOG_LEVEL: 'info' };

function uploadState(dataDir: string, id: string): string | undefined {
  const db = new SQLite(path.join(dataDir, 'hubgate.sqlite'), { readonly: true });
  try {
    return (db.prepare('select state from lfs_uploads where id = ?').get(id) as { state: string } | undefined)?.state;
  } finally {
    db.close();
  }
}

/** Repeats `attempt` while it answers 503 (honouring Retry-After), until `deadlineMs`; the last answer. */
async function untilNot503(attempt: () => ReturnType<typeof call>, deadlineMs: number) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const r = await attempt();
    if (r.status !== 503 || Date.now() > end) return r;
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

describe('a multipart upload interrupted by kill -9 while it was being hashed', () => {
  const dataDir = path.join(tempDir(), 'data');
  let port: number;
  let hub: Hubgate;
  let token: string;

  beforeAll(async () => {
    port = await freePort();
    hub = await startHubgate({ dataDir, port, env: ENV });
    token = await hub.userWithToken('alice');
    await hub.cli(['repo', 'create', 'alice/m']);
  });
  afterAll(() => hub?.stop());

  it('is hashed again after the restart: verify and an API commit answer, the object is intact, leftovers are gone', async () => {
    const obj = randomObject(128 * MiB);
    let lfs = lfsClient(hub, token, 'alice/m');
    const b = await lfs.batch('upload', [obj], ['basic', 'multipart']);
    expect(b.json.transfer).toBe('multipart');
    const actions = b.json.objects[0].actions;
    const uploadId = /multipart\/([^/]+)\/complete/.exec(actions.upload.href)![1];
    const parts = await lfs.putParts(actions.upload, obj);
    const completed = await lfs.complete(actions.upload.href, obj.oid, parts);
    expect(completed.status).toBe(200);
    // The completion answers before the hash; the server dies in the middle of it.
    hub.process.kill('SIGKILL');
    await new Promise((r) => hub.process.once('exit', r));
    expect(uploadState(dataDir, uploadId)).toBe('hashing');

    // What other crashes left: a half-written scratch file, staged bytes and parts of uploads with no row.
    const lfsDir = path.join(dataDir, 'lfs');
    const leftovers = [path.join(lfsDir, 'tmp', 'c0ffee-half-written'), path.join(lfsDir, 'staging', 'NoSuchUploadRow000001'), path.join(lfsDir, 'staging', 'NoSuchUploadRow000002.parts')];
    fs.writeFileSync(leftovers[0], 'half');
    fs.writeFileSync(leftovers[1], 'staged');
    fs.mkdirSync(leftovers[2]);
    fs.writeFileSync(path.join(leftovers[2], '00001'), 'part');

    hub = await startHubgate({ dataDir, port, env: ENV });
    lfs = lfsClient(hub, token, 'alice/m');
    const commit = () => lfs.commitLfsFile(obj, 'big.bin');
    // The verify URL handed out before the crash, and a commit naming the oid, side by side:
    // each answers (503 with Retry-After while the hash is redone, then its real outcome).
    const [verified, committed] = await Promise.all([untilNot503(() => lfs.verify(actions.verify, obj), 40_000), untilNot503(commit, 40_000)]);
    expect(verified.status, verified.text).toBe(200);
    expect(committed.status, committed.text).toBe(200);
    expect(committed.json.commitOid).toMatch(/^[0-9a-f]{40}$/);
    expect(uploadState(dataDir, uploadId)).toBe('done');

    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    expect(await lfs.downloadableIntact([obj])).toEqual([obj.oid]);
    // Removed at start: written before the process started, owned by no upload in progress.
    for (const file of leftovers) expect(fs.existsSync(file), file).toBe(false);
    expect(fs.readdirSync(path.join(lfsDir, 'staging'))).toEqual([]);
    expect(fs.readdirSync(path.join(lfsDir, 'tmp'))).toEqual([]);
  });
});
