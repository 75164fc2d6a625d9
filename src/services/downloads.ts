import type { Db } from '../db/index.js';
import { linkedObject as linkedObjectRow, linkedObjectAndXetFile } from '../db/lfs.js';

/**
 * An LFS object linked to the repo, or undefined: a repo downloads only objects linked to it
 * (design §5). `inStore` false: its bytes are only in Xet storage (uploaded through Xet), and
 * reads stream its reconstruction (src/services/lfs-xet-reads.ts). With `xet` (Xet storage on) the hash of the repo's verified Xet file of
 * the same bytes, null when there is none. One query: resolve asks it for every download of an LFS file.
 */
export async function linkedObject(db: Db, repoId: number, oid: string, opts: { xet: boolean }): Promise<{ size: number; inStore: boolean; xetHash: string | null } | undefined> {
  if (opts.xet) return linkedObjectAndXetFile(db, repoId, oid);
  const found = await linkedObjectRow(db, repoId, oid);
  return found && { ...found, xetHash: null };
}
