import fs from 'node:fs/promises';
import path from 'node:path';
import { DB_FILE } from '../db/backup.js';
import { copyTree, createCopier } from '../util/copy-tree.js';
import { type BackupManifest, MANIFEST_FILE, readManifest } from './backup-manifest.js';
import { abandonStaging, checkApart, checkEmptyTarget, finishStaging, startStaging } from './staged-dir.js';
// `hubgate restore DIR --data NEWDATA`: makes a backup a data directory again. A backup has the
// data directory's own layout (with backup.json beside it), so this is a copy: git and LFS
// objects as hard links where DIR is on the same file system (neither is ever written in place),
// everything else (the database above all) as copies, so the backup stays as it was.

/** Git objects, LFS objects and Xet xorbs: files that are never changed once written. */
function immutable(rel: string): boolean {
  return rel.startsWith('lfs/objects/') || rel.startsWith('lfs/xet/xorbs/') || /^repos\/[^/]+\/[^/]+\/[^/]+\.git\/objects\//.test(rel);
}

export async function restore(dir: string, dataDir: string): Promise<BackupManifest> {
  const source = path.resolve(dir);
  const target = path.resolve(dataDir);
  const manifest = await readManifest(source);
  await fs.access(path.join(source, DB_FILE)).catch(() => {
    throw new Error(`${source} has no ${DB_FILE}: this backup is damaged and cannot be restored`);
  });
  checkApart(target, source, `the data directory ${target} and the backup ${source} must not be inside one another`);
  await checkEmptyTarget(target, 'the data directory', 'restore into a new or empty directory, so nothing there is overwritten or mixed with the backup');
  const partial = await startStaging(target);
  try {
    await copyTree(source, partial, createCopier(), { skip: (rel) => rel === MANIFEST_FILE, linkable: immutable });
    await finishStaging(partial, target);
  } catch (err) {
    await abandonStaging(partial);
    throw err;
  }
  return manifest;
}
