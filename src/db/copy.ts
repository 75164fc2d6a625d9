import { type Kysely, sql } from 'kysely';

// Moving an installation from its SQLite file to PostgreSQL (`hubgate db copy`): every row of
// every table, with the same ids, into an empty, migrated PostgreSQL database, in one transaction
// (a failure leaves the target as empty as it was), then the row counts compared table by table.
// Tables are found in the source itself, so a table added by a later migration is copied too.

/** Rows sent per INSERT: well under PostgreSQL's 65,535 bind parameters for the widest table. */
const BATCH_ROWS = 500;

/**
 * SQLite's own tables, Kysely's bookkeeping (the target has its own), the search index the target
 * builds itself, and the serving processes' presence (about processes, not data: the old server is stopped).
 */
const NOT_COPIED = /^(sqlite_|kysely_|repo_search|nodes$)/;

export interface TableCount {
  table: string;
  source: number;
  target: number;
}

export class CopyError extends Error {}

/** Tables of the SQLite source in an order where every table comes after the tables it references. */
export async function sourceTables(source: Kysely<any>): Promise<string[]> {
  const names = (await sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`.execute(source)).rows
    .map((r) => r.name)
    .filter((name) => !NOT_COPIED.test(name));
  const refs = new Map<string, string[]>();
  for (const name of names) {
    const fks = (await sql<{ table: string }>`select "table" from pragma_foreign_key_list(${name})`.execute(source)).rows;
    refs.set(name, fks.map((fk) => fk.table).filter((t) => t !== name && names.includes(t)));
  }
  const ordered: string[] = [];
  const visit = (name: string, path: string[]) => {
    if (ordered.includes(name)) return;
    if (path.includes(name)) throw new CopyError(`the tables ${path.join(' → ')} reference each other: this copy cannot order them`);
    for (const ref of refs.get(name) ?? []) visit(ref, [...path, name]);
    ordered.push(name);
  };
  for (const name of names) visit(name, []);
  return ordered;
}

/** The migrations the source ran, to compare with the target's: both must be at the same schema. */
export async function migrationsRun(db: Kysely<any>): Promise<string[]> {
  const rows = await db.selectFrom('kysely_migration').select('name').orderBy('name').execute();
  return rows.map((r) => r.name as string);
}

async function count(db: Kysely<any>, table: string): Promise<number> {
  const row = await db.selectFrom(table).select(sql<string | number>`count(*)`.as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The columns of a PostgreSQL table that take values (generated columns are computed by the target). */
async function targetColumns(target: Kysely<any>, table: string): Promise<Map<string, string>> {
  const rows = (
    await sql<{ column_name: string; data_type: string }>`select column_name, data_type from information_schema.columns
      where table_schema = current_schema() and table_name = ${table} and is_generated = 'NEVER'`.execute(target)
  ).rows;
  return new Map(rows.map((r) => [r.column_name, r.data_type]));
}

/**
 * Copies every row from `source` (SQLite) into `target` (PostgreSQL, migrated, empty) and
 * returns each table's count on both sides. Refuses a target that already holds rows, or one at
 * another schema version than the source.
 */
export async function copyDatabase(source: Kysely<any>, target: Kysely<any>, onTable: (table: string, rows: number) => void = () => {}): Promise<TableCount[]> {
  const [ranSource, ranTarget] = [await migrationsRun(source), await migrationsRun(target)];
  if (ranSource.join() !== ranTarget.join()) {
    const missing = ranTarget.filter((m) => !ranSource.includes(m));
    throw new CopyError(
      missing.length > 0
        ? `the SQLite database is at an older schema (it lacks ${missing.join(', ')}): run \`hubgate db migrate --data DIR\` on it with this version first`
        : 'the SQLite database was migrated by a newer hubgate than this one: run the copy with that version',
    );
  }
  const tables = await sourceTables(source);
  for (const table of tables) {
    if ((await targetColumns(target, table)).size === 0) throw new CopyError(`the target database has no table ${table}: is it a hubgate database at this version?`);
    if ((await count(target, table)) > 0) throw new CopyError(`the target database already holds rows (in ${table}): copy into a new, empty database`);
  }
  await target.transaction().execute(async (tx) => {
    for (const table of tables) {
      const columns = await targetColumns(tx, table);
      let batch: Record<string, unknown>[] = [];
      let copied = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        await tx.insertInto(table).values(batch).execute();
        copied += batch.length;
        batch = [];
      };
      // Streamed: a large audit log or upload table is never held whole.
      for await (const row of source.selectFrom(table).selectAll().stream()) {
        batch.push(Object.fromEntries(Object.entries(row as Record<string, unknown>).filter(([column]) => columns.has(column))));
        if (batch.length >= BATCH_ROWS) await flush();
      }
      await flush();
      onTable(table, copied);
      // Ids were given explicitly: the next id PostgreSQL hands out must come after them.
      if (['integer', 'bigint'].includes(columns.get('id') ?? '')) {
        await sql`select setval(seq, greatest((select max(id) from ${sql.table(table)}), 1), (select count(*) > 0 from ${sql.table(table)}))
          from (select pg_get_serial_sequence(${table}, 'id') as seq) s where seq is not null`.execute(tx);
      }
    }
  });
  const counts: TableCount[] = [];
  for (const table of tables) counts.push({ table, source: await count(source, table), target: await count(target, table) });
  const wrong = counts.filter((c) => c.source !== c.target);
  if (wrong.length > 0) throw new CopyError(`row counts differ after the copy: ${wrong.map((c) => `${c.table} ${c.source} → ${c.target}`).join(', ')}`);
  return counts;
}
