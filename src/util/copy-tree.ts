import fs from 'node:fs/promises';
import path from 'node:path';

// File copying for backups and restores. Files that never change once written (git objects,
// packs and their indexes, LFS objects) may be hard links: that costs no space and no time on
// one file system, and is safe because nothing writes them in place (git and hubgate replace
// files by rename). Everything else is copied, so the copy never changes with the original.

export interface Copier {
  /** Puts `src` at `dest`, a hard link when `linkable` and the file systems allow it, else a copy; false when `src` is gone. */
  file(src: string, dest: string, linkable: boolean): Promise<boolean>;
  readonly counts: { linked: number; copied: number };
}

/** Error codes of a link(2) that a copy can stand in for (another file system, no hard links there). */
const CANNOT_LINK = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK']);

export function createCopier(): Copier {
  let linking = true;
  const counts = { linked: 0, copied: 0 };
  return {
    counts,
    async file(src, dest, linkable) {
      try {
        if (linkable && linking) {
          try {
            await fs.link(src, dest);
            counts.linked++;
            return true;
          } catch (err) {
            if (!CANNOT_LINK.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
            linking = false; // the same answer for every later file: stop asking
          }
        }
        // COPYFILE_EXCL: never overwrite; the mode (an executable hook, a key only its owner reads) comes along.
        await fs.copyFile(src, dest, fs.constants.COPYFILE_EXCL);
        counts.copied++;
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !(await exists(src))) return false;
        throw err;
      }
    },
  };
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

export interface TreeRules {
  /** Entries to leave out, by path relative to the tree's root ('/'-separated). */
  skip?: (rel: string, isDirectory: boolean) => boolean;
  /** Files that may be hard links (see above). */
  linkable?: (rel: string) => boolean;
}

/**
 * Copies the tree at `src` into `dest` (created; `dest` itself may exist), keeping directory and
 * file modes and symbolic links. A missing `src`, or an entry removed while the copy runs, is no
 * error: it is not in the copy. Returns how many files were put in place.
 */
export async function copyTree(src: string, dest: string, copier: Copier, rules: TreeRules = {}, rel = ''): Promise<number> {
  let entries;
  try {
    entries = await fs.readdir(src, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const mode = (await fs.stat(src)).mode & 0o7777;
  await fs.mkdir(dest, { recursive: true, mode });
  let files = 0;
  for (const entry of entries) {
    const childRel = rel ? `${rel}/${entry.name}` : entry.name;
    const from = path.join(src, entry.name);
    const to = path.join(dest, entry.name);
    if (rules.skip?.(childRel, entry.isDirectory())) continue;
    if (entry.isDirectory()) files += await copyTree(from, to, copier, rules, childRel);
    else if (entry.isSymbolicLink()) await fs.symlink(await fs.readlink(from), to);
    else if (entry.isFile() && (await copier.file(from, to, rules.linkable?.(childRel) ?? false))) files++;
  }
  return files;
}
