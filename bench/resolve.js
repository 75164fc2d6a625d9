#!/usr/bin/env node
// Resolve-download bench: hubgate's `GET /{ns}/{name}/resolve/{rev}/{path}` against nginx serving
// the same bytes as static files, both on loopback. See bench/README.md ("Resolve downloads").
//   (1) sequential GETs of a regular ~8 MiB file kept in git (from the blob cache after the first GET)
//   (2) a 256 MiB Git LFS file (fs store): resolve 302 + the GET it redirects to (curl -L)
//   (3) 16 concurrent downloads of that LFS file (16 curl -L), wall time for all
//       and hubgate's peak RSS during (2) and (3)
//   (4) HEAD /resolve latency of the LFS file (what hf_hub_download sends before every download)
//
//   node bench/resolve.js [--quick] [--runs N] [--seq N] [--heads N] [--concurrency N]
//                         [--file-mib N] [--lfs-mib N] [--workers N] [--no-build] [--keep] [--out FILE]
// Writes bench/resolve-results.json; always exits 0 (a missed target is a FAIL in the table).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NGINX, ROOT_DIR, hubgateCli, startAccelNginx, startFileNginx, startHubgate } from './servers.js';
import { freePort, installCleanup, median, nowMs, procStatusKb, rmrf, rssSampler, run, stopChild, track, waitFor } from './util.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const CACHE_DIR = path.join(BENCH_DIR, '.work');
const LOG_DIR = path.join(CACHE_DIR, 'logs-resolve');
const MiB = 1024 * 1024;

// ---------------------------------------------------------------- options

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    seq: { type: 'string' },
    heads: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    'file-mib': { type: 'string', default: '8' },
    'lfs-mib': { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    workers: { type: 'string' },
    'no-accel': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(BENCH_DIR, 'resolve-results.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});
if (opt.help) {
  process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0]);
  process.exit(0);
}
const QUICK = opt.quick;
const CFG = {
  runs: Number(opt.runs ?? (QUICK ? 2 : 5)),
  seqGets: Number(opt.seq ?? (QUICK ? 5 : 10)),
  heads: Number(opt.heads ?? (QUICK ? 50 : 200)),
  concurrency: Number(opt.concurrency),
  fileSize: Math.round(Number(opt['file-mib']) * MiB),
  lfsSize: Math.round(Number(opt['lfs-mib'] ?? (QUICK ? 64 : 256)) * MiB),
};
for (const [k, v] of Object.entries(CFG)) if (!(v >= 1)) throw new Error(`--${k} must be a positive number`);
if (opt.workers !== undefined && !(Number(opt.workers) >= 1)) throw new Error('--workers must be a positive number');
// hubgate's worker processes (HUBGATE_WORKERS; its default, one per CPU, unless given); its RSS is then the primary's and the workers' together.
const HUBGATE_ENV = opt.workers ? { HUBGATE_WORKERS: opt.workers } : {};
// The regular file has to fit git's push policy: raise the limit well above it for the bench.
const MAX_FILE_SIZE = Math.max(CFG.fileSize * 2, 16 * MiB);

// hubgate's data (and nginx's root) live in TMPDIR, outside the repo.
const WORK = path.join(os.tmpdir(), `hubgate-resolve-bench-${process.pid}`);
const DATA_DIR = path.join(WORK, 'data');
const WWW_DIR = path.join(WORK, 'www');
const CLONE_DIR = path.join(WORK, 'clone');
const HOME_DIR = path.join(WORK, 'home');
const REPO = 'alice/resolve-bench';
const REGULAR_PATH = 'regular.dat'; // not in the default .gitattributes: stays in git
const LFS_PATH = 'model.safetensors'; // *.safetensors is LFS in every new repo's .gitattributes

/** git client environment: its own global config (git-lfs filters), no prompts. */
const CLIENT_ENV = {
  ...process.env,
  HOME: HOME_DIR,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: path.join(HOME_DIR, '.gitconfig'),
  GIT_TERMINAL_PROMPT: '0',
  GIT_ASKPASS: '/bin/false',
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.invalid',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.invalid',
  LC_ALL: 'C',
};

installCleanup(() => {
  if (!opt.keep) rmrf(WORK);
});
const log = (...a) => process.stderr.write(`[resolve-bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);

// ---------------------------------------------------------------- build

/** Newest mtime of the TypeScript sources tsc compiles (src/, lfs/, hooks/). */
function newestSourceMtime(dir) {
  let newest = 0;
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) newest = Math.max(newest, newestSourceMtime(p));
    else if (ent.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

async function ensureBuilt() {
  const marker = path.join(ROOT_DIR, 'dist', 'src', 'http', 'resolve', 'resolve.js');
  const built = fs.existsSync(marker) ? fs.statSync(marker).mtimeMs : 0;
  const newest = Math.max(...['src', 'lfs', 'hooks'].map((d) => newestSourceMtime(path.join(ROOT_DIR, d))));
  if (opt['no-build'] || (built && built >= newest)) return built ? 'dist up to date' : 'not built';
  log('dist is older than the sources: npx tsc -p tsconfig.json ...');
  try {
    await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT_DIR });
    return 'built with tsc';
  } catch (e) {
    // tsc still writes what compiles; a broken file elsewhere should not stop the bench.
    if (!fs.existsSync(marker)) throw e;
    log(`WARNING: tsc reported errors (benching the dist/ it wrote anyway): ${e.message.slice(0, 300)}`);
    return 'tsc reported errors';
  }
}

// ---------------------------------------------------------------- test files

/** A file of random bytes, generated once (1 MiB at a time) and cached with its sha256. */
async function randomFile(size) {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const file = path.join(CACHE_DIR, `resolve-random-${size}.bin`);
  const meta = `${file}.sha256`;
  if (fs.existsSync(file) && fs.existsSync(meta) && fs.statSync(file).size === size) return { file, size, sha256: fs.readFileSync(meta, 'utf8').trim() };
  log(`generating ${size / MiB} MiB of random bytes in ${path.relative(ROOT_DIR, file)}`);
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(`${file}.part`, 'w');
  const buf = Buffer.allocUnsafe(MiB);
  for (let left = size; left > 0; left -= MiB) {
    const chunk = crypto.randomFillSync(buf).subarray(0, Math.min(left, MiB));
    hash.update(chunk);
    fs.writeSync(fd, chunk);
  }
  fs.closeSync(fd);
  fs.renameSync(`${file}.part`, file);
  const sha256 = hash.digest('hex');
  fs.writeFileSync(meta, `${sha256}\n`);
  return { file, size, sha256 };
}

// ---------------------------------------------------------------- setup: hubgate with the repo, nginx with the same bytes

async function setupHubgate(regular, lfs) {
  process.env.HUBGATE_MAX_FILE_SIZE = String(MAX_FILE_SIZE); // read by the CLI and the server (push policy)
  for (const d of [DATA_DIR, CLONE_DIR, HOME_DIR, LOG_DIR]) fs.mkdirSync(d, { recursive: true });
  await hubgateCli(DATA_DIR, ['user', 'create', 'alice']);
  const token = await hubgateCli(DATA_DIR, ['token', 'create', 'alice', '--role', 'write']);
  if (!token || /\s/.test(token)) throw new Error(`hubgate token create printed ${JSON.stringify(token)}, expected the token alone`);
  await hubgateCli(DATA_DIR, ['repo', 'create', REPO]);
  const hub = await startHubgate({ dataDir: DATA_DIR, logDir: LOG_DIR, token, env: HUBGATE_ENV });

  log(`pushing ${REGULAR_PATH} (${regular.size / MiB} MiB, git) and ${LFS_PATH} (${lfs.size / MiB} MiB, git-lfs) with git + git-lfs ...`);
  const git = (args) => run('git', args, { cwd: CLONE_DIR, env: CLIENT_ENV });
  await run('git', ['lfs', 'install', '--skip-repo'], { env: CLIENT_ENV });
  await git(['clone', '-q', hub.repoUrl(REPO.split('/')[1]), '.']);
  fs.copyFileSync(regular.file, path.join(CLONE_DIR, REGULAR_PATH));
  fs.copyFileSync(lfs.file, path.join(CLONE_DIR, LFS_PATH));
  await git(['add', REGULAR_PATH, LFS_PATH]);
  await git(['commit', '-q', '-m', 'bench files']);
  const lfsFiles = (await git(['lfs', 'ls-files', '--name-only'])).stdout.split('\n').filter(Boolean);
  if (!lfsFiles.includes(LFS_PATH) || lfsFiles.includes(REGULAR_PATH)) throw new Error(`git lfs ls-files: ${JSON.stringify(lfsFiles)}; expected ${LFS_PATH} only`);
  const t0 = nowMs();
  await git(['push', '-q', 'origin', 'HEAD:main']);
  log(`  pushed in ${((nowMs() - t0) / 1000).toFixed(1)} s`);
  rmrf(CLONE_DIR); // 2× the bytes on disk otherwise
  return { hub, token };
}

/** nginx's root: the blob as hubgate's repo holds it (git cat-file) and the LFS object as its store holds it. */
async function writeStaticFiles(regular, lfs) {
  fs.mkdirSync(WWW_DIR, { recursive: true });
  const bare = path.join(DATA_DIR, 'repos', 'models', `${REPO}.git`);
  if (!fs.existsSync(bare)) throw new Error(`expected the bare repo at ${bare}`);
  const out = fs.openSync(path.join(WWW_DIR, REGULAR_PATH), 'w');
  await run('git', ['-C', bare, 'cat-file', 'blob', `main:${REGULAR_PATH}`], { env: CLIENT_ENV, stdout: out });
  fs.closeSync(out);
  const object = path.join(DATA_DIR, 'lfs', 'objects', lfs.sha256.slice(0, 2), lfs.sha256.slice(2, 4), lfs.sha256);
  if (!fs.existsSync(object)) throw new Error(`expected the LFS object at ${object}`);
  fs.copyFileSync(object, path.join(WWW_DIR, LFS_PATH));
  for (const [name, f] of [[REGULAR_PATH, regular], [LFS_PATH, lfs]]) {
    const sum = await sha256File(path.join(WWW_DIR, name));
    if (sum !== f.sha256) throw new Error(`${name} written out for nginx has sha256 ${sum}, expected ${f.sha256}`);
  }
}

function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file, { highWaterMark: MiB }).on('data', (c) => h.update(c)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

function startStaticNginx() {
  // A plain static-file server as one would deploy it: sendfile, keep-alive, ETag, ranges.
  return startFileNginx({ prefix: path.join(WORK, 'nginx'), root: WWW_DIR, logDir: LOG_DIR });
}

// ---------------------------------------------------------------- HTTP client (in-process, keep-alive)

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One request; the body is counted (and hashed if asked) and dropped. */
function request(url, { method = 'GET', headers = {}, hash = false } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent }, (res) => {
      let bytes = 0;
      const h = hash ? crypto.createHash('sha256') : null;
      res.on('data', (c) => {
        bytes += c.length;
        h?.update(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes, sha256: h?.digest('hex') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function expectStatus(r, status, what) {
  if (r.status !== status) throw new Error(`${what}: HTTP ${r.status}, expected ${status}`);
  return r;
}

/** curl -L to /dev/null: the client's own timing (time_total covers the redirect too). */
async function curlDownload(url, size, redirects) {
  const t0 = nowMs();
  const { stdout } = await run('curl', ['-sS', '--fail', '-L', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{num_redirects} %{time_total}', url]);
  const wallMs = nowMs() - t0;
  const [code, got, nRedirects, total] = stdout.trim().split(' ');
  if (code !== '200' || Number(got) !== size || Number(nRedirects) !== redirects) {
    throw new Error(`curl -L ${url}: HTTP ${code}, ${got} bytes after ${nRedirects} redirects; expected 200, ${size} bytes, ${redirects} redirect(s)`);
  }
  return { ms: Number(total) * 1000, wallMs };
}

// ---------------------------------------------------------------- measurements

/** Alternates the order every run, so neither server always goes first. */
const ordered = (targets, r) => (r % 2 === 0 ? targets : [...targets].reverse());

/** One untimed warm-up (r = -1), then CFG.runs timed runs of fn(target) per target. */
async function measure(label, targets, fn, runs = CFG.runs) {
  const samples = Object.fromEntries(targets.map((t) => [t.key, []]));
  for (let r = -1; r < runs; r++) {
    for (const t of ordered(targets, Math.max(r, 0))) {
      const v = await fn(t, r);
      if (r >= 0) samples[t.key].push(v);
      log(`  ${label} ${r < 0 ? 'warm-up' : `run ${r + 1}`} ${t.key.padEnd(7)} ${v.toFixed(1)} ms`);
    }
  }
  return { samples, median: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) };
}

// ---------------------------------------------------------------- report

const fmtMs = (ms) => (ms == null || !Number.isFinite(ms) ? '—' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);
const fmtX = (x) => (x == null || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}×`);
const mibps = (bytes, ms) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;

function evaluate(res) {
  const rows = [];
  const targets = [];
  const check = (id, what, value, limit) => {
    const pass = value == null || !Number.isFinite(value) ? null : value <= limit;
    targets.push({ id, what, value, limit, pass });
    return pass == null ? 'n/a' : pass ? 'PASS' : 'FAIL';
  };
  const ratioRow = (id, name, m, limit, bytes) => {
    const x = m.hubgate / m.nginx;
    rows.push({
      name,
      hubgate: `${fmtMs(m.hubgate)}${bytes ? ` (${mibps(bytes, m.hubgate)})` : ''}`,
      nginx: `${fmtMs(m.nginx)}${bytes ? ` (${mibps(bytes, m.nginx)})` : ''}`,
      ratio: fmtX(x),
      target: limit == null ? 'report only' : `≤ ${limit.toFixed(1)}× nginx`,
      result: limit == null ? '' : check(id, `${name} ≤ ${limit}× nginx`, x, limit),
    });
  };
  const accelRow = (name, m, bytes) => {
    if (m.accel == null) return;
    rows.push({ name, hubgate: `${fmtMs(m.accel)}${bytes ? ` (${mibps(bytes, m.accel)})` : ''}`, nginx: `${fmtMs(m.nginx)}`, ratio: fmtX(m.accel / m.nginx), target: 'report only', result: '' });
  };
  if (res.seq) ratioRow('1-seq-git-file', `(1) ${CFG.fileSize / MiB} MiB git file, per GET (${CFG.seqGets} sequential GETs, keep-alive)`, res.seq.perGet, 1.5, CFG.fileSize);
  if (res.lfs) ratioRow('2-lfs-download', `(2) ${CFG.lfsSize / MiB} MiB LFS file: resolve 302 + GET (curl -L) vs static GET`, res.lfs.median, 1.2, CFG.lfsSize);
  if (res.concurrent) ratioRow('3-lfs-concurrent', `(3) ${CFG.concurrency} concurrent LFS downloads (wall, all done)`, res.concurrent.median, 1.3, CFG.lfsSize * CFG.concurrency);
  if (res.seq) accelRow('(1, accel) the same, hubgate behind nginx with HUBGATE_ACCEL_REDIRECT', res.seq.perGet, CFG.fileSize);
  if (res.lfs) accelRow('(2, accel) the same, hubgate behind nginx with HUBGATE_ACCEL_REDIRECT', res.lfs.median, CFG.lfsSize);
  if (res.concurrent) accelRow('(3, accel) the same, hubgate behind nginx with HUBGATE_ACCEL_REDIRECT', res.concurrent.median, CFG.lfsSize * CFG.concurrency);
  if (res.rss) {
    // All of hubgate's processes together (primary + workers): the issue's bound for 16 concurrent 256 MiB downloads.
    rows.push({ name: '(2)+(3) hubgate peak RSS, all processes', hubgate: `${res.rss.peakMb.toFixed(1)} MB`, nginx: '', ratio: '', target: '< 400 MB', result: check('rss', 'hubgate peak RSS (all processes) during (2)+(3) < 400 MB', res.rss.peakMb, 400) });
  }
  if (res.headLfs) ratioRow('4-head-lfs', `(4) HEAD /resolve of the LFS file (302, per request) vs HEAD of a static file`, res.headLfs.median, 3.0);
  if (res.headRegular) ratioRow('4-head-git', `(4, info) HEAD /resolve of the git file (200, per request)`, res.headRegular.median, null);
  return { rows, targets };
}

function markdownTable(rows) {
  const head = ['Measurement (median)', 'hubgate', 'nginx static', 'hubgate / nginx', 'target', 'result'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${[r.name, r.hubgate, r.nginx, r.ratio, r.target, r.result].join(' | ')} |`);
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  const build = await ensureBuilt();
  rmrf(WORK);
  fs.mkdirSync(WORK, { recursive: true });
  const [regular, lfs] = [await randomFile(CFG.fileSize), await randomFile(CFG.lfsSize)];
  const { hub } = await setupHubgate(regular, lfs);
  await writeStaticFiles(regular, lfs);
  const ng = await startStaticNginx();
  // A second hubgate on the same data, behind nginx with HUBGATE_ACCEL_REDIRECT (docs/operations.md): nginx sends the files.
  let accel = null;
  if (!opt['no-accel']) {
    const accelHub = await startHubgate({ dataDir: DATA_DIR, logDir: LOG_DIR, token: '', env: { HUBGATE_ACCEL_REDIRECT: '/internal/' } });
    const proxy = await startAccelNginx({ prefix: path.join(WORK, 'nginx-accel'), logDir: LOG_DIR, upstream: accelHub.base.replace('http://', ''), dataDir: DATA_DIR });
    accel = { hub: accelHub, proxy };
  }
  const hubStartRssMb = procStatusKb(hub.pid, 'VmRSS') / 1024;

  const resolveUrl = (p) => `${hub.base}/${REPO}/resolve/main/${p}`;
  const targets = {
    regular: [{ key: 'hubgate', url: resolveUrl(REGULAR_PATH) }, { key: 'nginx', url: `${ng.base}/${REGULAR_PATH}` }],
    lfs: [{ key: 'hubgate', url: resolveUrl(LFS_PATH), redirects: 1 }, { key: 'nginx', url: `${ng.base}/${LFS_PATH}`, redirects: 0 }],
  };
  if (accel) {
    targets.regular.push({ key: 'accel', url: `${accel.proxy.base}/${REPO}/resolve/main/${REGULAR_PATH}` });
    targets.lfs.push({ key: 'accel', url: `${accel.proxy.base}/${REPO}/resolve/main/${LFS_PATH}`, redirects: 1 });
  }

  // Correctness first: the bytes each server sends are the files' bytes.
  log('checking what both servers send ...');
  for (const t of targets.regular) {
    const r = expectStatus(await request(t.url, { hash: true }), 200, `${t.key} GET ${REGULAR_PATH}`);
    if (r.sha256 !== regular.sha256) throw new Error(`${t.key} GET ${REGULAR_PATH}: wrong bytes (${r.bytes} bytes, sha256 ${r.sha256})`);
  }
  const head = expectStatus(await request(targets.lfs[0].url, { method: 'HEAD' }), 302, `hubgate HEAD ${LFS_PATH}`);
  if (head.headers['x-linked-size'] !== String(lfs.size) || head.headers['x-linked-etag'] !== `"${lfs.sha256}"`) {
    throw new Error(`hubgate HEAD ${LFS_PATH}: X-Linked-Size ${head.headers['x-linked-size']}, X-Linked-Etag ${head.headers['x-linked-etag']}`);
  }
  const objectUrl = new URL(head.headers.location, hub.base).href;
  const checks = [['hubgate (redirect target)', objectUrl], ['nginx', targets.lfs[1].url]];
  if (accel) {
    const r = expectStatus(await request(targets.regular[2].url, { hash: true }), 200, `hubgate behind nginx (accel) GET ${REGULAR_PATH}`);
    if (r.sha256 !== regular.sha256) throw new Error(`accel GET ${REGULAR_PATH}: wrong bytes (${r.bytes} bytes)`);
    const h = expectStatus(await request(targets.lfs[2].url, { method: 'HEAD' }), 302, `accel HEAD ${LFS_PATH}`);
    checks.push(['hubgate behind nginx (accel, redirect target)', new URL(h.headers.location, accel.proxy.base).href]);
  }
  for (const [key, url] of checks) {
    const r = expectStatus(await request(url, { hash: true }), 200, `${key} GET ${LFS_PATH}`);
    if (r.sha256 !== lfs.sha256) throw new Error(`${key} GET ${LFS_PATH}: wrong bytes (${r.bytes} bytes, sha256 ${r.sha256})`);
  }

  const loadStart = os.loadavg();
  if (loadStart[0] > os.cpus().length / 2) log(`WARNING: load average ${loadStart[0].toFixed(1)} on ${os.cpus().length} CPUs: other work on this machine makes the numbers noisy`);
  const results = {};

  log(`(1) ${CFG.seqGets} sequential GETs of the ${CFG.fileSize / MiB} MiB git file, ${CFG.runs} runs (+1 warm-up)`);
  results.seq = await measure('(1)', targets.regular, async (t) => {
    const t0 = nowMs();
    for (let i = 0; i < CFG.seqGets; i++) {
      const r = expectStatus(await request(t.url), 200, `${t.key} GET ${REGULAR_PATH}`);
      if (r.bytes !== CFG.fileSize) throw new Error(`${t.key} GET ${REGULAR_PATH}: ${r.bytes} bytes`);
    }
    return nowMs() - t0;
  });
  results.seq.perGet = Object.fromEntries(Object.entries(results.seq.median).map(([k, v]) => [k, v / CFG.seqGets]));

  const stopRss = rssSampler(hub.pid);
  log(`(2) the ${CFG.lfsSize / MiB} MiB LFS file with curl -L, ${CFG.runs} runs (+1 warm-up)`);
  results.lfs = await measure('(2)', targets.lfs, async (t) => (await curlDownload(t.url, CFG.lfsSize, t.redirects)).ms);
  const hwmAfter2Mb = procStatusKb(hub.pid, 'VmHWM') / 1024;

  log(`(3) ${CFG.concurrency} concurrent curl -L of the LFS file, ${CFG.runs} runs (+1 warm-up)`);
  results.concurrent = await measure('(3)', targets.lfs, async (t) => {
    const t0 = nowMs();
    await Promise.all(Array.from({ length: CFG.concurrency }, () => curlDownload(t.url, CFG.lfsSize, t.redirects)));
    return nowMs() - t0;
  });
  results.rss = { ...stopRss(), vmHwmAfter2Mb: hwmAfter2Mb, afterStartMb: hubStartRssMb, method: 'VmHWM after resetting it (clear_refs 5) before (2), read after (3); VmRSS sampled every 20 ms' };
  log(`  hubgate RSS: ${results.rss.baseMb.toFixed(1)} MB before (2), peak ${results.rss.peakMb.toFixed(1)} MB during (2)+(3) (each process's own peak: ${results.rss.processes.map((p) => `${p.role} ${p.peakMb.toFixed(1)}`).join(', ')})`);

  log(`(4) ${CFG.heads} sequential HEADs, ${CFG.runs} runs (+1 warm-up); the median request of each run`);
  const headRun = (expect) => async (t) => {
    const ms = [];
    for (let i = 0; i < CFG.heads; i++) {
      const t0 = nowMs();
      expectStatus(await request(t.url, { method: 'HEAD' }), t.key === 'hubgate' ? expect : 200, `${t.key} HEAD`);
      ms.push(nowMs() - t0);
    }
    return median(ms);
  };
  results.headLfs = await measure('(4) LFS', targets.lfs.slice(0, 2), headRun(302));
  results.headRegular = await measure('(4) git', targets.regular.slice(0, 2), headRun(200));
  const loadEnd = os.loadavg();

  await hub.stop();
  await ng.stop();
  if (accel) {
    await accel.proxy.stop();
    await accel.hub.stop();
  }

  const { rows, targets: checked } = evaluate(results);
  const [gitVersion, lfsVersion, nginxVersion, curlVersion] = await Promise.all([
    run('git', ['--version']).then((r) => r.stdout.trim()),
    run('git', ['lfs', 'version'], { env: CLIENT_ENV }).then((r) => r.stdout.trim().split(' ')[0]),
    run(NGINX, ['-v'], { allowFail: true }).then((r) => r.stderr.trim().replace(/^nginx version: /, '')),
    run('curl', ['--version']).then((r) => r.stdout.split(' ').slice(0, 2).join(' ')),
  ]);
  const busy = Math.max(loadStart[0], loadEnd[0]) > os.cpus().length / 2;
  const notes = [
    `load average (1/5/15 min) ${loadStart.map((x) => x.toFixed(2)).join(' / ')} at the start, ${loadEnd.map((x) => x.toFixed(2)).join(' / ')} at the end, on ${os.cpus().length} CPUs${busy ? ': the machine was busy, treat small differences as noise' : ''}.`,
    `hubgate: anonymous requests to a public repo; (1) and (4) by an in-process keep-alive node client; (2) and (3) by curl -L to /dev/null (curl's time_total in (2), wall time for all in (3)). nginx: static files, sendfile on, ${os.cpus().length} workers.`,
    `hubgate RSS (primary and workers together): ${hubStartRssMb.toFixed(1)} MB after start, ${results.rss.baseMb.toFixed(1)} MB before (2), VmHWM ${results.rss.vmHwmAfter2Mb.toFixed(1)} MB after (2), peak ${results.rss.peakMb.toFixed(1)} MB during (2)+(3) (${results.rss.method}); each process's own peak: ${results.rss.processes.map((p) => `${p.role} ${p.peakMb.toFixed(1)} MB`).join(', ')}.`,
    `runs: ${CFG.runs} per measurement after one untimed warm-up, order alternated every run; (1) ${CFG.seqGets} GETs per run, (4) ${CFG.heads} HEADs per run. dist: ${build}.`,
  ];
  const md = [
    `## hubgate resolve-download bench (${new Date().toISOString()}${QUICK ? ', --quick' : ''})`,
    '',
    `Machine: ${os.cpus().length} CPU (${os.cpus()[0]?.model?.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM; node ${process.version}; ${gitVersion}; ${lfsVersion}; nginx ${nginxVersion}; ${curlVersion}.`,
    `Repo ${REPO}: ${REGULAR_PATH} (${CFG.fileSize / MiB} MiB, in git) and ${LFS_PATH} (${CFG.lfsSize / MiB} MiB, Git LFS, fs store), pushed with git + git-lfs.`,
    '',
    markdownTable(rows),
    '',
    ...notes.map((n) => `- ${n}`),
  ].join('\n');
  process.stdout.write(`\n${md}\n`);

  const json = {
    date: new Date().toISOString(),
    quick: QUICK,
    loadAverage: { start: loadStart, end: loadEnd },
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: os.totalmem() / 2 ** 30, node: process.version, git: gitVersion, gitLfs: lfsVersion, nginx: nginxVersion, curl: curlVersion },
    config: { ...CFG, maxFileSize: MAX_FILE_SIZE, hubgateWorkers: opt.workers ?? 'default (one per CPU)' },
    build,
    results,
    targets: checked,
    table: rows,
    markdown: md,
    durationSeconds: (Date.now() - started) / 1000,
  };
  fs.writeFileSync(opt.out, `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote ${path.relative(process.cwd(), opt.out) || opt.out} (${json.durationSeconds.toFixed(0)} s in all; logs in ${path.relative(process.cwd(), LOG_DIR)})`);
}

main()
  .catch((e) => process.stderr.write(`resolve bench: ${e?.stack ?? e}\n`))
  .finally(() => {
    agent.destroy();
    process.exit(0);
  });
