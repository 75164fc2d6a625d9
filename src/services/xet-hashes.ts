import type { Db } from '../db/index.js';
import { xetHashesOfOids } from '../db/xet-convert.js';

/**
 * The Xet hash of each LFS object (by oid) that the repo's Xet clients can read through Xet (a
 * verified Xet file registered for the repo), for tree listings' `xetHash`; one query a page.
 * Empty with Xet storage off: the token routes would not serve them.
 */
export function xetHashesOf(db: Db, xetOn: boolean, repoId: number, oids: readonly string[]): Promise<Map<string, string>> {
  return xetOn ? xetHashesOfOids(db, repoId, oids) : Promise.resolve(new Map());
}
