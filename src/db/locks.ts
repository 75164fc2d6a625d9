import { type Db, isUniqueViolation, now } from './index.js';

// Git LFS file locks: at most one per (repo, path). Every lookup is scoped by repo_id, so a lock
// id from another repo is never found through this one.

export interface LfsLock {
  id: number;
  repoId: number;
  path: string;
  ownerId: number;
  ownerName: string;
  /** The ref the lock was taken for (e.g. refs/heads/main), when the client sent one. */
  ref: string | null;
  lockedAt: string;
}

function baseQuery(db: Db) {
  return db
    .selectFrom('lfs_locks')
    .innerJoin('accounts', 'accounts.id', 'lfs_locks.owner_id')
    .select([
      'lfs_locks.id', 'lfs_locks.repo_id', 'lfs_locks.path', 'lfs_locks.owner_id', 'lfs_locks.ref', 'lfs_locks.locked_at',
      'accounts.name as owner_name',
    ]);
}

type Row = Awaited<ReturnType<ReturnType<typeof baseQuery>['executeTakeFirstOrThrow']>>;

function toLock(r: Row): LfsLock {
  return { id: r.id, repoId: r.repo_id, path: r.path, ownerId: r.owner_id, ownerName: r.owner_name, ref: r.ref, lockedAt: r.locked_at };
}

/**
 * Locks `path` in the repo for `ownerId`. When the path is already locked (by anyone), nothing is
 * written and the existing lock comes back with `created: false`.
 */
export async function createLock(
  db: Db,
  l: { repoId: number; path: string; ownerId: number; ref: string | null },
): Promise<{ created: boolean; lock: LfsLock }> {
  // A lock can be removed between our failed insert and the look-up; then simply try again.
  for (let attempt = 0; ; attempt++) {
    try {
      const lock = await db.transaction().execute(async (tx) => {
        const { id } = await tx
          .insertInto('lfs_locks')
          .values({ repo_id: l.repoId, path: l.path, owner_id: l.ownerId, ref: l.ref, locked_at: now() })
          .returning('id')
          .executeTakeFirstOrThrow();
        return toLock(await baseQuery(tx).where('lfs_locks.id', '=', id).executeTakeFirstOrThrow());
      });
      return { created: true, lock };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const existing = await baseQuery(db).where('lfs_locks.repo_id', '=', l.repoId).where('lfs_locks.path', '=', l.path).executeTakeFirst();
      if (existing) return { created: false, lock: toLock(existing) };
      if (attempt >= 3) throw err;
    }
  }
}

/** The lock with this id in this repo; never a lock of another repo. */
export async function findLock(db: Db, repoId: number, id: number): Promise<LfsLock | undefined> {
  const row = await baseQuery(db).where('lfs_locks.repo_id', '=', repoId).where('lfs_locks.id', '=', id).executeTakeFirst();
  return row && toLock(row);
}

export interface LockQuery {
  path?: string;
  id?: number;
  /** Only locks taken on this ref, and locks taken without a ref (the `refspec` filter of the list API). */
  ref?: string;
  /** Continue from this lock id (as returned in `nextCursor`), inclusive. */
  cursor?: number;
  limit: number;
}

/**
 * One page of the repo's locks, newest first (id descending, so the order is stable while locks
 * come and go). `nextCursor` is the id of the first lock of the next page, when there is one.
 */
export async function listLocks(db: Db, repoId: number, q: LockQuery): Promise<{ locks: LfsLock[]; nextCursor?: number }> {
  let query = baseQuery(db).where('lfs_locks.repo_id', '=', repoId);
  if (q.path !== undefined) query = query.where('lfs_locks.path', '=', q.path);
  if (q.id !== undefined) query = query.where('lfs_locks.id', '=', q.id);
  if (q.ref !== undefined) {
    const ref = q.ref;
    query = query.where((eb) => eb.or([eb('lfs_locks.ref', '=', ref), eb('lfs_locks.ref', 'is', null)]));
  }
  if (q.cursor !== undefined) query = query.where('lfs_locks.id', '<=', q.cursor);
  const rows = await query.orderBy('lfs_locks.id', 'desc').limit(q.limit + 1).execute();
  const locks = rows.slice(0, q.limit).map(toLock);
  return rows.length > q.limit ? { locks, nextCursor: rows[q.limit].id } : { locks };
}

/** Deletes the lock with this id in this repo; returns it, or undefined when there was none. */
export async function deleteLock(db: Db, repoId: number, id: number): Promise<LfsLock | undefined> {
  return db.transaction().execute(async (tx) => {
    const row = await baseQuery(tx).where('lfs_locks.repo_id', '=', repoId).where('lfs_locks.id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    await tx.deleteFrom('lfs_locks').where('repo_id', '=', repoId).where('id', '=', id).execute();
    return toLock(row);
  });
}
