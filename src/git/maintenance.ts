import type { Logger } from 'pino';
import { maintenanceLockHeld, maintenanceWanted, takeMaintenanceLock, takeWanted, wantMaintenance } from './maintenance-lock.js';
import { runGit } from './run.js';

export interface Maintenance {
  /** Asks for a repo's packs, bitmaps and commit-graph to be brought up to date, soon, in the background. */
  schedule(repoDir: string): void;
  /** Resolves when no job is running or queued (for shutdown and tests). */
  idle(): Promise<void>;
}

// After a push: roll small packs together geometrically with a multi-pack bitmap, so clones
// reuse packs without recomputing reachability, and refresh the split commit-graph. At most
// one job per repo runs at a time, across processes (maintenance-lock.ts); pushes during a job
// queue exactly one more run, by whichever process holds the lock then.
const STEPS: string[][] = [
  ['repack', '-d', '-q', '--geometric=2', '--write-midx', '--write-bitmap-index'],
  ['commit-graph', 'write', '--reachable', '--split', '--no-progress'],
];

interface Job {
  again: boolean;
  done: Promise<void>;
}

export function createMaintenance(env: NodeJS.ProcessEnv, log: Logger): Maintenance {
  const running = new Map<string, Job>();

  async function runSteps(dir: string): Promise<void> {
    const started = Date.now();
    try {
      for (const step of STEPS) await runGit(step, { env, cwd: dir });
      log.debug({ dir, ms: Date.now() - started }, 'repository maintenance done');
    } catch (err) {
      log.warn({ dir, err: (err as Error).message }, 'repository maintenance failed');
    }
  }

  /** Runs until no push (of this process or, through the wanted file, another) came during a run. */
  async function runWhileHeld(dir: string, job: Job): Promise<void> {
    do {
      job.again = false;
      await takeWanted(dir); // this run covers every push made so far
      await runSteps(dir);
    } while (job.again || (await maintenanceWanted(dir)));
  }

  async function runJobs(dir: string): Promise<void> {
    const job = running.get(dir)!;
    try {
      for (;;) {
        job.again = false;
        const lock = await takeMaintenanceLock(dir);
        if (!lock) {
          await wantMaintenance(dir);
          // The holder may have let go meanwhile, after looking for requests; or another push
          // came here while the request was being written (the holder may have begun its run
          // before that push): try again then; otherwise the holder runs once more for us.
          // (job.again is read after the last await: a push noted during it is not lost.)
          const held = await maintenanceLockHeld(dir);
          if (job.again || !held) continue;
          break;
        }
        try {
          await runWhileHeld(dir, job);
        } finally {
          await lock.release();
        }
        // Asked for, here or elsewhere, while the run ended or the lock was let go: once more.
        const wanted = await maintenanceWanted(dir);
        if (!wanted && !job.again) break;
      }
    } catch (err) {
      log.warn({ dir, err: (err as Error).message }, 'repository maintenance could not take its lock');
    }
    running.delete(dir);
  }

  return {
    schedule(dir) {
      const job = running.get(dir);
      if (job) {
        job.again = true;
        return;
      }
      const entry = { again: false, done: Promise.resolve() };
      running.set(dir, entry);
      entry.done = new Promise((resolve) => setImmediate(() => runJobs(dir).then(resolve)));
    },
    async idle() {
      while (running.size) await Promise.all([...running.values()].map((j) => j.done));
    },
  };
}
