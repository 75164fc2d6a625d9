// readRows (src/db/index.ts) runs a read's prepared statement directly on SQLite, outside Kysely:
// never in the middle of another request's transaction, whose writes it must not see before the
// commit (nor at all after a rollback). It waits for the transaction as Kysely's own queries do.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { type Db, openDb, readRows } from '../../src/db/index.ts';

const dirs: string[] = [];
const dbs: Db[] = [];
afterAll(async () => {
  for (const db of dbs) await db.destroy();
  dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function scratchDb(): Promise<Db> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hubgate-readrows-'));
  dirs.push(dir);
  const db = await openDb({ dataDir: dir });
  dbs.push(db);
  await sql`CREATE TABLE scratch (x INTEGER)`.execute(db);
  return db;
}

const count = async (db: Db) => Number((await readRows<{ n: number }>(db, 'SELECT count(*) AS n FROM scratch WHERE x > ?', [0]))[0].n);

describe('readRows', () => {
  it('answers at once outside a transaction, and waits for an open one: its writes are seen only once committed', async () => {
    const db = await scratchDb();
    await sql`INSERT INTO scratch VALUES (1)`.execute(db);
    expect(await count(db)).toBe(1);
    let finish!: () => void;
    const held = new Promise<void>((r) => (finish = r));
    let inside!: () => void;
    const begun = new Promise<void>((r) => (inside = r));
    const trx = db.transaction().execute(async (t) => {
      await sql`INSERT INTO scratch VALUES (2)`.execute(t);
      inside();
      await held;
    });
    await begun;
    let seen: number | undefined;
    const read = count(db).then((n) => (seen = n));
    await sleep(50);
    // Still waiting: a direct read now would have counted the uncommitted row.
    expect(seen).toBeUndefined();
    finish();
    await trx;
    await read;
    expect(seen).toBe(2);
  });

  it('never sees a transaction\'s writes that were rolled back', async () => {
    const db = await scratchDb();
    let inside!: () => void;
    const begun = new Promise<void>((r) => (inside = r));
    const trx = db.transaction().execute(async (t) => {
      await sql`INSERT INTO scratch VALUES (5)`.execute(t);
      inside();
      await sleep(50);
      throw new Error('rolled back');
    });
    await begun;
    const read = count(db);
    await expect(trx).rejects.toThrow('rolled back');
    expect(await read).toBe(0);
    expect(await count(db)).toBe(0);
  });
});
