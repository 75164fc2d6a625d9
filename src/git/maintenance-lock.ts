import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { processAlive } from '../util/process-alive.js';

// A repo's maintenance lock, across every process sharing the data directory, on one machine or
// several (a shared mount): a file created with O_EXCL in the repo directory (outside objects/
// and refs/, so git ignores it), holding who made it. Its holder touches it while its run lasts;
// a lock that stopped being touched was left by a process that is gone, whichever machine it ran
// on, and is taken over (on the holder's own machine a dead pid tells sooner). The holder lets go
// only of a lock that is still its own (its token), never of one another process took over.
// A second file records that a run was wanted while the lock was held; the holder looks for it
// after its run, and again after letting go, so no request is lost in between.

export const MAINTENANCE_LOCK = 'hubgate-maintenance.lock';
export const MAINTENANCE_WANTED = 'hubgate-maintenance.again';
/** A lock that is not touched (made by a version before the touching) is taken over after this long: no maintenance run lasts this long. */
export const LOCK_MAX_AGE_MS = 6 * 3600 * 1000;
/** A lock file that cannot be read (its maker died while writing it) is taken over after this long. */
const UNREADABLE_GRACE_MS = 60_000;

export interface LockTiming {
  /** How often the holder touches its lock. */
  renewMs: number;
  /** A touched lock not touched for this long is abandoned: several missed touches, and room for clocks a little apart. */
  staleMs: number;
}

export const LOCK_TIMING: LockTiming = { renewMs: 15_000, staleMs: 120_000 };

interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  /** Which process made it: a restarted process may get the same pid (pid 1 in a container). */
  token: string;
  /** Which run of that process holds it: only that run lets it go. */
  run?: string;
  /** The holder touches the file while it runs (older versions did not): its mtime says it is alive. */
  renewed?: boolean;
}

/** A lock held by this process: touched until released; released only while it is still this one's. */
export interface HeldLock {
  /** Lets go of the lock, at `dir` (where the repo is now, after a move) or where it was taken. */
  release(dir?: string): Promise<void>;
}

const processToken = crypto.randomBytes(9).toString('base64url');


/** Whether a lock with this text, last written (or touched) at `mtimeMs`, was left by a run that is over. */
function abandoned(text: string, mtimeMs: number, timing: LockTiming): boolean {
  let owner: LockOwner;
  try {
    owner = JSON.parse(text) as LockOwner;
  } catch {
    return Date.now() - mtimeMs > UNREADABLE_GRACE_MS;
  }
  if (owner.renewed && Date.now() - mtimeMs > timing.staleMs) return true; // its holder stopped touching it
  const started = Date.parse(owner.startedAt);
  if (!Number.isFinite(started) || Date.now() - started > LOCK_MAX_AGE_MS) return true;
  if (owner.hostname !== os.hostname()) return false; // another machine's, still touched: its holder lives
  if (owner.pid === process.pid) return owner.token !== processToken;
  return !processAlive(owner.pid);
}

/** Creates the lock for `run`; false when it exists. */
async function create(lockPath: string, run: string): Promise<boolean> {
  const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), token: processToken, run, renewed: true };
  let file: fs.FileHandle;
  try {
    file = await fs.open(lockPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await file.writeFile(JSON.stringify(owner));
  } finally {
    await file.close();
  }
  return true;
}

/**
 * Moves an abandoned lock aside, then removes it, if it is still the one judged abandoned (another
 * process may have taken it over and made its own in between: that one is put back).
 */
async function breakAbandoned(lockPath: string, timing: LockTiming): Promise<void> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([fs.readFile(lockPath, 'utf8'), fs.stat(lockPath).then((s) => s.mtimeMs)]);
  } catch {
    return; // gone meanwhile
  }
  if (!abandoned(text, mtimeMs, timing)) return;
  const aside = `${lockPath}.stale-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    await fs.rename(lockPath, aside);
  } catch {
    return; // someone else broke it first
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => text);
  if (moved !== text) await fs.link(aside, lockPath).catch(() => {});
  await fs.rm(aside, { force: true });
}

/** Whether the lock file at `lockPath` is `run`'s. */
async function isOwn(lockPath: string, run: string): Promise<boolean> {
  try {
    return (JSON.parse(await fs.readFile(lockPath, 'utf8')) as LockOwner).run === run;
  } catch {
    return false; // gone, or not a lock of this version
  }
}

/**
 * Takes the repo's maintenance lock, breaking an abandoned one; null when a live run holds it.
 * The lock is touched every `timing.renewMs` until released.
 */
export async function takeMaintenanceLock(dir: string, timing: LockTiming = LOCK_TIMING): Promise<HeldLock | null> {
  const lockPath = path.join(dir, MAINTENANCE_LOCK);
  const run = crypto.randomBytes(9).toString('base64url');
  if (!(await create(lockPath, run))) {
    await breakAbandoned(lockPath, timing);
    if (!(await create(lockPath, run))) return null;
  }
  let at = lockPath;
  // Touched with this machine's clock; a failed touch (the repo moved, the mount hiccuped) is tried again at the next.
  const renew = setInterval(() => {
    const now = new Date();
    void fs.utimes(at, now, now).catch(() => {});
  }, timing.renewMs);
  renew.unref();
  let released = false;
  return {
    async release(dirNow) {
      if (released) return;
      released = true;
      clearInterval(renew);
      at = dirNow ? path.join(dirNow, MAINTENANCE_LOCK) : lockPath;
      // Another process took it over (this one stalled past the stale age): it is theirs now.
      if (await isOwn(at, run)) await fs.rm(at, { force: true });
    },
  };
}

/** Records that a run is wanted (the lock is held by another process). */
export async function wantMaintenance(dir: string): Promise<void> {
  await fs.writeFile(path.join(dir, MAINTENANCE_WANTED), `${process.pid}\n`);
}

/** Whether a run was wanted since the last call; the request is taken (removed) either way. */
export async function takeWanted(dir: string): Promise<boolean> {
  try {
    await fs.rm(path.join(dir, MAINTENANCE_WANTED));
    return true;
  } catch {
    return false;
  }
}

/** Whether a run was wanted and not yet taken. */
export async function maintenanceWanted(dir: string): Promise<boolean> {
  return exists(path.join(dir, MAINTENANCE_WANTED));
}

export async function maintenanceLockHeld(dir: string): Promise<boolean> {
  return exists(path.join(dir, MAINTENANCE_LOCK));
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}
