import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OID } from '../protocol.js';
import { ByteMismatch } from './byte-mismatch.js';
import { type FsTransferStore, fsTransferHandlers } from './fs-routes.js';
import type { HubUrls, ObjectStore, PartEtag, StagedUpload, Target } from './types.js';

// The default store: files under DATA/lfs. Clients PUT and GET through hubgate's own
// signed URLs; bytes are hashed on the way in and reach objects/ by atomic rename only.

const UPLOAD_ID = /^[A-Za-z0-9_-]{16,64}$/;

export { ByteMismatch };

export interface FsStore extends ObjectStore, FsTransferStore {
  readonly kind: 'fs';
}

/**
 * Pipes a request body through `counter` into `file`. Unlike pipeline(body, ...), a failure on
 * the disk side does not destroy the body (that would drop the client's connection before it
 * is answered): the rest of the body is read and discarded instead, so the route can still tell
 * the client that the disk is full. A client that goes away fails the write.
 */
async function receive(body: Readable, counter: Transform, file: fs.WriteStream): Promise<void> {
  const onBodyError = (err: Error) => counter.destroy(err);
  const onBodyClose = () => {
    if (!body.readableEnded) counter.destroy(new Error('the client closed the connection before the end of the body'));
  };
  body.once('error', onBodyError);
  body.once('close', onBodyClose);
  body.pipe(counter);
  try {
    await pipeline(counter, file);
  } catch (err) {
    body.unpipe(counter);
    if (!body.destroyed) body.resume();
    throw err;
  } finally {
    body.off('error', onBodyError);
    body.off('close', onBodyClose);
  }
}

/** Removes a scratch file; a disk that cannot even do that (read-only) must not hide the first error. */
async function removeQuietly(file: string): Promise<void> {
  await fsp.rm(file, { force: true }).catch(() => {});
}

export function createFsStore(root: string, urls: HubUrls): FsStore {
  const objects = path.join(root, 'objects');
  const xorbs = path.join(root, 'xet', 'xorbs');
  const staging = path.join(root, 'staging');
  const tmp = path.join(root, 'tmp');
  for (const dir of [objects, staging, tmp]) fs.mkdirSync(dir, { recursive: true });

  const relativeObjectPath = (oid: string) => {
    if (!OID.test(oid)) throw new Error(`invalid oid ${oid}`);
    return path.posix.join('objects', oid.slice(0, 2), oid.slice(2, 4), oid);
  };
  const objectPath = (oid: string) => path.join(root, relativeObjectPath(oid));
  const xorbPath = (hash: string) => {
    if (!OID.test(hash)) throw new Error(`invalid xorb hash ${hash}`);
    return path.join(xorbs, hash.slice(0, 2), hash);
  };
  const stagedPath = (u: StagedUpload) => {
    if (!UPLOAD_ID.test(u.id)) throw new Error('invalid upload id');
    return path.join(staging, u.id);
  };
  const partsDir = (u: StagedUpload) => `${stagedPath(u)}.parts`;
  const sizeOf = async (file: string) => (await fsp.stat(file).catch(() => null))?.size ?? null;
  /** When a file was last written (ms); +Infinity when it is gone, so it is never taken for a leftover. */
  const lastWritten = async (file: string) => (await fsp.stat(file).catch(() => null))?.mtimeMs ?? Number.POSITIVE_INFINITY;

  /**
   * Streams `body` to a temp file, counting and hashing; renames it to `dest` only if `check` passes.
   * The temp file never outlives the call, whatever fails (a full or read-only disk included).
   */
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
      await receive(body, counter, fs.createWriteStream(temp, { flags: 'wx' }));
      check(hash.digest('hex'), size);
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.rename(temp, dest);
    } finally {
      await removeQuietly(temp);
    }
  }

  return {
    kind: 'fs',
    objectPath,
    relativeObjectPath,
    transferHandlers(deps) {
      return fsTransferHandlers(deps, this);
    },
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
    async putStaged(u, body) {
      await this.writeStaged(u, body);
    },
    async startMultipart(u) {
      // Nothing on disk yet: the parts directory is made by the first part PUT, so a batch that
      // opens many uploads no client ever sends costs no disk.
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
      await fsp.mkdir(partsDir(u), { recursive: true });
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
      let out: fs.WriteStream | undefined;
      try {
        // Opened before anything else: a disk that cannot take the file says so here (EROFS,
        // ENOSPC), not later in an 'error' event nobody listens to yet.
        out = (await fsp.open(temp, 'wx')).createWriteStream();
        for (const part of parts) {
          const file = path.join(dir, String(part.partNumber).padStart(5, '0'));
          if ((await sizeOf(file)) === null) throw new ByteMismatch(`part ${part.partNumber} was never uploaded`);
          await pipeline(fs.createReadStream(file), out, { end: false });
        }
        await new Promise<void>((resolve, reject) => out!.end((err?: Error | null) => (err ? reject(err) : resolve())));
        await fsp.rename(temp, stagedPath(u));
      } catch (err) {
        // The parts stay: the client may complete again once there is room.
        out?.destroy();
        throw err;
      } finally {
        await removeQuietly(temp);
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
    async stagedIds(before) {
      const ids = new Set<string>();
      for (const name of await fsp.readdir(staging)) {
        const id = name.replace(/\.parts$/, '');
        if (UPLOAD_ID.test(id) && (await lastWritten(path.join(staging, name))) < before.getTime()) ids.add(id);
      }
      return [...ids];
    },
    async removeScratch(before, opts = {}) {
      let removed = 0;
      for (const name of await fsp.readdir(tmp)) {
        const file = path.join(tmp, name);
        if ((await lastWritten(file)) >= before.getTime()) continue;
        if (!opts.dryRun) await fsp.rm(file, { recursive: true, force: true });
        removed++;
      }
      return removed;
    },
    async putXorb(hash, bytes) {
      const dest = xorbPath(hash);
      if (await sizeOf(dest) === bytes.length) return;
      const temp = path.join(tmp, crypto.randomUUID());
      try {
        await fsp.writeFile(temp, bytes, { flag: 'wx' });
        await fsp.mkdir(path.dirname(dest), { recursive: true });
        await fsp.rename(temp, dest);
      } finally {
        await removeQuietly(temp);
      }
    },
    async readXorb(hash, start, end) {
      return fs.createReadStream(xorbPath(hash), { start, end });
    },
    async *listObjects() {
      const names = async (dir: string) => (await fsp.readdir(dir).catch(() => [] as string[])).sort();
      for (const a of await names(objects)) {
        if (!/^[0-9a-f]{2}$/.test(a)) continue;
        for (const b of await names(path.join(objects, a))) {
          if (!/^[0-9a-f]{2}$/.test(b)) continue;
          for (const oid of await names(path.join(objects, a, b))) {
            if (!OID.test(oid) || oid.slice(0, 2) !== a || oid.slice(2, 4) !== b) continue;
            const st = await fsp.stat(path.join(objects, a, b, oid)).catch(() => null);
            if (st?.isFile()) yield { oid, size: st.size, lastModified: st.mtime };
          }
        }
      }
    },
    async deleteObject(oid) {
      // The aa/bb directories stay (at most 65,536): removing one would race a commit into it.
      await fsp.rm(objectPath(oid), { force: true });
    },
  };
}
