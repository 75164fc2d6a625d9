import type { LocksPort } from '../../lfs/ports.js';
import type { Db } from '../db/index.js';
import { createLock, deleteLock, findLock, listLocks } from '../db/locks.js';

/** The LFS file locks (lfs/ports.ts LocksPort), kept in the database. */
export function lfsLocks(db: Db): LocksPort {
  return {
    create: (l) => createLock(db, l),
    find: (repoId, id) => findLock(db, repoId, id),
    list: (repoId, q) => listLocks(db, repoId, q),
    delete: (repoId, id) => deleteLock(db, repoId, id),
  };
}
