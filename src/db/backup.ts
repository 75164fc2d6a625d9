import path from 'node:path';
import SQLite from 'better-sqlite3';
import type { RepoType } from '../domain/names.js';
import type { Db } from './index.js';

/** The database file of a data directory; its -wal and -shm companions sit beside it. */
export const DB_FILE = 'hubgate.sqlite';

/**
 * Writes a consistent copy of the data directory's database to `dest` with SQLite's online
 * backup API while the server keeps writing. All pages go in one step, so the copy is one
 * read transaction's snapshot (in WAL mode a reader blocks no writer); copied in small steps,
 * every write by another process would start the copy over.
 */
export async function backupDatabase(dataDir: string, dest: string): Promise<void> {
  const sqlite = new SQLite(path.join(dataDir, DB_FILE), { readonly: true, fileMustExist: true });
  try {
    sqlite.pragma('busy_timeout = 5000');
    await sqlite.backup(dest, { progress: () => 0x7fffffff });
  } finally {
    sqlite.close();
  }
  // The copy keeps the WAL mode of the original; as a rollback-journal database it is one
  // self-contained file that opens read-only without -wal and -shm files (a restore turns WAL back on).
  const copy = new SQLite(dest, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

/** Every repo whose directory is in place (repos being created are left to the cleanup of unfinished ones). */
export async function readyRepos(db: Db): Promise<{ type: RepoType; namespace: string; name: string }[]> {
  return db
    .selectFrom('repos')
    .innerJoin('accounts', 'accounts.id', 'repos.owner_id')
    .select(['repos.type', 'accounts.name as namespace', 'repos.name'])
    .where('repos.ready', '=', 1)
    .orderBy('repos.id')
    .execute();
}

/** Every LFS object some repo links (each once), and whether its bytes are in the store (else only in Xet xorbs). */
export async function linkedObjectIds(db: Db): Promise<{ oid: string; inStore: boolean }[]> {
  const rows = await db
    .selectFrom('lfs_links')
    .innerJoin('lfs_objects', 'lfs_objects.oid', 'lfs_links.oid')
    .select(['lfs_links.oid', 'lfs_objects.in_store'])
    .distinct()
    .orderBy('lfs_links.oid')
    .execute();
  return rows.map((r) => ({ oid: r.oid, inStore: Number(r.in_store) !== 0 }));
}
