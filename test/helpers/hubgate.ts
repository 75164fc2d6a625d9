import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll } from 'vitest';
import { TEST_PG_ERROR, TEST_PG_URL } from './postgres-cluster.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'hubgate.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, never throwing on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input);
  });
}

const scratchDirs: string[] = [];
/** Processes a test file started (servers, s3rver): stopped before their directories are removed. */
const children = new Set<ChildProcess>();
const removeScratchDirs = () => {
  for (const dir of scratchDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
};
// One exit listener for all scratch directories (one per directory trips MaxListenersExceededWarning).
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  removeScratchDirs();
});
// vitest ends its workers without an 'exit' event, so each test file also removes them when it is
// done: this hook is registered first, so it runs after the file's own afterAll (servers stopped);
// a process a test left running is stopped first, so it writes nothing after the removal.
afterAll(async () => {
  await Promise.all([...children].map((child) => endProcess(child)));
  removeScratchDirs();
  for (const url of [...createdDatabases]) await dropTestDatabase(url);
});

/** Has `child` stopped (and waited for) when the test file ends, if it is still running then. */
export function ownProcess<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM (a stopped process is continued first), SIGKILL if it has not exited within 10 s. */
async function endProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A scratch directory removed when the process exits. */
export function tempDir(prefix = 'hubgate-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** The environment for git clients in tests: nothing from the machine's own config, no prompts. */
export function clientEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Test Author',
    GIT_AUTHOR_EMAIL: 'author@example.com',
    GIT_COMMITTER_NAME: 'Test Author',
    GIT_COMMITTER_EMAIL: 'author@example.com',
    LC_ALL: 'C',
    ...extra,
  };
}

/** The databases hubgate runs on: parameterise a test with `describe.each(DATABASES)`. */
export const DATABASES = ['sqlite', 'postgres'] as const;
export type DatabaseKind = (typeof DATABASES)[number];

/** The URL of the run's PostgreSQL cluster (started by the global setup); throws why there is none. */
export function testPostgresUrl(): string {
  const url = process.env[TEST_PG_URL];
  if (!url) throw new Error(process.env[TEST_PG_ERROR] ?? `${TEST_PG_URL} is not set: run the tests through vitest, whose global setup starts PostgreSQL`);
  return url;
}

/** Databases created for test servers and not yet dropped: dropped when the test file ends. */
const createdDatabases = new Set<string>();

/** A new, empty database in the run's cluster, for one server; its URL. */
export async function createTestDatabase(): Promise<string> {
  const admin = new URL(testPostgresUrl());
  const name = `hubgate_${Math.random().toString(36).slice(2, 12)}`;
  const client = new pg.Client({ connectionString: admin.href });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  admin.pathname = `/${name}`;
  createdDatabases.add(admin.href);
  return admin.href;
}

/** Drops a database createTestDatabase made (its connections, if any are left, are ended). */
export async function dropTestDatabase(url: string): Promise<void> {
  if (!createdDatabases.delete(url)) return;
  const name = new URL(url).pathname.slice(1);
  const client = new pg.Client({ connectionString: testPostgresUrl() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export interface Hubgate {
  url: string;
  port: number;
  dataDir: string;
  /** The database it runs on; `databaseUrl` is PostgreSQL's (a database of its own, dropped when the file ends). */
  db: DatabaseKind;
  databaseUrl?: string;
  /** The server's stdout+stderr so far (its pino log). */
  log(): string;
  /** Runs `hubgate ARGS --data DATADIR`. */
  cli(args: string[], input?: string): Promise<RunResult>;
  /** Creates a user and a token with the given role; returns the token. */
  userWithToken(name: string, role?: 'read' | 'write'): Promise<string>;
  /** Runs git with a clean client environment, in `cwd` (default: a fresh temp dir). */
  git(args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** `http://x:TOKEN@host:port/PATH` (no credentials when token is undefined). */
  remote(repoPath: string, token?: string): string;
  repoDir(repoPath: string): string;
  /** Clones `repoPath` with `token`, writes `files` (paths relative to the work tree), commits and pushes main; returns the new commit id. */
  pushFiles(repoPath: string, token: string, files: Record<string, string | Buffer>, message?: string): Promise<string>;
  stop(): Promise<void>;
  process: ChildProcess;
}

/**
 * `port`: listen there (a restart on the same data dir keeps the links it handed out valid).
 * One process unless `env` sets HUBGATE_WORKERS (a primary and workers per test server would
 * multiply the processes of a run by the cores); a stop lets requests in flight finish for at
 * most 5 s unless `env` sets HUBGATE_SHUTDOWN_TIMEOUT_MS. `db: 'postgres'`: the metadata goes to a
 * new database in the run's PostgreSQL cluster (HUBGATE_DATABASE_URL), dropped when the test file
 * ends (not at stop: a restart on the same data passes `env: { HUBGATE_DATABASE_URL: first.databaseUrl }`).
 */
export async function startHubgate(opts: { env?: NodeJS.ProcessEnv; dataDir?: string; port?: number; db?: DatabaseKind } = {}): Promise<Hubgate> {
  // HUBGATE_TEST_DB=postgres runs a whole test file's servers on PostgreSQL (to try a file there;
  // a file that restarts a server on its data directory needs the URL passed, see above).
  const db = opts.db ?? (opts.env?.HUBGATE_DATABASE_URL ? 'postgres' : process.env.HUBGATE_TEST_DB === 'postgres' ? 'postgres' : 'sqlite');
  const ownDatabase = db === 'postgres' && !opts.env?.HUBGATE_DATABASE_URL ? await createTestDatabase() : undefined;
  const databaseUrl = ownDatabase ?? opts.env?.HUBGATE_DATABASE_URL;
  opts = { ...opts, env: { ...opts.env, ...(databaseUrl ? { HUBGATE_DATABASE_URL: databaseUrl } : {}) } };
  const dataDir = opts.dataDir ?? path.join(tempDir(), 'data');
  const home = tempDir('hubgate-home-');
  // A data directory moved to PostgreSQL (db copy) keeps its old SQLite file.
  const sqliteBefore = fs.existsSync(path.join(dataDir, 'hubgate.sqlite'));
  const port = opts.port ?? (await freePort());
  // SSH is off unless a test asks for it (HUBGATE_SSH_PORT with a free port): servers never fight over 2222.
  const env = { ...process.env, HUBGATE_LOG_LEVEL: 'debug', HUBGATE_WORKERS: '1', HUBGATE_SHUTDOWN_TIMEOUT_MS: '5000', HUBGATE_SSH_PORT: '0', ...opts.env };
  const child = ownProcess(spawn(process.execPath, [BIN, 'serve', '--data', dataDir, '--host', '127.0.0.1', '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout.on('data', (b) => (output += b));
  child.stderr.on('data', (b) => (output += b));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hubgate exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`hubgate did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // A server meant to run on PostgreSQL must not have fallen back to the data directory's SQLite file.
  if (db === 'postgres' && !sqliteBefore && fs.existsSync(path.join(dataDir, 'hubgate.sqlite'))) throw new Error(`hubgate started on ${databaseUrl} made ${dataDir}/hubgate.sqlite`);
  const hubgate: Hubgate = {
    url,
    port,
    dataDir,
    db,
    databaseUrl,
    process: child,
    log: () => output,
    cli: (args, input) => run(process.execPath, [BIN, ...args, '--data', dataDir], { input, env: { ...process.env, ...opts.env } }),
    async userWithToken(name, role = 'write') {
      const user = await hubgate.cli(['user', 'create', name, '--email', `${name}@example.com`]);
      if (user.code !== 0 && !user.stderr.includes('already taken')) throw new Error(user.stderr);
      const token = await hubgate.cli(['token', 'create', name, '--role', role]);
      if (token.code !== 0) throw new Error(token.stderr);
      return token.stdout.trim();
    },
    git: (args, o = {}) => run('git', args, { cwd: o.cwd ?? tempDir('hubgate-git-'), env: clientEnv(home, o.env) }),
    remote: (repoPath, token) => `http://${token ? `x:${token}@` : ''}127.0.0.1:${port}/${repoPath}`,
    repoDir(repoPath) {
      const m = /^(?:(datasets|spaces)\/)?([^/]+)\/([^/]+?)(?:\.git)?$/.exec(repoPath)!;
      return path.join(dataDir, 'repos', m[1] ?? 'models', m[2], `${m[3]}.git`);
    },
    async pushFiles(repoPath, token, files, message = 'update') {
      const work = tempDir('hubgate-push-');
      const step = async (args: string[]) => {
        const r = await hubgate.git(args, { cwd: work });
        if (r.code !== 0) throw new Error(`git ${args[0]} failed (${r.code}): ${r.stderr}`);
        return r.stdout.trim();
      };
      await step(['clone', '--quiet', hubgate.remote(repoPath, token), '.']);
      for (const [file, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(work, file)), { recursive: true });
        fs.writeFileSync(path.join(work, file), content);
      }
      await step(['add', '--', ...Object.keys(files)]);
      await step(['commit', '--quiet', '-m', message]);
      await step(['push', '--quiet', 'origin', 'main']);
      return step(['rev-parse', 'HEAD']);
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
  return hubgate;
}

/** Every JSON line of hubgate's log (pino), oldest first. */
export function logEntries(hub: Hubgate): Record<string, any>[] {
  return hub
    .log()
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
}

/**
 * Waits until hubgate's log has been quiet for a moment (at most 2 s): request lines are written in
 * batches up to 10 ms after their response (src/http/request-log.ts), so a test reads them only
 * once those of the requests it made are there.
 */
export async function settledLog(hub: Pick<Hubgate, 'log'>): Promise<string> {
  const deadline = Date.now() + 2000;
  for (let seen = hub.log().length; ; ) {
    await new Promise((r) => setTimeout(r, 40));
    const now = hub.log().length;
    if (now === seen || Date.now() > deadline) return hub.log();
    seen = now;
  }
}

/** The requests in hubgate's log (request lines), oldest first, once the log has settled. */
export async function requestsLogged(hub: Hubgate): Promise<{ method: string; path: string; status: number }[]> {
  await settledLog(hub);
  return logEntries(hub).flatMap((entry) => (entry.req && entry.res ? [{ method: entry.req.method, path: entry.req.path, status: entry.res.statusCode }] : []));
}
