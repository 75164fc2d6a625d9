import type { Db } from './index.js';

/**
 * The cheapest query that proves the database answers: one row of a small table (SQLite opens a
 * read transaction on the file; PostgreSQL takes a pooled connection and runs it). Throws otherwise.
 */
export async function pingDatabase(db: Db): Promise<void> {
  await db.selectFrom('secrets').select('name').limit(1).execute();
}
