import fs from 'node:fs/promises';
import path from 'node:path';
import { QUARANTINE_PREFIX } from '../git/quarantine.js';
import { newReposRoot, tmpRoot } from '../util/scratch.js';
import { processAlive } from '../util/process-alive.js';

// What work cut short by a crash (kill -9, power loss, OOM) leaves on disk, removed at start
// and by a periodic sweep:
// - DATA/tmp/* (API commits, preuploads) and DATA/repos/.tmp/* (repos being created);
// - objects/tmp_objdir-* in every repo: git's push quarantine (receive-pack killed mid-push)
//   and hubgate's own (src/git/quarantine.ts).
// Several processes may share a data directory (the server, CLI commands), so an entry goes
// only when it was last written before a cutoff and no live process holds it. hubgate's
// entries carry their creator's pid in their name; git's do not, and go by age alone.
// DATA/lfs is not looked at here (lfs/ cleans its own).

/** How long an entry nobody is known to hold must have been idle before the periodic sweep removes it. */
export const LEFTOVER_MAX_IDLE_MS = 60 * 60 * 1000;

const REPO_TYPES = ['models', 'datasets', 'spaces'];

/** The pid in a name `<purpose>-<pid>-XXXXXX` or `tmp_objdir-<purpose>-<pid>-XXXXXX`, if there is one. */
export function ownerPid(name: string): number | undefined {
  const m = /^(?:tmp_objdir-)?[a-z]+-(\d+)-[^-]+$/.exec(name);
  return m ? Number(m[1]) : undefined;
}


/** The newest mtime of an entry and what is in it, two levels down (a pack being received grows in quarantine/pack/). */
async function lastWritten(entry: string, depth = 2): Promise<number> {
  const stat = await fs.lstat(entry);
  let newest = stat.mtimeMs;
  if (depth > 0 && stat.isDirectory()) {
    for (const child of await fs.readdir(entry)) newest = Math.max(newest, await lastWritten(path.join(entry, child), depth - 1).catch(() => 0));
  }
  return newest;
}

export interface LeftoverRule {
  /** Entries last written at or after this time (ms since the epoch) stay. */
  before: number;
  /** When this process started: its own pid on an older entry is a previous process's (a restart that got the same pid). */
  startedAt: number;
}

/** Removes the entries of `dir` whose names pass `match` and that `rule` lets go; how many went. */
async function sweepDir(dir: string, match: (name: string) => boolean, rule: LeftoverRule): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0; // no such directory: nothing left over
  }
  let removed = 0;
  for (const name of names) {
    if (!match(name)) continue;
    const entry = path.join(dir, name);
    try {
      const written = await lastWritten(entry);
      if (written >= rule.before) continue;
      const pid = ownerPid(name);
      const held = pid === process.pid ? written >= rule.startedAt : pid !== undefined && processAlive(pid);
      if (held) continue;
      await fs.rm(entry, { recursive: true, force: true, maxRetries: 3 });
      removed++;
    } catch {
      /* gone meanwhile, or not ours to remove: the next sweep looks again */
    }
  }
  return removed;
}

/**
 * Sweeps the scratch directories and the objects/ of every repo (one readdir per repo, one at a
 * time, so many repos cost time, not memory or file handles); how many entries went.
 */
export async function removeLeftovers(dataDir: string, rule: LeftoverRule): Promise<number> {
  const any = () => true;
  let removed = (await sweepDir(tmpRoot(dataDir), any, rule)) + (await sweepDir(newReposRoot(dataDir), any, rule));
  const isQuarantine = (name: string) => name.startsWith(QUARANTINE_PREFIX);
  for (const type of REPO_TYPES) {
    const typeDir = path.join(dataDir, 'repos', type);
    for (const ns of await fs.readdir(typeDir).catch(() => [] as string[])) {
      for (const repo of await fs.readdir(path.join(typeDir, ns)).catch(() => [] as string[])) {
        if (repo.endsWith('.git')) removed += await sweepDir(path.join(typeDir, ns, repo, 'objects'), isQuarantine, rule);
      }
    }
  }
  return removed;
}
