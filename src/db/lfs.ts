import { sql } from 'kysely';
import { type Db, now, rawQuery, readRows } from './index.js';

/**
 * Records that the store holds `oid` with its bytes confirmed, then links it to the repo. Two
 * idempotent statements rather than a transaction: SQLite rolls a transaction back by itself
 * when the disk is full, and the ROLLBACK that follows then fails with "no transaction is
 * active", hiding SQLITE_FULL. An object recorded but not linked (a crash in between) is
 * harmless: linking it again is what a retry does.
 */
export async function linkObject(db: Db, repoId: number, oid: string, size: number): Promise<void> {
  // An object known only through Xet until now has its bytes in the store from here on.
  await db.insertInto('lfs_objects').values({ oid, size, created_at: now() })
    .onConflict((oc) => oc.column('oid').doUpdateSet({ in_store: 1 }).where('lfs_objects.in_store', '=', 0))
    .execute();
  await db.insertInto('lfs_links').values({ repo_id: repoId, oid, created_at: now() }).onConflict((oc) => oc.columns(['repo_id', 'oid']).doNothing()).execute();
}

/**
 * Links to the repo an object whose bytes were uploaded through Xet and checked against the oid
 * (src/services/xet.ts): recorded without bytes in the store (in_store 0) unless the store holds
 * them for another repo's link. An object no repo links may be in the hands of a garbage
 * collection removing its bytes (src/services/lfs-gc.ts): it is marked as not in the store before
 * the link is written, so its reads go to the xorbs whether or not the collection took the bytes.
 */
export async function linkXetObject(db: Db, repoId: number, oid: string, size: number): Promise<void> {
  await db.insertInto('lfs_objects').values({ oid, size, created_at: now(), in_store: 0 }).onConflict((oc) => oc.column('oid').doNothing()).execute();
  await sql`UPDATE lfs_objects SET in_store = 0
    WHERE oid = ${oid} AND in_store = 1 AND NOT EXISTS (SELECT 1 FROM lfs_links WHERE lfs_links.oid = ${oid})`.execute(db);
  await db.insertInto('lfs_links').values({ repo_id: repoId, oid, created_at: now() }).onConflict((oc) => oc.columns(['repo_id', 'oid']).doNothing()).execute();
}

/** Those of `oids` linked to the repo whose bytes are only in Xet storage (in_store 0). */
export async function xetOnlyLinked(db: Db, repoId: number, oids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < oids.length; i += 500) {
    const rows = await db
      .selectFrom('lfs_links')
      .innerJoin('lfs_objects', 'lfs_objects.oid', 'lfs_links.oid')
      .select('lfs_links.oid')
      .where('lfs_links.repo_id', '=', repoId)
      .where('lfs_links.oid', 'in', oids.slice(i, i + 500))
      .where('lfs_objects.in_store', '=', 0)
      .execute();
    for (const r of rows) found.add(r.oid);
  }
  return found;
}

/** One object's, written out once: the statement of every Git LFS file download (resolve), prepared once and reused. */
const LINKED_SIZE = 'SELECT lfs_objects.size AS size, lfs_objects.in_store AS in_store FROM lfs_links INNER JOIN lfs_objects ON lfs_objects.oid = lfs_links.oid WHERE lfs_links.repo_id = ? AND lfs_links.oid = ?';

/** The size of the object when it is linked to the repo, and whether its bytes are in the store (else only in Xet xorbs); undefined otherwise. */
export async function linkedObject(db: Db, repoId: number, oid: string): Promise<{ size: number; inStore: boolean } | undefined> {
  const rows = await readRows<{ size: number; in_store: number }>(db, LINKED_SIZE, [repoId, oid]);
  return rows[0] && { size: Number(rows[0].size), inStore: Number(rows[0].in_store) !== 0 };
}

/** The size of the object when it is linked to the repo; undefined otherwise. */
export async function linkedSize(db: Db, repoId: number, oid: string): Promise<number | undefined> {
  return (await linkedObject(db, repoId, oid))?.size;
}

// With Xet storage on, resolve also asks for the verified Xet file of the object's bytes (the
// newest), which it announces to Xet clients: in the same statement, one query per download.
const LINKED_SIZE_AND_XET_FILE = `SELECT lfs_objects.size AS size, lfs_objects.in_store AS in_store,
    (SELECT f.file_hash FROM xet_repo_files rf JOIN xet_files f ON f.file_hash = rf.file_hash
      WHERE rf.repo_id = lfs_links.repo_id AND f.sha256 = lfs_links.oid AND f.sha256_verified_at IS NOT NULL
      ORDER BY f.created_at DESC LIMIT 1) AS xet_hash
  FROM lfs_links INNER JOIN lfs_objects ON lfs_objects.oid = lfs_links.oid WHERE lfs_links.repo_id = ? AND lfs_links.oid = ?`;

/** As linkedObject, with the hash of the repo's verified Xet file holding the same bytes (null: none). */
export async function linkedObjectAndXetFile(db: Db, repoId: number, oid: string): Promise<{ size: number; inStore: boolean; xetHash: string | null } | undefined> {
  const row = (await readRows<{ size: number; in_store: number; xet_hash: string | null }>(db, LINKED_SIZE_AND_XET_FILE, [repoId, oid]))[0];
  return row && { size: Number(row.size), inStore: Number(row.in_store) !== 0, xetHash: row.xet_hash };
}

/** The sizes of those of `oids` that are linked to the repo. */
export async function linkedSizes(db: Db, repoId: number, oids: string[]): Promise<Map<string, number>> {
  if (oids.length === 0) return new Map();
  const rows = await db
    .selectFrom('lfs_links')
    .innerJoin('lfs_objects', 'lfs_objects.oid', 'lfs_links.oid')
    .select(['lfs_links.oid', 'lfs_objects.size'])
    .where('lfs_links.repo_id', '=', repoId)
    .where('lfs_links.oid', 'in', oids)
    .execute();
  return new Map(rows.map((r) => [r.oid, r.size]));
}

export interface UploadRow {
  id: string;
  repoId: number;
  oid: string;
  size: number;
  kind: 'basic' | 'multipart';
  storeUploadId: string | null;
  chunkSize: number | null;
  state: 'open' | 'hashing' | 'done' | 'failed';
  expiresAt: string;
  /** Until when the process hashing (state 'hashing') or verifying (a basic upload, state 'open') this upload holds it; null: nobody does. */
  claimedUntil?: string | null;
  /** When its bytes were found to match the oid (only the commit and the link are left). */
  hashedAt?: string | null;
}

/**
 * Records new uploads, all in one statement, so all or none are recorded (a batch opens at most
 * 1,000: 9,000 values, within SQLite's 32,766). One statement, not a transaction: see linkObject.
 */
export async function insertUploads(db: Db, uploads: Omit<UploadRow, 'state'>[]): Promise<void> {
  if (uploads.length === 0) return;
  const at = now();
  // Written out rather than built with Kysely, which builds and compiles a node per value (10,000 of them).
  const params: unknown[] = [];
  for (const u of uploads) params.push(u.id, u.repoId, u.oid, u.size, u.kind, u.storeUploadId, u.chunkSize, at, u.expiresAt);
  const values = `(?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)`;
  const text = `INSERT INTO lfs_uploads (id, repo_id, oid, size, kind, store_upload_id, chunk_size, state, created_at, expires_at) VALUES ${Array(uploads.length).fill(values).join(', ')}`;
  await db.executeQuery(rawQuery(db, text, params));
}

/** Records the store's id of a multipart upload, once the store has begun it. */
export async function setStoreUploadId(db: Db, id: string, storeUploadId: string): Promise<void> {
  await db.updateTable('lfs_uploads').set({ store_upload_id: storeUploadId }).where('id', '=', id).execute();
}

function toUpload(r: {
  id: string; repo_id: number; oid: string; size: number; kind: 'basic' | 'multipart'; store_upload_id: string | null;
  chunk_size: number | null; state: UploadRow['state']; expires_at: string; claimed_until: string | null; hashed_at: string | null;
}): UploadRow {
  return {
    id: r.id, repoId: r.repo_id, oid: r.oid, size: r.size, kind: r.kind, storeUploadId: r.store_upload_id, chunkSize: r.chunk_size, state: r.state,
    expiresAt: r.expires_at, claimedUntil: r.claimed_until, hashedAt: r.hashed_at,
  };
}

export async function findUpload(db: Db, id: string): Promise<UploadRow | undefined> {
  const row = await db.selectFrom('lfs_uploads').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toUpload(row);
}

export async function expiredOpenUploads(db: Db, at: string): Promise<UploadRow[]> {
  // An upload being verified right now (a live claim) is left to its verifier.
  const rows = await db
    .selectFrom('lfs_uploads')
    .selectAll()
    .where('state', '=', 'open')
    .where('expires_at', '<', at)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now())]))
    .execute();
  return rows.map(toUpload);
}

export async function deleteUpload(db: Db, id: string): Promise<void> {
  await db.deleteFrom('lfs_uploads').where('id', '=', id).execute();
}

/** The repo's uploads of `oid` not yet confirmed or failed (open, or multipart being hashed), newest first. */
export async function pendingUploads(db: Db, repoId: number, oid: string): Promise<UploadRow[]> {
  const rows = await db
    .selectFrom('lfs_uploads')
    .selectAll()
    .where('repo_id', '=', repoId)
    .where('oid', '=', oid)
    .where('state', 'in', ['open', 'hashing'])
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map(toUpload);
}

// Hashing claims: one process at a time hashes a completed multipart upload, under a lease
// (claim, claimed_until) it renews while it works. Every change is a compare-and-set, so
// several processes sharing the database agree on who holds an upload.

/** Moves an open upload to 'hashing', claimed by `claim` until `until` (replacing the completion's claim); false when it was not open. */
export async function claimForHashing(db: Db, id: string, claim: string, until: string): Promise<boolean> {
  const res = await db
    .updateTable('lfs_uploads')
    .set({ state: 'hashing', claim, claimed_until: until })
    .where('id', '=', id)
    .where('state', '=', 'open')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** The states in which an upload is worked on under a claim: verified or assembled ('open'), hashed ('hashing'). */
export type ClaimedState = 'open' | 'hashing';

/** Claims an upload in `state` that nobody holds (no claim, or one lapsed at `at`); false when someone holds it. */
export async function takeClaim(db: Db, id: string, state: ClaimedState, claim: string, until: string, at: string): Promise<boolean> {
  const res = await db
    .updateTable('lfs_uploads')
    .set({ claim, claimed_until: until })
    .where('id', '=', id)
    .where('state', '=', state)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', at)]))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Changes an upload still in `state` and held by `claim`; false when the claim was lost (taken over, or the upload moved on). */
async function updateHeld(db: Db, id: string, state: ClaimedState, claim: string, set: { claimed_until?: string | null; hashed_at?: string; state?: 'done' | 'failed'; claim?: null }): Promise<boolean> {
  const res = await db.updateTable('lfs_uploads').set(set).where('id', '=', id).where('state', '=', state).where('claim', '=', claim).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Extends a claim still held. */
export function renewClaim(db: Db, id: string, state: ClaimedState, claim: string, until: string): Promise<boolean> {
  return updateHeld(db, id, state, claim, { claimed_until: until });
}

/** Records, by the holder of the claim, that the upload's bytes were checked against its oid. */
export function markHashed(db: Db, id: string, state: ClaimedState, claim: string): Promise<boolean> {
  return updateHeld(db, id, state, claim, { hashed_at: now() });
}

/** Ends the work on an upload by the holder of the claim: it is done or failed. */
export function finishClaim(db: Db, id: string, state: ClaimedState, claim: string, to: 'done' | 'failed'): Promise<boolean> {
  return updateHeld(db, id, state, claim, { state: to, claim: null, claimed_until: null });
}

/** Uploads being hashed whose claim has lapsed: their hasher died or gave up. */
export async function lapsedHashingUploads(db: Db, at: string): Promise<UploadRow[]> {
  const rows = await db
    .selectFrom('lfs_uploads')
    .selectAll()
    .where('state', '=', 'hashing')
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', at)]))
    .execute();
  return rows.map(toUpload);
}

/** Those of `ids` that name an upload still in progress (open or hashing): their staged bytes are in use. */
export async function uploadsInProgress(db: Db, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .selectFrom('lfs_uploads')
      .select('id')
      .where('id', 'in', ids.slice(i, i + 500))
      .where('state', 'in', ['open', 'hashing'])
      .execute();
    for (const r of rows) found.add(r.id);
  }
  return found;
}

// Claims on open uploads: one process at a time verifies a basic upload (checks its bytes where
// the store needs it, moves them into place, links the object) or assembles the parts of a
// multipart one. The upload stays 'open' (the state column allows no other value for this) and
// the claim columns say who is at it and until when.

/** Gives a claim back with the upload still open (its bytes are not there yet, or a fault stopped it). */
export async function releaseOpenClaim(db: Db, id: string, claim: string): Promise<void> {
  await db
    .updateTable('lfs_uploads')
    .set({ claim: null, claimed_until: null })
    .where('id', '=', id)
    .where('state', '=', 'open')
    .where('claim', '=', claim)
    .execute();
}

// Garbage collection of objects no repo links (src/services/lfs-gc.ts explains the protocol). A
// collection claims an object in its row (deleting, deleting_until: a lease), removes its bytes,
// then deletes the row; the claim is only taken while nothing links the object and no upload of
// its oid is in progress, and a verifier checks for a claim before it commits bytes to the oid.

/** No link of the object, and no upload of its oid in progress (open or hashing). */
const unused = sql<boolean>`NOT EXISTS (SELECT 1 FROM lfs_links WHERE lfs_links.oid = lfs_objects.oid)
  AND NOT EXISTS (SELECT 1 FROM lfs_uploads WHERE lfs_uploads.oid = lfs_objects.oid AND lfs_uploads.state IN ('open', 'hashing'))`;

export interface GcCandidate {
  oid: string;
  size: number;
  /** When its last link went (or when it was recorded, if it never had one). */
  since: string;
}

/** Objects no repo links and no upload is sending, unlinked before `cutoff`, nobody is collecting; by oid. */
export async function gcCandidates(db: Db, cutoff: string): Promise<GcCandidate[]> {
  const rows = await sql<{ oid: string; size: number; since: string }>`
    SELECT oid, size, coalesce(unlinked_at, created_at) AS since FROM lfs_objects
    WHERE coalesce(unlinked_at, created_at) < ${cutoff}
      AND (deleting IS NULL OR deleting_until < ${now()})
      AND ${unused}
    ORDER BY oid`.execute(db);
  return rows.rows;
}

/** Claims an object for collection if it is (still) a candidate; false when it is not. */
export async function claimDeletion(db: Db, oid: string, claim: string, until: string, cutoff: string): Promise<boolean> {
  const res = await sql`
    UPDATE lfs_objects SET deleting = ${claim}, deleting_until = ${until}
    WHERE oid = ${oid} AND coalesce(unlinked_at, created_at) < ${cutoff}
      AND (deleting IS NULL OR deleting_until < ${now()})
      AND ${unused}`.execute(db);
  return Number(res.numAffectedRows) === 1;
}

/**
 * Records bytes found in the store without a row, claimed for collection at once; false when
 * the oid has a row or an upload of it is in progress (the bytes may be about to be linked).
 */
export async function claimOrphanBytes(db: Db, oid: string, size: number, claim: string, until: string): Promise<boolean> {
  const at = now();
  const res = await sql`
    INSERT INTO lfs_objects (oid, size, created_at, unlinked_at, deleting, deleting_until)
    SELECT ${oid}, ${size}, ${at}, ${at}, ${claim}, ${until}
    WHERE NOT EXISTS (SELECT 1 FROM lfs_uploads WHERE oid = ${oid} AND state IN ('open', 'hashing'))
    ON CONFLICT (oid) DO NOTHING`.execute(db);
  return Number(res.numAffectedRows) === 1;
}

/** Extends a collection's claim while it holds it; false when it was lost (lapsed and taken over). */
export async function renewDeletion(db: Db, oid: string, claim: string, until: string): Promise<boolean> {
  const res = await db.updateTable('lfs_objects').set({ deleting_until: until }).where('oid', '=', oid).where('deleting', '=', claim).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Takes over a collection whose claim lapsed at `at` (its collector died); false when someone holds it. */
export async function takeDeletion(db: Db, oid: string, claim: string, until: string, at: string): Promise<boolean> {
  const res = await db
    .updateTable('lfs_objects')
    .set({ deleting: claim, deleting_until: until })
    .where('oid', '=', oid)
    .where('deleting', 'is not', null)
    .where('deleting_until', '<', at)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** The collection in progress of an object, if any. */
export async function deletionOf(db: Db, oid: string): Promise<{ claim: string; until: string } | undefined> {
  const row = await db.selectFrom('lfs_objects').select(['deleting', 'deleting_until']).where('oid', '=', oid).where('deleting', 'is not', null).executeTakeFirst();
  return row ? { claim: row.deleting!, until: row.deleting_until ?? '' } : undefined;
}

/** Ends a collection whose bytes are gone: the row goes (never one that is linked). */
export async function finishDeletion(db: Db, oid: string, claim: string): Promise<boolean> {
  const res = await db
    .deleteFrom('lfs_objects')
    .where('oid', '=', oid)
    .where('deleting', '=', claim)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('lfs_links').select('lfs_links.oid').whereRef('lfs_links.oid', '=', 'lfs_objects.oid'))))
    .executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

/** Gives a claim back (the bytes could not be removed): the object is a candidate again. */
export async function releaseDeletion(db: Db, oid: string, claim: string): Promise<void> {
  await db.updateTable('lfs_objects').set({ deleting: null, deleting_until: null }).where('oid', '=', oid).where('deleting', '=', claim).execute();
}

/** Those of `oids` that have a row. */
export async function recordedObjects(db: Db, oids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < oids.length; i += 500) {
    const rows = await db.selectFrom('lfs_objects').select('oid').where('oid', 'in', oids.slice(i, i + 500)).execute();
    for (const r of rows) found.add(r.oid);
  }
  return found;
}

/** Removes the rows of uploads that ended (done or failed) and expired before `before`; how many. */
export async function deleteFinishedUploads(db: Db, before: string): Promise<number> {
  const res = await db.deleteFrom('lfs_uploads').where('state', 'in', ['done', 'failed']).where('expires_at', '<', before).executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** How many finished uploads expired before `before` (for a dry run). */
export async function countFinishedUploads(db: Db, before: string): Promise<number> {
  const row = await db.selectFrom('lfs_uploads').select((eb) => eb.fn.countAll<number>().as('n')).where('state', 'in', ['done', 'failed']).where('expires_at', '<', before).executeTakeFirstOrThrow();
  return Number(row.n);
}
