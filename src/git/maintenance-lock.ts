import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { processAlive } from '../util/process-alive.js';

// A repo's maintenance lock, across every process sharing the data directory: a file created
// with O_EXCL in the repo directory (outside objects/ and refs/, so git ignores it), holding who
// made it. A second file records that a run was wanted while the lock was held; the holder
// looks for it after its run, and again after letting go, so no request is lost in between.

export const MAINTENANCE_LOCK = 'hubgate-maintenance.lock';
export const MAINTENANCE_WANTED = 'hubgate-maintenance.again';
/** A lock older than this is taken over, whoever holds it: no maintenance run lasts this long. */
export const LOCK_MAX_AGE_MS = 6 * 3600 * 1000;
/** A lock file that cannot be read (its maker died while writing it) is taken over after this long. */
const UNREADABLE_GRACE_MS = 60_000;

interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  /** Which process made it: a restarted process may get the same pid (pid 1 in a container). */
  token: string;
}

const processToken = crypto.randomBytes(9).toString('base64url');


/** Whether a lock with this text, last written at `mtimeMs`, was left by a run that is over. */
function abandoned(text: string, mtimeMs: number): boolean {
  let owner: LockOwner;
  try {
    owner = JSON.parse(text) as LockOwner;
  } catch {
    return Date.now() - mtimeMs > UNREADABLE_GRACE_MS;
  }
  const started = Date.parse(owner.startedAt);
  if (!Number.isFinite(started) || Date.now() - started > LOCK_MAX_AGE_MS) return true;
  if (owner.hostname !== os.hostname()) return false; // another node's: only its age tells
  if (owner.pid === process.pid) return owner.token !== processToken;
  return !processAlive(owner.pid);
}

/** Creates the lock; false when it exists. */
async function create(lockPath: string): Promise<boolean> {
  const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), token: processToken };
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
async function breakAbandoned(lockPath: string): Promise<void> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([fs.readFile(lockPath, 'utf8'), fs.stat(lockPath).then((s) => s.mtimeMs)]);
  } catch {
    return; // gone meanwhile
  }
  if (!abandoned(text, mtimeMs)) return;
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

/** Takes the repo's maintenance lock, breaking an abandoned one; false when a live run holds it. */
export async function takeMaintenanceLock(dir: string): Promise<boolean> {
  const lockPath = path.join(dir, MAINTENANCE_LOCK);
  if (await create(lockPath)) return true;
  await breakAbandoned(lockPath);
  return create(lockPath);
}

export async function releaseMaintenanceLock(dir: string): Promise<void> {
  await fs.rm(path.join(dir, MAINTENANCE_LOCK), { force: true });
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
