import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { ObjectStore } from '../../lfs/store/types.js';
import { Chunker } from '../../xet/chunker.js';
import { type ChunkRef, chunkHash, fileHash, hashToString, isGlobalDedupEligible } from '../../xet/hash.js';
import { SchemeChooser, XorbBuilder } from '../../xet/xorb-builder.js';
import { dedupXorb, packChunks, type XorbRow } from '../db/xet.js';
import type { Db } from '../db/index.js';
import {
  type Conversion, claimConversion, conversionQueueState, enqueueConversions, failConversion, finishConversion, linkRepoFiles,
  recordServerXorb, registerConvertedFile, requeueFailedConversions, xorbHeldByAll, releaseConversionsClaimedBefore, renewConversion, reposLinking, unconvertedObjects, verifiedFileOfSha256,
} from '../db/xet-convert.js';

// Xet reads of files that came through Git LFS (docs/xet.md "Files uploaded through Git LFS"):
// when an LFS object is linked to a repo (a git-lfs upload verified, a web upload) it is queued
// in the database; a converter in each serving process takes one queued object at a time under
// a lease, reads it from the store once (sha256 checked on the way), cuts it into chunks as the
// clients do, packs them into xorbs (one in memory) it stores, and registers the file (its Xet
// hash from the chunk hashes) for every repo linking that oid. Resolve then announces it to Xet
// clients and tree listings give its xetHash. Objects from before, or linked while Xet was off,
// are queued at start and by `hubgate xet convert`.

/** How long a claim holds without renewal; renewed every third of it while the conversion runs. */
const LEASE_MS = 60_000;
/** How often an idle converter looks for work queued by other processes (its own wake it at once). */
const POLL_MS = 10_000;
/** Attempts before an object that keeps failing is left failed (`hubgate xet status` lists it). */
const MAX_ATTEMPTS = 5;
/** Objects queued per statement by the start-up sweep and the CLI. */
const SWEEP_BATCH = 1000;

export interface ConvertSettings {
  /** The largest object converted; larger ones are left to plain downloads. */
  maxSize: number;
  /** The longest one conversion may take. */
  maxTimeMs: number;
  /** Bytes read per second at most (0: no limit). */
  bytesPerSecond: number;
}

/** A fault retrying cannot fix: the object is left failed with this message. */
class LastingFault extends Error {}
/** The conversion was stopped (the process stops, or its claim was lost): nothing failed. */
class Interrupted extends Error {}

export type ConversionQueue = ReturnType<typeof createConversionQueue>;

/** Queues objects for conversion; the converter of this process is woken at once. */
export function createConversionQueue(db: Db, log: Logger) {
  const listeners = new Set<() => void>();
  return {
    /** Queues a newly linked object. A failure is logged, not thrown: the link stands, and the start-up sweep queues it later. */
    async linked(oid: string, size: number): Promise<void> {
      if (size <= 0) return;
      try {
        await enqueueConversions(db, [{ oid, size }]);
        this.wake();
      } catch (err) {
        log.warn({ err, oid }, 'queueing an LFS object for Xet conversion failed: the next start queues it');
      }
    },
    /** Tells this process's converter there is work (queued here, or claims given back). */
    wake(): void {
      for (const l of listeners) l();
    },
    onQueued(listener: () => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * Queues, in batches in oid order, every linked object some linking repo cannot read through Xet
 * yet; `retryFailed`: also those that failed for good before. How many.
 */
export async function queueUnconverted(db: Db, opts: { retryFailed?: boolean } = {}): Promise<number> {
  let queued = opts.retryFailed ? await requeueFailedConversions(db) : 0;
  let after = '';
  for (;;) {
    const batch = await unconvertedObjects(db, after, SWEEP_BATCH);
    if (batch.length === 0) return queued;
    await enqueueConversions(db, batch);
    queued += batch.length;
    after = batch[batch.length - 1].oid;
  }
}

/**
 * At the start of `hubgate serve` (the single process, or the primary before its workers): with
 * no other process at work, claims taken before this start are given back (their holders died);
 * then what is not converted yet is queued.
 */
export async function conversionsAtStart(db: Db, log: Logger, o: { startedAt: number; alone: boolean; queue?: ConversionQueue }): Promise<void> {
  if (o.alone) {
    const released = await releaseConversionsClaimedBefore(db, new Date(o.startedAt).toISOString());
    if (released > 0) log.info({ released }, 'Xet conversions interrupted by a stop are taken up again');
  }
  const queued = await queueUnconverted(db);
  if (queued > 0) log.info({ queued }, 'LFS objects queued for Xet conversion');
  o.queue?.wake();
}

export { conversionQueueState };

export interface ConverterDeps {
  db: Db;
  store: ObjectStore;
  log: Logger;
  queue: ConversionQueue;
  settings: ConvertSettings;
  /** Counts bytes of new xorbs stored (metrics). */
  counters?: { xorbBytesStored(n: number): void };
}

export interface Converter {
  /** Stops taking work; a conversion in progress stops at its next block and is given back. */
  stop(): Promise<void>;
}

/** Converts queued objects, one at a time, until stopped. */
export function startConverter(deps: ConverterDeps): Converter {
  const { db, log } = deps;
  let stopped = false;
  let wake: (() => void) | null = null;
  const unlisten = deps.queue.onQueued(() => wake?.());
  const idle = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    function done() {
      clearTimeout(timer);
      wake = null;
      resolve();
    }
    wake = done;
  });
  const iso = (ms: number) => new Date(ms).toISOString();

  async function runOne(job: Conversion, claim: string): Promise<void> {
    let lost = false;
    const renew = setInterval(() => {
      renewConversion(db, job.oid, claim, iso(Date.now() + LEASE_MS))
        .then((held) => { if (!held) lost = true; })
        .catch((err) => log.warn({ err, oid: job.oid }, 'renewing the claim on a Xet conversion failed'));
    }, LEASE_MS / 3);
    renew.unref();
    const started = Date.now();
    try {
      const r = await convertObject(deps, job, () => {
        if (stopped) throw new Interrupted('the process is stopping');
        if (lost) throw new Interrupted('its claim lapsed and another process took it');
        if (Date.now() - started > deps.settings.maxTimeMs) throw new Error(`it took longer than HUBGATE_XET_CONVERT_MAX_TIME (${deps.settings.maxTimeMs} ms)`);
      });
      if (!(await finishConversion(db, job, claim))) log.warn({ oid: job.oid }, 'a Xet conversion finished after losing its claim');
      log.info({ oid: job.oid, size: job.size, ms: Date.now() - started, ...r }, r.storedBytes !== undefined ? 'LFS object stored as a Xet file' : 'LFS object linked to its Xet file');
    } catch (err) {
      if (err instanceof Interrupted) {
        log.info({ oid: job.oid, why: err.message }, 'Xet conversion interrupted; it is taken up again');
        if (!lost) await failConversion(db, job.oid, claim, `interrupted: ${err.message}`, iso(Date.now())).catch(() => {});
        return;
      }
      const lasting = err instanceof LastingFault || job.attempts >= MAX_ATTEMPTS;
      const message = (err as Error).message ?? String(err);
      log[lasting ? 'error' : 'warn']({ err, oid: job.oid, attempts: job.attempts }, lasting ? 'Xet conversion failed; the object stays readable through LFS only' : 'Xet conversion failed; it is tried again later');
      await failConversion(db, job.oid, claim, message, lasting ? null : iso(Date.now() + job.attempts * 60_000)).catch((e) => log.warn({ err: e }, 'recording a failed Xet conversion failed'));
    } finally {
      clearInterval(renew);
    }
  }

  const loop = (async () => {
    while (!stopped) {
      const claim = crypto.randomUUID();
      let job: Conversion | undefined;
      try {
        job = await claimConversion(db, claim, iso(Date.now()), iso(Date.now() + LEASE_MS));
      } catch (err) {
        log.warn({ err }, 'looking for queued Xet conversions failed');
      }
      if (stopped) break;
      if (job) await runOne(job, claim);
      else await idle(POLL_MS);
    }
  })();

  return {
    async stop() {
      stopped = true;
      unlisten();
      wake?.();
      await loop;
    },
  };
}

/**
 * Converts one object: registers the existing Xet file of its bytes for the repos linking it when
 * there is one; otherwise reads the object (checking its sha256 and size), chunks it, stores its
 * xorbs and registers the file. `check` throws to stop between blocks.
 */
async function convertObject(deps: ConverterDeps, job: Conversion, check: () => void): Promise<{ xorbs: number; storedBytes?: number; dedupedXorbs?: number; fileHash?: string }> {
  const { db, store, settings } = deps;
  const existing = await verifiedFileOfSha256(db, job.oid);
  if (existing) {
    await linkRepoFiles(db, existing, await reposLinking(db, job.oid));
    return { xorbs: 0, fileHash: existing };
  }
  if ((await reposLinking(db, job.oid)).length === 0) return { xorbs: 0 }; // nothing links it any more
  if (job.size > settings.maxSize) throw new LastingFault(`it is ${job.size} bytes, over HUBGATE_XET_CONVERT_MAX_SIZE (${settings.maxSize})`);
  deps.log.info({ oid: job.oid, size: job.size, attempt: job.attempts }, 'converting an LFS object to a Xet file');
  let input: AsyncIterable<Uint8Array>;
  try {
    input = await store.readObject(job.oid);
  } catch (err) {
    if ((await store.stat(job.oid).catch(() => undefined)) === null) throw new LastingFault('the LFS store does not hold the object');
    throw err;
  }
  const sha256 = crypto.createHash('sha256');
  const chunker = new Chunker();
  const builder = new XorbBuilder();
  const schemes = new SchemeChooser();
  const refs: ChunkRef[] = [];
  const repos = await reposLinking(db, job.oid);
  // Terms in file order; a term in a xorb still being built names it by its number until it is stored.
  const terms: { xorb: string | number; start: number; end: number; size: number }[] = [];
  const built: string[] = [];
  const known = new KnownChunks();
  const started = Date.now();
  let read = 0;
  let first: string | undefined;
  let stored = 0;

  const extend = (xorb: string | number, index: number, size: number) => {
    const last = terms.at(-1);
    if (last && last.xorb === xorb && last.end === index) {
      last.end++;
      last.size += size;
    } else {
      terms.push({ xorb, start: index, end: index + 1, size });
    }
  };
  const flush = async () => {
    const x = builder.take();
    if (!x) return;
    const hash = hashToString(x.hash);
    // Idempotent: a retry after a crash makes the same xorbs, already stored.
    await store.putXorb(hash, x.bytes);
    // The file's first chunk answers dedup queries too (clients ask about it).
    const dedup = x.chunks.flatMap((c, index) => {
      const h = hashToString(c.hash);
      return isGlobalDedupEligible(c.hash) || h === first ? [{ chunkHash: h, index }] : [];
    });
    if (await recordServerXorb(db, { hash, storedSize: x.bytes.length, size: x.size, chunks: packChunks(x.chunks), chunkCount: x.chunks.length }, dedup)) stored += x.bytes.length;
    built.push(hash);
  };
  const add = async (chunk: Uint8Array) => {
    const hash = chunkHash(chunk);
    const text = hashToString(hash);
    first ??= text;
    refs.push({ hash, size: chunk.length });
    // Dedup, as a client does: the chunks it may ask about find a xorb the linking repos hold,
    // whose other chunks then match too. Only a xorb every linking repo holds: a reconstruction
    // names its xorbs, which must tell no repo of content only another one has.
    if ((isGlobalDedupEligible(hash) || text === first) && !known.has(text)) {
      const x = await dedupXorb(db, text, repos);
      if (x && (repos.length === 1 || (await xorbHeldByAll(db, x.hash, repos)))) known.add(x);
    }
    const at = known.get(text);
    if (at) return extend(at.xorb, at.index, chunk.length);
    const scheme = schemes.next();
    let added = builder.add(chunk, scheme, hash);
    if (added === false) {
      await flush();
      added = builder.add(chunk, scheme, hash) as Exclude<typeof added, false>;
    }
    schemes.record(scheme, added.scheme);
    extend(built.length, builder.chunkCount - 1, chunk.length);
  };

  try {
    for await (const block of input) {
      check();
      sha256.update(block);
      read += block.length;
      if (read > job.size) throw new LastingFault(`the store holds more than the ${job.size} bytes recorded for the object`);
      for (const chunk of chunker.push(block)) await add(chunk);
      if (settings.bytesPerSecond > 0) {
        const ahead = (read / settings.bytesPerSecond) * 1000 - (Date.now() - started);
        if (ahead > 0) await new Promise((r) => setTimeout(r, Math.min(ahead, 1000)));
      }
    }
  } finally {
    (input as { destroy?: () => void }).destroy?.();
  }
  const last = chunker.finish();
  if (last) await add(last);
  await flush();
  const digest = sha256.digest('hex');
  if (read !== job.size || digest !== job.oid) throw new LastingFault(`the stored bytes (${read}) hash to sha256 ${digest}, not to the object's oid: the LFS store holds damaged bytes`);
  const hash = hashToString(fileHash(refs));
  const fileTerms = terms.map((t) => ({ ...t, xorb: typeof t.xorb === 'number' ? built[t.xorb] : t.xorb }));
  // Read after the work: a repo that linked the object meanwhile is included.
  const missing = await registerConvertedFile(db, { hash, size: read, sha256: job.oid, terms: fileTerms }, built, await reposLinking(db, job.oid));
  // A xorb removed by garbage collection meanwhile (one this file reused through dedup): try again later.
  if (missing.length > 0) throw new Error(`xorb ${missing[0]} was removed while the object was converted; it is converted again`);
  deps.counters?.xorbBytesStored(stored);
  return { xorbs: built.length, storedBytes: stored, dedupedXorbs: new Set(terms.flatMap((t) => (typeof t.xorb === 'string' ? [t.xorb] : []))).size, fileHash: hash };
}

/** Xorbs to dedup against (at most 16, the oldest forgotten first): where each of their chunks is, by chunk hash. */
class KnownChunks {
  private readonly where = new Map<string, { xorb: string; index: number }>();
  private readonly xorbs: XorbRow[] = [];

  has(chunk: string): boolean {
    return this.where.has(chunk);
  }

  get(chunk: string): { xorb: string; index: number } | undefined {
    return this.where.get(chunk);
  }

  add(x: XorbRow): void {
    if (this.xorbs.some((k) => k.hash === x.hash)) return;
    if (this.xorbs.length === 16) {
      const old = this.xorbs.shift()!;
      old.chunks.forEach((c) => {
        const h = hashToString(c.hash);
        if (this.where.get(h)?.xorb === old.hash) this.where.delete(h);
      });
    }
    this.xorbs.push(x);
    x.chunks.forEach((c, index) => {
      const h = hashToString(c.hash);
      if (!this.where.has(h)) this.where.set(h, { xorb: x.hash, index });
    });
  }
}
