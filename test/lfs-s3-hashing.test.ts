// Every wait for a hash has a deadline. S3 freezes (SIGSTOP) while hubgate reads a completed
// multipart upload back to hash it: verify and an API commit naming the object answer 503 with
// Retry-After after at most 20 s instead of waiting forever, and both succeed once S3 is back
// (the stalled hash's claim lapses and the next verify hashes again).
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { lfsClient, MiB, randomObject } from './helpers/lfs-client.js';
import { type S3rverProcess, startS3rverProcess } from './helpers/s3.js';

describe('a hash stalled by a frozen S3', () => {
  let s3: S3rverProcess;
  let hub: Hubgate;
  let token: string;

  beforeAll(async () => {
    s3 = await startS3rverProcess();
    hub = await startHubgate({
      env: { ...s3.env, HUBGATE_S3_TIMEOUT_MS: '3000', HUBGATE_LFS_MULTIPART_THRESHOLD: String(MiB), HUBGATE_LFS_MULTIPART_CHUNK: String(5 * MiB), HUBGATE_LOG_LEVEL: 'info' },
    });
    token = await hub.userWithToken('alice');
    await hub.cli(['repo', 'create', 'alice/m']);
  });
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  it('verify and a commit answer 503 with Retry-After within the deadline, then succeed once S3 is back', async () => {
    const lfs = lfsClient(hub, token, 'alice/m');
    const obj = randomObject(64 * MiB);
    const b = await lfs.batch('upload', [obj], ['basic', 'multipart']);
    const actions = b.json.objects[0].actions;
    const parts = await lfs.putParts(actions.upload, obj);
    expect((await lfs.complete(actions.upload.href, obj.oid, parts)).status).toBe(200);
    s3.process.kill('SIGSTOP');
    const commit = () => lfs.commitLfsFile(obj, 'big.bin');
    try {
      const [verified, committed] = await Promise.all([lfs.verify(actions.verify, obj, 30_000), commit()]);
      for (const r of [verified, committed]) {
        expect(r.status, r.text).toBe(503);
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(r.ms).toBeLessThan(25_000);
      }
      expect(verified.json.message).toMatch(/still being checked/);
      expect(committed.json.error).toMatch(/still being checked/);
      expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    } finally {
      s3.process.kill('SIGCONT');
    }
    // Nothing was linked or committed from bytes that were never hashed.
    const db = new SQLite(path.join(hub.dataDir, 'hubgate.sqlite'), { readonly: true });
    expect(db.prepare('select count(*) as n from lfs_links where oid = ?').get(obj.oid)).toEqual({ n: 0 });
    db.close();

    // Asked again (as clients do on 503): the lapsed claim is taken over and the hash redone.
    const end = Date.now() + 40_000;
    let verified = await lfs.verify(actions.verify, obj, 30_000);
    while (verified.status === 503 && Date.now() < end) verified = await lfs.verify(actions.verify, obj, 30_000);
    expect(verified.status, verified.text).toBe(200);
    expect((await commit()).status).toBe(200);
    expect(await lfs.downloadableIntact([obj])).toEqual([obj.oid]);
  });
});
