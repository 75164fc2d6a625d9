import type { Db } from '../db/index.js';
import { linkedSize } from '../db/lfs.js';

/** The size of an LFS object linked to the repo, or undefined: a repo downloads only objects linked to it (design §5). */
export async function linkedObjectSize(db: Db, repoId: number, oid: string): Promise<number | undefined> {
  return linkedSize(db, repoId, oid);
}
