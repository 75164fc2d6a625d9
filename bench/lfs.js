#!/usr/bin/env node
// Git LFS benchmark for hubgate.
//   (a) batch API latency: 1,000 objects per request (upload op; download op for missing objects;
//       download op for objects that exist), fs and s3 (s3rver) stores.       target < 30 ms
//   (b) fs store: upload (PUT + verify) and download (GET) of a 1 GiB object vs nginx (dav PUT /
//       static GET) on loopback; ratio = nginx time / hubgate time.   target: upload >= 0.8, download >= 0.9
//   (c) peak RSS of the hubgate worker that takes a 2 GiB object, through the fs store (basic PUT)
//       and through multipart to s3rver (threshold 1 GiB, chunk 64 MiB).       target < 150 MB per worker
//       (hubgate with its default workers; the primary's and the sum of all are reported beside it)
//   (d) --big: a 6 GiB object through multipart on fs with the default 5 GiB threshold.
//   (e) a batch at the limit: 1,000 objects declaring the largest size (5 TiB) offering multipart
//       (one gets its 10,000 part URLs, 999 a 429), and 1,000 declaring 2**52 bytes (422 each):
//       answer time and hubgate's peak RSS, fs and s3 (s3rver) stores.        target < 1 s
// Usage: node bench/lfs.js [--quick] [--only a,b,c,d,e] [--big] [--runs N] [--out FILE]
// Writes bench/lfs-results.json (or --out FILE); always exits 0 (failures are reported in the table).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HUBGATE_BIN, ROOT_DIR, hubgateCli, startFileNginx } from './servers.js';
import { freePort, installCleanup, median, nowMs, rmrf, rssSampler, stopChild, track, waitFor } from './util.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const WORK = path.join(BENCH_DIR, '.work', 'lfs');
// hubgate's data dirs (and s3rver's, nginx's) live outside bench/.work: hubgate's fs-store download
// (express sendFile) answers 404 when the object's absolute path has a dot-directory in it.
const DATA = process.env.BENCH_LFS_DATA || path.join(os.tmpdir(), `hubgate-lfs-bench-${process.pid}`);
const LOGS = path.join(WORK, 'logs');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2);
const flag = (n) => argv.includes(n);
const opt = (n) => {
  const i = argv.indexOf(n);
  return i >= 0 ? argv[i + 1] : undefined;
};
const QUICK = flag('--quick');
const BIG = flag('--big');
const ONLY = new Set((opt('--only') ?? (BIG ? 'a,b,c,d,e' : 'a,b,c,e')).split(',').map((s) => s.trim()).filter(Boolean));
const OUT = path.resolve(opt('--out') ?? path.join(BENCH_DIR, 'lfs-results.json'));
const RUNS_OVERRIDE = opt('--runs') ? Number(opt('--runs')) : undefined;
const CFG = {
  batchObjects: 1000,
  batchExisting: QUICK ? 100 : 1000,
  batchRuns: RUNS_OVERRIDE ?? (QUICK ? 3 : 7),
  xferSize: QUICK ? 64 * MiB : 1 * GiB,
  xferRuns: RUNS_OVERRIDE ?? (QUICK ? 2 : 3),
  rssSize: QUICK ? 128 * MiB : 2 * GiB,
  rssThreshold: QUICK ? 64 * MiB : 1 * GiB,
  rssChunk: QUICK ? 16 * MiB : 64 * MiB,
  bigSize: 6 * GiB,
  limitRuns: RUNS_OVERRIDE ?? (QUICK ? 3 : 7),
};

installCleanup(() => process.env.BENCH_LFS_DATA || rmrf(DATA));
const log = (...a) => process.stderr.write(`[lfs-bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);

// ---------------------------------------------------------------- test files
/** A file of random bytes, generated once (streamed, 1 MiB at a time) and cached with its sha256. */
async function randomFile(size) {
  fs.mkdirSync(WORK, { recursive: true });
  const file = path.join(BENCH_DIR, '.work', `lfs-random-${size}.bin`);
  const meta = `${file}.sha256`;
  if (fs.existsSync(file) && fs.existsSync(meta) && fs.statSync(file).size === size) return { file, size, oid: fs.readFileSync(meta, 'utf8').trim() };
  log(`generating ${fmtSize(size)} of random bytes in ${file}`);
  const hash = crypto.createHash('sha256');
  const out = fs.createWriteStream(`${file}.part`);
  const buf = Buffer.allocUnsafe(MiB);
  for (let left = size; left > 0; ) {
    const n = Math.min(left, MiB);
    const chunk = Buffer.from(crypto.randomFillSync(buf).subarray(0, n)); // copy: the stream keeps it
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
    left -= n;
  }
  await new Promise((res, rej) => out.end((e) => (e ? rej(e) : res())));
  fs.renameSync(`${file}.part`, file);
  const oid = hash.digest('hex');
  fs.writeFileSync(meta, `${oid}\n`);
  return { file, size, oid };
}

// ---------------------------------------------------------------- HTTP
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One request. body: Buffer | string | {file,start,end} ; sink: discard the response body (count bytes). */
function request(url, { method = 'GET', headers = {}, body, sink = false } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent }, (res) => {
      let bytes = 0;
      const chunks = [];
      res.on('data', (c) => {
        bytes += c.length;
        if (!sink) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes, text: sink ? '' : Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body && typeof body === 'object' && 'file' in body) {
      const rs = fs.createReadStream(body.file, { start: body.start, end: body.end, highWaterMark: MiB });
      rs.on('error', reject);
      rs.pipe(req);
    } else req.end(body);
  });
}

function expectOk(r, what) {
  if (r.status < 200 || r.status > 299) throw new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  return r;
}

// ---------------------------------------------------------------- hubgate / s3rver / nginx
async function startS3rver(name) {
  const dir = path.join(DATA, name);
  rmrf(dir);
  fs.mkdirSync(dir, { recursive: true });
  const bucket = 'hubgate-bench';
  const fd = fs.openSync(path.join(LOGS, `${name}.log`), 'a');
  const child = spawn(process.execPath, [path.join(BENCH_DIR, 'lfs-s3rver.cjs'), dir, bucket], { cwd: ROOT_DIR, stdio: ['ignore', 'pipe', fd], detached: true });
  track(child, 's3rver', { group: true });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`s3rver exited ${c} (log ${LOGS}/${name}.log)`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    child,
    stop: () => stopChild(child),
    env: {
      HUBGATE_LFS_STORE: 's3',
      HUBGATE_S3_BUCKET: bucket,
      HUBGATE_S3_ENDPOINT: endpoint,
      HUBGATE_S3_FORCE_PATH_STYLE: 'true',
      HUBGATE_S3_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    },
    cleanup: () => rmrf(dir),
  };
}

/** A fresh data dir (alice, a write token, repo alice/m) and hubgate serving it with extra env. */
async function startHub(name, env = {}) {
  const dataDir = path.join(DATA, name);
  rmrf(dataDir);
  fs.mkdirSync(LOGS, { recursive: true });
  await hubgateCli(dataDir, ['user', 'create', 'alice']);
  const tokenOut = await hubgateCli(dataDir, ['token', 'create', 'alice', '--role', 'write']);
  const token = tokenOut.split(/\s+/).find((w) => /^hf_|^[A-Za-z0-9_-]{20,}$/.test(w)) ?? tokenOut.split(/\s+/).pop();
  await hubgateCli(dataDir, ['repo', 'create', 'alice/m']);
  const port = await freePort();
  const fd = fs.openSync(path.join(LOGS, `${name}.log`), 'a');
  const child = spawn(process.execPath, [HUBGATE_BIN, 'serve', '--data', dataDir, '--host', '127.0.0.1', '--port', String(port)], {
    cwd: ROOT_DIR,
    env: { ...process.env, HUBGATE_SSH_PORT: '0', ...env }, // SSH off: another hubgate on the machine may hold 2222
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  track(child, 'hubgate', { group: true });
  let exited = null;
  child.once('exit', (c, s) => (exited = `hubgate exited (${c ?? s}), log ${LOGS}/${name}.log`));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (exited) throw new Error(exited);
      return (await request(`${base}/healthz`).catch(() => ({ status: 0 }))).status === 200;
    },
    { what: `hubgate ${name}`, timeoutMs: 30000 },
  );
  return {
    pid: child.pid,
    base,
    token,
    batchUrl: `${base}/alice/m.git/info/lfs/objects/batch`,
    stop: () => stopChild(child),
    cleanup: () => rmrf(dataDir),
  };
}

async function startNginxDav() {
  const prefix = path.join(DATA, 'nginx');
  rmrf(prefix);
  const www = path.join(prefix, 'www');
  const ng = await startFileNginx({ prefix, root: www, logDir: LOGS, workers: 1, dav: true });
  return { ...ng, www, cleanup: () => rmrf(prefix) };
}

// ---------------------------------------------------------------- LFS client
const LFS_JSON = 'application/vnd.git-lfs+json';

async function batch(hub, operation, objects, transfers = ['basic']) {
  const t0 = nowMs();
  const r = expectOk(
    await request(hub.batchUrl, {
      method: 'POST',
      headers: { Authorization: `Bearer ${hub.token}`, 'Content-Type': LFS_JSON, Accept: LFS_JSON },
      body: JSON.stringify({ operation, transfers, objects, hash_algo: 'sha256' }),
    }),
    `batch ${operation}`,
  );
  const ms = nowMs() - t0;
  return { ms, json: JSON.parse(r.text) };
}

/** Verify, asked again while it answers 503 (a large multipart upload still being hashed), as clients do. */
async function verify(hub, obj, action) {
  const deadline = nowMs() + 10 * 60 * 1000;
  for (;;) {
    const r = await request(action.href, {
      method: 'POST',
      headers: { ...(action.header ?? {}), 'Content-Type': LFS_JSON, Accept: LFS_JSON },
      body: JSON.stringify({ oid: obj.oid, size: obj.size }),
    });
    if (r.status !== 503 || nowMs() > deadline) return expectOk(r, 'verify');
    await new Promise((res) => setTimeout(res, 1000 * Math.min(5, Number(r.headers['retry-after']) || 1)));
  }
}

/** Uploads one object (basic or multipart, whatever the batch answers); returns timings in ms. */
async function uploadObject(hub, obj, { offerMultipart = false, onPhase = () => {} } = {}) {
  const t0 = nowMs();
  const { json } = await batch(hub, 'upload', [{ oid: obj.oid, size: obj.size }], offerMultipart ? ['basic', 'multipart'] : ['basic']);
  const o = json.objects[0];
  if (o.error) throw new Error(`batch upload: ${o.error.code} ${o.error.message}`);
  if (!o.actions?.upload) return { transfer: 'none (already there)', ms: nowMs() - t0 };
  const t1 = nowMs();
  const up = o.actions.upload;
  const transfer = json.transfer ?? 'basic';
  let parts = 0;
  if (transfer === 'multipart') {
    const hdr = up.header ?? {};
    const chunk = Number(hdr.chunk_size);
    const keys = Object.keys(hdr).filter((k) => /^\d{5}$/.test(k)).sort();
    const etags = [];
    for (const k of keys) {
      const n = Number(k);
      const start = (n - 1) * chunk;
      const end = Math.min(obj.size, start + chunk) - 1;
      const r = expectOk(await request(hdr[k], { method: 'PUT', headers: { 'Content-Length': String(end - start + 1) }, body: obj.bytes ?? { file: obj.file, start, end } }), `part ${k}`);
      etags.push({ partNumber: n, etag: r.headers.etag });
      parts++;
    }
    onPhase('complete');
    expectOk(await request(up.href, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ oid: obj.oid, parts: etags }) }), 'multipart complete');
  } else {
    const headers = { ...(up.header ?? {}), 'Content-Length': String(obj.size) };
    expectOk(await request(up.href, { method: 'PUT', headers, body: obj.bytes ?? { file: obj.file } }), 'upload PUT');
  }
  const t2 = nowMs();
  onPhase('verify');
  if (o.actions.verify) await verify(hub, obj, o.actions.verify);
  const t3 = nowMs();
  return { transfer, parts, batchMs: t1 - t0, putMs: t2 - t1, verifyMs: t3 - t2, ms: t3 - t1 };
}

async function downloadObject(hub, obj) {
  const { json } = await batch(hub, 'download', [{ oid: obj.oid, size: obj.size }]);
  const o = json.objects[0];
  if (o.error) throw new Error(`batch download: ${o.error.code} ${o.error.message}`);
  const dl = o.actions.download;
  const t0 = nowMs();
  const r = expectOk(await request(dl.href, { headers: dl.header ?? {}, sink: true }), 'download GET');
  const ms = nowMs() - t0;
  if (r.bytes !== obj.size) throw new Error(`download: got ${r.bytes} bytes, expected ${obj.size}`);
  return { ms };
}

const randomOid = () => crypto.randomBytes(32).toString('hex');
const randomObjects = (n) => Array.from({ length: n }, () => ({ oid: randomOid(), size: 1 + crypto.randomInt(100 * MiB) }));

async function pool(items, conc, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: conc }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

// ---------------------------------------------------------------- formatting
function fmtSize(n) {
  return n >= GiB ? `${+(n / GiB).toFixed(2)} GiB` : `${+(n / MiB).toFixed(1)} MiB`;
}
const f1 = (x) => (x == null || Number.isNaN(x) ? '–' : x.toFixed(1));
const f2 = (x) => (x == null || Number.isNaN(x) ? '–' : x.toFixed(2));
const mbps = (size, ms) => size / MiB / (ms / 1000);
// nginx time / hubgate time for the 1 GiB object in (b): the downloads must come closer to nginx than the uploads.
const XFER_TARGET = { upload: 0.8, download: 0.9 };
const pass = (ok) => (ok == null ? '–' : ok ? 'yes' : 'NO');

const results = { startedAt: new Date().toISOString(), quick: QUICK, config: CFG, a: null, b: null, c: null, d: null, e: null, errors: [] };

// ---------------------------------------------------------------- (a) batch latency
async function benchA() {
  const out = {};
  for (const store of ['fs', 's3']) {
    const r = (out[store] = {});
    let s3 = null;
    let hub = null;
    try {
      if (store === 's3') s3 = await startS3rver('s3rver-a');
      hub = await startHub(`data-a-${store}`, s3?.env ?? {});
      // Objects that exist: small random blobs uploaded through the normal flow.
      log(`(a) ${store}: uploading ${CFG.batchExisting} small objects`);
      const existing = Array.from({ length: CFG.batchExisting }, () => {
        const bytes = crypto.randomBytes(1024 + crypto.randomInt(3072));
        return { oid: crypto.createHash('sha256').update(bytes).digest('hex'), size: bytes.length, bytes };
      });
      await pool(existing, 8, (o) => uploadObject(hub, o));
      const refs = existing.map(({ oid, size }) => ({ oid, size }));
      // warm-up
      await batch(hub, 'upload', randomObjects(CFG.batchObjects));
      await batch(hub, 'download', randomObjects(CFG.batchObjects));
      await batch(hub, 'download', refs);
      const cases = {
        [`upload, ${CFG.batchObjects} new`]: () => batch(hub, 'upload', randomObjects(CFG.batchObjects)),
        [`download, ${CFG.batchObjects} missing`]: () => batch(hub, 'download', randomObjects(CFG.batchObjects)),
        [`download, ${CFG.batchExisting} existing`]: () => batch(hub, 'download', refs),
      };
      for (const [name, fn] of Object.entries(cases)) {
        const ms = [];
        for (let i = 0; i < CFG.batchRuns; i++) {
          const { ms: t, json } = await fn();
          if (json.objects?.length !== (name.includes('existing') ? CFG.batchExisting : CFG.batchObjects)) throw new Error(`${name}: ${json.objects?.length} objects in the answer`);
          ms.push(t);
        }
        r[name] = { medianMs: median(ms), runsMs: ms.map((x) => +x.toFixed(1)) };
        log(`(a) ${store} ${name}: median ${f1(median(ms))} ms`);
      }
    } catch (e) {
      r.error = e.message;
      results.errors.push(`(a) ${store}: ${e.message}`);
      log(`(a) ${store} failed: ${e.message}`);
    } finally {
      await hub?.stop();
      await s3?.stop();
      hub?.cleanup();
      s3?.cleanup();
    }
  }
  return out;
}

// ---------------------------------------------------------------- (b) 1 GiB vs nginx
async function benchB() {
  const obj = await randomFile(CFG.xferSize);
  const out = { size: obj.size, hubgate: { upload: [], download: [], detail: [] }, nginx: { upload: [], download: [] }, nginxNote: null };
  // hubgate: a fresh data dir each run, so the object is really uploaded each time.
  for (let i = 0; i < CFG.xferRuns; i++) {
    const hub = await startHub('data-b');
    try {
      const up = await uploadObject(hub, obj);
      if (up.transfer !== 'basic') throw new Error(`expected a basic upload, got ${up.transfer}`);
      const down = await downloadObject(hub, obj);
      out.hubgate.upload.push(up.ms);
      out.hubgate.download.push(down.ms);
      out.hubgate.detail.push({ putMs: +up.putMs.toFixed(1), verifyMs: +up.verifyMs.toFixed(1), getMs: +down.ms.toFixed(1) });
      log(`(b) hubgate run ${i + 1}: upload ${f1(up.ms)} ms (PUT ${f1(up.putMs)} + verify ${f1(up.verifyMs)}), download ${f1(down.ms)} ms`);
    } finally {
      await hub.stop();
      hub.cleanup();
    }
  }
  let ng = null;
  try {
    ng = await startNginxDav();
    for (let i = 0; i < CFG.xferRuns; i++) {
      const url = `${ng.base}/obj-${i}.bin`;
      const t0 = nowMs();
      expectOk(await request(url, { method: 'PUT', headers: { 'Content-Length': String(obj.size), 'Content-Type': 'application/octet-stream' }, body: { file: obj.file } }), 'nginx PUT');
      const t1 = nowMs();
      const r = expectOk(await request(url, { sink: true }), 'nginx GET');
      const t2 = nowMs();
      if (r.bytes !== obj.size) throw new Error(`nginx GET: ${r.bytes} bytes`);
      out.nginx.upload.push(t1 - t0);
      out.nginx.download.push(t2 - t1);
      fs.rmSync(path.join(ng.www, `obj-${i}.bin`), { force: true });
      log(`(b) nginx run ${i + 1}: PUT ${f1(t1 - t0)} ms, GET ${f1(t2 - t1)} ms`);
    }
  } catch (e) {
    out.nginxNote = `nginx (dav) unavailable or failed: ${e.message}`;
    results.errors.push(`(b) ${out.nginxNote}`);
    log(`(b) ${out.nginxNote}`);
  } finally {
    await ng?.stop();
    ng?.cleanup();
  }
  for (const k of ['upload', 'download']) {
    const h = median(out.hubgate[k]);
    const n = median(out.nginx[k]);
    out[k] = { hubgateMs: h, nginxMs: n, hubgateMBps: mbps(obj.size, h), nginxMBps: mbps(obj.size, n), ratio: out.nginx[k].length ? n / h : null };
  }
  return out;
}

// ---------------------------------------------------------------- (c) peak RSS, (d) big multipart on fs
async function rssRun(label, hubName, env, obj, offerMultipart) {
  let s3 = null;
  let hub = null;
  try {
    if (env === 's3') s3 = await startS3rver(`s3rver-${hubName}`);
    const extra = env === 's3' ? { ...s3.env, HUBGATE_LFS_MULTIPART_THRESHOLD: String(CFG.rssThreshold), HUBGATE_LFS_MULTIPART_CHUNK: String(CFG.rssChunk) } : env;
    hub = await startHub(hubName, extra);
    const stopSampling = rssSampler(hub.pid);
    const phases = {};
    const up = await uploadObject(hub, obj, { offerMultipart, onPhase: (p) => (phases[p] = nowMs()) });
    const rss = stopSampling();
    const t0 = nowMs();
    let downMs = null;
    try {
      downMs = (await downloadObject(hub, obj)).ms;
    } catch (e) {
      results.errors.push(`${label} download check: ${e.message}`);
    }
    log(`${label}: ${up.transfer}${up.parts ? ` (${up.parts} parts)` : ''}, upload ${f1(up.ms)} ms (verify ${f1(up.verifyMs)} ms), peak RSS of the largest worker ${f1(rss.largestWorkerPeakMb)} MB (all processes ${f1(rss.peakMb)} MB: ${rss.processes.map((p) => `${p.role} ${f1(p.peakMb)}`).join(', ')}), download ${f1(downMs)} ms ${f1(nowMs() - t0)}`);
    return { label, size: obj.size, transfer: up.transfer, parts: up.parts, uploadMs: up.ms, putMs: up.putMs, verifyMs: up.verifyMs, downloadMs: downMs, ...rss };
  } catch (e) {
    results.errors.push(`${label}: ${e.message}`);
    log(`${label} failed: ${e.message}`);
    return { label, size: obj.size, error: e.message };
  } finally {
    await hub?.stop();
    await s3?.stop();
    hub?.cleanup();
    s3?.cleanup();
  }
}

async function benchC() {
  const obj = await randomFile(CFG.rssSize);
  return [
    await rssRun(`fs, basic PUT, ${fmtSize(obj.size)}`, 'data-c-fs', {}, obj, false),
    await rssRun(`s3rver, multipart (threshold ${fmtSize(CFG.rssThreshold)}, chunk ${fmtSize(CFG.rssChunk)}), ${fmtSize(obj.size)}`, 'data-c-s3', 's3', obj, true),
  ];
}

async function benchD() {
  const obj = await randomFile(CFG.bigSize);
  return [await rssRun(`fs, multipart (default threshold/chunk), ${fmtSize(obj.size)}`, 'data-d-fs', {}, obj, true)];
}

// ---------------------------------------------------------------- (e) a batch at the limit
const MAX_OBJECT = 5 * 1024 * GiB;

async function benchE() {
  const out = {};
  for (const store of ['fs', 's3']) {
    const r = (out[store] = {});
    let s3 = null;
    let hub = null;
    try {
      if (store === 's3') s3 = await startS3rver('s3rver-e');
      hub = await startHub(`data-e-${store}`, s3?.env ?? {});
      await batch(hub, 'upload', randomObjects(10)); // warm-up
      const stopSampling = rssSampler(hub.pid);
      const cases = {
        'upload, 1000 x 5 TiB, multipart': () => Array.from({ length: 1000 }, () => ({ oid: randomOid(), size: MAX_OBJECT })),
        'upload, 1000 x 2**52 B, multipart': () => Array.from({ length: 1000 }, () => ({ oid: randomOid(), size: 2 ** 52 })),
      };
      for (const [name, objects] of Object.entries(cases)) {
        const ms = [];
        let bytes = 0;
        for (let i = 0; i < CFG.limitRuns; i++) {
          const { ms: t, json } = await batch(hub, 'upload', objects(), ['basic', 'multipart']);
          if (json.objects?.length !== 1000) throw new Error(`${name}: ${json.objects?.length} objects in the answer`);
          bytes = JSON.stringify(json).length;
          ms.push(t);
        }
        r[name] = { medianMs: median(ms), maxMs: Math.max(...ms), runsMs: ms.map((x) => +x.toFixed(1)), answerMb: bytes / MiB };
        log(`(e) ${store} ${name}: median ${f1(median(ms))} ms, max ${f1(Math.max(...ms))} ms, answer ${f1(bytes / MiB)} MB`);
      }
      r.rss = stopSampling();
      log(`(e) ${store}: peak RSS ${f1(r.rss.peakMb)} MB`);
    } catch (e) {
      r.error = e.message;
      results.errors.push(`(e) ${store}: ${e.message}`);
      log(`(e) ${store} failed: ${e.message}`);
    } finally {
      await hub?.stop();
      await s3?.stop();
      hub?.cleanup();
      s3?.cleanup();
    }
  }
  return out;
}

// ---------------------------------------------------------------- report
function report() {
  const lines = [];
  lines.push(`# hubgate LFS benchmark${QUICK ? ' (--quick)' : ''}`, '');
  if (results.a) {
    lines.push(`## (a) batch API latency, median of ${CFG.batchRuns} (target < 30 ms)`, '', '| store | request | median ms | runs (ms) | < 30 ms |', '|---|---|---:|---|---|');
    for (const [store, r] of Object.entries(results.a)) {
      if (r.error) lines.push(`| ${store} | error: ${r.error} | | | |`);
      for (const [name, v] of Object.entries(r)) if (name !== 'error') lines.push(`| ${store} | ${name} | ${f1(v.medianMs)} | ${v.runsMs.join(', ')} | ${pass(v.medianMs < 30)} |`);
    }
    lines.push('');
  }
  if (results.b) {
    const b = results.b;
    lines.push(`## (b) fs store vs nginx, ${fmtSize(b.size ?? CFG.xferSize)} object, median of ${CFG.xferRuns} (ratio = nginx time / hubgate time, targets: upload ≥ 0.8, download ≥ 0.9)`, '');
    if (b.error) lines.push(`error: ${b.error}`, '');
    else {
      lines.push('| operation | hubgate ms | hubgate MiB/s | nginx ms | nginx MiB/s | ratio | target |', '|---|---:|---:|---:|---:|---:|---|');
      for (const [k, name] of [['upload', 'upload (hubgate: PUT + verify; nginx: dav PUT)'], ['download', 'download (GET)']]) {
        const v = b[k];
        lines.push(`| ${name} | ${f1(v.hubgateMs)} | ${f1(v.hubgateMBps)} | ${f1(v.nginxMs)} | ${f1(v.nginxMBps)} | ${f2(v.ratio)} | ${pass(v.ratio == null ? null : v.ratio >= XFER_TARGET[k])} (≥ ${XFER_TARGET[k]}) |`);
      }
      if (b.nginxNote) lines.push('', b.nginxNote);
      lines.push('');
    }
  }
  for (const key of ['c', 'd']) {
    if (!results[key]) continue;
    lines.push(key === 'c' ? '## (c) peak RSS of a hubgate worker during a large upload (target < 150 MB per worker)' : '## (d) --big: multipart on fs, default threshold', '');
    lines.push('| path | transfer | upload s | of which verify s | download s | RSS before MB (all) | peak RSS MB, all processes | peak RSS MB, largest worker | < 150 MB per worker |', '|---|---|---:|---:|---:|---:|---:|---:|---|');
    for (const r of results[key]) {
      if (r.error) lines.push(`| ${r.label} | error: ${r.error} | | | | | | | |`);
      else lines.push(`| ${r.label} | ${r.transfer}${r.parts ? ` (${r.parts} parts)` : ''} | ${f1(r.uploadMs / 1000)} | ${f1(r.verifyMs / 1000)} | ${f1(r.downloadMs / 1000)} | ${f1(r.baseMb)} | ${f1(r.peakMb)} | ${f1(r.largestWorkerPeakMb)} | ${pass(r.largestWorkerPeakMb < 150)} |`);
    }
    lines.push('');
  }
  if (results.e) {
    lines.push(`## (e) a batch at the limit, ${CFG.limitRuns} runs (target < 1 s)`, '', '| store | request | median ms | max ms | answer MB | hubgate RSS before MB | peak RSS MB | < 1 s |', '|---|---|---:|---:|---:|---:|---:|---|');
    for (const [store, r] of Object.entries(results.e)) {
      if (r.error) lines.push(`| ${store} | error: ${r.error} | | | | | | |`);
      for (const [name, v] of Object.entries(r)) {
        if (name === 'error' || name === 'rss') continue;
        lines.push(`| ${store} | ${name} | ${f1(v.medianMs)} | ${f1(v.maxMs)} | ${f1(v.answerMb)} | ${f1(r.rss?.baseMb)} | ${f1(r.rss?.peakMb)} | ${pass(v.maxMs < 1000)} |`);
      }
    }
    lines.push('');
  }
  if (results.errors.length) lines.push('## errors', '', ...results.errors.map((e) => `- ${e}`), '');
  return lines.join('\n');
}

async function main() {
  fs.mkdirSync(LOGS, { recursive: true });
  log(`sections ${[...ONLY].join(',')}${QUICK ? ' (quick)' : ''}; files in ${WORK}/.., server data in ${DATA}`);
  const sections = { a: benchA, b: benchB, c: benchC, d: benchD, e: benchE };
  for (const k of ['a', 'b', 'c', 'd', 'e']) {
    if (!ONLY.has(k)) continue;
    if (k === 'd' && !BIG && !ONLY.has('d')) continue;
    const t0 = nowMs();
    try {
      results[k] = await sections[k]();
    } catch (e) {
      results[k] = { error: e.message };
      results.errors.push(`(${k}) ${e.message}`);
      log(`(${k}) failed: ${e.stack}`);
    }
    log(`(${k}) done in ${f1((nowMs() - t0) / 1000)} s`);
  }
  results.finishedAt = new Date().toISOString();
  const md = report();
  fs.writeFileSync(OUT, `${JSON.stringify({ ...results, markdown: md }, null, 2)}\n`);
  process.stdout.write(`${md}\n`);
}

main()
  .catch((e) => {
    process.stderr.write(`lfs bench: ${e.stack}\n`);
  })
  .finally(() => {
    agent.destroy();
    process.exit(0);
  });
