import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { backupDatabase, DB_FILE, linkedObjectIds, readyRepos } from '../db/backup.js';
import { type Db, openDb } from '../db/index.js';
import { TYPE_PLURAL } from '../domain/names.js';
import { gitEnv } from '../git/env.js';
import { repoDir } from '../git/repo-dirs.js';
import { copyRepo, readRefs, type Refs } from '../git/snapshot.js';
import { copyTree, createCopier } from '../util/copy-tree.js';
import { type BackupManifest, hubgateVersion, writeManifest } from './backup-manifest.js';
import { abandonStaging, checkApart, checkEmptyTarget, finishStaging, startStaging } from './staged-dir.js';

// `hubgate backup DIR`: an online snapshot of a data directory while the server runs.
//
// The order makes the parts agree. A push stores its LFS objects, then links them to the repo
// in the database, then its git objects, and only then moves refs; nothing is ever removed
// while a row or a ref names it (git objects and LFS objects are never changed). So:
// 1. the refs of every repo are read;
// 2. then the database is copied (one snapshot): it links every LFS object those refs name;
// 3. then each repo's objects are copied and the refs read in 1 written (src/git/snapshot.ts);
// 4. then the LFS objects and Xet xorbs: every one a copied row or ref names was stored before, so it is there.
// Anything newer that comes along (objects of later pushes) is named by nothing and harmless.
// A repo created between 1 and 2 has its refs read and the database copied again. A repo
// deleted or moved after 2 is missing from the backup and listed in the manifest.

/** What is not copied from the top of the data directory: handled apart, scratch space, or copies made again on demand (cache/). */
const HANDLED_APART = new Set(['repos', 'lfs', 'tmp', 'trash', 'cache']);

type BackupSettings = Pick<Config, 'dataDir' | 'lfsStore' | 's3Bucket' | 's3Prefix'> & { databaseUrl?: string };

/** Why `backup` and `restore` refuse a PostgreSQL installation: they copy the SQLite file. */
export const POSTGRES_BACKUP =
  'hubgate backup and restore copy the SQLite database of the data directory; with HUBGATE_DATABASE_URL (PostgreSQL) back the database up with pg_dump (and restore it with pg_restore), the repos with snapshots of the data directory, and LFS objects with the bucket\'s versioning (docs/operations.md)';

export async function backup(cfg: BackupSettings, dir: string): Promise<BackupManifest> {
  if (cfg.databaseUrl) throw new Error(POSTGRES_BACKUP);
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

/** How often the database is copied again because repos were created meanwhile, at most. */
const MAX_ROUNDS = 5;

async function writeBackup(cfg: BackupSettings, dataDir: string, out: string, startedAt: string): Promise<BackupManifest> {
  const copier = createCopier();
  const env = gitEnv(dataDir);
  const dbCopy = path.join(out, DB_FILE);
  // By repo directory; undefined: there was no such directory.
  const refsOf = new Map<string, Refs | undefined>();
  const readAll = async (repos: RepoKey[]) => {
    for (const ref of repos) {
      const dir = repoDir(dataDir, ref);
      if (!refsOf.has(dir)) refsOf.set(dir, (await isDirectory(dir)) ? await readRefs(dir, env) : undefined);
    }
  };
  // 1. and 2.: the refs of every repo the database copy lists were read before it was made.
  await readAll(await withDb(dataDir, readyRepos));
  let repos: RepoKey[];
  let linked: { oid: string; inStore: boolean }[];
  for (let round = 1; ; round++) {
    await fs.rm(dbCopy, { force: true });
    await backupDatabase(dataDir, dbCopy);
    [repos, linked] = await withDb(out, (db) => Promise.all([readyRepos(db), linkedObjectIds(db)]));
    const unread = repos.filter((ref) => !refsOf.has(repoDir(dataDir, ref)));
    if (unread.length === 0 || round === MAX_ROUNDS) break;
    await readAll(unread);
  }

  // 3. The repos.
  const missingRepos: string[] = [];
  let refs = 0;
  let gitObjectFiles = 0;
  for (const ref of repos) {
    const src = repoDir(dataDir, ref);
    const read = refsOf.get(src);
    if (!read || !(await isDirectory(src))) {
      missingRepos.push(`${TYPE_PLURAL[ref.type]}/${ref.namespace}/${ref.name}`);
      continue;
    }
    try {
      gitObjectFiles += await copyRepo(src, repoDir(out, ref), read, copier);
    } catch (err) {
      if (await isDirectory(src)) throw err;
      // Deleted or moved while it was being copied.
      await fs.rm(repoDir(out, ref), { recursive: true, force: true });
      missingRepos.push(`${TYPE_PLURAL[ref.type]}/${ref.namespace}/${ref.name}`);
      continue;
    }
    refs += read.length;
  }

  // 4. The LFS objects (fs store; an S3 bucket keeps its own, see docs/backup.md).
  const lfsObjects = path.join('lfs', 'objects');
  const copiedLfs = await copyTree(path.join(dataDir, lfsObjects), path.join(out, lfsObjects), copier, { linkable: () => true });
  // Xet xorbs (fs store), written once by hash before any file naming them was registered: every
  // file the copied database names has its xorbs here. Objects uploaded through Xet have no LFS
  // object file: their bytes are these xorbs.
  const xorbs = path.join('lfs', 'xet', 'xorbs');
  if (cfg.lfsStore === 'fs') await copyTree(path.join(dataDir, xorbs), path.join(out, xorbs), copier, { linkable: () => true });
  const missing: string[] = [];
  if (cfg.lfsStore === 'fs') {
    for (const { oid, inStore } of linked) if (inStore && !(await isFile(path.join(out, lfsObjects, oid.slice(0, 2), oid.slice(2, 4), oid)))) missing.push(oid);
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

type RepoKey = Awaited<ReturnType<typeof readyRepos>>[number];

/** Runs `fn` on the SQLite database of `dir` (the data directory, or the backup's copy), opened read-only. */
async function withDb<T>(dir: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb({ dataDir: dir }, { readonly: true });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

async function isDirectory(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => null))?.isDirectory() ?? false;
}

async function isFile(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => null))?.isFile() ?? false;
}
