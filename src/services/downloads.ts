import type { Db } from '../db/index.js';
import { linkedObject } from '../db/lfs.js';

/**
 * An LFS object linked to the repo, or undefined: a repo downloads only objects linked to it
 * (design §5). `inStore` false: its bytes are only in Xet storage (uploaded through Xet), and
 * reads stream its reconstruction (src/services/lfs-xet-reads.ts).
 */
export async function linkedLfsObject(db: Db, repoId: number, oid: string): Promise<{ size: number; inStore: boolean } | undefined> {
  return linkedObject(db, repoId, oid);
}
