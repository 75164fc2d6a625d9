// Defect: one upload batch of 1,000 objects declaring 2**52 bytes each, offering multipart,
// made hubgate presign up to 10,000 part URLs per object until it ran out of memory, and left a
// `.parts` directory per object on disk. Now: objects above the largest storable size get a 422
// each, one batch hands out at most 10,000 part URLs (the rest get a 429 each), and nothing
// reaches the disk before the first part arrives. Real hubgate processes, fs and s3rver stores.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { lfsClient, MiB, randomObject } from './helpers/lfs-client.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

const TiB = 1024 ** 4;
const MAX_OBJECT = 5 * TiB;
const randomOid = () => randomObject(8).oid;
const declared = (n: number, size: number) => Array.from({ length: n }, () => ({ oid: randomOid(), size }));

for (const store of ['fs', 's3'] as const) {
  describe(`an abusive upload batch (${store} store)`, () => {
    let hub: Hubgate;
    let s3: S3rverHandle | undefined;
    let lfs: ReturnType<typeof lfsClient>;

    beforeAll(async () => {
      if (store === 's3') s3 = await startS3rver();
      hub = await startHubgate({ env: { ...(s3?.env ?? {}), HUBGATE_LOG_LEVEL: 'info' } });
      const token = await hub.userWithToken('alice');
      await hub.cli(['repo', 'create', 'alice/m']);
      lfs = lfsClient(hub, token, 'alice/m');
    });
    afterAll(async () => {
      await hub?.stop();
      await s3?.stop();
    });

    const stagingEntries = () => (fs.existsSync(path.join(hub.dataDir, 'lfs', 'staging')) ? fs.readdirSync(path.join(hub.dataDir, 'lfs', 'staging')) : []);

    it('refuses 1,000 objects of 2**52 bytes each with a 422 per object, at once, creating nothing', async () => {
      const r = await lfs.batch('upload', declared(1000, 2 ** 52), ['basic', 'multipart'], 15_000);
      expect(r.status).toBe(200);
      expect(r.ms).toBeLessThan(5000);
      expect(r.json.objects).toHaveLength(1000);
      for (const o of r.json.objects) {
        expect(o.actions).toBeUndefined();
        expect(o.error.code).toBe(422);
        expect(o.error.message).toMatch(/too large.*at most 5497558138880 bytes/);
      }
      expect(stagingEntries()).toEqual([]);
      expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    });

    it('hands out at most 10,000 part URLs per batch: objects past the budget get a 429 telling to send fewer per batch', async () => {
      const r = await lfs.batch('upload', declared(1000, MAX_OBJECT), ['basic', 'multipart'], 15_000);
      expect(r.status).toBe(200);
      expect(r.json.transfer).toBe('multipart');
      expect(r.text.length).toBeLessThan(8 * MiB);
      const served = r.json.objects.filter((o: any) => o.actions);
      const refused = r.json.objects.filter((o: any) => o.error);
      expect(served).toHaveLength(1);
      expect(Object.keys(served[0].actions.upload.header).filter((k) => /^\d{5}$/.test(k))).toHaveLength(10_000);
      expect(refused).toHaveLength(999);
      for (const o of refused) {
        expect(o.error.code).toBe(429);
        expect(o.error.message).toMatch(/at most 10000.*fewer objects per batch/);
      }
      // fs: no parts directory before the first part PUT.
      expect(stagingEntries()).toEqual([]);
      expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    });

    it('still uploads a real object afterwards', async () => {
      const obj = randomObject(3 * MiB);
      await lfs.upload(obj);
      expect(await lfs.downloadableIntact([obj])).toEqual([obj.oid]);
    });
  });
}

describe('HUBGATE_LFS_MAX_OBJECT_SIZE', () => {
  let hub: Hubgate;
  afterAll(() => hub?.stop());

  it('lowers the largest object a batch accepts', async () => {
    hub = await startHubgate({ env: { HUBGATE_LFS_MAX_OBJECT_SIZE: String(10 * MiB) } });
    const token = await hub.userWithToken('alice');
    await hub.cli(['repo', 'create', 'alice/m']);
    const lfs = lfsClient(hub, token, 'alice/m');
    const r = await lfs.batch('upload', [{ oid: randomOid(), size: 10 * MiB }, { oid: randomOid(), size: 10 * MiB + 1 }]);
    expect(r.json.objects[0].actions.upload).toBeDefined();
    expect(r.json.objects[1].error).toEqual({ code: 422, message: `this object is too large: ${10 * MiB + 1} bytes, while this server stores objects of at most ${10 * MiB} bytes` });
  });
});
