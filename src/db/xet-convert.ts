import { type ExpressionBuilder, sql } from 'kysely';
import { type Db, now } from './index.js';
import type { Database } from './schema.js';
import { holdXorbs, insertVerifiedFile } from './xet-gc.js';

// The queue of LFS objects to store as Xet files too (src/services/xet-convert.ts), and what a
// conversion records. Every change of a queued row is a compare-and-set on its claim, so the
// database, never a process's memory, decides who converts an object: a claim is a lease
// (claimed_until) its holder renews; once it lapses (the holder died) any process takes it.

export interface Conversion {
  oid: string;
  size: number;
  /** When it was queued: finishing checks it did not change meanwhile (a new link queues again). */
  queuedAt: string;
  attempts: number;
}

/**
 * Queues the objects (again, when one failed before: a new link means its bytes were checked
 * again). A row being converted is marked queued anew, so a link made during the conversion
 * is not missed. One statement per 500 objects.
 */
export async function enqueueConversions(db: Db, objects: readonly { oid: string; size: number }[]): Promise<void> {
  const at = now();
  for (let i = 0; i < objects.length; i += 500) {
    await db.insertInto('xet_conversions')
      .values(objects.slice(i, i + 500).map((o) => ({ oid: o.oid, size: o.size, state: 'queued' as const, queued_at: at, attempts: 0 })))
      .onConflict((oc) => oc.column('oid').doUpdateSet({ state: 'queued', queued_at: at, error: null, attempts: sql`case when xet_conversions.state = 'failed' then 0 else xet_conversions.attempts end` }))
      .execute();
  }
}

/**
 * Claims the oldest queued object nobody holds (no claim, or one lapsed before `at`) for
 * `claim` until `until`, counting the attempt; undefined when there is none to take.
 */
export async function claimConversion(db: Db, claim: string, at: string, until: string): Promise<Conversion | undefined> {
  const free = (eb: ExpressionBuilder<Database, 'xet_conversions'>) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', at)]);
  const candidates = await db.selectFrom('xet_conversions').select(['oid']).where('state', '=', 'queued').where(free).orderBy('queued_at').limit(5).execute();
  for (const c of candidates) {
    const r = await db.updateTable('xet_conversions')
      .set({ claim, claimed_at: at, claimed_until: until, attempts: sql`attempts + 1` })
      .where('oid', '=', c.oid).where('state', '=', 'queued').where(free)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) continue; // another process took it first
    const row = await db.selectFrom('xet_conversions').select(['oid', 'size', 'queued_at', 'attempts']).where('oid', '=', c.oid).where('claim', '=', claim).executeTakeFirst();
    if (row) return { oid: row.oid, size: Number(row.size), queuedAt: row.queued_at, attempts: row.attempts };
  }
  return undefined;
}

/** Extends a claim still held; false when it was lost. */
export async function renewConversion(db: Db, oid: string, claim: string, until: string): Promise<boolean> {
  const r = await db.updateTable('xet_conversions').set({ claimed_until: until }).where('oid', '=', oid).where('claim', '=', claim).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Ends a conversion held by `claim`: the row goes, unless the object was queued again meanwhile
 * (then the claim is given back and the object is looked at once more). False when the claim was lost.
 */
export async function finishConversion(db: Db, c: Conversion, claim: string): Promise<boolean> {
  const r = await db.deleteFrom('xet_conversions').where('oid', '=', c.oid).where('claim', '=', claim).where('queued_at', '=', c.queuedAt).executeTakeFirst();
  if (Number(r.numDeletedRows) === 1) return true;
  const again = await db.updateTable('xet_conversions').set({ claim: null, claimed_at: null, claimed_until: null, attempts: 0 }).where('oid', '=', c.oid).where('claim', '=', claim).executeTakeFirst();
  return Number(again.numUpdatedRows) === 1;
}

/** Records a failed attempt: queued again not before `retryAt`, or failed for good (`retryAt` null). */
export async function failConversion(db: Db, oid: string, claim: string, error: string, retryAt: string | null): Promise<void> {
  await db.updateTable('xet_conversions')
    .set(retryAt === null
      ? { state: 'failed', error: error.slice(0, 1000), claim: null, claimed_at: null, claimed_until: null }
      : { error: error.slice(0, 1000), claim: null, claimed_at: null, claimed_until: retryAt })
    .where('oid', '=', oid).where('claim', '=', claim)
    .execute();
}

/** Queues again every object that failed for good (after a setting changed, or the store was repaired); how many. */
export async function requeueFailedConversions(db: Db): Promise<number> {
  const r = await db.updateTable('xet_conversions').set({ state: 'queued', attempts: 0, error: null, queued_at: now(), claimed_until: null })
    .where('state', '=', 'failed').executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Gives back claims taken before `before` (a start with no other process at work: their holders died). */
export async function releaseConversionsClaimedBefore(db: Db, before: string): Promise<number> {
  const r = await db.updateTable('xet_conversions').set({ claim: null, claimed_at: null, claimed_until: null })
    .where('claim', 'is not', null).where('claimed_at', '<', before).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/**
 * Up to `limit` linked LFS objects (not empty) after oid `after`, in oid order, some linking repo
 * cannot read through Xet yet (no verified Xet file of that sha256 registered for it) and not
 * queued or failed: what to queue.
 */
export async function unconvertedObjects(db: Db, after: string, limit: number): Promise<{ oid: string; size: number }[]> {
  const rows = await sql<{ oid: string; size: number }>`
    SELECT o.oid, o.size FROM lfs_objects o
    WHERE o.oid > ${after} AND o.size > 0
      AND NOT EXISTS (SELECT 1 FROM xet_conversions c WHERE c.oid = o.oid)
      AND EXISTS (
        SELECT 1 FROM lfs_links l WHERE l.oid = o.oid
          AND NOT EXISTS (
            SELECT 1 FROM xet_repo_files rf INNER JOIN xet_files f ON f.file_hash = rf.file_hash
            WHERE rf.repo_id = l.repo_id AND f.sha256 = o.oid AND f.sha256_verified_at IS NOT NULL))
    ORDER BY o.oid
    LIMIT ${limit}`.execute(db);
  return rows.rows.map((r) => ({ oid: r.oid, size: Number(r.size) }));
}

/** The repos that link the object. */
export async function reposLinking(db: Db, oid: string): Promise<number[]> {
  const rows = await db.selectFrom('lfs_links').select('repo_id').where('oid', '=', oid).execute();
  return rows.map((r) => r.repo_id);
}

/** A verified Xet file of these bytes, if one is registered (uploaded through Xet, or converted before). */
export async function verifiedFileOfSha256(db: Db, sha256: string): Promise<string | undefined> {
  const row = await db.selectFrom('xet_files').select('file_hash').where('sha256', '=', sha256).where('sha256_verified_at', 'is not', null).orderBy('created_at').limit(1).executeTakeFirst();
  return row?.file_hash;
}

/** Whether every one of the repos holds the xorb (uploaded it, or proved it has its chunks). */
export async function xorbHeldByAll(db: Db, xorb: string, repoIds: readonly number[]): Promise<boolean> {
  if (repoIds.length === 0) return false;
  const row = await db.selectFrom('xet_repo_xorbs').select((eb) => eb.fn.countAll<number>().as('n')).where('xorb_hash', '=', xorb).where('repo_id', 'in', [...new Set(repoIds)]).executeTakeFirstOrThrow();
  return Number(row.n) === new Set(repoIds).size;
}

/** Lets the repos reconstruct the file. */
export async function linkRepoFiles(db: Db, fileHash: string, repoIds: readonly number[]): Promise<void> {
  if (repoIds.length === 0) return;
  const at = now();
  await db.insertInto('xet_repo_files')
    .values(repoIds.map((r) => ({ repo_id: r, file_hash: fileHash, created_at: at })))
    .onConflict((oc) => oc.columns(['repo_id', 'file_hash']).doNothing())
    .execute();
}

/** Records a xorb the server made (no repo owns it until its file is registered), with the chunks dedup queries may ask about. */
export async function recordServerXorb(db: Db, x: { hash: string; storedSize: number; size: number; chunks: Buffer; chunkCount: number }, dedup: { chunkHash: string; index: number }[]): Promise<boolean> {
  const r = await db.insertInto('xet_xorbs')
    .values({ hash: x.hash, stored_size: x.storedSize, size: x.size, chunk_count: x.chunkCount, chunks: x.chunks, created_at: now() })
    .onConflict((oc) => oc.column('hash').doNothing())
    .executeTakeFirst();
  if (dedup.length > 0) {
    await db.insertInto('xet_dedup_chunks')
      .values(dedup.map((d) => ({ chunk_hash: d.chunkHash, xorb_hash: x.hash, chunk_index: d.index })))
      .onConflict((oc) => oc.columns(['chunk_hash', 'xorb_hash']).doNothing())
      .execute();
  }
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/**
 * Registers a converted file, its sha256 already checked (the converter hashed the bytes it
 * chunked), for the repos that link its object, which also hold the xorbs made for it (`built`:
 * they hold only this file's chunks; xorbs its terms reuse through dedup stay with their
 * holders). One transaction that first holds every xorb the terms use, as a shard's registration
 * does (src/db/xet-gc.ts), so a garbage collection never removes a xorb the file then names:
 * nothing is registered when one is missing or being removed (returned; the conversion is tried
 * again and makes it anew).
 */
export async function registerConvertedFile(
  db: Db, f: { hash: string; size: number; sha256: string; terms: { xorb: string; start: number; end: number; size: number }[] }, built: readonly string[], repoIds: readonly number[],
): Promise<string[]> {
  return db.transaction().execute(async (tx) => {
    const missing = await holdXorbs(tx, f.terms.map((t) => t.xorb));
    if (missing.length > 0) return missing;
    const at = now();
    await insertVerifiedFile(tx, f, at);
    const xorbs = [...new Set(built)];
    for (const repoId of xorbs.length > 0 ? repoIds : []) {
      await tx.insertInto('xet_repo_xorbs')
        .values(xorbs.map((x) => ({ repo_id: repoId, xorb_hash: x, created_at: at })))
        .onConflict((oc) => oc.columns(['repo_id', 'xorb_hash']).doNothing())
        .execute();
    }
    await linkRepoFiles(tx, f.hash, repoIds);
    return [];
  });
}

export interface ConversionQueueState {
  queued: number;
  converting: number;
  failed: { oid: string; size: number; error: string | null }[];
}

/** What is queued, being converted now, and failed for good (the first 100), for operators. */
export async function conversionQueueState(db: Db): Promise<ConversionQueueState> {
  const at = now();
  const counts = await db.selectFrom('xet_conversions')
    .select((eb) => [
      eb.fn.countAll<number>().as('queued'),
      eb.fn.sum<number>(eb.case().when('claimed_until', '>=', at).then(1).else(0).end()).as('converting'),
    ])
    .where('state', '=', 'queued')
    .executeTakeFirstOrThrow();
  const failed = await db.selectFrom('xet_conversions').select(['oid', 'size', 'error']).where('state', '=', 'failed').orderBy('oid').limit(100).execute();
  return { queued: Number(counts.queued), converting: Number(counts.converting ?? 0), failed: failed.map((f) => ({ oid: f.oid, size: Number(f.size), error: f.error })) };
}

/** The Xet file hash of each of `oids` the repo can read through Xet (verified, registered for it): one query. */
export async function xetHashesOfOids(db: Db, repoId: number, oids: readonly string[]): Promise<Map<string, string>> {
  if (oids.length === 0) return new Map();
  const rows = await db
    .selectFrom('xet_repo_files as rf')
    .innerJoin('xet_files as f', 'f.file_hash', 'rf.file_hash')
    .select(['f.sha256', 'f.file_hash', 'f.created_at'])
    .where('rf.repo_id', '=', repoId)
    .where('f.sha256', 'in', [...new Set(oids)])
    .where('f.sha256_verified_at', 'is not', null)
    .orderBy('f.created_at')
    .execute();
  // The newest of several (clients may chunk the same bytes differently), as resolve advertises.
  return new Map(rows.map((r) => [r.sha256, r.file_hash]));
}
