import { HubgateError } from './errors.js';

// Faults of the machine, not of the request: a full or read-only disk, a database that cannot
// write, an object store that does not answer. Each surface turns them into its own error format
// (API JSON, LFS JSON, a page, git `remote:` lines); the status and message are decided here once.

/** A retryable outage; `retryAfter` seconds go into `Retry-After`. */
export class ServiceUnavailable extends HubgateError {
  constructor(
    message: string,
    readonly retryAfter = 30,
  ) {
    super('unavailable', message);
  }
}

/** The server has no room left (HTTP 507 Insufficient Storage). */
export class InsufficientStorage extends HubgateError {
  constructor(message: string) {
    super('insufficient-storage', message);
  }
}

export const DISK_FULL = "the server's disk is full: nothing was changed; ask the administrator to free space, then try again";
export const READ_ONLY = "the server's storage is read-only or cannot be written: nothing was changed; ask the administrator, then try again";
export const DATABASE_DOWN = "the server's database cannot be written right now: nothing was changed; try again shortly";
export const DATABASE_UNREACHABLE = "the server's database cannot be reached right now: nothing was changed; try again shortly";
export const OBJECT_STORE_DOWN = 'the object store is unavailable: nothing was changed; try again shortly';

const codeOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * PostgreSQL's SQLSTATE codes of a database that cannot serve right now: the connection failed or
 * was lost (class 08), too many connections (53300), out of memory (53200), shutting down or
 * starting (57P01-57P03), a statement past its timeout (57014), and src/db/postgres.ts's code for a
 * connection that could not be made.
 */
const DATABASE_OUTAGE = /^(08[0-9A-Z]{3}|53200|53300|57P0[123]|57014|DATABASE_UNREACHABLE)$/;

/**
 * The answer for an error that is a machine fault, or undefined when it is not one (a bug, to be
 * logged as such). Node's errno codes for files, better-sqlite3's SQLITE_* codes and PostgreSQL's
 * SQLSTATE codes for the database (53100: disk_full).
 */
export function storageFault(err: unknown): ServiceUnavailable | InsufficientStorage | undefined {
  if (err instanceof ServiceUnavailable || err instanceof InsufficientStorage) return err;
  const code = codeOf(err);
  if (!code) return undefined;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || code === '53100') return new InsufficientStorage(DISK_FULL);
  if (DATABASE_OUTAGE.test(code)) return new ServiceUnavailable(DATABASE_UNREACHABLE, 10);
  if (code === 'EROFS') return new ServiceUnavailable(READ_ONLY, 300);
  if (code === 'SQLITE_READONLY' || code.startsWith('SQLITE_READONLY_') || code === 'SQLITE_IOERR' || code.startsWith('SQLITE_IOERR_') || code === 'SQLITE_BUSY' || code === 'SQLITE_CANTOPEN') {
    return new ServiceUnavailable(DATABASE_DOWN, code === 'SQLITE_BUSY' ? 5 : 60);
  }
  return undefined;
}

// What child processes (git, hooks) print when the system refuses a write: strerror texts and
// SQLite's message, mapped to the errno codes above.
const FAULT_TEXTS: [RegExp, string][] = [
  [/No space left on device/i, 'ENOSPC'],
  [/Disk quota exceeded/i, 'EDQUOT'],
  [/database or disk is full/i, 'SQLITE_FULL'],
  [/Read-only file system/i, 'EROFS'],
];

/** The errno-style code of a machine fault a child process reported in `text` (its stderr), if any. */
export function faultCodeInText(text: string): string | undefined {
  return FAULT_TEXTS.find(([re]) => re.test(text))?.[1];
}
