// Defect: the S3 client had no timeouts: a frozen S3 held verify, the multipart batch and pushes
// for minutes, and a dead one gave a generic 500. Now connecting and silence are bounded
// (HUBGATE_S3_TIMEOUT_MS, shortened here), retries are bounded, and an unavailable store answers
// 503 "the object store is unavailable" with Retry-After, in the LFS error format on LFS routes
// and as the API's JSON error elsewhere; everything works again once S3 is back. s3rver runs
// in its own process so it can really be frozen (SIGSTOP) and killed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from './helpers/git-client.js';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';
import { type Answer, call, lfsClient, MiB, randomObject } from './helpers/lfs-client.js';
import { type S3rverProcess, startS3rverProcess } from './helpers/s3.js';
import fs from 'node:fs';
import path from 'node:path';

const DOWN = 'the object store is unavailable: nothing was changed; try again shortly';

describe('the s3 store when S3 freezes or dies', () => {
  let s3: S3rverProcess;
  let hub: Hubgate;
  let token: string;
  let lfs: ReturnType<typeof lfsClient>;

  beforeAll(async () => {
    s3 = await startS3rverProcess();
    hub = await startHubgate({
      env: { ...s3.env, HUBGATE_S3_TIMEOUT_MS: '1500', HUBGATE_LFS_MULTIPART_THRESHOLD: String(MiB), HUBGATE_LFS_MULTIPART_CHUNK: String(5 * MiB), HUBGATE_LOG_LEVEL: 'info' },
    });
    token = await hub.userWithToken('alice');
    await hub.cli(['repo', 'create', 'alice/m']);
    lfs = lfsClient(hub, token, 'alice/m');
  });
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  const expectLfsDown = (r: Answer) => {
    expect(r.status, r.text).toBe(503);
    expect(r.headers.get('content-type')).toMatch(/^application\/vnd\.git-lfs\+json/);
    expect(r.json.message).toBe(DOWN);
    expect(r.json.request_id).toBeTruthy();
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(r.ms).toBeLessThan(15_000);
  };
  const commit = (oid: string, size: number) =>
    call(`${hub.url}/api/models/alice/m/commit/main`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-ndjson' },
      body: [
        { key: 'header', value: { summary: `add ${oid.slice(0, 8)}`, description: '' } },
        { key: 'lfsFile', value: { path: `${oid.slice(0, 8)}.bin`, algo: 'sha256', oid, size } },
      ].map((l) => JSON.stringify(l)).join('\n'),
      timeoutMs: 20_000,
    });

  it('frozen (SIGSTOP): verify, the multipart batch and a commit answer 503 with Retry-After; after SIGCONT they succeed', async () => {
    const small = randomObject(64 * 1024);
    const b = await lfs.batch('upload', [small]);
    const actions = b.json.objects[0].actions;
    expect((await lfs.put(actions.upload, small.bytes)).status).toBe(200);
    const large = randomObject(6 * MiB);

    s3.process.kill('SIGSTOP');
    try {
      expectLfsDown(await lfs.verify(actions.verify, small, 20_000));
      expectLfsDown(await lfs.batch('upload', [large], ['basic', 'multipart'], 20_000));
      // The Hub API (a commit confirming the unverified upload) answers in its own format.
      const c = await commit(small.oid, small.size);
      expect(c.status, c.text).toBe(503);
      expect(c.json).toEqual({ error: DOWN });
      expect(c.headers.get('x-error-message')).toBe(DOWN);
      expect(Number(c.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    } finally {
      s3.process.kill('SIGCONT');
    }

    expect((await lfs.verify(actions.verify, small)).status).toBe(200);
    const mb = await lfs.batch('upload', [large], ['basic', 'multipart']);
    expect(mb.status).toBe(200);
    const up = mb.json.objects[0].actions;
    const parts = await lfs.putParts(up.upload, large);
    expect((await lfs.complete(up.upload.href, large.oid, parts)).status).toBe(200);
    expect((await lfs.verify(up.verify, large)).status).toBe(200);
    expect((await commit(large.oid, large.size)).status).toBe(200);
    expect(await lfs.downloadableIntact([small, large])).toEqual([small.oid, large.oid]);
  });

  it('dead (killed): the batch answers 503 at once; once S3 is back, a real git push succeeds', async () => {
    const obj = randomObject(3 * MiB);
    s3.process.kill('SIGKILL');
    await new Promise((r) => s3.process.once('exit', r));
    expectLfsDown(await lfs.batch('upload', [obj], ['basic', 'multipart'], 20_000));
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);

    await s3.restart();
    expect((await lfs.batch('upload', [obj], ['basic', 'multipart'])).json.objects[0].actions.upload).toBeDefined();
    // A real client: git-lfs pushes an object (under the multipart threshold) to the S3 that came back.
    const pushed = randomObject(512 * 1024);
    await hub.git(['lfs', 'install', '--skip-repo']);
    const work = tempDir('hubgate-s3-push-');
    const git = async (...args: string[]) => ok(await hub.git(args, { cwd: work }), `git ${args.join(' ')}`);
    await git('clone', '-q', hub.remote('alice/m', token), '.');
    await git('lfs', 'track', '*.bin');
    fs.writeFileSync(path.join(work, 'w.bin'), pushed.bytes);
    await git('add', '.gitattributes', 'w.bin');
    await git('commit', '-qm', 'weights');
    await git('push', 'origin', 'main');
    expect(await lfs.downloadableIntact([obj, pushed])).toEqual([pushed.oid]);
  });
});
