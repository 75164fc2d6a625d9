import { type DbLocation, openDb } from '../db/index.js';
import { linkedSizes } from '../db/lfs.js';
import { findRepo } from '../db/repos.js';
import type { RepoRef } from '../domain/names.js';

// What the push policy (hooks/policy.ts) asks the database: it runs inside git's pre-receive
// hook while the server has the database open, so it opens it read-only.

/** How many pointers are looked up per query (SQLite bounds the parameters of one statement). */
const CHUNK = 500;

/**
 * The pushed pointers whose objects are not linked to the repo (or are linked with another
 * size, given as `have`); undefined when the repo is not in the database.
 */
export async function unlinkedPointers<P extends { oid: string; size: number }>(
  where: DbLocation,
  ref: RepoRef,
  pointers: P[],
): Promise<(P & { have?: number })[] | undefined> {
  const db = await openDb(where, { readonly: true, poolSize: 1 });
  try {
    const repo = await findRepo(db, ref.type, ref.namespace, ref.name);
    if (!repo) return undefined;
    const missing = [];
    for (let i = 0; i < pointers.length; i += CHUNK) {
      const chunk = pointers.slice(i, i + CHUNK);
      const linked = await linkedSizes(db, repo.id, chunk.map((p) => p.oid));
      for (const p of chunk) {
        const have = linked.get(p.oid);
        if (have !== p.size) missing.push({ ...p, have });
      }
    }
    return missing;
  } finally {
    await db.destroy();
  }
}
