import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { releaseUnfinishedRepos } from '../services/repos.js';
import { type PeriodicJob, startPeriodicJob } from './jobs.js';
import { LEFTOVER_MAX_IDLE_MS, removeLeftovers } from './leftovers.js';
import { othersAtWork } from './presence.js';

// Cleaning up after crashes and expiries: LFS uploads (expired ones aborted, lapsed hashes taken
// up, orphan staging files), temporary files and push quarantines, repos whose creation was cut
// short. At start each `hubgate serve` removes what earlier processes left (older than itself):
// the single process, or with workers the primary before it forks them, never a worker (git's
// push quarantines carry no pid: a worker started later must not take a sibling's live push for
// a leftover). After that the sweep is one job that exactly one of the processes sharing the
// database runs each interval (src/ops/jobs.ts), not one per process or worker.

export interface HousekeepingDeps {
  db: Db;
  dataDir: string;
  log: Logger;
  /** The LFS sweep (lfs/transfers.ts); `atStart`: leftovers older than this process go at once. */
  sweepUploads(opts?: { atStart?: boolean }): Promise<unknown>;
  /** When this process started (ms since the epoch). */
  startedAt: number;
  intervalMs: number;
}

function cleaner(d: Omit<HousekeepingDeps, 'intervalMs'>) {
  const step = (what: string, work: () => Promise<unknown>) =>
    work()
      .then((n) => typeof n === 'number' && n > 0 && d.log.info({ removed: n }, `housekeeping: ${what}`))
      .catch((err) => d.log.warn({ err }, `housekeeping failed: ${what}`));
  const cleanUp = (before: number, atStart: boolean) =>
    Promise.all([
      step('LFS uploads swept', () => d.sweepUploads({ atStart })),
      step('leftovers of interrupted work removed (temporary files, push quarantines)', () => removeLeftovers(d.dataDir, { before, startedAt: d.startedAt })),
      step('repos whose creation was interrupted removed', () => releaseUnfinishedRepos(d.db, d.dataDir, new Date(before))),
    ]);
  return cleanUp;
}

/**
 * The start-up cleanup: what processes before this one left (written before it started); once
 * per `hubgate serve`. While other serving processes are at work on the database (other nodes
 * on the shared data directory, or another on this machine), a file written before this start
 * may be one of theirs in use (git's push quarantines carry no owner; a pid tells only on its own
 * machine): then only what the periodic sweep would remove goes.
 */
export async function cleanUpAtStart(d: Omit<HousekeepingDeps, 'intervalMs'>): Promise<unknown> {
  const busy = await othersAtWork(d.db).catch((err) => {
    d.log.warn({ err }, 'could not tell whether other processes are at work: the start-up cleanup removes only what has been idle for an hour');
    return true;
  });
  if (busy) {
    d.log.info('other hubgate processes are at work on this database: the start-up cleanup removes only what has been idle for an hour');
    return cleaner(d)(Math.min(d.startedAt, Date.now() - LEFTOVER_MAX_IDLE_MS), false);
  }
  return cleaner(d)(d.startedAt, true);
}

/** The periodic sweep, from now on; stop() ends it. */
export function startHousekeeping(d: HousekeepingDeps): PeriodicJob {
  const cleanUp = cleaner(d);
  return startPeriodicJob({
    db: d.db,
    log: d.log,
    name: 'housekeeping',
    intervalMs: d.intervalMs,
    lastRunIfNew: Date.now(),
    // Only what has been idle for an hour: another process may be working on anything newer.
    run: async () => void (await cleanUp(Math.min(d.startedAt, Date.now() - LEFTOVER_MAX_IDLE_MS), false)),
  });
}
