import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPgCluster, TEST_PG_ERROR, TEST_PG_URL } from './postgres-cluster.js';

// Tests drive the real `hubgate` binary, so compile once before any test file runs.
// Every temporary file of the run goes under one root: TMPDIR points there for the test workers
// and the processes they start (os.tmpdir() honours it). At the end the root must be empty:
// whatever a test left is listed, the run fails, and the root is removed all the same. A run that
// was killed (no teardown) leaves its root: the next run removes the roots of runs no longer alive.
// One PostgreSQL cluster serves the run's PostgreSQL variants (test/helpers/postgres-cluster.ts):
// its directory sits beside the root (named like one, so a killed run's is removed too), and it
// is stopped and removed at the end. Without PostgreSQL installed the SQLite tests still run and
// every PostgreSQL variant fails with the reason.
export default async function setup(): Promise<() => void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync(process.execPath, [`${root}/node_modules/typescript/bin/tsc`, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  removeRootsOfDeadRuns(os.tmpdir());
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `hubgate-tests-${process.pid}-`));
  let cluster: Awaited<ReturnType<typeof startPgCluster>> | undefined;
  try {
    cluster = await startPgCluster(os.tmpdir(), `hubgate-tests-${process.pid}-pg-`);
    process.env[TEST_PG_URL] = cluster.url;
  } catch (err) {
    process.env[TEST_PG_ERROR] = (err as Error).message;
  }
  process.env.TMPDIR = tmp;
  // Servers the tests start themselves run without SSH unless a test gives it a port: none fights over 2222.
  process.env.HUBGATE_SSH_PORT ??= '0';
  return () => {
    cluster?.stop();
    const left = fs.readdirSync(tmp).map((name) => `${name} (${sizeOf(path.join(tmp, name))} bytes)`);
    fs.rmSync(tmp, { recursive: true, force: true });
    if (left.length > 0) {
      // vitest reports an error thrown here but still exits 0: set the status as well.
      process.exitCode = 1;
      throw new Error(`the tests left ${left.length} temporary entries (now removed): ${left.slice(0, 20).join(', ')}; remove what a test creates (tempDir() in test/helpers/hubgate.ts does, once its processes are stopped)`);
    }
  };
}

function sizeOf(p: string): number {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((sum, name) => sum + sizeOf(path.join(p, name)), 0);
}

function removeRootsOfDeadRuns(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(/^hubgate-tests-(\d+)-/.exec(name)?.[1]);
    if (!pid || alive(pid)) continue;
    const size = sizeOf(path.join(dir, name));
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    console.warn(`removed ${path.join(dir, name)} (${size} bytes), left by a test run that was stopped before its end`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
