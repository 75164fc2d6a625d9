import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OID } from '../protocol.js';
import type { HubUrls, ObjectStore, PartEtag, StagedUpload, Target } from './types.js';

// The default store: files under DATA/lfs. Clients PUT and GET through hubgate's own
// signed URLs; bytes are hashed on the way in and reach objects/ by atomic rename only.

const UPLOAD_ID = /^[A-Za-z0-9_-]{16,64}$/;

export class ByteMismatch extends Error {}

export interface FsStore extends ObjectStore {
  readonly kind: 'fs';
  /** Path of a stored object (for Range reads by the download route). */
  objectPath(oid: string): string;
  /** Streams the body of a basic upload into staging, checking sha256 and size; on a mismatch nothing is kept. */
  writeStaged(upload: StagedUpload, body: Readable): Promise<void>;
  /** Streams one part of a multipart upload; returns its etag. */
  writePart(upload: StagedUpload, partNumber: number, body: Readable): Promise<string>;
}

export function createFsStore(root: string, urls: HubUrls): FsStore {
  const objects = path.join(root, 'objects');
  const staging = path.join(root, 'staging');
  const tmp = path.join(root, 'tmp');
  for (const dir of [objects, staging, tmp]) fs.mkdirSync(dir, { recursive: true });

  const objectPath = (oid: string) => {
    if (!OID.test(oid)) throw new Error(`invalid oid ${oid}`);
    return path.join(objects, oid.slice(0, 2), oid.slice(2, 4), oid);
  };
  const stagedPath = (u: StagedUpload) => {
    if (!UPLOAD_ID.test(u.id)) throw new Error('invalid upload id');
    return path.join(staging, u.id);
  };
  const partsDir = (u: StagedUpload) => `${stagedPath(u)}.parts`;
  const sizeOf = async (file: string) => (await fsp.stat(file).catch(() => null))?.size ?? null;

  /** Streams `body` to a temp file, counting and hashing; renames it to `dest` only if `check` passes. */
  async function writeChecked(body: Readable, dest: string, check: (sha256: string, size: number) => void): Promise<void> {
    const temp = path.join(tmp, crypto.randomUUID());
    const hash = crypto.createHash('sha256');
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, fs.createWriteStream(temp, { flags: 'wx' }));
      check(hash.digest('hex'), size);
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.rename(temp, dest);
    } finally {
      await fsp.rm(temp, { force: true });
    }
  }

  return {
    kind: 'fs',
    objectPath,
    async stat(oid) {
      return sizeOf(objectPath(oid));
    },
    async downloadTarget(oid, size, where, ttl, userId): Promise<Target> {
      return { href: urls.signed(where, `objects/${oid}`, { p: 'get', o: oid, s: size, c: userId ?? 0 }, ttl) };
    },
    async uploadTarget(u, ttl): Promise<Target> {
      return {
        href: urls.signed(u, `objects/${u.oid}`, { p: 'put', u: u.id, o: u.oid, s: u.size }, ttl),
        header: { 'Content-Type': 'application/octet-stream' },
      };
    },
    async writeStaged(u, body) {
      await writeChecked(body, stagedPath(u), (sha256, size) => {
        if (size !== u.size) throw new ByteMismatch(`expected ${u.size} bytes, received ${size}`);
        if (sha256 !== u.oid) throw new ByteMismatch(`the bytes received hash to ${sha256}, not to the oid ${u.oid}`);
      });
    },
    async startMultipart(u) {
      await fsp.mkdir(partsDir(u), { recursive: true });
      return u.id;
    },
    async partTargets(u, ttl) {
      const count = Math.max(1, Math.ceil(u.size / u.chunkSize!));
      return Array.from({ length: count }, (_, i) => urls.signed(u, `multipart/${u.id}/${i + 1}`, { p: 'part', u: u.id, n: i + 1 }, ttl));
    },
    async writePart(u, partNumber, body) {
      const count = Math.max(1, Math.ceil(u.size / u.chunkSize!));
      const expected = partNumber < count ? u.chunkSize! : u.size - u.chunkSize! * (count - 1);
      let etag = '';
      await writeChecked(body, path.join(partsDir(u), String(partNumber).padStart(5, '0')), (sha256, size) => {
        if (size !== expected) throw new ByteMismatch(`part ${partNumber} must have ${expected} bytes, received ${size}`);
        etag = `"${sha256.slice(0, 32)}"`;
      });
      return etag;
    },
    async completeMultipart(u, parts: PartEtag[]) {
      const count = Math.max(1, Math.ceil(u.size / u.chunkSize!));
      if (parts.length !== count || parts.some((p, i) => p.partNumber !== i + 1)) {
        throw new ByteMismatch(`expected parts 1 to ${count} in order`);
      }
      const dir = partsDir(u);
      const temp = path.join(tmp, crypto.randomUUID());
      try {
        const out = fs.createWriteStream(temp, { flags: 'wx' });
        for (const part of parts) {
          const file = path.join(dir, String(part.partNumber).padStart(5, '0'));
          if ((await sizeOf(file)) === null) throw new ByteMismatch(`part ${part.partNumber} was never uploaded`);
          await pipeline(fs.createReadStream(file), out, { end: false });
        }
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
        await fsp.rename(temp, stagedPath(u));
      } finally {
        await fsp.rm(temp, { force: true });
      }
      await fsp.rm(dir, { recursive: true, force: true });
    },
    async abortMultipart(u) {
      await fsp.rm(partsDir(u), { recursive: true, force: true });
    },
    async stagedSize(u) {
      return sizeOf(stagedPath(u));
    },
    async readStaged(u) {
      return fs.createReadStream(stagedPath(u));
    },
    async commitStaged(u) {
      const dest = objectPath(u.oid);
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.rename(stagedPath(u), dest);
    },
    async discardStaged(u) {
      await fsp.rm(stagedPath(u), { force: true });
      await fsp.rm(partsDir(u), { recursive: true, force: true });
    },
  };
}
