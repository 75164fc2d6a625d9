import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/**
 * Opens the SQLite file under the data directory (WAL, so the CLI can write while the
 * server runs) and brings its schema up to date. With `readonly` (git hooks, which run
 * while the server has the file open), nothing is created or migrated and nothing can be written.
 */
export async function openDb(dataDir: string, opts: { readonly?: boolean } = {}): Promise<Db> {
  const file = path.join(dataDir, 'hubgate.sqlite');
  if (opts.readonly) {
    const sqlite = new SQLite(file, { readonly: true, fileMustExist: true });
    sqlite.pragma('busy_timeout = 5000');
    return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw new Error(`could not migrate ${file}: ${(error as Error).message}`);
  }
  return db;
}

export function now(): string {
  return new Date().toISOString();
}

/** True when SQLite refused a row because of a UNIQUE constraint. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === 'SQLITE_CONSTRAINT_UNIQUE' || (err as { code?: string })?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
