import type { Logger } from 'pino';
import { runGit } from './run.js';

export interface Maintenance {
  /** Asks for a repo's packs, bitmaps and commit-graph to be brought up to date, soon, in the background. */
  schedule(repoDir: string): void;
  /** Resolves when no job is running or queued (for shutdown and tests). */
  idle(): Promise<void>;
}

// After a push: roll small packs together geometrically with a multi-pack bitmap, so clones
// reuse packs without recomputing reachability, and refresh the split commit-graph. At most
// one job per repo runs at a time; pushes during a job queue exactly one more run.
const STEPS: string[][] = [
  ['repack', '-d', '-q', '--geometric=2', '--write-midx', '--write-bitmap-index'],
  ['commit-graph', 'write', '--reachable', '--split', '--no-progress'],
];

export function createMaintenance(env: NodeJS.ProcessEnv, log: Logger): Maintenance {
  const running = new Map<string, { again: boolean; done: Promise<void> }>();

  async function runJobs(dir: string): Promise<void> {
    for (;;) {
      const job = running.get(dir)!;
      job.again = false;
      const started = Date.now();
      try {
        for (const step of STEPS) await runGit(step, { env, cwd: dir });
        log.debug({ dir, ms: Date.now() - started }, 'repository maintenance done');
      } catch (err) {
        log.warn({ dir, err: (err as Error).message }, 'repository maintenance failed');
      }
      if (!job.again) break;
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
