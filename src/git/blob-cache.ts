import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

// Git files served by resolve come from a copy of each blob under DATA/cache/blobs/aa/bb/OID,
// written once by `git cat-file blob` straight into a file (no byte passes through Node), then
// read with large reads (or sent by a reverse proxy, X-Accel-Redirect) for every later request.
// A blob id names its content, so a copy never goes stale and needs no invalidation; copies are
// written to a temp file and renamed into place, and a copy whose size is not the blob's is never
// served (it is removed and written again). The whole cache is kept under a byte budget by
// removing the copies least recently used (by mtime, touched on use), whichever process wrote them.

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** A copy's mtime is moved forward at most this often per process, on use: the LRU order needs no finer grain. */
const TOUCH_EVERY_MS = 60_000;
/** A temp file this old was left by a crash (a fill takes seconds). */
const STALE_TEMP_MS = 3600_000;
/** Eviction leaves the cache at this fraction of its budget, so it does not run again at the next fill. */
const EVICT_TO = 0.9;

export interface CachedBlob {
  /** Open for reading; the caller closes it (the stream reading it does). */
  handle: fsp.FileHandle;
  /** Relative to the data directory (`cache/blobs/aa/bb/OID`), for a proxy's internal location. */
  relativePath: string;
}

export interface BlobCache {
  /** Largest blob the cache holds; larger ones are streamed from git by the caller. */
  readonly maxBlobSize: number;
  /**
   * The copy of blob `oid` (`size` bytes) of the repo at `dir`, written first when there is none
   * (one fill per blob at a time in this process); null when the cache is off or the blob too large.
   */
  open(dir: string, env: NodeJS.ProcessEnv, oid: string, size: number): Promise<CachedBlob | null>;
  /** Total bytes of the copies on disk, after removing the least recently used ones beyond the budget. */
  evict(): Promise<number>;
}

export function blobCacheRoot(dataDir: string): string {
  return path.join(dataDir, 'cache', 'blobs');
}

export function createBlobCache(opts: { dataDir: string; maxBytes: number; log: Logger }): BlobCache {
  const root = blobCacheRoot(opts.dataDir);
  const tmp = path.join(opts.dataDir, 'cache', 'tmp');
  // A quarter of the budget at most, so one blob never pushes out most of the others.
  const maxBlobSize = Math.floor(opts.maxBytes / 4);
  const filling = new Map<string, Promise<void>>();
  const touched = new Map<string, number>();
  /** What this process believes the cache holds; a full count from disk replaces it at each eviction. */
  let approxBytes: number | null = null;
  let evicting: Promise<number> | null = null;

  const relativeOf = (oid: string) => path.posix.join('cache', 'blobs', oid.slice(0, 2), oid.slice(2, 4), oid);
  const fileOf = (oid: string) => path.join(root, oid.slice(0, 2), oid.slice(2, 4), oid);

  /** Opens the copy when it is there and whole (its size is the blob's); a wrong one is removed. */
  async function openWhole(oid: string, size: number): Promise<fsp.FileHandle | null> {
    const file = fileOf(oid);
    const handle = await fsp.open(file, 'r').catch(() => null);
    if (!handle) return null;
    const st = await handle.stat();
    if (st.size === size) return handle;
    await handle.close();
    opts.log.warn({ oid, size, found: st.size }, 'a cached git blob had the wrong size: removed, written again');
    await fsp.rm(file, { force: true });
    return null;
  }

  /** `git cat-file blob` writes the blob into a temp file, renamed into place once its size is checked. */
  async function fill(dir: string, env: NodeJS.ProcessEnv, oid: string, size: number): Promise<void> {
    await fsp.mkdir(tmp, { recursive: true });
    const temp = path.join(tmp, `${oid}.${crypto.randomBytes(6).toString('hex')}`);
    const out = await fsp.open(temp, 'wx');
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('git', ['cat-file', 'blob', oid], { cwd: dir, env, stdio: ['ignore', out.fd, 'pipe'] });
        let stderr = '';
        child.stderr?.on('data', (b: Buffer) => stderr.length < 2000 && (stderr += b.toString('utf8')));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git cat-file blob ${oid} failed (${code}): ${stderr.trim().slice(0, 500)}`))));
      });
      const written = (await out.stat()).size;
      if (written !== size) throw new Error(`git cat-file blob ${oid} wrote ${written} bytes, expected ${size}`);
      await out.close();
      const dest = fileOf(oid);
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.rename(temp, dest);
      touched.set(oid, Date.now());
    } finally {
      await out.close().catch(() => {});
      await fsp.rm(temp, { force: true }).catch(() => {});
    }
    if (approxBytes === null) approxBytes = await countBytes();
    else approxBytes += size;
    if (approxBytes > opts.maxBytes) void evictOnce().catch((err) => opts.log.warn({ err }, 'removing old cached git blobs failed'));
  }

  /** Moves a copy to the front of the LRU order (its mtime), at most once a minute per process. */
  function touch(oid: string): void {
    const now = Date.now();
    if (now - (touched.get(oid) ?? 0) < TOUCH_EVERY_MS) return;
    if (touched.size > 100_000) touched.clear();
    touched.set(oid, now);
    const at = new Date(now);
    fs.utimes(fileOf(oid), at, at, () => {});
  }

  async function listCopies(): Promise<{ file: string; size: number; mtimeMs: number }[]> {
    const names = (dir: string) => fsp.readdir(dir).catch(() => [] as string[]);
    const copies: { file: string; size: number; mtimeMs: number }[] = [];
    for (const a of await names(root)) {
      for (const b of await names(path.join(root, a))) {
        for (const oid of await names(path.join(root, a, b))) {
          const file = path.join(root, a, b, oid);
          const st = await fsp.stat(file).catch(() => null);
          if (st?.isFile()) copies.push({ file, size: st.size, mtimeMs: st.mtimeMs });
        }
      }
    }
    return copies;
  }

  async function countBytes(): Promise<number> {
    return (await listCopies()).reduce((sum, c) => sum + c.size, 0);
  }

  async function evictNow(): Promise<number> {
    const copies = await listCopies();
    let total = copies.reduce((sum, c) => sum + c.size, 0);
    if (total > opts.maxBytes) {
      // A copy in use elsewhere stays readable through its open descriptor after the unlink.
      copies.sort((x, y) => x.mtimeMs - y.mtimeMs);
      let removed = 0;
      for (const c of copies) {
        if (total <= opts.maxBytes * EVICT_TO) break;
        await fsp.rm(c.file, { force: true });
        total -= c.size;
        removed++;
      }
      opts.log.info({ removed, bytes: total }, 'removed the least recently used cached git blobs');
    }
    // Temp files of fills a crash cut short.
    for (const name of await fsp.readdir(tmp).catch(() => [] as string[])) {
      const file = path.join(tmp, name);
      const st = await fsp.stat(file).catch(() => null);
      if (st && Date.now() - st.mtimeMs > STALE_TEMP_MS) await fsp.rm(file, { force: true }).catch(() => {});
    }
    approxBytes = total;
    return total;
  }

  function evictOnce(): Promise<number> {
    evicting ??= evictNow().finally(() => (evicting = null));
    return evicting;
  }

  return {
    maxBlobSize,
    async open(dir, env, oid, size) {
      if (!OID.test(oid)) throw new Error(`invalid blob id ${oid}`);
      if (opts.maxBytes <= 0 || size > maxBlobSize) return null;
      for (let attempt = 0; ; attempt++) {
        const handle = await openWhole(oid, size);
        if (handle) {
          touch(oid);
          return { handle, relativePath: relativeOf(oid) };
        }
        // Removed by an eviction between the fill and the open: a second fill, then give up.
        if (attempt === 2) throw new Error(`the cached copy of git blob ${oid} disappeared twice after it was written`);
        let pending = filling.get(oid);
        if (!pending) {
          pending = fill(dir, env, oid, size).finally(() => filling.delete(oid));
          filling.set(oid, pending);
        }
        await pending;
      }
    },
    evict: evictOnce,
  };
}
