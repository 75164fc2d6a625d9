import crypto from 'node:crypto';
import { type Logger, pino } from 'pino';
import { createObjectStore, type StoreSettings } from '../../lfs/store/index.js';
import type { HubUrls, ObjectStore } from '../../lfs/store/types.js';
import { createTransfers, type Leftovers, type TransferSettings } from '../../lfs/transfers.js';
import { type Db, type DbLocation, openDb } from '../db/index.js';
import {
  claimDeletion, claimOrphanBytes, countFinishedUploads, deleteFinishedUploads, finishDeletion, gcCandidates, linkedSizes,
  recordedObjects, releaseDeletion, renewDeletion,
} from '../db/lfs.js';
import { listRepoRows } from '../db/repos.js';
import { gitEnv } from '../git/env.js';
import { lfsPointersIn } from '../git/lfs-pointers.js';
import { repoDir } from '../git/repo-dirs.js';
import { auditRepoName, recordAudit } from './audit.js';
import { lfsUploads } from './lfs-uploads.js';
import { collectXetGarbage, type XetGcReport } from './xet-gc.js';

/** The settings a collection from the command line needs: the store's, and the upload limits. */
export type GcSettings = StoreSettings & TransferSettings & DbLocation;

// LFS garbage collection: removes the objects no repo links, once their grace period is over,
// and what interrupted uploads left in staging.
//
// What makes it safe:
// 1. Links are the source of truth: a repo may only name (push, commit, resolve, download) an
//    object linked to it, and links only go when their repo is deleted. An object is a candidate
//    when nothing links it, no upload of its oid is in progress, and its last link went (a
//    trigger records when: lfs_objects.unlinked_at) or, never linked, it was recorded before the
//    grace period (HUBGATE_LFS_GC_GRACE, default 24 h). An object uploaded a year ago and unlinked
//    a minute ago is not a candidate.
// 2. The race with an upload of the same oid to another repo (batch answers "upload it" for an
//    object not linked to that repo; verify commits the bytes to the oid, then links it): the
//    collector claims the object in its row with one conditional statement (no link, no upload
//    of the oid open or hashing, still past its grace) before it touches the bytes, holding the
//    claim as a lease it renews just before removing them; then it deletes the row. A verifier
//    holds its upload open until the link is written, so no claim can be taken from the moment the
//    upload is opened (batch) until it is linked; and before committing bytes to the oid the
//    verifier waits for any claim taken before (lfs/transfers.ts settleDeletion), finishing a
//    collection whose collector died. So bytes are never removed after an upload committed
//    them, and a link never names removed bytes. (Only a collector stalled longer than its lease
//    between its renewal and its delete could break this, as with every lease.)
// 3. Bytes in the store with no row (a crash between commit and link) are claimed the same way,
//    by inserting their row with the claim, only when no upload of the oid is in progress.
// 4. The history check (on by default): before removing anything, every repo's git objects are
//    read for LFS pointers (src/git/lfs-pointers.ts). A candidate some pointer names is kept and
//    reported: links and history disagree, which needs a person to look, not a deletion. Pointers
//    that name an object not linked to their repo are reported too. No pointer can be added after
//    the scan to name a candidate: pushes and commits need a link, and a link stops the claim.
// 5. Staging: scratch files, staged bytes and multipart uploads no upload in progress owns,
//    older than the grace period, are removed as the housekeeping sweep does after an hour
//    (lfs/transfers.ts removeLeftovers), and the rows of uploads that ended and expired go.
// 6. Xet storage (src/services/xet-gc.ts) is collected in the same run with the same grace period:
//    files of deleted repos (once no object uploaded through Xet, in_store 0, still reads from
//    them: such objects have no bytes in the store), then the xorbs no file uses any more.

/** How long a claim on an object holds; it is renewed just before its bytes are removed. */
const LEASE_MS = 60_000;
/** Objects claimed and removed together (S3 DeleteObjects takes 1,000 keys). */
const BATCH = 1000;
/** Reported pointers without a link, at most (the count is always given). */
const REPORT_MAX = 1000;

export interface GcOptions {
  /** How long an object stays after its last link went (ms). */
  graceMs: number;
  dryRun?: boolean;
  /** Read every repo's git objects for pointers naming what would be removed (default true). */
  scanHistory?: boolean;
  /** The acting user for the audit entry; null: the command line or the server itself. */
  actor?: string | null;
}

export interface GcObject {
  oid: string;
  size: number;
}

export interface GcReport {
  dryRun: boolean;
  graceMs: number;
  /** Objects removed (or, in a dry run, that would be): rows and bytes, or bytes that had no row. */
  removed: GcObject[];
  bytes: number;
  /** Unlinked objects kept because a pointer in a repo names them, with those repos. */
  keptNamed: (GcObject & { repos: string[] })[];
  /** Pointers naming an object not linked to their repo (at most REPORT_MAX), and how many there are. */
  unlinkedPointers: { repo: string; oid: string }[];
  unlinkedPointerCount: number;
  /** Candidates that came into use (an upload began) before they could be claimed, or whose removal failed. */
  skipped: number;
  failed: number;
  /** Repos whose git objects were read, and how long that took (ms); 0 and 0 when not needed. */
  scannedRepos: number;
  scanMs: number;
  staging: Leftovers;
  finishedUploads: number;
  /** Xet files and xorbs removed (or that would be). */
  xet: XetGcReport;
}

export interface GcDeps {
  db: Db;
  dataDir: string;
  store: ObjectStore;
  /** lfs/transfers.ts removeLeftovers. */
  removeLeftovers(before: Date, opts: { dryRun?: boolean }): Promise<Leftovers>;
  log?: Logger;
}

/** Every oid some repo's pointers name, with those repos; and the pointers whose objects their repo does not link. */
async function scanPointers(d: GcDeps): Promise<{ named: Map<string, string[]>; unlinked: { repo: string; oid: string }[]; unlinkedCount: number; repos: number }> {
  const env = gitEnv(d.dataDir);
  const named = new Map<string, string[]>();
  const unlinked: { repo: string; oid: string }[] = [];
  let unlinkedCount = 0;
  const repos = await listRepoRows(d.db);
  for (const repo of repos) {
    const name = auditRepoName(repo);
    // A repo that cannot be read stops the run: its pointers are unknown, so nothing may go.
    const pointers = await lfsPointersIn(repoDir(d.dataDir, repo), env).catch((err: Error) => {
      throw new Error(`could not read the git objects of ${name} (${err.message.split('\n')[0]}): nothing was removed; run again once it is readable`);
    });
    const oids = [...pointers.keys()];
    for (const oid of oids) named.set(oid, [...(named.get(oid) ?? []), name]);
    for (let i = 0; i < oids.length; i += 500) {
      const chunk = oids.slice(i, i + 500);
      const linked = await linkedSizes(d.db, repo.id, chunk);
      for (const oid of chunk) {
        if (linked.has(oid)) continue;
        unlinkedCount++;
        if (unlinked.length < REPORT_MAX) unlinked.push({ repo: name, oid });
      }
    }
  }
  return { named, unlinked, unlinkedCount, repos: repos.length };
}

/** Bytes in the store with no row, last written before `cutoff`. */
async function orphanBytes(store: ObjectStore, db: Db, cutoff: Date): Promise<GcObject[]> {
  const found: GcObject[] = [];
  let chunk: GcObject[] = [];
  const flush = async () => {
    const recorded = await recordedObjects(db, chunk.map((o) => o.oid));
    for (const o of chunk) if (!recorded.has(o.oid)) found.push(o);
    chunk = [];
  };
  for await (const o of store.listObjects()) {
    if (o.lastModified.getTime() >= cutoff.getTime()) continue;
    chunk.push({ oid: o.oid, size: o.size });
    if (chunk.length >= 500) await flush();
  }
  if (chunk.length) await flush();
  return found;
}

export async function collectLfsGarbage(d: GcDeps, o: GcOptions): Promise<GcReport> {
  const dryRun = !!o.dryRun;
  const cutoff = new Date(Date.now() - o.graceMs);
  const cutoffIso = cutoff.toISOString();
  const report: GcReport = {
    dryRun, graceMs: o.graceMs, removed: [], bytes: 0, keptNamed: [], unlinkedPointers: [], unlinkedPointerCount: 0,
    skipped: 0, failed: 0, scannedRepos: 0, scanMs: 0, staging: { scratch: 0, staged: 0, multipart: 0 }, finishedUploads: 0,
    xet: { files: 0, xorbs: 0, bytes: 0, skipped: 0, failed: 0 },
  };

  const rows = await gcCandidates(d.db, cutoffIso);
  const rowOids = new Set(rows.map((r) => r.oid));
  const orphans = (await orphanBytes(d.store, d.db, cutoff)).filter((b) => !rowOids.has(b.oid));

  let named = new Map<string, string[]>();
  if ((o.scanHistory ?? true) && rows.length + orphans.length > 0) {
    const started = Date.now();
    const scan = await scanPointers(d);
    named = scan.named;
    report.unlinkedPointers = scan.unlinked;
    report.unlinkedPointerCount = scan.unlinkedCount;
    report.scannedRepos = scan.repos;
    report.scanMs = Date.now() - started;
  }
  const keep = (x: GcObject) => {
    const repos = named.get(x.oid);
    if (repos) report.keptNamed.push({ ...x, repos });
    return !repos;
  };
  const doomedRows = rows.filter(keep);
  const doomedBytes = orphans.filter(keep);
  if (report.keptNamed.length) {
    d.log?.error({ objects: report.keptNamed.slice(0, 20) }, 'LFS objects no repo links are named by pointers in repos: kept; link them or look into it');
  }

  if (dryRun) {
    report.removed = [...doomedRows, ...doomedBytes].map(({ oid, size }) => ({ oid, size }));
  } else {
    const until = () => new Date(Date.now() + LEASE_MS).toISOString();
    const claimed: { obj: GcObject; claim: string }[] = [];
    const take = async () => {
      // Renewed just before the bytes go: a claim lost meanwhile (this process stalled) is skipped.
      const held: typeof claimed = [];
      for (const c of claimed) (await renewDeletion(d.db, c.obj.oid, c.claim, until())) ? held.push(c) : report.skipped++;
      claimed.length = 0;
      try {
        if (d.store.deleteObjects) await d.store.deleteObjects(held.map((c) => c.obj.oid));
        else for (const c of held) await d.store.deleteObject(c.obj.oid);
      } catch (err) {
        d.log?.warn({ err }, 'removing unlinked LFS objects failed; they stay candidates');
        for (const c of held) await releaseDeletion(d.db, c.obj.oid, c.claim).catch(() => {});
        report.failed += held.length;
        return;
      }
      for (const c of held) {
        await finishDeletion(d.db, c.obj.oid, c.claim);
        report.removed.push(c.obj);
      }
    };
    for (const r of doomedRows) {
      const claim = crypto.randomBytes(12).toString('base64url');
      if (await claimDeletion(d.db, r.oid, claim, until(), cutoffIso)) claimed.push({ obj: { oid: r.oid, size: r.size }, claim });
      else report.skipped++;
      if (claimed.length >= BATCH) await take();
    }
    for (const b of doomedBytes) {
      const claim = crypto.randomBytes(12).toString('base64url');
      if (await claimOrphanBytes(d.db, b.oid, b.size, claim, until())) claimed.push({ obj: b, claim });
      else report.skipped++;
      if (claimed.length >= BATCH) await take();
    }
    if (claimed.length) await take();
  }
  report.bytes = report.removed.reduce((n, x) => n + x.size, 0);

  report.xet = await collectXetGarbage({ db: d.db, store: d.store, log: d.log }, { graceMs: o.graceMs, dryRun, goneObjects: dryRun ? report.removed.map((x) => x.oid) : [] });
  report.staging = await d.removeLeftovers(cutoff, { dryRun });
  report.finishedUploads = dryRun ? await countFinishedUploads(d.db, cutoffIso) : await deleteFinishedUploads(d.db, cutoffIso);

  if (!dryRun) {
    await recordAudit(d.db, {
      actor: o.actor ?? null,
      action: 'lfs.gc',
      details: {
        objects: report.removed.length, bytes: report.bytes, kept_named: report.keptNamed.length, unlinked_pointers: report.unlinkedPointerCount,
        staged: report.staging.staged, multipart: report.staging.multipart, scratch: report.staging.scratch,
        xet_files: report.xet.files, xet_xorbs: report.xet.xorbs, xet_bytes: report.xet.bytes,
      },
    });
  }
  return report;
}

/** A garbage collection of the data directory's store from the command line (`hubgate lfs gc`). */
export async function collectLfsGarbageIn(cfg: GcSettings, o: GcOptions): Promise<GcReport> {
  const db = await openDb(cfg);
  try {
    // Collection signs no links: a store that asked for one would be a bug.
    const signsNone = (): never => { throw new Error('garbage collection signs no links'); };
    const urls: HubUrls = { signed: signsNone, signedEach: signsNone };
    const store = await createObjectStore(cfg, urls);
    const log = pino({ level: 'silent' });
    const transfers = createTransfers({ uploads: lfsUploads(db), store, urls, log, settings: cfg });
    return await collectLfsGarbage({ db, dataDir: cfg.dataDir, store, removeLeftovers: transfers.removeLeftovers }, o);
  } finally {
    await db.destroy();
  }
}

/** Shows `n` bytes as people read them (1.5 GiB). */
export function humanBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[i]}`;
}
