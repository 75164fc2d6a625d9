// The maintenance lock's holder side, on the module itself with short timings: the holder
// touches its lock while it holds it (so other machines, which judge it by that, leave it alone),
// and lets go only of a lock that is still its own, never of one another process took over.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAINTENANCE_LOCK, takeMaintenanceLock } from '../../src/git/maintenance-lock.ts';

const dirs: string[] = [];
const repoDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hubgate-lock-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TIMING = { renewMs: 50, staleMs: 400 };

describe('maintenance lock', () => {
  it('is touched by its holder while held, so it never looks abandoned, and removed at release', async () => {
    const dir = repoDir();
    const lockPath = path.join(dir, MAINTENANCE_LOCK);
    const held = await takeMaintenanceLock(dir, TIMING);
    expect(held).not.toBeNull();
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lockPath, old, old);
    await sleep(200);
    expect(Date.now() - fs.statSync(lockPath).mtimeMs).toBeLessThan(150);
    // Still held: a second taker (same machine, live process) gets nothing.
    expect(await takeMaintenanceLock(dir, TIMING)).toBeNull();
    await held!.release();
    expect(fs.existsSync(lockPath)).toBe(false);
    // No touching after the release.
    await sleep(150);
    expect(fs.existsSync(lockPath)).toBe(false);
  });

  it('is taken over once it stopped being touched, and the old holder\'s release leaves the new holder\'s lock', async () => {
    const dir = repoDir();
    const lockPath = path.join(dir, MAINTENANCE_LOCK);
    // Written as another machine's lock: only its file time says whether its holder lives.
    fs.writeFileSync(lockPath, JSON.stringify({ pid: 1, hostname: 'another-node.invalid', startedAt: new Date().toISOString(), token: 't', run: 'r', renewed: true }));
    expect(await takeMaintenanceLock(dir, TIMING)).toBeNull();
    const stale = new Date(Date.now() - 1000);
    fs.utimesSync(lockPath, stale, stale);
    const mine = await takeMaintenanceLock(dir, TIMING);
    expect(mine).not.toBeNull();
    expect(JSON.parse(fs.readFileSync(lockPath, 'utf8')).hostname).toBe(os.hostname());

    // This holder stalls; another process takes the lock over meanwhile (its file replaced).
    const theirs = JSON.stringify({ pid: 1, hostname: 'another-node.invalid', startedAt: new Date().toISOString(), token: 't2', run: 'r2', renewed: true });
    fs.writeFileSync(lockPath, theirs);
    await mine!.release();
    expect(fs.readFileSync(lockPath, 'utf8')).toBe(theirs);
  });

  it('is released where the repo is now after a move', async () => {
    const dir = repoDir();
    const held = await takeMaintenanceLock(dir, TIMING);
    const moved = `${dir}-moved`;
    dirs.push(moved);
    fs.renameSync(dir, moved);
    await held!.release(moved);
    expect(fs.existsSync(path.join(moved, MAINTENANCE_LOCK))).toBe(false);
  });
});
