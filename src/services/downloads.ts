import type { Db } from '../db/index.js';
import { linkedSize, linkedSizeAndXetFile } from '../db/lfs.js';

/** The size of an LFS object linked to the repo, or undefined: a repo downloads only objects linked to it (design §5). */
export async function linkedObjectSize(db: Db, repoId: number, oid: string): Promise<number | undefined> {
  return linkedSize(db, repoId, oid);
}

/**
 * An LFS object linked to the repo (undefined otherwise): its size and, with `xet` (Xet storage
 * on), the hash of the repo's verified Xet file of the same bytes, null when there is none.
 * One query: resolve asks it for every download of an LFS file.
 */
export async function linkedObject(db: Db, repoId: number, oid: string, opts: { xet: boolean }): Promise<{ size: number; xetHash: string | null } | undefined> {
  if (opts.xet) return linkedSizeAndXetFile(db, repoId, oid);
  const size = await linkedSize(db, repoId, oid);
  return size === undefined ? undefined : { size, xetHash: null };
}
