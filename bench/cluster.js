#!/usr/bin/env node
// Several hubgate nodes behind nginx (issue 16, docs/deploy.md), measured on this machine:
//   A. through the balancer, one node vs two nodes on one shared data directory, one database
//      (PostgreSQL when it runs, see B; else SQLite) and s3rver: 16 concurrent `git clone`s (wall time) and LFS batches of 1,000 objects (one at a
//      time: latency; 16 at once: wall time), download of existing objects and upload of new ones;
//   B. the database under the hot paths, SQLite vs PostgreSQL, one node asked directly: requests
//      per second of a token lookup + access decision (an LFS batch of one object in a private
//      repo, 16 at once), and the latency of a batch of 1,000. PostgreSQL runs when hubgate has
//      HUBGATE_DATABASE_URL and PostgreSQL's programs are installed (Debian: /usr/lib/postgresql/*/bin),
//      or when HUBGATE_BENCH_PG=1 insists (then a missing one is an error); the bench starts its
//      own throwaway PostgreSQL on a free loopback port and removes it afterwards.
//   node bench/cluster.js [--quick] [--runs N] [--out FILE] [--no-build]
//
// Why two nodes do not double the throughput here: both nodes run on the same 2 cores. A clone's
// cost is git's pack-objects (a process of its own, which the OS already spreads over both cores
// with one node) plus nginx, the client's git and s3rver, all on the same cores; an LFS batch is
// CPU in node (JSON, signing URLs) and in the database. A second node adds a second event loop,
// which helps only as far as one node's event loop was the bottleneck, and costs memory and
// context switches. What this bench shows is that nothing serialises ACROSS nodes (no lock or
// single writer that makes two nodes slower than one, no request waiting for the other node):
// two nodes are within noise of one, or better where one event loop was the limit. On N machines
// with their own cores, throughput then grows with N until the database or the shared
// filesystem saturates.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HUBGATE_BIN, ROOT_DIR, hubgateCli, startBalancerNginx, startHubgate } from './servers.js';
import { freePort, installCleanup, median, nowMs, rmrf, run, stopChild, track, waitFor } from './util.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (n) => argv.includes(n);
const opt = (n) => {
  const i = argv.indexOf(n);
  return i >= 0 ? argv[i + 1] : undefined;
};
const QUICK = flag('--quick');
const OUT = path.resolve(opt('--out') ?? path.join(BENCH_DIR, 'cluster-results.json'));
const RUNS = opt('--runs') ? Number(opt('--runs')) : QUICK ? 2 : 5;
const CFG = {
  clones: 16,
  batchObjects: QUICK ? 200 : 1000,
  concurrentBatches: 16,
  batchRuns: QUICK ? 5 : 15,
  hotSeconds: QUICK ? 2 : 5,
  hotConcurrency: 16,
  repoFiles: QUICK ? 20 : 60,
  repoFileSize: 256 * 1024,
  repoCommits: QUICK ? 50 : 200,
};
// Outside bench/.work: the fs paths hubgate serves must have no dot-directory (see bench/lfs.js).
const ROOT = path.join(os.tmpdir(), `hubgate-cluster-bench-${process.pid}`);
const LOGS = path.join(BENCH_DIR, '.work', 'cluster', 'logs');
installCleanup(() => rmrf(ROOT));
const log = (...a) => process.stderr.write(`[cluster-bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);

// One process per node (bench/servers.js turns the per-caller limits off: every request comes from one address and one token).
const NODE_ENV = { HUBGATE_WORKERS: '1', HUBGATE_LOG_LEVEL: 'warn', HUBGATE_LFS_GC_INTERVAL_MS: '0' };

// ---------------------------------------------------------------- HTTP

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
const LFS = 'application/vnd.git-lfs+json';
function batch(base, token, repo, operation, objects) {
  return request(`${base}/${repo}.git/info/lfs/objects/batch`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': LFS, Accept: LFS },
    body: JSON.stringify({ operation, transfers: ['basic'], objects, hash_algo: 'sha256' }),
  }).then((r) => {
    if (r.status !== 200) throw new Error(`batch ${operation}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    return JSON.parse(r.text);
  });
}
const newOids = (n) => Array.from({ length: n }, () => ({ oid: crypto.randomBytes(32).toString('hex'), size: 1000 + Math.floor(Math.random() * 1e6) }));

// ---------------------------------------------------------------- s3rver, PostgreSQL

async function startS3rver() {
  const dir = path.join(ROOT, 's3rver');
  fs.mkdirSync(dir, { recursive: true });
  const fd = fs.openSync(path.join(LOGS, 's3rver.log'), 'a');
  const child = spawn(process.execPath, [path.join(BENCH_DIR, 'lfs-s3rver.cjs'), dir, 'hubgate-bench'], { cwd: ROOT_DIR, stdio: ['ignore', 'pipe', fd], detached: true });
  track(child, 's3rver', { group: true });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`s3rver exited ${c}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    child,
    env: { HUBGATE_LFS_STORE: 's3', HUBGATE_S3_BUCKET: 'hubgate-bench', HUBGATE_S3_ENDPOINT: endpoint, HUBGATE_S3_FORCE_PATH_STYLE: 'true', HUBGATE_S3_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
  };
}

/** PostgreSQL's programs (Debian puts them in /usr/lib/postgresql/VERSION/bin), newest version first. */
function postgresBin() {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return null;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : null;
}
const hubgateKnowsPostgres = () => {
  const config = path.join(ROOT_DIR, 'dist', 'src', 'config.js');
  return fs.existsSync(config) && fs.readFileSync(config, 'utf8').includes('HUBGATE_DATABASE_URL');
};

/** A throwaway PostgreSQL cluster on a free loopback port (as the postgres user when run as root: initdb refuses root). */
async function startPostgres(bin) {
  const dir = path.join(ROOT, 'pg');
  fs.mkdirSync(dir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  const as = (cmd, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (asRoot) await run('chown', ['-R', 'postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  await run(...as(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'hubgate', '--no-sync', '-E', 'UTF8']), { quiet: true });
  const port = await freePort();
  const child = spawn(...as(path.join(bin, 'postgres'), ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', dir, '-c', 'fsync=off', '-c', 'max_connections=200']), {
    stdio: ['ignore', fs.openSync(path.join(LOGS, 'postgres.log'), 'a'), fs.openSync(path.join(LOGS, 'postgres.log'), 'a')],
    detached: true,
  });
  track(child, 'postgres', { group: true });
  await waitFor(async () => (await run(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { allowFail: true })).code === 0, { what: 'PostgreSQL', timeoutMs: 30000 });
  let n = 0;
  return {
    child,
    /** A new empty database; its URL. */
    async database() {
      const name = `hubgate_bench_${++n}`;
      await run(path.join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'hubgate', name]);
      return `postgres://hubgate@127.0.0.1:${port}/${name}`;
    },
  };
}

// ---------------------------------------------------------------- setup: a data directory with a repo to clone and LFS objects

/** fast-import input: CFG.repoCommits small commits, then CFG.repoFiles random files of CFG.repoFileSize. */
function importStream() {
  const parts = [];
  const data = (b) => parts.push(Buffer.from(`data ${b.length}\n`), b, Buffer.from('\n'));
  for (let i = 0; i < CFG.repoCommits; i++) {
    parts.push(Buffer.from(`commit refs/heads/main\nauthor A <a@example.com> ${1_700_000_000 + i} +0000\ncommitter A <a@example.com> ${1_700_000_000 + i} +0000\n`));
    data(Buffer.from(`commit ${i}\n`));
    parts.push(Buffer.from(`M 644 inline notes/${i % 50}.txt\n`));
    data(Buffer.from(`line ${i}\n`.repeat(20)));
    if (i === CFG.repoCommits - 1) {
      for (let f = 0; f < CFG.repoFiles; f++) {
        parts.push(Buffer.from(`M 644 inline data/${f}.bin\n`));
        data(crypto.randomBytes(CFG.repoFileSize));
      }
    }
  }
  parts.push(Buffer.from('done\n'));
  return Buffer.concat(parts);
}

/** A data directory with alice, her token, alice/clone (pushed through `base`) and alice/lfs holding CFG.batchObjects objects. */
async function populate(base, token) {
  const work = path.join(ROOT, `work-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(work, { recursive: true });
  await run('git', ['init', '-q', '--bare', work]);
  await run('git', ['fast-import', '--quiet', '--done'], { cwd: work, input: importStream() });
  await run('git', ['push', '-q', '--force', `http://x:${token}@${base.slice('http://'.length)}/alice/clone`, 'main'], { cwd: work, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  rmrf(work);
  // The objects the download batches ask for: uploaded through the normal path (batch, PUT to the store, verify).
  const objects = Array.from({ length: CFG.batchObjects }, (_, i) => {
    const bytes = Buffer.from(`object ${i} ${crypto.randomBytes(8).toString('hex')}\n`);
    return { oid: crypto.createHash('sha256').update(bytes).digest('hex'), size: bytes.length, bytes };
  });
  const answer = await batch(base, token, 'alice/lfs', 'upload', objects.map(({ oid, size }) => ({ oid, size })));
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < objects.length) {
      const i = next++;
      const actions = answer.objects[i].actions;
      const put = await request(actions.upload.href, { method: 'PUT', headers: { ...(actions.upload.header ?? {}), 'Content-Length': String(objects[i].size) }, body: objects[i].bytes });
      if (put.status !== 200) throw new Error(`PUT: ${put.status} ${put.text.slice(0, 200)}`);
      const v = await request(actions.verify.href, { method: 'POST', headers: { ...(actions.verify.header ?? {}), 'Content-Type': LFS }, body: JSON.stringify({ oid: objects[i].oid, size: objects[i].size }) });
      if (v.status !== 200) throw new Error(`verify: ${v.status} ${v.text.slice(0, 200)}`);
    }
  }));
  return objects.map(({ oid, size }) => ({ oid, size }));
}

async function setupDataDir(name, env) {
  const dataDir = path.join(ROOT, name);
  fs.mkdirSync(dataDir, { recursive: true });
  const cli = (args) => run(process.execPath, [HUBGATE_BIN, ...args, '--data', dataDir], { cwd: ROOT_DIR, env: { ...process.env, ...env } }).then((r) => r.stdout.trim());
  await cli(['user', 'create', 'alice', '--email', 'alice@example.com']);
  const token = await cli(['token', 'create', 'alice', '--role', 'write']);
  for (const repo of ['alice/clone', 'alice/lfs']) await cli(['repo', 'create', repo]);
  await cli(['repo', 'create', 'alice/private', '--private']);
  return { dataDir, token };
}

// ---------------------------------------------------------------- measurements

/** Wall time of `n` concurrent bare clones of `url`. */
async function concurrentClones(url, n) {
  const dirs = Array.from({ length: n }, (_, i) => path.join(ROOT, `clone-${process.hrtime.bigint()}-${i}`));
  const t0 = nowMs();
  await Promise.all(dirs.map((d) => run('git', ['clone', '-q', '--bare', url, d], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } })));
  const ms = nowMs() - t0;
  for (const d of dirs) rmrf(d);
  return ms;
}

async function measureBatches(base, token, objects) {
  const single = { download: [], upload: [] };
  for (let i = 0; i < CFG.batchRuns; i++) {
    let t0 = nowMs();
    await batch(base, token, 'alice/lfs', 'download', objects);
    single.download.push(nowMs() - t0);
    t0 = nowMs();
    await batch(base, token, 'alice/lfs', 'upload', newOids(CFG.batchObjects));
    single.upload.push(nowMs() - t0);
  }
  const concurrent = { download: [], upload: [] };
  for (let r = 0; r < RUNS; r++) {
    let t0 = nowMs();
    await Promise.all(Array.from({ length: CFG.concurrentBatches }, () => batch(base, token, 'alice/lfs', 'download', objects)));
    concurrent.download.push(nowMs() - t0);
    t0 = nowMs();
    await Promise.all(Array.from({ length: CFG.concurrentBatches }, () => batch(base, token, 'alice/lfs', 'upload', newOids(CFG.batchObjects))));
    concurrent.upload.push(nowMs() - t0);
  }
  return {
    singleDownloadMs: median(single.download),
    singleUploadMs: median(single.upload),
    concurrentDownloadMs: median(concurrent.download),
    concurrentUploadMs: median(concurrent.upload),
  };
}

/** Requests per second of `fn` kept `concurrency` deep for `seconds`. */
async function throughput(fn, concurrency, seconds) {
  const end = nowMs() + seconds * 1000;
  let done = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (nowMs() < end) {
      await fn();
      done++;
    }
  }));
  return done / seconds;
}

// ---------------------------------------------------------------- A: one node vs two behind the balancer

async function partA(s3, dbEnv) {
  const env = { ...NODE_ENV, ...s3.env, ...dbEnv };
  const { dataDir, token } = await setupDataDir('cluster', env);
  const ports = [await freePort(), await freePort()];
  const nodes = [await startHubgate({ dataDir, logDir: LOGS, token, env, port: ports[0], name: 'node-a' })];
  const objects = await populate(nodes[0].base, token);
  const results = {};
  for (const count of [1, 2]) {
    if (count === 2) nodes.push(await startHubgate({ dataDir, logDir: LOGS, token, env, port: ports[1], name: 'node-b' }));
    const lb = await startBalancerNginx({ prefix: path.join(ROOT, `nginx-${count}`), logDir: LOGS, upstreams: ports.slice(0, count).map((p) => `127.0.0.1:${p}`) });
    const url = `http://x:${token}@${lb.base.slice('http://'.length)}/alice/clone`;
    log(`${count} node(s): ${CFG.clones} concurrent clones x ${RUNS}`);
    await concurrentClones(url, 2); // warm the caches (pack files, page cache) before timing
    const clones = [];
    for (let r = 0; r < RUNS; r++) clones.push(await concurrentClones(url, CFG.clones));
    log(`${count} node(s): LFS batches of ${CFG.batchObjects}`);
    await batch(lb.base, token, 'alice/lfs', 'download', objects);
    results[count] = { clonesMs: median(clones), ...(await measureBatches(lb.base, token, objects)) };
    await lb.stop();
  }
  for (const n of nodes) await n.stop();
  return results;
}

// ---------------------------------------------------------------- B: SQLite vs PostgreSQL on the hot paths

async function partB(s3, name, dbEnv) {
  const env = { ...NODE_ENV, ...s3.env, ...dbEnv };
  const { dataDir, token } = await setupDataDir(`db-${name}`, env);
  const hub = await startHubgate({ dataDir, logDir: LOGS, token, env, name: `hot-${name}` });
  const objects = await populate(hub.base, token);
  const one = [objects[0]];
  // Token lookup + access decision: a download batch of one object in a private repo asks for both,
  // plus one object lookup; whoami is the token lookup alone.
  const privateOne = () => batch(hub.base, token, 'alice/private', 'download', one);
  const whoami = () => request(`${hub.base}/api/whoami-v2`, { headers: { Authorization: `Bearer ${token}` } });
  await throughput(privateOne, 4, 0.5);
  const result = {
    whoamiPerSec: await throughput(whoami, CFG.hotConcurrency, CFG.hotSeconds),
    privateBatchPerSec: await throughput(privateOne, CFG.hotConcurrency, CFG.hotSeconds),
    ...(await measureBatches(hub.base, token, objects)),
  };
  await hub.stop();
  return result;
}

// ---------------------------------------------------------------- main

async function main() {
  fs.mkdirSync(LOGS, { recursive: true });
  fs.mkdirSync(ROOT, { recursive: true });
  if (!flag('--no-build')) {
    log('building dist/');
    await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT_DIR });
  }
  const errors = [];
  const s3 = await startS3rver();
  const out = { date: new Date().toISOString(), quick: QUICK, config: { ...CFG, runs: RUNS, cpus: os.cpus().length }, a: null, b: {}, errors };
  const bin = postgresBin();
  const usePg = bin && hubgateKnowsPostgres() && process.env.HUBGATE_BENCH_PG !== '0';
  let pg;
  if (usePg) {
    try {
      pg = await startPostgres(bin);
    } catch (e) {
      errors.push(`postgres: ${e.message}`);
    }
  } else {
    const why = !bin ? 'PostgreSQL is not installed (/usr/lib/postgresql/*/bin)' : !hubgateKnowsPostgres() ? 'this hubgate has no HUBGATE_DATABASE_URL' : 'HUBGATE_BENCH_PG=0';
    if (process.env.HUBGATE_BENCH_PG === '1') errors.push(`postgres: ${why}`);
    out.b.postgresSkipped = why;
  }
  try {
    // The nodes share PostgreSQL as the reference deployment does, or SQLite in the data directory without it.
    out.config.clusterDatabase = pg ? 'postgres' : 'sqlite';
    out.a = await partA(s3, pg ? { HUBGATE_DATABASE_URL: await pg.database() } : {});
  } catch (e) {
    errors.push(`one node vs two: ${e.message}`);
  }
  try {
    out.b.sqlite = await partB(s3, 'sqlite', {});
  } catch (e) {
    errors.push(`sqlite hot paths: ${e.message}`);
  }
  if (pg) {
    try {
      out.b.postgres = await partB(s3, 'postgres', { HUBGATE_DATABASE_URL: await pg.database() });
    } catch (e) {
      errors.push(`postgres hot paths: ${e.message}`);
    }
    await stopChild(pg.child, 10_000);
  }
  await stopChild(s3.child);
  fs.writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
  process.stderr.write(`\n${table(out)}\n`);
  log(`wrote ${path.relative(process.cwd(), OUT)}`);
}

const ms = (x) => (x == null || !Number.isFinite(x) ? '—' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`);
const rate = (x) => (x == null || !Number.isFinite(x) ? '—' : `${x.toFixed(0)}/s`);

export function table(out) {
  const c = out.config;
  const rows = [];
  const a = out.a ?? {};
  const pair = (what, key, fmt = ms) => rows.push([what, fmt(a[1]?.[key]), fmt(a[2]?.[key]), a[1] && a[2] ? `${(a[1][key] / a[2][key]).toFixed(2)}×` : '—']);
  pair(`${c.clones} concurrent clones, wall`, 'clonesMs');
  pair(`LFS batch, ${c.batchObjects} existing, download`, 'singleDownloadMs');
  pair(`LFS batch, ${c.batchObjects} new, upload`, 'singleUploadMs');
  pair(`${c.concurrentBatches} concurrent download batches of ${c.batchObjects}, wall`, 'concurrentDownloadMs');
  pair(`${c.concurrentBatches} concurrent upload batches of ${c.batchObjects}, wall`, 'concurrentUploadMs');
  const lines = [`one node vs two behind nginx, on ${c.clusterDatabase ?? 'sqlite'} (${c.cpus} CPUs; medians; speed-up = one / two)`, '', '| measurement | 1 node | 2 nodes | speed-up |', '|---|---:|---:|---:|', ...rows.map((r) => `| ${r.join(' | ')} |`)];
  const b = out.b ?? {};
  const db = (what, key, fmt) => `| ${what} | ${fmt(b.sqlite?.[key])} | ${b.postgres ? fmt(b.postgres[key]) : '—'} |`;
  lines.push('', `the database on the hot paths, one node asked directly${b.postgresSkipped ? ` (PostgreSQL skipped: ${b.postgresSkipped})` : ''}`, '', '| measurement | SQLite | PostgreSQL |', '|---|---:|---:|');
  lines.push(db(`token lookup (whoami), ${c.hotConcurrency} at once`, 'whoamiPerSec', rate));
  lines.push(db(`token lookup + access decision (private repo, batch of 1), ${c.hotConcurrency} at once`, 'privateBatchPerSec', rate));
  lines.push(db(`LFS batch, ${c.batchObjects} existing, download`, 'singleDownloadMs', ms));
  lines.push(db(`LFS batch, ${c.batchObjects} new, upload`, 'singleUploadMs', ms));
  lines.push(db(`${c.concurrentBatches} concurrent upload batches of ${c.batchObjects}, wall`, 'concurrentUploadMs', ms));
  for (const e of out.errors ?? []) lines.push(`error: ${e}`);
  return lines.join('\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`cluster bench: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
