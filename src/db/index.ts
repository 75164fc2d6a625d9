import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { CompiledQuery, type Driver, Kysely, Migrator, PostgresAdapter, SqliteAdapter, SqliteDialect, sql } from 'kysely';
import { migrationProvider } from './migrations.js';
import { openPostgres } from './postgres.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/**
 * Where the metadata lives: the SQLite file in the data directory (the default), or the
 * PostgreSQL database `databaseUrl` names, through a pool of `databasePoolSize` connections.
 * The settings (src/config.ts) have these fields, so `openDb(cfg)` opens the configured database.
 */
export interface DbLocation {
  dataDir: string;
  databaseUrl?: string;
  databasePoolSize?: number;
}

/** Which database `db` is: the few queries that differ between them ask. */
export function isPostgres(db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * Opens the database and brings its schema up to date. With `readonly` (git hooks, which run
 * while the server has it open), nothing is created or migrated and nothing can be written.
 * `poolSize` overrides the setting's pool size (PostgreSQL; a hook needs one connection).
 */
export async function openDb(where: DbLocation, opts: { readonly?: boolean; poolSize?: number } = {}): Promise<Db> {
  if (where.databaseUrl) return openPostgres<Database>(where.databaseUrl, { ...opts, poolSize: opts.poolSize ?? where.databasePoolSize }, migrationProvider);
  return openSqlite(where.dataDir, opts);
}

/**
 * Opens the SQLite file under the data directory (WAL, so the CLI can write while the
 * server runs) and brings its schema up to date.
 */
async function openSqlite(dataDir: string, opts: { readonly?: boolean }): Promise<Db> {
  const file = path.join(dataDir, 'hubgate.sqlite');
  if (opts.readonly) {
    const sqlite = new SQLite(file, { readonly: true, fileMustExist: true });
    sqlite.pragma('busy_timeout = 5000');
    const statements = withStatementCache(sqlite);
    return directReads(new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) }), sqlite, statements);
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL');
  const statements = withStatementCache(sqlite);
  const db = directReads(new Kysely<Database>({ dialect: new LockingSqliteDialect(sqlite, statements) }), sqlite, statements);
  // Admin commands may start together on a new data directory: the loser of the lock race
  // waits, then finds the schema migrated; a lost race on Kysely's own bookkeeping is retried.
  for (let attempt = 1; ; attempt++) {
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    if (!error) return db;
    if (attempt < 3) {
      await new Promise((r) => setTimeout(r, 50 * attempt));
      continue;
    }
    await db.destroy();
    // The SQLite code stays on the error: a full or read-only disk is answered as such.
    throw Object.assign(new Error(`could not migrate ${file}: ${(error as Error).message}`), { code: (error as { code?: unknown }).code });
  }
}

/** Written-out SQL with `?` placeholders (no `?` elsewhere in it), as the database's driver takes it (PostgreSQL: $1, $2, ...). */
export function rawQuery(db: Db, text: string, params: readonly unknown[]): CompiledQuery {
  if (!isPostgres(db)) return CompiledQuery.raw(text, [...params]);
  let n = 0;
  return CompiledQuery.raw(text.replace(/\?/g, () => `$${++n}`), [...params]);
}

/**
 * Kysely's SQLite migrations take no lock, so two processes could both apply one. Here the
 * migrator holds SQLite's write lock (BEGIN IMMEDIATE) from before it reads which migrations
 * ran until after it recorded them; other processes wait for it (busy_timeout).
 */
class LockingSqliteAdapter extends SqliteAdapter {
  override async acquireMigrationLock(db: Kysely<any>): Promise<void> {
    await sql`begin immediate`.execute(db);
  }
  override async releaseMigrationLock(db: Kysely<any>): Promise<void> {
    await sql`commit`.execute(db);
  }
}

/**
 * When a statement fails with SQLITE_FULL or SQLITE_IOERR, SQLite may already have rolled the
 * transaction back; Kysely's ROLLBACK then fails with "no transaction is active" and that error
 * replaces the real one (a full disk answered as a 500). Roll back only what is still open.
 */
class LockingSqliteDialect extends SqliteDialect {
  constructor(
    private readonly sqlite: SQLite.Database,
    statements: StatementCache,
  ) {
    super({ database: statements });
  }

  override createAdapter(): SqliteAdapter {
    return new LockingSqliteAdapter();
  }

  override createDriver(): Driver {
    const driver = super.createDriver();
    const rollback = driver.rollbackTransaction.bind(driver);
    driver.rollbackTransaction = async (connection) => {
      if (this.sqlite.inTransaction) await rollback(connection);
    };
    return driver;
  }
}

interface StatementCache {
  prepare(sql: string): SQLite.Statement;
  close(): void;
}

/** The SQLite connection under each database opened here, for readRows. */
const sqliteOf = new WeakMap<Db, { sqlite: SQLite.Database; statements: StatementCache }>();

function directReads(db: Db, sqlite: SQLite.Database, statements: StatementCache): Db {
  sqliteOf.set(db, { sqlite, statements });
  return db;
}

/**
 * The rows of a read written out with `?` placeholders (as rawQuery takes it). On SQLite, when no
 * transaction is open on the connection, its prepared statement is run right here: Kysely's way
 * (a query object, its connection lock, several promise hops) costs more than the small indexed
 * reads every request makes (the caller, the repo and its access facts, an LFS object's link),
 * and a synchronous statement on the one connection is alone on it anyway. While a transaction is
 * open (someone holds the connection between statements), through Kysely, which waits for it:
 * a read must not see another request's uncommitted writes. PostgreSQL: through Kysely.
 */
export async function readRows<T>(db: Db, text: string, params: readonly unknown[]): Promise<T[]> {
  const direct = sqliteOf.get(db);
  if (direct && !direct.sqlite.inTransaction) return direct.statements.prepare(text).all(params) as T[];
  return (await db.executeQuery<T>(rawQuery(db, text, params))).rows;
}

/** How many prepared statements are kept: the queries of the hot paths, with room for the rarer ones. */
const STATEMENT_CACHE_SIZE = 256;
/** Longer SQL (a long `IN (?, ?, ...)` list, a many-row insert) is prepared each time: it is rare, and large to keep. */
const CACHED_SQL_MAX_LENGTH = 4096;

/**
 * The database as Kysely's SQLite driver sees it, with each statement prepared once: the driver
 * prepares the SQL of every query it runs, which costs more than running the small queries of a
 * request (the caller, the repo and the access facts). Statements are kept by their SQL text,
 * least recently used out first. Sharing one is safe: Kysely runs one query at a time on SQLite's
 * single connection (its mutex), and better-sqlite3 re-prepares a statement itself when the
 * schema changed under it.
 */
export function withStatementCache(sqlite: SQLite.Database): StatementCache {
  const cache = new Map<string, SQLite.Statement>();
  return {
    prepare(text: string) {
      const kept = cache.get(text);
      if (kept) {
        // Most recently used last: Map keeps insertion order.
        cache.delete(text);
        cache.set(text, kept);
        return kept;
      }
      const stmt = sqlite.prepare(text);
      if (text.length <= CACHED_SQL_MAX_LENGTH) {
        cache.set(text, stmt);
        if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      return stmt;
    },
    close() {
      cache.clear();
      sqlite.close();
    },
  };
}

export function now(): string {
  return new Date().toISOString();
}

/** True when the database refused a row because of a UNIQUE constraint or primary key (PostgreSQL: unique_violation, 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
