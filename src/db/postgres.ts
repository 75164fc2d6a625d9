import { Kysely, type MigrationProvider, Migrator, PostgresDialect, type PostgresPool } from 'kysely';
import pg from 'pg';

// PostgreSQL (HUBGATE_DATABASE_URL): Kysely's dialect on a pg pool, with every wait bounded — for
// a connection, for a statement, for a transaction left idle — so a database that stops answering
// fails requests (503) instead of piling them up.

/** The pool size when the setting gives none. */
export const DEFAULT_POOL_SIZE = 10;
/** Waiting for a connection (a new one, or a free one of the pool). */
const CONNECT_TIMEOUT_MS = 10_000;
/** One statement, on the server (statement_timeout), and as the client waits for its answer. */
const STATEMENT_TIMEOUT_MS = 30_000;
/** A transaction that sits idle (its process stuck or gone) gives its locks back. */
const IDLE_IN_TRANSACTION_MS = 60_000;

/** The code of a connection that could not be made: src/domain/faults.ts answers it with 503. */
export const DATABASE_UNREACHABLE = 'DATABASE_UNREACHABLE';

// Counts (COUNT(*) is bigint) and bigint columns (sizes) come back as numbers, not strings: every
// value hubgate stores is far below 2^53. Per pool, so no other pg user in the process is changed.
const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if ((oid === INT8 || oid === NUMERIC) && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

function pool(url: string, opts: { max: number; readonly?: boolean; statementTimeoutMs: number }): PostgresPool {
  const p = new pg.Pool({
    connectionString: url,
    max: opts.max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    statement_timeout: opts.statementTimeoutMs,
    query_timeout: opts.statementTimeoutMs ? opts.statementTimeoutMs + 5_000 : undefined,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    application_name: 'hubgate',
    keepAlive: true,
    // The git hooks' connections: every transaction read-only, whatever a query tries.
    options: opts.readonly ? '-c default_transaction_read_only=on' : undefined,
    types: types as pg.CustomTypesConfig,
  });
  // An idle connection the server closed (a restart): the pool drops it; the next query gets a new one.
  p.on('error', () => {});
  return {
    async connect() {
      let client: pg.PoolClient;
      try {
        client = await p.connect();
      } catch (err) {
        // Refused, timed out, unknown host, bad password, no such database: the database cannot be reached.
        throw Object.assign(new Error(`cannot connect to the database: ${(err as Error).message}`), { code: DATABASE_UNREACHABLE, cause: err });
      }
      return markLostConnections(client);
    },
    end: () => p.end(),
  };
}

const MARKED = Symbol('lost connections marked');

/**
 * A connection lost during a query (the server went away, the socket reset, the client's own
 * timeout) fails without an SQLSTATE: its error gets DATABASE_UNREACHABLE, so it is answered as
 * an outage rather than a bug. Each pooled client is wrapped once.
 */
function markLostConnections(client: pg.PoolClient): pg.PoolClient {
  const c = client as pg.PoolClient & { [MARKED]?: true };
  if (c[MARKED]) return c;
  c[MARKED] = true;
  const query = c.query;
  c.query = function (this: unknown, ...args: unknown[]) {
    const result = (query as (...a: unknown[]) => unknown).apply(this, args);
    if (!(result instanceof Promise)) return result;
    return result.catch((err: { code?: unknown }) => {
      if (err && typeof err === 'object' && (typeof err.code !== 'string' || /^E[A-Z]+$/.test(err.code))) Object.assign(err, { code: DATABASE_UNREACHABLE });
      throw err;
    });
  } as typeof c.query;
  return c;
}

/**
 * Opens the database at `url` and (unless `readonly`) brings its schema up to date. Migrations
 * run on a connection of their own without a statement timeout (a long one must not be cut),
 * under the session advisory lock Kysely's PostgresAdapter takes (pg_advisory_lock, waiting at
 * most an hour): one node migrates, the others wait, then find nothing left to do.
 */
export async function openPostgres<T>(url: string, opts: { readonly?: boolean; poolSize?: number }, migrations: MigrationProvider): Promise<Kysely<T>> {
  if (!opts.readonly) {
    const migrating = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: pool(url, { max: 1, statementTimeoutMs: 0 }) }) });
    try {
      const { error } = await new Migrator({ db: migrating, provider: migrations }).migrateToLatest();
      if (error) throw Object.assign(new Error(`could not migrate the database: ${(error as Error).message}`), { code: (error as { code?: unknown }).code });
    } finally {
      await migrating.destroy();
    }
  }
  const max = opts.readonly ? Math.min(opts.poolSize ?? 1, 2) : (opts.poolSize ?? DEFAULT_POOL_SIZE);
  return new Kysely<T>({ dialect: new PostgresDialect({ pool: pool(url, { max, readonly: opts.readonly, statementTimeoutMs: STATEMENT_TIMEOUT_MS }) }) });
}
