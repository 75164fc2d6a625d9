import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { ObjectStore } from '../../lfs/store/types.js';
import type { Db } from '../db/index.js';
import {
  claimXorbs, countUnregisteredFiles, finishXorbDeletions, releaseXorbClaims, removeUnregisteredFiles, renewXorbClaims, takeXorbDeletion, unregisteredFiles,
  xorbCandidates, xorbDeletion,
} from '../db/xet-gc.js';

// Garbage collection of Xet storage (docs/xet.md), run with LFS garbage collection (`hubgate lfs
// gc`, HUBGATE_LFS_GC_INTERVAL_MS) and with its grace period (HUBGATE_LFS_GC_GRACE):
// 1. Files registered for no repo (their repos were deleted) are removed with their terms.
// 2. A xorb no remaining file uses, last uploaded, named in a dedup answer or used by a shard
//    before the grace period, is claimed (src/db/xet-gc.ts says why that cannot race a shard
//    upload), its bytes removed from the store, then its row, dedup chunks and repo links.
// A shard that names a xorb being removed or removed is answered "upload it again"; an upload of
// a xorb being removed waits for the removal (settleXorbDeletion) and then stores it anew.

/** How long a claim on xorbs holds; it is renewed just before their bytes are removed. */
const LEASE_MS = 60_000;
/** Xorbs claimed and removed together (S3 DeleteObjects takes 1,000 keys). */
const BATCH = 1000;

export interface XetGcReport {
  /** Files registered for no repo removed (or, in a dry run, that would be). */
  files: number;
  /** Xorbs removed (or that would be), and their stored bytes. */
  xorbs: number;
  bytes: number;
  /** Candidates that came into use before they could be claimed, or whose claim was lost. */
  skipped: number;
  /** Xorbs whose bytes could not be removed (they stay candidates). */
  failed: number;
}

export interface XetGcDeps {
  db: Db;
  store: ObjectStore;
  log?: Logger;
}

const leaseEnd = () => new Date(Date.now() + LEASE_MS).toISOString();

/**
 * `goneObjects`: in a dry run, the LFS objects the same run would remove first (their Xet files,
 * kept while an object uploaded through Xet reads from them, are counted as going too).
 */
export async function collectXetGarbage(d: XetGcDeps, o: { graceMs: number; dryRun?: boolean; goneObjects?: readonly string[] }): Promise<XetGcReport> {
  const cutoff = new Date(Date.now() - o.graceMs).toISOString();
  const report: XetGcReport = { files: 0, xorbs: 0, bytes: 0, skipped: 0, failed: 0 };

  if (o.dryRun) {
    // Counted, not removed: the xorb candidates already leave out what only unregistered files use.
    report.files = await countUnregisteredFiles(d.db, o.goneObjects);
    for (let after = ''; ;) {
      const page = await xorbCandidates(d.db, cutoff, after);
      report.xorbs += page.length;
      report.bytes += page.reduce((n, x) => n + x.storedSize, 0);
      if (page.length < BATCH) break;
      after = page[page.length - 1].hash;
    }
    return report;
  }

  for (;;) {
    const page = await unregisteredFiles(d.db);
    const removed = await removeUnregisteredFiles(d.db, page.map((f) => f.hash));
    report.files += removed;
    // A page none of which could go (registered again meanwhile) ends the loop rather than spin.
    if (page.length < BATCH || removed === 0) break;
  }

  for (let after = ''; ;) {
    const page = await xorbCandidates(d.db, cutoff, after);
    if (page.length === 0) break;
    after = page[page.length - 1].hash;
    const claim = crypto.randomBytes(12).toString('base64url');
    const claimed = await claimXorbs(d.db, page.map((x) => x.hash), claim, leaseEnd(), cutoff);
    report.skipped += page.length - claimed.size;
    // Renewed just before the bytes go: a claim lost meanwhile (this process stalled) is skipped.
    const held = await renewXorbClaims(d.db, [...claimed], claim, leaseEnd());
    report.skipped += claimed.size - held.size;
    const doomed = page.filter((x) => held.has(x.hash));
    if (doomed.length > 0) {
      try {
        await d.store.deleteXorbs(doomed.map((x) => x.hash));
      } catch (err) {
        d.log?.warn({ err }, 'removing unused xorbs failed; they stay candidates');
        await releaseXorbClaims(d.db, doomed.map((x) => x.hash), claim).catch(() => {});
        report.failed += doomed.length;
        continue;
      }
      await finishXorbDeletions(d.db, doomed.map((x) => x.hash), claim);
      report.xorbs += doomed.length;
      report.bytes += doomed.reduce((n, x) => n + x.storedSize, 0);
    }
    if (page.length < BATCH) break;
  }
  return report;
}

/**
 * Before a xorb is stored again: waits while a collection removes it, and finishes a collection
 * whose collector died (its claim lapsed), so the new bytes are never removed by it.
 */
export async function settleXorbDeletion(db: Db, store: ObjectStore, hash: string): Promise<void> {
  const deadline = Date.now() + 2 * LEASE_MS;
  for (;;) {
    const d = await xorbDeletion(db, hash);
    if (!d) return;
    const at = new Date().toISOString();
    if (d.until < at) {
      const claim = crypto.randomBytes(12).toString('base64url');
      if (await takeXorbDeletion(db, hash, claim, leaseEnd(), at)) {
        await store.deleteXorbs([hash]);
        await finishXorbDeletions(db, [hash], claim);
        return;
      }
    }
    if (Date.now() > deadline) throw new Error(`xorb ${hash} is still being removed by a garbage collection`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
