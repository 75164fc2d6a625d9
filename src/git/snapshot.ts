import fs from 'node:fs/promises';
import path from 'node:path';
import { type Copier, copyTree } from '../util/copy-tree.js';
import { type HeldLock, MAINTENANCE_LOCK, MAINTENANCE_WANTED, takeMaintenanceLock } from './maintenance-lock.js';
import { QUARANTINE_PREFIX } from './quarantine.js';
import { runGit } from './run.js';

// A consistent copy of a bare repo that pushes keep writing to, in two steps: its refs are read
// (readRefs), later its objects are copied and the refs read are written into the copy
// (copyRepo). git moves a ref only after the objects it names are in objects/, and objects are
// never changed, so every copied ref names objects that were copied. Objects pushed after the
// refs were read may come along too; nothing names them, which is harmless. Objects leave
// objects/ only when maintenance (src/git/maintenance.ts) repacks them into a new pack and
// removes the old ones, so its lock is held while the objects are copied; a push meanwhile
// records that a run is wanted, and the run after its next push does it.

/** How long to wait for a maintenance run of the repo to end before giving up. */
const LOCK_WAIT_MS = 30 * 60 * 1000;

/** `[id, refname]` pairs. */
export type Refs = [string, string][];

/** Every ref of the repo at `dir`, as it is now; `env` is the server's git environment. */
export async function readRefs(dir: string, env: NodeJS.ProcessEnv): Promise<Refs> {
  const out = await runGit(['for-each-ref', '--format=%(objectname) %(refname)'], { env, cwd: dir });
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(' ');
      return [line.slice(0, space), line.slice(space + 1)];
    });
}

/** Copies the bare repo at `src` to `dest` (which must not exist) with `refs`, read from it earlier; how many object files it copied. */
export async function copyRepo(src: string, dest: string, refs: Refs, copier: Copier): Promise<number> {
  const lock = await lockMaintenance(src);
  try {
    await fs.mkdir(path.dirname(dest), { recursive: true });
    // Everything but objects/ and the refs: HEAD, config, custom_hooks/, info/, ...
    await copyTree(src, dest, copier, { skip: (rel) => rel === 'objects' || skipAtTop(rel) });
    const objectFiles = await copyTree(path.join(src, 'objects'), path.join(dest, 'objects'), copier, { skip: await skipInObjects(src), linkable: () => true });
    await writeRefs(dest, refs);
    return objectFiles;
  } finally {
    await lock.release();
  }
}

async function lockMaintenance(dir: string): Promise<HeldLock> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const lock = await takeMaintenanceLock(dir);
    if (lock) return lock;
    if (Date.now() > deadline) throw new Error(`${dir} is still being repacked after ${LOCK_WAIT_MS / 60000} minutes: run the backup again later`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Left out at the repo's top: the refs (written from what was read), the reflogs (they may
 * name objects newer than the refs), lock files of git and of hubgate's maintenance.
 */
function skipAtTop(rel: string): boolean {
  return rel === 'refs' || rel === 'packed-refs' || rel === 'logs' || rel.endsWith('.lock') || rel === MAINTENANCE_WANTED || rel.startsWith(`${MAINTENANCE_LOCK}.`);
}

/**
 * Left out under objects/: push quarantines (objects not accepted yet), git's temporary and lock
 * files, and a pack still being moved in by a push (git moves its .idx last): packs without an
 * .idx when the copy began are newer than the refs read, so no copied ref needs them.
 */
async function skipInObjects(repo: string): Promise<(rel: string) => boolean> {
  const names = await fs.readdir(path.join(repo, 'objects', 'pack')).catch(() => [] as string[]);
  const indexed = new Set(names.filter((n) => n.endsWith('.idx')).map((n) => n.slice(0, -'.idx'.length)));
  return (rel) => {
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    if (name.startsWith(QUARANTINE_PREFIX) || name.startsWith('tmp_') || name.endsWith('.lock')) return true;
    const pack = /^pack\/(pack-[0-9a-f]+)\.[a-z]+$/.exec(rel);
    return pack !== null && !indexed.has(pack[1]);
  };
}

/**
 * Writes `refs` as the copy's packed-refs (sorted by name as git compares them, bytewise), with
 * empty refs/heads and refs/tags so git recognises the directory as a repo.
 */
async function writeRefs(dir: string, refs: Refs): Promise<void> {
  for (const sub of ['heads', 'tags']) await fs.mkdir(path.join(dir, 'refs', sub), { recursive: true });
  const sorted = [...refs].sort(([, a], [, b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const lines = sorted.map(([id, name]) => `${id} ${name}\n`).join('');
  await fs.writeFile(path.join(dir, 'packed-refs'), `# pack-refs with: sorted \n${lines}`);
}
