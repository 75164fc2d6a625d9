import path from 'node:path';
import { CopyError, copyDatabase, type TableCount } from '../db/copy.js';
import { pingDatabase } from '../db/health.js';
import { type Db, type DbLocation, openDb } from '../db/index.js';

// How front ends (the CLI) and the composition root open the database: they hold the handle and
// pass it to the services, and never reach into src/db themselves. `where` is the settings (the
// data directory's SQLite file, or HUBGATE_DATABASE_URL's PostgreSQL).

export type { Db, DbLocation, TableCount };
export { CopyError };
/** For /readyz: resolves when the database answers a small query. */
export { pingDatabase };

/** Opens the database, its schema brought up to date; the caller closes it (`db.destroy()`). */
export function openDatabase(where: DbLocation): Promise<Db> {
  return openDb(where);
}

/** Opens the database for one piece of work and always closes it. */
export async function withDatabase<T>(where: DbLocation, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb(where);
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

/**
 * `hubgate db copy`: every row of the SQLite database at `sqlitePath` (a data directory or its
 * hubgate.sqlite) into the empty PostgreSQL database at `postgresUrl`, which is migrated first.
 * The source is opened read-only and never changed; the counts of both sides are returned.
 */
export async function copySqliteToPostgres(sqlitePath: string, postgresUrl: string, onTable?: (table: string, rows: number) => void): Promise<TableCount[]> {
  const dataDir = path.basename(sqlitePath) === 'hubgate.sqlite' ? path.dirname(sqlitePath) : sqlitePath;
  const source = await openDb({ dataDir }, { readonly: true }).catch((err: Error) => {
    throw new CopyError(`could not open the SQLite database in ${dataDir}: ${err.message}`);
  });
  try {
    const target = await openDb({ dataDir, databaseUrl: postgresUrl, databasePoolSize: 1 });
    try {
      return await copyDatabase(source, target, onTable);
    } finally {
      await target.destroy();
    }
  } finally {
    await source.destroy();
  }
}
