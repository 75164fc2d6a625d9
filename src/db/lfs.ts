import { type Db, now } from './index.js';

/** Records that the store holds `oid` with its bytes confirmed, and links it to the repo, in one transaction. */
export async function linkObject(db: Db, repoId: number, oid: string, size: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('lfs_objects').values({ oid, size, created_at: now() }).onConflict((oc) => oc.column('oid').doNothing()).execute();
    await tx.insertInto('lfs_links').values({ repo_id: repoId, oid, created_at: now() }).onConflict((oc) => oc.columns(['repo_id', 'oid']).doNothing()).execute();
  });
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
}

/** Records new uploads, many rows per statement (a batch may open up to 1,000). */
export async function insertUploads(db: Db, uploads: Omit<UploadRow, 'state'>[]): Promise<void> {
  const at = now();
  for (let i = 0; i < uploads.length; i += 500) {
    await db
      .insertInto('lfs_uploads')
      .values(
        uploads.slice(i, i + 500).map((u) => ({
          id: u.id, repo_id: u.repoId, oid: u.oid, size: u.size, kind: u.kind, store_upload_id: u.storeUploadId,
          chunk_size: u.chunkSize, state: 'open' as const, created_at: at, expires_at: u.expiresAt,
        })),
      )
      .execute();
  }
}

function toUpload(r: {
  id: string; repo_id: number; oid: string; size: number; kind: 'basic' | 'multipart'; store_upload_id: string | null;
  chunk_size: number | null; state: UploadRow['state']; expires_at: string;
}): UploadRow {
  return { id: r.id, repoId: r.repo_id, oid: r.oid, size: r.size, kind: r.kind, storeUploadId: r.store_upload_id, chunkSize: r.chunk_size, state: r.state, expiresAt: r.expires_at };
}

export async function findUpload(db: Db, id: string): Promise<UploadRow | undefined> {
  const row = await db.selectFrom('lfs_uploads').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toUpload(row);
}

/** Moves an upload from one state to another; false when it was not in `from` (someone else got there first). */
export async function moveUpload(db: Db, id: string, from: UploadRow['state'], to: UploadRow['state']): Promise<boolean> {
  const res = await db.updateTable('lfs_uploads').set({ state: to }).where('id', '=', id).where('state', '=', from).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function expiredOpenUploads(db: Db, at: string): Promise<UploadRow[]> {
  const rows = await db.selectFrom('lfs_uploads').selectAll().where('state', '=', 'open').where('expires_at', '<', at).execute();
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
