import fs from 'node:fs/promises';
import path from 'node:path';

/** DATA/tmp: scratch space of work in progress (API commits, preuploads). */
export function tmpRoot(dataDir: string): string {
  return path.join(dataDir, 'tmp');
}

/** DATA/repos/.tmp: repos being created, on the repos' own file system so they can be renamed into place. */
export function newReposRoot(dataDir: string): string {
  return path.join(dataDir, 'repos', '.tmp');
}

/**
 * A fresh directory `ROOT/<purpose>-<pid>-XXXXXX`. The pid tells src/ops/leftovers.ts whether
 * the process that made it still runs; the caller removes it when done.
 */
export async function scratchDir(root: string, purpose: string): Promise<string> {
  await fs.mkdir(root, { recursive: true });
  return fs.mkdtemp(path.join(root, `${purpose}-${process.pid}-`));
}
