// One contract for every LFS object store (lfs/store/types.ts), run against the fs store on a
// temp directory and the s3 store on s3rver; then what only the s3 store promises: its
// presigned URLs (signed headers, no stray checksum parameters, the URLs the SDK itself makes)
// and its multipart copy of objects over S3's 5 GiB CopyObject limit.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFsStore, type FsStore } from '../lfs/store/fs.ts';
import { checksumOf, copyRanges, createS3Store, type S3Settings, type S3Store } from '../lfs/store/s3.ts';
import type { HubUrls, ObjectStore, StagedUpload } from '../lfs/store/types.ts';
import { tempDir } from './helpers/hubgate.ts';
import { type S3rverHandle, sigV4Valid, startS3rver } from './helpers/s3.ts';

const MiB = 1024 ** 2;
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const newId = () => crypto.randomBytes(18).toString('base64url');

function upload(body: Buffer, extra: Partial<StagedUpload> = {}): StagedUpload {
  return { repoId: 'alice/model', baseUrl: 'http://hub.invalid', id: newId(), oid: sha256(body), size: body.length, ...extra };
}

async function hashOf(stream: Readable): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A store plus how its clients move bytes (through hubgate for fs, straight to the bucket for s3). */
interface Harness {
  store: ObjectStore;
  /** Sends all the bytes of a basic upload the way a client does. */
  putBasic(u: StagedUpload, body: Buffer): Promise<void>;
  /** Sends one part to its target URL the way the Hugging Face clients do; returns its etag. */
  putPart(u: StagedUpload, url: string, partNumber: number, body: Buffer): Promise<string>;
  /** The bytes a client downloading the stored object gets. */
  download(oid: string, size: number): Promise<Buffer>;
  stop(): Promise<void>;
}

function describeObjectStore(name: string, factory: () => Promise<Harness>): void {
  describe(`object store contract: ${name}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await factory();
    });
    afterAll(() => h?.stop());

    it('answers null for an object and an upload it does not have', async () => {
      const u = upload(crypto.randomBytes(100));
      expect(await h.store.stat(u.oid)).toBeNull();
      expect(await h.store.stagedSize(u)).toBeNull();
    });

    it('stages a basic upload, keeps it undownloadable until commitStaged, then serves it', async () => {
      const body = crypto.randomBytes(300_000);
      const u = upload(body);
      await h.putBasic(u, body);
      expect(await h.store.stagedSize(u)).toBe(body.length);
      expect(await h.store.stat(u.oid)).toBeNull();
      expect(await hashOf(await h.store.readStaged(u))).toBe(u.oid);
      await expect(h.store.readObject(u.oid)).rejects.toThrow();
      await h.store.commitStaged(u);
      expect(await h.store.stat(u.oid)).toBe(body.length);
      expect(await h.store.stagedSize(u)).toBeNull();
      expect((await h.download(u.oid, body.length)).equals(body)).toBe(true);
      // The server's own read (Xet conversion).
      expect(await hashOf(await h.store.readObject(u.oid))).toBe(u.oid);
    });

    it('takes a multipart upload (3 parts of 5 MiB and a small last one) in any order, assembles and commits it', async () => {
      const body = crypto.randomBytes(15 * MiB + 1234);
      const u = upload(body, { chunkSize: 5 * MiB });
      u.storeUploadId = await h.store.startMultipart(u);
      const urls = await h.store.partTargets(u, 3600);
      expect(urls).toHaveLength(4);
      expect(new Set(urls).size).toBe(4);
      const etags = await Promise.all(
        [3, 1, 4, 2].map(async (n) => ({ partNumber: n, etag: await h.putPart(u, urls[n - 1], n, body.subarray((n - 1) * 5 * MiB, n * 5 * MiB)) })),
      );
      // Parts alone are not an object, staged or stored.
      expect(await h.store.stagedSize(u)).toBeNull();
      // A completion that does not name every part in order is refused.
      await expect(h.store.completeMultipart(u, etags.slice(0, 3))).rejects.toThrow(/parts 1 to 4/);
      await h.store.completeMultipart(u, etags.sort((a, b) => a.partNumber - b.partNumber));
      expect(await h.store.stagedSize(u)).toBe(body.length);
      expect(await h.store.stat(u.oid)).toBeNull();
      expect(await hashOf(await h.store.readStaged(u))).toBe(u.oid);
      await h.store.commitStaged(u);
      expect(await h.store.stat(u.oid)).toBe(body.length);
      expect(await h.store.stagedSize(u)).toBeNull();
      expect(sha256(await h.download(u.oid, body.length))).toBe(u.oid);
    });

    it('stages bytes hubgate itself holds (putStaged), in one request or in parts, then commits them like a basic upload', async () => {
      for (const body of [crypto.randomBytes(1000), crypto.randomBytes(12 * MiB + 7)]) {
        const u = upload(body);
        // Uneven chunks, as a file read stream gives them.
        const chunks = [];
        for (let at = 0; at < body.length; at += 777_777) chunks.push(body.subarray(at, at + 777_777));
        await h.store.putStaged(u, Readable.from(chunks));
        expect(await h.store.stagedSize(u)).toBe(body.length);
        expect(await h.store.stat(u.oid)).toBeNull();
        expect(await hashOf(await h.store.readStaged(u))).toBe(u.oid);
        await h.store.commitStaged(u);
        expect((await h.download(u.oid, body.length)).equals(body)).toBe(true);
      }
    });

    it('aborts a multipart upload, leaving nothing staged or stored; aborting twice is fine', async () => {
      const body = crypto.randomBytes(5 * MiB + 10);
      const u = upload(body, { chunkSize: 5 * MiB });
      u.storeUploadId = await h.store.startMultipart(u);
      const urls = await h.store.partTargets(u, 3600);
      await h.putPart(u, urls[0], 1, body.subarray(0, 5 * MiB));
      await h.store.abortMultipart(u);
      await h.store.abortMultipart(u);
      expect(await h.store.stagedSize(u)).toBeNull();
      expect(await h.store.stat(u.oid)).toBeNull();
    });

    it('discards staged bytes, idempotently, and never stores them', async () => {
      const body = crypto.randomBytes(1000);
      const u = upload(body);
      await h.putBasic(u, body);
      expect(await h.store.stagedSize(u)).toBe(1000);
      await h.store.discardStaged(u);
      expect(await h.store.stagedSize(u)).toBeNull();
      await h.store.discardStaged(u);
      await h.store.discardStaged(upload(crypto.randomBytes(10)));
      expect(await h.store.stat(u.oid)).toBeNull();
    });

    it('commitStaged of an object already stored keeps the stored one and drops the staged bytes', async () => {
      const body = crypto.randomBytes(4096);
      const first = upload(body);
      await h.putBasic(first, body);
      await h.store.commitStaged(first);
      const second = upload(body, { repoId: 'bob/other' });
      await h.putBasic(second, body);
      await h.store.commitStaged(second);
      expect(await h.store.stat(first.oid)).toBe(body.length);
      expect(await h.store.stagedSize(second)).toBeNull();
      expect((await h.download(first.oid, body.length)).equals(body)).toBe(true);
    });

    it('lists its stored objects with sizes and times, and deletes them (one, or many), idempotently', async () => {
      const bodies = [crypto.randomBytes(1000), crypto.randomBytes(2000), crypto.randomBytes(3000)];
      const ups = bodies.map((b) => upload(b));
      for (const [i, u] of ups.entries()) {
        await h.putBasic(u, bodies[i]);
        await h.store.commitStaged(u);
      }
      const listed = new Map<string, { size: number; lastModified: Date }>();
      for await (const o of h.store.listObjects()) listed.set(o.oid, o);
      for (const [i, u] of ups.entries()) {
        expect(listed.get(u.oid)?.size).toBe(bodies[i].length);
        expect(listed.get(u.oid)!.lastModified.getTime()).toBeGreaterThan(Date.now() - 600_000);
      }
      await h.store.deleteObject(ups[0].oid);
      await h.store.deleteObject(ups[0].oid);
      expect(await h.store.stat(ups[0].oid)).toBeNull();
      if (h.store.deleteObjects) await h.store.deleteObjects([ups[1].oid, ups[2].oid, ups[0].oid]);
      else for (const u of ups.slice(1)) await h.store.deleteObject(u.oid);
      for (const u of ups) expect(await h.store.stat(u.oid)).toBeNull();
      const after = new Set<string>();
      for await (const o of h.store.listObjects()) after.add(o.oid);
      for (const u of ups) expect(after.has(u.oid)).toBe(false);
    });

    it('lists the ids of staged uploads written before a time, for the sweep', async () => {
      const body = crypto.randomBytes(700);
      const u = upload(body);
      await h.putBasic(u, body);
      expect(await h.store.stagedIds!(new Date(Date.now() + 60_000))).toContain(u.id);
      expect(await h.store.stagedIds!(new Date(Date.now() - 600_000))).not.toContain(u.id);
      await h.store.discardStaged(u);
      expect(await h.store.stagedIds!(new Date(Date.now() + 60_000))).not.toContain(u.id);
    });

    it('refuses ids that are not oids or upload ids before touching storage', async () => {
      await expect(h.store.stat('../../etc/passwd')).rejects.toThrow(/invalid oid/);
      await expect(h.store.stagedSize({ ...upload(Buffer.from('x')), id: '../x' })).rejects.toThrow(/invalid upload id/);
    });
  });
}

// ---- fs --------------------------------------------------------------------------------

const dummyUrls: HubUrls = {
  signed: (where, p, claims, ttl) => `${where.baseUrl}/${where.repoId}.git/info/lfs/${p}?token=${encodeURIComponent(JSON.stringify({ ...claims, ttl }))}`,
  signedEach: (where, paths, claims, ttl) => paths.map((p) => dummyUrls.signed(where, p, claims, ttl)),
};

describeObjectStore('fs', async () => {
  const store: FsStore = createFsStore(path.join(tempDir('hubgate-fs-store-'), 'lfs'), dummyUrls);
  return {
    store,
    // The fs store's hrefs point at hubgate, whose PUT route hands the body to writeStaged/writePart.
    putBasic: (u, body) => store.writeStaged(u, Readable.from([body])),
    putPart: (u, _url, n, body) => store.writePart(u, n, Readable.from([body])),
    download: async (oid) => fs.readFileSync(store.objectPath(oid)),
    stop: async () => {},
  };
});

// ---- s3 on s3rver ----------------------------------------------------------------------

function settingsFor(s3: S3rverHandle, prefix = 'lfs/'): S3Settings {
  return { s3Bucket: s3.bucket, s3Endpoint: s3.endpoint, s3Region: 'us-east-1', s3ForcePathStyle: true, s3Prefix: prefix };
}

let s3: S3rverHandle;
beforeAll(async () => {
  // The SDK reads its credentials from the environment, as hubgate's does.
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  s3 = await startS3rver();
});
afterAll(() => s3?.stop());

describeObjectStore('s3 (s3rver)', async () => {
  // Parts of 5 MiB (S3's least) for what hubgate puts itself, so the contract's 12 MiB object goes up in three.
  const store = createS3Store(settingsFor(s3), { putPartSize: 5 * MiB });
  return {
    store,
    async putBasic(u, body) {
      const target = await store.uploadTarget(u, 600, { clientSendsHeaders: true });
      const res = await fetch(target.href, { method: 'PUT', headers: target.header, body });
      expect(res.status, await res.text()).toBe(200);
    },
    async putPart(_u, url, _n, body) {
      // No headers at all, as huggingface_hub and @huggingface/hub send parts.
      const res = await fetch(url, { method: 'PUT', body });
      expect(res.status, await res.text()).toBe(200);
      return res.headers.get('etag')!;
    },
    async download(oid, size) {
      const target = await store.downloadTarget(oid, size, { repoId: 'alice/model', baseUrl: 'http://hub.invalid' }, 600);
      const res = await fetch(target.href);
      expect(res.status).toBe(200);
      return Buffer.from(await res.arrayBuffer());
    },
    stop: async () => {},
  };
});

describe('s3 store specifics (s3rver)', () => {
  let store: S3Store;
  beforeAll(() => {
    store = createS3Store(settingsFor(s3, 'pfx/lfs/'));
  });

  it('keeps objects at {prefix}objects/aa/bb/oid and staged uploads at {prefix}staging/id', async () => {
    const body = crypto.randomBytes(2000);
    const u = upload(body);
    const target = await store.uploadTarget(u, 600, { clientSendsHeaders: true });
    expect(new URL(target.href).pathname).toBe(`/${s3.bucket}/pfx/lfs/staging/${u.id}`);
    expect((await fetch(target.href, { method: 'PUT', headers: target.header, body })).status).toBe(200);
    expect(s3.keys()).toContain(`pfx/lfs/staging/${u.id}`);
    await store.commitStaged(u);
    const key = `pfx/lfs/objects/${u.oid.slice(0, 2)}/${u.oid.slice(2, 4)}/${u.oid}`;
    expect(store.objectKey(u.oid)).toBe(key);
    expect(fs.readFileSync(s3.objectFile(key)).equals(body)).toBe(true);
    expect(s3.keys().filter((k) => k.startsWith('pfx/lfs/staging/'))).toEqual([]);
  });

  it('signs Content-Type and x-amz-checksum-sha256 into the upload URL and returns them as the action header', async () => {
    const body = crypto.randomBytes(10);
    const u = upload(body);
    const target = await store.uploadTarget(u, 3600, { clientSendsHeaders: true });
    expect(target.header).toEqual({ 'Content-Type': 'application/octet-stream', 'x-amz-checksum-sha256': Buffer.from(u.oid, 'hex').toString('base64') });
    expect(checksumOf(u.oid)).toBe(target.header!['x-amz-checksum-sha256']);
    const url = new URL(target.href);
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host;x-amz-checksum-sha256');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
    // The checksum is a header the client must send, not a query parameter S3 would ignore,
    // and the SDK's default CRC32 (of an empty body) is not there to break the client's PUT.
    for (const key of url.searchParams.keys()) expect(key.toLowerCase()).not.toMatch(/checksum/);
    // s3rver does not check SigV4 signatures: check this one as S3 would, for the request git-lfs sends.
    expect(sigV4Valid('PUT', url, target.header!, 'S3RVER')).toBe(true);
    expect(sigV4Valid('PUT', url, { ...target.header!, 'x-amz-checksum-sha256': checksumOf(sha256(Buffer.from('other'))) }, 'S3RVER')).toBe(false);
    expect(sigV4Valid('PUT', url, { ...target.header!, 'Content-Type': 'text/plain' }, 'S3RVER')).toBe(false);
  });

  it('signs part URLs for bare PUTs: host only, no checksum parameters', async () => {
    const u = upload(crypto.randomBytes(12 * MiB), { chunkSize: 5 * MiB, storeUploadId: 'abc123' });
    const urls = await store.partTargets(u, 7200);
    expect(urls).toHaveLength(3);
    urls.forEach((href, i) => {
      const url = new URL(href);
      expect(url.searchParams.get('partNumber')).toBe(String(i + 1));
      expect(url.searchParams.get('uploadId')).toBe('abc123');
      expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
      for (const key of url.searchParams.keys()) expect(key.toLowerCase()).not.toMatch(/checksum/);
      expect(sigV4Valid('PUT', url, {}, 'S3RVER')).toBe(true);
    });
  });

  it('makes exactly the URLs getSignedUrl makes (it signs them without the SDK middleware stack)', async () => {
    const body = crypto.randomBytes(10);
    const u = upload(body, { chunkSize: 5 * MiB, storeUploadId: 'up-1' });
    const sdk = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2026-03-04T05:06:07Z'));
      const put = await store.uploadTarget(u, 3600, { clientSendsHeaders: true });
      const expectedPut = await getSignedUrl(
        sdk,
        new PutObjectCommand({ Bucket: s3.bucket, Key: store.stagingKey(u), ContentType: 'application/octet-stream', ChecksumSHA256: checksumOf(u.oid) }),
        { expiresIn: 3600, signableHeaders: new Set(['content-type', 'x-amz-checksum-sha256']), unhoistableHeaders: new Set(['x-amz-checksum-sha256']) },
      );
      expect(put.href).toBe(expectedPut);
      const get = await store.downloadTarget(u.oid, u.size, u, 900);
      const expectedGet = await getSignedUrl(sdk, new GetObjectCommand({ Bucket: s3.bucket, Key: store.objectKey(u.oid), ResponseContentType: 'application/octet-stream' }), { expiresIn: 900 });
      expect(get.href).toBe(expectedGet);
      const [part1] = await store.partTargets(u, 86400);
      const expectedPart = await getSignedUrl(sdk, new UploadPartCommand({ Bucket: s3.bucket, Key: store.stagingKey(u), UploadId: 'up-1', PartNumber: 1 }), { expiresIn: 86400 });
      expect(part1).toBe(expectedPart);
    } finally {
      vi.useRealTimers();
    }
  });

  it('serves Range requests on downloads (206)', async () => {
    const body = crypto.randomBytes(5000);
    const u = upload(body);
    const target = await store.uploadTarget(u, 600, { clientSendsHeaders: true });
    expect((await fetch(target.href, { method: 'PUT', headers: target.header, body })).status).toBe(200);
    await store.commitStaged(u);
    const res = await fetch((await store.downloadTarget(u.oid, u.size, u, 600)).href, { headers: { Range: 'bytes=1000-1999' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 1000-1999/5000');
    expect(Buffer.from(await res.arrayBuffer()).equals(body.subarray(1000, 2000))).toBe(true);
  });

  it('s3rver ignores x-amz-checksum-sha256: wrong bytes are accepted, and stagedChecksumVerified says they are unproven', async () => {
    const body = crypto.randomBytes(1000);
    const u = upload(body);
    const target = await store.uploadTarget(u, 600, { clientSendsHeaders: true });
    const wrong = crypto.randomBytes(1000);
    expect((await fetch(target.href, { method: 'PUT', headers: target.header, body: wrong })).status).toBe(200);
    expect(await store.stagedSize(u)).toBe(1000);
    expect(await store.stagedChecksumVerified(u)).toBe(false);
    expect(await hashOf(await store.readStaged(u))).toBe(sha256(wrong));
    await store.discardStaged(u);
  });

  it('putStaged sends a small object in one PutObject carrying its SHA-256 checksum', async () => {
    const body = crypto.randomBytes(3000);
    const u = upload(body);
    const seen = s3.requests.length;
    await store.putStaged(u, Readable.from([body]));
    const puts = s3.requests.slice(seen).filter((r) => r.method === 'PUT');
    expect(puts).toHaveLength(1);
    expect(puts[0].url.split('?')[0]).toBe(`/${s3.bucket}/${store.stagingKey(u)}`);
    expect(puts[0].headers['x-amz-checksum-sha256']).toBe(checksumOf(u.oid));
    await store.discardStaged(u);
  });

  it('the fs store refuses putStaged bytes that do not match the oid and keeps nothing', async () => {
    const fsStore = createFsStore(path.join(tempDir('hubgate-fs-put-'), 'lfs'), dummyUrls);
    const body = crypto.randomBytes(5000);
    const u = upload(body);
    await expect(fsStore.putStaged(u, Readable.from([crypto.randomBytes(5000)]))).rejects.toThrow(/hash to/);
    expect(await fsStore.stagedSize(u)).toBeNull();
  });

  it('the fs store has no stagedChecksumVerified: it proves bytes while receiving them', () => {
    const fsStore: ObjectStore = createFsStore(path.join(tempDir('hubgate-fs-store-'), 'lfs'), dummyUrls);
    expect(fsStore.stagedChecksumVerified).toBeUndefined();
  });
});

describe('s3 store: objects over the CopyObject limit are committed by multipart copy', () => {
  it('splits into ranges of at most the part size', () => {
    expect(copyRanges(11, 4)).toEqual([{ start: 0, end: 3 }, { start: 4, end: 7 }, { start: 8, end: 10 }]);
    expect(copyRanges(8, 4)).toEqual([{ start: 0, end: 3 }, { start: 4, end: 7 }]);
    expect(copyRanges(6 * 1024 ** 3, 5 * 1024 ** 3)).toEqual([{ start: 0, end: 5 * 1024 ** 3 - 1 }, { start: 5 * 1024 ** 3, end: 6 * 1024 ** 3 - 1 }]);
  });

  /** A client that records commands (s3rver implements no UploadPartCopy). */
  function fakeClient(failPart?: number) {
    const calls: { name: string; input: Record<string, unknown> }[] = [];
    const client = {
      async send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
        const name = cmd.constructor.name.replace(/Command$/, '');
        calls.push({ name, input: cmd.input });
        switch (name) {
          case 'HeadObject':
            throw Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
          case 'CreateMultipartUpload':
            return { UploadId: 'copy-1' };
          case 'UploadPartCopy':
            if (cmd.input.PartNumber === failPart) throw Object.assign(new Error('boom'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } });
            return { CopyPartResult: { ETag: `"etag-${cmd.input.PartNumber}"` } };
          default:
            return {};
        }
      },
    };
    return { client: client as unknown as S3Client, calls };
  }

  it('copies in UploadPartCopy ranges, completes, then deletes the staged object', async () => {
    const { client, calls } = fakeClient();
    const store = createS3Store({ s3Bucket: 'b', s3Region: 'us-east-1', s3ForcePathStyle: true, s3Prefix: 'lfs/' }, { client, copyLimit: 10, copyPartSize: 4 });
    const u = upload(Buffer.alloc(11));
    await store.commitStaged(u);
    const key = store.objectKey(u.oid);
    expect(calls.map((c) => c.name)).toEqual(['HeadObject', 'CreateMultipartUpload', 'UploadPartCopy', 'UploadPartCopy', 'UploadPartCopy', 'CompleteMultipartUpload', 'DeleteObject']);
    const copies = calls.filter((c) => c.name === 'UploadPartCopy').map((c) => c.input);
    expect(copies.map((c) => c.CopySourceRange).sort()).toEqual(['bytes=0-3', 'bytes=4-7', 'bytes=8-10']);
    for (const c of copies) expect(c).toMatchObject({ Bucket: 'b', Key: key, UploadId: 'copy-1', CopySource: `b/lfs/staging/${u.id}` });
    expect(calls.find((c) => c.name === 'CompleteMultipartUpload')!.input).toMatchObject({
      Key: key, UploadId: 'copy-1', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"etag-1"' }, { PartNumber: 2, ETag: '"etag-2"' }, { PartNumber: 3, ETag: '"etag-3"' }] },
    });
    expect(calls.at(-1)!.input).toEqual({ Bucket: 'b', Key: `lfs/staging/${u.id}` });
  });

  it('aborts the copy and keeps the staged object when a part fails', async () => {
    const { client, calls } = fakeClient(2);
    const store = createS3Store({ s3Bucket: 'b', s3Region: 'us-east-1', s3ForcePathStyle: true, s3Prefix: 'lfs/' }, { client, copyLimit: 10, copyPartSize: 4 });
    const u = upload(Buffer.alloc(11));
    // A 500 from S3 is an outage: answered 503 "the object store is unavailable", the SDK's error as its cause.
    await expect(store.commitStaged(u)).rejects.toThrow('the object store is unavailable');
    expect(calls.map((c) => c.name)).toContain('AbortMultipartUpload');
    expect(calls.map((c) => c.name)).not.toContain('CompleteMultipartUpload');
    expect(calls.map((c) => c.name)).not.toContain('DeleteObject');
  });

  it('uses a single CopyObject up to the limit', async () => {
    const { client, calls } = fakeClient();
    const store = createS3Store({ s3Bucket: 'b', s3Region: 'us-east-1', s3ForcePathStyle: true, s3Prefix: 'lfs/' }, { client, copyLimit: 10 });
    const u = upload(Buffer.alloc(10));
    await store.commitStaged(u);
    expect(calls.map((c) => c.name)).toEqual(['HeadObject', 'CopyObject', 'DeleteObject']);
  });
});

// ---- SigV4 query-string verification, as S3 does it (s3rver skips it) -------------------

