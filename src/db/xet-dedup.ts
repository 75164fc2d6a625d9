import type { Db } from './index.js';

/**
 * The other xorbs the files using `xorb` use, among those `repoId` holds and no garbage
 * collection is removing (at most `limit`, over at most 16 of those files). A dedup answer lists
 * them beside the matched xorb, as the Hub's answer (the shard that registered the chunk) lists
 * every xorb of that upload: a client then dedups a whole file from one query, not one per xorb
 * (only one chunk in 1,024 is one it may ask about).
 */
export async function siblingXorbs(db: Db, xorb: string, repoId: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('xet_file_terms as t')
    .innerJoin('xet_xorbs as x', 'x.hash', 't.xorb_hash')
    .select('t.xorb_hash')
    .distinct()
    .where('t.file_hash', 'in', (eb) => eb.selectFrom('xet_file_terms as u').select('u.file_hash').where('u.xorb_hash', '=', xorb).limit(16))
    .where('t.xorb_hash', '!=', xorb)
    .where('x.deleting', 'is', null)
    .where((eb) => eb.exists(eb.selectFrom('xet_repo_xorbs as r').select('r.repo_id').whereRef('r.xorb_hash', '=', 't.xorb_hash').where('r.repo_id', '=', repoId)))
    .limit(limit)
    .execute();
  return rows.map((r) => r.xorb_hash);
}
