import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { backupDatabase, DB_FILE, linkedObjectIds, readyRepos } from '../db/backup.js';
import { openDb } from '../db/index.js';
import { TYPE_PLURAL } from '../domain/names.js';
import { gitEnv } from '../git/env.js';
import { repoDir } from '../git/repo-dirs.js';
import { snapshotRepo } from '../git/snapshot.js';
import { copyTree, createCopier } from '../util/copy-tree.js';
import { type BackupManifest, hubgateVersion, writeManifest } from './backup-manifest.js';
import { abandonStaging, checkApart, checkEmptyTarget, finishStaging, startStaging } from './staged-dir.js';

// `hubgate backup DIR`: an online snapshot of a data directory while the server runs.
//
// The order makes the parts agree. Whatever a row of the database names (a repo, an LFS object)
// existed before the row was written, and is never removed while the row stays; git repos only
// gain objects, and a ref moves only after the objects and LFS objects it needs are stored. So:
// 1. the database first (one consistent snapshot);
// 2. then each repo the snapshot lists: refs read, then objects copied (src/git/snapshot.ts);
// 3. then the LFS objects: every object a copied row or ref names was stored before, so it is
//    there. Anything newer that comes along (objects of later pushes) is unnamed and harmless.
// Repos made after the snapshot are not in it and are left out; a repo deleted or moved after it
// is missing from the backup and listed in the manifest.

/** What is not copied from the top of the data directory: handled apart, or scratch space. */
const HANDLED_APART = new Set(['repos', 'lfs', 'tmp', 'trash']);

type BackupSettings = Pick<Config, 'dataDir' | 'lfsStore' | 's3Bucket' | 's3Prefix'>;

export async function backup(cfg: BackupSettings, dir: string): Promise<BackupManifest> {
  const dataDir = path.resolve(cfg.dataDir);
  const target = path.resolve(dir);
  checkApart(target, dataDir, `the backup directory ${target} and the data directory ${dataDir} must not be inside one another`);
  await fs.access(path.join(dataDir, DB_FILE)).catch(() => {
    throw new Error(`${dataDir} holds no hubgate database (${DB_FILE}): give the server's data directory with --data`);
  });
  await checkEmptyTarget(target, 'the backup directory', 'give a new or empty directory, so no older backup is mixed with this one');
  const startedAt = new Date().toISOString();
  const partial = await startStaging(target);
  try {
    const manifest = await writeBackup(cfg, dataDir, partial, startedAt);
    await finishStaging(partial, target);
    return manifest;
  } catch (err) {
    await abandonStaging(partial);
    throw err;
  }
}

async function writeBackup(cfg: BackupSettings, dataDir: string, out: string, startedAt: string): Promise<BackupManifest> {
  const copier = createCopier();
  // 1. The database.
  await backupDatabase(dataDir, path.join(out, DB_FILE));
  const db = await openDb(out, { readonly: true });
  const [repos, linked] = await Promise.all([readyRepos(db), linkedObjectIds(db)]).finally(() => db.destroy());

  // 2. The repos.
  const env = gitEnv(dataDir);
  const missingRepos: string[] = [];
  let refs = 0;
  let gitObjectFiles = 0;
  for (const ref of repos) {
    const src = repoDir(dataDir, ref);
    if (!(await isDirectory(src))) {
      missingRepos.push(`${TYPE_PLURAL[ref.type]}/${ref.namespace}/${ref.name}`);
      continue;
    }
    const copied = await snapshotRepo(src, repoDir(out, ref), env, copier);
    refs += copied.refs;
    gitObjectFiles += copied.objectFiles;
  }

  // 3. The LFS objects (fs store; an S3 bucket keeps its own, see docs/backup.md).
  const lfsObjects = path.join('lfs', 'objects');
  const copiedLfs = await copyTree(path.join(dataDir, lfsObjects), path.join(out, lfsObjects), copier, { linkable: () => true });
  const missing: string[] = [];
  if (cfg.lfsStore === 'fs') {
    for (const oid of linked) if (!(await isFile(path.join(out, lfsObjects, oid.slice(0, 2), oid.slice(2, 4), oid)))) missing.push(oid);
  }

  // The rest: the URL signing key, git's home, the notification outbox, ...
  await copyTree(dataDir, out, copier, { skip: (rel) => HANDLED_APART.has(rel) || rel.startsWith(DB_FILE) });

  return writeManifest(out, {
    hubgate: await hubgateVersion(),
    startedAt,
    finishedAt: new Date().toISOString(),
    dataDir,
    repos: repos.length - missingRepos.length,
    refs,
    gitObjectFiles,
    missingRepos,
    lfs: cfg.lfsStore === 's3'
      ? { store: 's3', linked: linked.length, copied: copiedLfs, missing, bucket: cfg.s3Bucket, prefix: cfg.s3Prefix }
      : { store: 'fs', linked: linked.length, copied: copiedLfs, missing },
  });
}

async function isDirectory(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => null))?.isDirectory() ?? false;
}

async function isFile(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => null))?.isFile() ?? false;
}
