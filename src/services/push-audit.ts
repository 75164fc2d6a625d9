import { type DbLocation, openDb } from '../db/index.js';
import type { RepoRef } from '../domain/names.js';
import { recordAudit } from './audit.js';

// What the post-receive hook (hooks/push-audit.ts) asks of the database: it runs after a push has
// moved its refs, while the server has the database open (WAL lets both write).

export interface RefUpdate {
  ref: string;
  old: string;
  new: string;
}

/**
 * Records one `push` entry per ref the push moved, all or none, naming the pusher. The push has
 * happened whatever this does: a failure is returned for the hook to report, never thrown.
 */
export async function recordPush(where: DbLocation, repo: RepoRef, user: string | null, updates: RefUpdate[]): Promise<Error | undefined> {
  try {
    const db = await openDb(where, { poolSize: 1 });
    try {
      await db.transaction().execute(async (trx) => {
        const at = new Date();
        for (const u of updates) await recordAudit(trx, { actor: user, action: 'push', repo, details: { ref: u.ref, old: u.old, new: u.new } }, at);
      });
    } finally {
      await db.destroy();
    }
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
