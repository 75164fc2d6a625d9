import { sql } from 'kysely';
import { type Db, isPostgres, now } from './index.js';
import type { FileTermRow } from './xet.js';

// Garbage collection of xorbs (src/services/xet-gc.ts), and the registrations of a shard upload
// that must not race it. The rules that make the two safe together:
// - A shard registers a file in one transaction that first holds every xorb its terms use: an
//   UPDATE of each xorb row (in hash order) that only matches a row no collection has claimed.
//   A xorb missing or claimed there means "upload it again"; a held xorb cannot be claimed until
//   the registration commits, and then its terms are there for the claim's check to see.
// - A collection claims xorbs with one conditional UPDATE (past its grace, no file term uses it,
//   not claimed by a live collection); on PostgreSQL it first locks the rows (SELECT ... FOR
//   UPDATE, hash order), so the check runs on a snapshot taken after any registration holding
//   them committed. SQLite runs one writer at a time, so each statement sees the last commit.
// - A claimed xorb is neither reused (dedup, shard checks) nor stored again until its collection
//   is over: its bytes go first, then its row (whose dedup chunks and repo links go with it).
// - Files registered for no repo (their repos were deleted) go first, with their terms; a
//   registration of the same file waits for the file's row (locked) and then inserts it anew.

const BATCH = 1000;

/** Marks the unclaimed xorbs among `hashes` as used now; those that were (the others are missing or being removed). */
export async function touchXorbs(db: Db, hashes: readonly string[]): Promise<Set<string>> {
  const unique = [...new Set(hashes)];
  const touched = new Set<string>();
  for (let i = 0; i < unique.length; i += BATCH) {
    const rows = await db.updateTable('xet_xorbs').set({ used_at: now() }).where('hash', 'in', unique.slice(i, i + BATCH)).where('deleting', 'is', null).returning('hash').execute();
    for (const r of rows) touched.add(r.hash);
  }
  return touched;
}

/** Holds the xorbs for the rest of the transaction (row locks, in hash order); the missing or claimed ones. */
export async function holdXorbs(tx: Db, hashes: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  const at = now();
  for (const hash of [...new Set(hashes)].sort()) {
    const res = await tx.updateTable('xet_xorbs').set({ used_at: at }).where('hash', '=', hash).where('deleting', 'is', null).executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) missing.push(hash);
  }
  return missing;
}

/**
 * Records that the repo holds these xorbs (it uploaded them or proved it has their chunks), once
 * each is held; nothing when one is missing or claimed by a collection (returned).
 */
export async function registerRepoXorbs(db: Db, repoId: number, hashes: readonly string[]): Promise<string[]> {
  if (hashes.length === 0) return [];
  return db.transaction().execute(async (tx) => {
    const missing = await holdXorbs(tx, hashes);
    if (missing.length > 0) return missing;
    const at = now();
    const unique = [...new Set(hashes)];
    for (let i = 0; i < unique.length; i += BATCH) {
      await tx.insertInto('xet_repo_xorbs')
        .values(unique.slice(i, i + BATCH).map((h) => ({ repo_id: repoId, xorb_hash: h, created_at: at })))
        .onConflict((oc) => oc.columns(['repo_id', 'xorb_hash']).doNothing())
        .execute();
    }
    return [];
  });
}

/**
 * Inserts a file whose sha256 was checked, with its terms, inside a transaction holding its xorbs
 * (holdXorbs). DO UPDATE (not DO NOTHING) locks an existing row: a collection removing it waits,
 * or has removed it and the row is inserted anew.
 */
export async function insertVerifiedFile(tx: Db, f: { hash: string; size: number; sha256: string; terms: readonly FileTermRow[] }, at: string): Promise<void> {
  await tx.insertInto('xet_files')
    .values({ file_hash: f.hash, size: f.size, sha256: f.sha256, sha256_verified_at: at, created_at: at })
    .onConflict((oc) => oc.column('file_hash').doUpdateSet({ sha256_verified_at: sql`coalesce(xet_files.sha256_verified_at, excluded.sha256_verified_at)` }))
    .execute();
  // At most ~1,300 terms a file per 64 MiB shard: inserted in slices well within SQLite's variable limit.
  for (let i = 0; i < f.terms.length; i += BATCH) {
    await tx.insertInto('xet_file_terms')
      .values(f.terms.slice(i, i + BATCH).map((t, j) => ({ file_hash: f.hash, term_index: i + j, xorb_hash: t.xorb, chunk_start: t.start, chunk_end: t.end, size: t.size })))
      .onConflict((oc) => oc.columns(['file_hash', 'term_index']).doNothing())
      .execute();
  }
}

/**
 * Registers a file whose sha256 was checked for the repo, in one transaction: its xorbs held,
 * its row (inserted, or locked when it exists), its terms, the repo's link, and its first chunk
 * in the dedup index. Nothing when one of its xorbs is missing or claimed by a collection: those
 * are returned, and the client must upload them again.
 */
export async function registerFile(
  db: Db, repoId: number, f: { hash: string; size: number; sha256: string; terms: FileTermRow[] }, firstChunk?: { chunkHash: string; xorb: string; index: number },
): Promise<string[]> {
  return db.transaction().execute(async (tx) => {
    const missing = await holdXorbs(tx, f.terms.map((t) => t.xorb));
    if (missing.length > 0) return missing;
    const at = now();
    await insertVerifiedFile(tx, f, at);
    await tx.insertInto('xet_repo_files')
      .values({ repo_id: repoId, file_hash: f.hash, created_at: at })
      .onConflict((oc) => oc.columns(['repo_id', 'file_hash']).doNothing())
      .execute();
    if (firstChunk) {
      await tx.insertInto('xet_dedup_chunks')
        .values({ chunk_hash: firstChunk.chunkHash, xorb_hash: firstChunk.xorb, chunk_index: firstChunk.index })
        .onConflict((oc) => oc.columns(['chunk_hash', 'xorb_hash']).doNothing())
        .execute();
    }
    return [];
  });
}

/**
 * Files registered for no repo, whose sha256 is no LFS object uploaded through Xet (in_store 0:
 * its reads come from the file's xorbs until LFS garbage collection removes the object).
 */
const unregistered = (files: string) => sql<boolean>`NOT EXISTS (SELECT 1 FROM xet_repo_files rf WHERE rf.file_hash = ${sql.ref(`${files}.file_hash`)})
  AND NOT EXISTS (SELECT 1 FROM lfs_objects o WHERE o.oid = ${sql.ref(`${files}.sha256`)} AND o.in_store = 0)`;

/** Up to `limit` files registered for no repo, with their sizes. */
export async function unregisteredFiles(db: Db, limit = BATCH): Promise<{ hash: string; size: number }[]> {
  const rows = await db.selectFrom('xet_files as f').select(['f.file_hash', 'f.size'])
    .where(unregistered('f'))
    .orderBy('f.file_hash').limit(limit).execute();
  return rows.map((r) => ({ hash: r.file_hash, size: Number(r.size) }));
}

export async function countUnregisteredFiles(db: Db, goneObjects: readonly string[] = []): Promise<number> {
  const row = await db.selectFrom('xet_files as f').select((eb) => eb.fn.countAll<number>().as('n'))
    .where(unregistered('f'))
    .executeTakeFirstOrThrow();
  let n = Number(row.n);
  // A dry run: the files kept only by objects uploaded through Xet that this run's LFS part would remove.
  for (let i = 0; i < goneObjects.length; i += 500) {
    const more = await db.selectFrom('xet_files as f').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('f.sha256', 'in', goneObjects.slice(i, i + 500))
      .where(sql<boolean>`NOT EXISTS (SELECT 1 FROM xet_repo_files rf WHERE rf.file_hash = f.file_hash)
        AND EXISTS (SELECT 1 FROM lfs_objects o WHERE o.oid = f.sha256 AND o.in_store = 0)`)
      .executeTakeFirstOrThrow();
    n += Number(more.n);
  }
  return n;
}

/** Removes those of `hashes` still registered for no repo, with their terms; how many went. */
export async function removeUnregisteredFiles(db: Db, hashes: readonly string[]): Promise<number> {
  if (hashes.length === 0) return 0;
  const remove = async (q: Db) => {
    const res = await q.deleteFrom('xet_files').where('file_hash', 'in', [...hashes])
      .where(unregistered('xet_files'))
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  };
  if (!isPostgres(db)) return remove(db);
  return db.transaction().execute(async (tx) => {
    // Waits for registrations holding these rows; the DELETE's snapshot then sees their links.
    await tx.selectFrom('xet_files').select('file_hash').where('file_hash', 'in', [...hashes]).orderBy('file_hash').forUpdate().execute();
    return remove(tx);
  });
}

export interface XorbCandidate {
  hash: string;
  storedSize: number;
}

/**
 * Xorbs no file registered for a repo uses, last used before `cutoff`, not being removed by a
 * live collection; in hash order after `after`, at most `limit`.
 */
export async function xorbCandidates(db: Db, cutoff: string, after: string, limit = BATCH): Promise<XorbCandidate[]> {
  const rows = await db.selectFrom('xet_xorbs as x').select(['x.hash', 'x.stored_size'])
    .where('x.hash', '>', after)
    .where(sql<boolean>`coalesce(x.used_at, x.created_at) < ${cutoff}`)
    .where((eb) => eb.or([eb('x.deleting', 'is', null), eb('x.deleting_until', '<', now())]))
    .where(({ not, exists, selectFrom }) => not(exists(
      selectFrom('xet_file_terms as t').innerJoin('xet_repo_files as rf', 'rf.file_hash', 't.file_hash').select('t.term_index').whereRef('t.xorb_hash', '=', 'x.hash'),
    )))
    .orderBy('x.hash').limit(limit).execute();
  return rows.map((r) => ({ hash: r.hash, storedSize: Number(r.stored_size) }));
}

/** Claims those of `hashes` that are still candidates (no file term at all uses them); the claimed ones. */
export async function claimXorbs(db: Db, hashes: readonly string[], claim: string, until: string, cutoff: string): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const take = async (q: Db) => {
    const rows = await q.updateTable('xet_xorbs').set({ deleting: claim, deleting_until: until })
      .where('hash', 'in', [...hashes])
      .where(sql<boolean>`coalesce(used_at, created_at) < ${cutoff}`)
      .where((eb) => eb.or([eb('deleting', 'is', null), eb('deleting_until', '<', now())]))
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('xet_file_terms as t').select('t.term_index').whereRef('t.xorb_hash', '=', 'xet_xorbs.hash'))))
      .returning('hash').execute();
    return new Set(rows.map((r) => r.hash));
  };
  if (!isPostgres(db)) return take(db);
  return db.transaction().execute(async (tx) => {
    // Waits for registrations holding these xorbs; the UPDATE's snapshot then sees their terms.
    await tx.selectFrom('xet_xorbs').select('hash').where('hash', 'in', [...hashes]).orderBy('hash').forUpdate().execute();
    return take(tx);
  });
}

/** Extends the claim on those of `hashes` this collection still holds; those. */
export async function renewXorbClaims(db: Db, hashes: readonly string[], claim: string, until: string): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const rows = await db.updateTable('xet_xorbs').set({ deleting_until: until }).where('hash', 'in', [...hashes]).where('deleting', '=', claim).returning('hash').execute();
  return new Set(rows.map((r) => r.hash));
}

/** Removes the rows of claimed xorbs whose bytes are gone (their dedup chunks and repo links go with them). */
export async function finishXorbDeletions(db: Db, hashes: readonly string[], claim: string): Promise<number> {
  if (hashes.length === 0) return 0;
  const res = await db.deleteFrom('xet_xorbs').where('hash', 'in', [...hashes]).where('deleting', '=', claim).executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Gives claims back (the bytes could not be removed): the xorbs are candidates again. */
export async function releaseXorbClaims(db: Db, hashes: readonly string[], claim: string): Promise<void> {
  if (hashes.length === 0) return;
  await db.updateTable('xet_xorbs').set({ deleting: null, deleting_until: null }).where('hash', 'in', [...hashes]).where('deleting', '=', claim).execute();
}

/** The collection in progress of a xorb, if any. */
export async function xorbDeletion(db: Db, hash: string): Promise<{ claim: string; until: string } | undefined> {
  const row = await db.selectFrom('xet_xorbs').select(['deleting', 'deleting_until']).where('hash', '=', hash).where('deleting', 'is not', null).executeTakeFirst();
  return row ? { claim: row.deleting!, until: row.deleting_until ?? '' } : undefined;
}

/** Takes over a collection of a xorb whose claim lapsed before `at` (its collector died); false when someone holds it. */
export async function takeXorbDeletion(db: Db, hash: string, claim: string, until: string, at: string): Promise<boolean> {
  const res = await db.updateTable('xet_xorbs').set({ deleting: claim, deleting_until: until })
    .where('hash', '=', hash).where('deleting', 'is not', null).where('deleting_until', '<', at).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
