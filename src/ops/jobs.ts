import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { addJob, claimDueJob, finishJob, jobState, renewJobClaim } from '../db/jobs.js';
import type { Db } from '../db/index.js';

// Periodic work that exactly one of the processes sharing the database runs each time. Every
// process polls; the one whose compare-and-set claim succeeds runs the job, renewing its claim
// while it works, and records the run's start as the last run. A process that dies mid-run
// leaves a claim that lapses after at most a lease; then any process (or the restarted one)
// runs the job, so a run is neither doubled nor skipped.

/** The longest a process waits between two looks at the job: a change elsewhere is seen that soon. */
const MAX_POLL_MS = 60_000;

export interface PeriodicJob {
  /** Stops polling; resolves once a run in progress has finished. */
  stop(): Promise<void>;
}

export interface PeriodicJobOptions {
  db: Db;
  log: Logger;
  name: string;
  intervalMs: number;
  /** The last run recorded when the job is new to the database (a full interval before the first run). */
  lastRunIfNew: number;
  /** Called once the job is in the database (or was already). */
  onAdded?: () => void;
  run: () => Promise<void>;
}

export function startPeriodicJob(o: PeriodicJobOptions): PeriodicJob {
  const pollMs = Math.min(o.intervalMs, MAX_POLL_MS);
  // A claim (renewed every third of it) outlives two missed renewals, and lapses within a poll of its holder's death.
  const leaseMs = pollMs;
  const iso = (ms: number) => new Date(ms).toISOString();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let added = false;

  /** Runs the job if it is due and this process wins the claim; returns when to look again. */
  const poll = async (): Promise<number> => {
    if (!added) {
      await addJob(o.db, o.name, iso(o.lastRunIfNew));
      added = true;
      o.onAdded?.();
    }
    const startedAt = Date.now();
    const claim = randomUUID();
    if (await claimDueJob(o.db, o.name, claim, { ranBy: iso(startedAt - o.intervalMs), at: iso(startedAt), until: iso(startedAt + leaseMs) })) {
      const renew = setInterval(() => {
        renewJobClaim(o.db, o.name, claim, iso(Date.now() + leaseMs))
          .then((held) => held || o.log.warn({ job: o.name }, 'a periodic job ran past its claim, which another process may have taken'))
          .catch((err) => o.log.warn({ err, job: o.name }, 'renewing the claim on a periodic job failed'));
      }, leaseMs / 3);
      renew.unref();
      try {
        await o.run();
        o.log.debug({ job: o.name, startedAt, ms: Date.now() - startedAt }, 'periodic job ran');
      } catch (err) {
        o.log.error({ err, job: o.name }, 'a periodic job failed');
      } finally {
        clearInterval(renew);
      }
      // A failed run counts as a run too (as before): what it could not do waits for the next one.
      if (!(await finishJob(o.db, o.name, claim, iso(startedAt)))) o.log.warn({ job: o.name }, 'a periodic job finished after losing its claim');
    }
    const state = await jobState(o.db, o.name);
    if (!state) {
      added = false; // its row was removed: add it again at the next look
      return pollMs;
    }
    const now = Date.now();
    const claimedUntil = state.claimedUntil ? Date.parse(state.claimedUntil) : null;
    // Someone else is running it: look again once their claim would have lapsed.
    if (claimedUntil !== null && claimedUntil >= now) return Math.min(claimedUntil - now + 1, pollMs);
    return Math.min(Math.max(Date.parse(state.lastRunAt) + o.intervalMs - now, 0), pollMs);
  };

  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(tick, delay);
    timer.unref();
  };
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = poll().then(schedule, (err) => {
      o.log.warn({ err, job: o.name }, 'looking at a periodic job failed');
      schedule(pollMs);
    });
  };
  // The first look is at once: a run that fell due while no process was up goes out now.
  tick();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
