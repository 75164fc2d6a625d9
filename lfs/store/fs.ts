import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { OID } from '../protocol.js';
import { UPLOAD_PURPOSE } from '../signed-links.js';
import { ByteMismatch } from './byte-mismatch.js';
import { type FsTransferStore, fsTransferHandlers } from './fs-routes.js';
import { receiveFile } from './receive-file.js';
import type { HubUrls, ObjectStore, PartEtag, StagedUpload, Target } from './types.js';

// The default store: files under DATA/lfs. Clients PUT and GET through hubgate's own
// signed URLs; bytes are hashed on the way in and reach objects/ by atomic rename only.

const UPLOAD_ID = /^[A-Za-z0-9_-]{16,64}$/;

export { ByteMismatch };

export interface FsStore extends ObjectStore, FsTransferStore {
  readonly kind: 'fs';
}

/** Bytes per read when the parts of a multipart upload are put together. */
const ASSEMBLY_READ = 2 * 1024 * 1024;

/**
 * Writes the files one after the other into `out`, in large reads, each read while the one
 * before it is being written (two buffers, reused).
 */
async function concatenate(files: string[], out: fsp.FileHandle): Promise<void> {
  const buffers = [Buffer.allocUnsafeSlow(ASSEMBLY_READ), Buffer.allocUnsafeSlow(ASSEMBLY_READ)];
  let position = 0;
  let turn = 0;
  let writing: Promise<void> = Promise.resolve();
  try {
    for (const file of files) {
      const input = await fsp.open(file, 'r');
      try {
        for (;;) {
          // The buffer whose write finished: the other one may still be in flight. The turn moves
          // only when bytes were read, so a file's end does not hand the next file the busy buffer.
          const buf = buffers[turn % 2];
          const { bytesRead } = await input.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          turn++;
          const piece = buf.subarray(0, bytesRead);
          await writing;
          writing = writeAll(out, piece, position);
          // Its failure is thrown at the next await of it, not as an unhandled rejection meanwhile.
          writing.catch(() => {});
          position += bytesRead;
        }
      } finally {
        await input.close();
      }
    }
  } finally {
    // Never left in flight: the caller closes `out` next.
    await writing.catch(() => {});
  }
  await writing;
}

async function writeAll(out: fsp.FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await out.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** Removes a scratch file; a disk that cannot even do that (read-only) must not hide the first error. */
async function removeQuietly(file: string): Promise<void> {
  await fsp.rm(file, { force: true }).catch(() => {});
}

/** `sync`: whether received bytes are synced to disk before they are kept (HUBGATE_LFS_FSYNC; on unless turned off). */
export interface FsStoreOptions {
  sync?: boolean;
}

export function createFsStore(root: string, urls: HubUrls, opts: FsStoreOptions = {}): FsStore {
  const sync = opts.sync ?? true;
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
   * Writes `body` to a temp file, hashing it on the way (lfs/store/receive-file.ts); once `check`
   * passes, syncs it to disk (one fsync, so a crash can never leave a committed object with
   * missing bytes) and renames it to `dest`. The temp file never outlives the call, whatever fails
   * (a full or read-only disk included).
   */
  async function writeChecked(body: Readable, dest: string, check: (sha256: string, size: number) => void): Promise<void> {
    const temp = path.join(tmp, crypto.randomUUID());
    let file: fsp.FileHandle | undefined;
    try {
      file = await fsp.open(temp, 'wx').catch((err) => {
        // The disk refuses the file (full, read-only): the body is read and dropped, so the client hears why.
        body.resume();
        throw err;
      });
      // A request's body chunks are read by no one else: they move to the upload thread uncopied.
      const { sha256, size } = await receiveFile(body, file.fd, body instanceof IncomingMessage);
      check(sha256, size);
      if (sync) await file.datasync();
      await file.close();
      file = undefined;
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.rename(temp, dest);
    } finally {
      await file?.close().catch(() => {});
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
    async ready() {
      // Objects reach objects/ by a rename from tmp/: both there, and tmp/ takes a file (a
      // leftover of a crash here is swept with the other scratch files).
      for (const dir of [objects, staging]) if (!(await fsp.stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      const probe = path.join(tmp, crypto.randomUUID());
      await (await fsp.open(probe, 'wx')).close();
      await fsp.rm(probe, { force: true });
    },
    async stat(oid) {
      return sizeOf(objectPath(oid));
    },
    async readObject(oid) {
      const stream = fs.createReadStream(objectPath(oid));
      // Fails here, not at the first read, when the object is not there.
      await new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject));
      return stream;
    },
    async downloadTarget(oid, size, where, ttl, userId): Promise<Target> {
      return { href: urls.signed(where, `objects/${oid}`, { p: 'get', o: oid, s: size, c: userId ?? 0 }, ttl) };
    },
    async uploadTarget(u, ttl): Promise<Target> {
      // One token for the PUT and the verify that follows it (purpose 'upload': both routes take it).
      const [href, verifyHref] = urls.signedEach(u, [`objects/${u.oid}`, 'objects/verify'], { p: UPLOAD_PURPOSE, u: u.id, o: u.oid, s: u.size }, ttl);
      return { href, header: { 'Content-Type': 'application/octet-stream' }, verifyHref };
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
      let out: fsp.FileHandle | undefined;
      try {
        // Opened before anything else: a disk that cannot take the file says so here (EROFS, ENOSPC).
        out = await fsp.open(temp, 'wx');
        const files = parts.map((part) => path.join(dir, String(part.partNumber).padStart(5, '0')));
        for (const [i, file] of files.entries()) {
          if ((await sizeOf(file)) === null) throw new ByteMismatch(`part ${parts[i].partNumber} was never uploaded`);
        }
        await concatenate(files, out);
        if (sync) await out.datasync();
        await out.close();
        out = undefined;
        await fsp.rename(temp, stagedPath(u));
      } finally {
        // On a failure the parts stay: the client may complete again once there is room.
        await out?.close().catch(() => {});
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
      // Large reads: a reconstruction streams whole runs of chunks sequentially.
      return fs.createReadStream(xorbPath(hash), { start, end, highWaterMark: 1 << 20 });
    },
    async deleteXorbs(hashes) {
      // The two-digit directories stay, as for objects: removing one would race a xorb stored into it.
      for (const hash of hashes) await fsp.rm(xorbPath(hash), { force: true });
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
