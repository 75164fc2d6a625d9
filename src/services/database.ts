import { pingDatabase } from '../db/health.js';
import { type Db, openDb } from '../db/index.js';

// How front ends (the CLI) and the composition root open the data directory's database: they
// hold the handle and pass it to the services, and never reach into src/db themselves.

export type { Db };
/** For /readyz: resolves when the database answers a small query. */
export { pingDatabase };

/** Opens the data directory's database, its schema brought up to date; the caller closes it (`db.destroy()`). */
export function openDatabase(dataDir: string): Promise<Db> {
  return openDb(dataDir);
}

/** Opens the data directory's database for one piece of work and always closes it. */
export async function withDatabase<T>(dataDir: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb(dataDir);
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}
