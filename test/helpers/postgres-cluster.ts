import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

// One PostgreSQL cluster for a test run, started by the global setup (Debian's postgresql
// binaries): in a directory of its own, on a free loopback port, its socket in that directory,
// trust authentication on 127.0.0.1 only, no fsync. Test servers get a database each in it
// (startHubgate({ db: 'postgres' })). initdb refuses to run as root: then the cluster runs as the
// `postgres` user Debian's package creates, the directory handed to it.

/** Where the test servers find the cluster: the superuser's URL for its `postgres` database. */
export const TEST_PG_URL = 'HUBGATE_TEST_POSTGRES_URL';
/** Set instead when no cluster could be started: why, and what to do; the PostgreSQL variants fail with it. */
export const TEST_PG_ERROR = 'HUBGATE_TEST_POSTGRES_ERROR';

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  /** Stops the cluster (immediately: nothing of it needs to last) and removes its directory. */
  stop(): void;
}

const PG_LIB = '/usr/lib/postgresql';

/** The bin directory of the newest PostgreSQL installed, or undefined. */
function pgBinDir(): string | undefined {
  const versions = fs.existsSync(PG_LIB) ? fs.readdirSync(PG_LIB).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  return versions.map((v) => path.join(PG_LIB, v, 'bin')).find((bin) => fs.existsSync(path.join(bin, 'initdb')));
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Starts a cluster in a new directory under `parent` whose name starts with `prefix`. */
export async function startPgCluster(parent: string, prefix: string): Promise<PgCluster> {
  const bin = pgBinDir();
  if (!bin) {
    throw new Error(`PostgreSQL is not installed (no ${PG_LIB}/*/bin/initdb): the PostgreSQL variants of the tests need Debian's postgresql package; install it with \`apt-get install postgresql\` (.ci/run does)`);
  }
  const dir = fs.mkdtempSync(path.join(parent, prefix));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args]] : [path.join(bin, cmd), args];
    execFileSync(file, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  };
  const data = path.join(dir, 'data');
  try {
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      fs.chownSync(dir, uid, gid);
    }
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const port = await freeLoopbackPort();
    const settings = [
      `-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off',
      // Each test server holds a pool; two test files run at once, each with a few servers.
      '-c max_connections=400',
    ].join(' ');
    run('pg_ctl', ['-D', data, '-o', settings, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start']);
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      stop() {
        try {
          run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    const e = err as Error & { stderr?: Buffer };
    const log = fs.existsSync(path.join(dir, 'log')) ? fs.readFileSync(path.join(dir, 'log'), 'utf8') : '';
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start the tests' PostgreSQL cluster: ${e.message}\n${e.stderr?.toString() ?? ''}${log}`);
  }
}
