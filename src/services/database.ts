import { type Db, type DbLocation, openDb } from '../db/index.js';

// How front ends (the CLI) and the composition root open the database: they hold the handle and
// pass it to the services, and never reach into src/db themselves. `where` is the settings (the
// data directory's SQLite file, or HUBGATE_DATABASE_URL's PostgreSQL).

export type { Db, DbLocation };

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
