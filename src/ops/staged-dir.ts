import fs from 'node:fs/promises';
import path from 'node:path';

// Backups and restores are written into TARGET.partial and renamed to TARGET when complete, so
// an interrupted run never leaves anything that looks complete. A marker file tells a .partial
// directory of ours (removed by the next run) from anything else of that name (left alone).

const MARKER = '.hubgate-partial';

/** Refuses a target that exists and is not an empty directory; `what` names it in the message. */
export async function checkEmptyTarget(target: string, what: string, why: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new Error(`${what} ${target} is a file: ${why}`);
    throw err;
  }
  if (names.length > 0) throw new Error(`${what} ${target} is not empty: ${why}`);
}

/** Refuses two paths of which one is inside the other (a copy would copy itself). */
export function checkApart(a: string, b: string, message: string): void {
  const inside = (x: string, y: string) => x === y || x.startsWith(`${y}${path.sep}`);
  if (inside(a, b) || inside(b, a)) throw new Error(message);
}

/** Creates TARGET.partial with the marker, replacing one that an interrupted run left. */
export async function startStaging(target: string): Promise<string> {
  const partial = `${target}.partial`;
  try {
    await fs.access(path.join(partial, MARKER));
    await fs.rm(partial, { recursive: true, force: true });
  } catch {
    /* no leftover of ours; anything else of that name makes the mkdir below fail */
  }
  await fs.mkdir(path.dirname(partial), { recursive: true });
  try {
    await fs.mkdir(partial);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${partial} exists and was not made by hubgate: move it away, then run this again`);
    throw err;
  }
  await fs.writeFile(path.join(partial, MARKER), `${process.pid}\n`);
  return partial;
}

/** Makes the staged directory the target (an empty target directory is replaced). */
export async function finishStaging(partial: string, target: string): Promise<void> {
  await fs.rm(path.join(partial, MARKER));
  try {
    await fs.rename(partial, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new Error(`${target} was written to meanwhile: the complete copy is in ${partial}`);
    throw err;
  }
}

/** Removes a staged directory after a failure (best effort: the next run removes it too). */
export async function abandonStaging(partial: string): Promise<void> {
  await fs.rm(partial, { recursive: true, force: true }).catch(() => {});
}
