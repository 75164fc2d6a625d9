#!/usr/bin/env node
// Xet storage benchmark (docs/xet.md): ten fine-tunes of one model, uploaded with @huggingface/hub
// through Xet (its default) to one hubgate and through Git LFS (`useXet: false`) to another.
//   - the files: one random 100 MB base; each variant changes 1 % of its bytes in 8 places spread
//     over the file; uploaded one after another (`uploadFiles`) to one repo, as new commits of
//     model.safetensors
//   - bytes uploaded: Xet, the xorb bytes the server received (`hubgate_xet_xorb_bytes_received_total`
//     in /metrics); LFS, the files' sizes
//   - bytes stored: every file under each server's LFS store directory (DATA/lfs: LFS objects and
//     xet/xorbs)                                                    target: Xet ≤ 15 % of LFS
//   - upload time: Xet / LFS, all variants                          report only
//   - download of the last variant from the Xet server, through its reconstruction (the protocol
//     as a native client reads it) and through a plain resolve GET (what non-Xet clients do), vs
//     the same file's resolve GET from the LFS server: throughput ratio = LFS time / Xet time
//                                                                   target ≥ 0.8
//     and with @huggingface/hub's downloadFile (its Xet path)       report only
// Usage: node bench/xet.js [--quick] [--runs N] [--out FILE]   (--quick: 32 MiB, 4 variants, 2 runs)
// Writes bench/xet-results.json (or --out FILE); always exits 0 (failures are reported in the table).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { downloadFile, uploadFiles } from '@huggingface/hub';
import { HUBGATE_BIN, ROOT_DIR, hubgateCli } from './servers.js';
import { dirSize, freePort, installCleanup, median, nowMs, rmrf, stopChild, track, waitFor } from './util.js';
import { spawn } from 'node:child_process';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const LOGS = path.join(BENCH_DIR, '.work', 'xet', 'logs');
// Outside bench/.work: hubgate's fs-store download answers 404 when the path has a dot-directory in it.
const DATA = process.env.BENCH_XET_DATA || path.join(os.tmpdir(), `hubgate-xet-bench-${process.pid}`);
const MiB = 1024 * 1024;

const argv = process.argv.slice(2);
const opt = (n) => {
  const i = argv.indexOf(n);
  return i >= 0 ? argv[i + 1] : undefined;
};
const QUICK = argv.includes('--quick');
const OUT = path.resolve(opt('--out') ?? path.join(BENCH_DIR, 'xet-results.json'));
const CFG = {
  size: QUICK ? 32 * MiB : 100 * 1000 * 1000,
  variants: QUICK ? 4 : 10,
  changedFraction: 0.01,
  changedPlaces: 8,
  downloadRuns: Number(opt('--runs') ?? (QUICK ? 2 : 3)),
};
const TARGETS = { storedRatio: 0.15, downloadRatio: 0.8 };

installCleanup(() => process.env.BENCH_XET_DATA || rmrf(DATA));
const log = (...a) => process.stderr.write(`[xet-bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);
const mb = (n) => (n == null ? '—' : `${(n / 1e6).toFixed(1)} MB`);
const f2 = (x) => (x == null || !Number.isFinite(x) ? '—' : x.toFixed(2));
const pct = (x) => (x == null || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(1)} %`);
const pass = (ok) => (ok == null ? 'n/a' : ok ? 'PASS' : 'FAIL');
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------- the files

/** A small deterministic generator (mulberry32), so every run changes the same places. */
function rng(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Variant `i` of `base`: 1 % of its bytes replaced by random ones, in CFG.changedPlaces runs spread over the file. */
function variant(base, i) {
  const out = Buffer.from(base);
  const next = rng(1000 + i);
  const run = Math.floor((base.length * CFG.changedFraction) / CFG.changedPlaces);
  const slot = Math.floor(base.length / CFG.changedPlaces);
  for (let p = 0; p < CFG.changedPlaces; p++) {
    const at = p * slot + Math.floor(next() * (slot - run));
    crypto.randomFillSync(out, at, run);
  }
  return out;
}

// ---------------------------------------------------------------- servers

/** A fresh data dir (alice, a write token, repo alice/m) and hubgate serving it, one process. */
async function startHub(name, env = {}) {
  const dataDir = path.join(DATA, name);
  rmrf(dataDir);
  fs.mkdirSync(LOGS, { recursive: true });
  await hubgateCli(dataDir, ['user', 'create', 'alice']);
  const token = (await hubgateCli(dataDir, ['token', 'create', 'alice', '--role', 'write'])).trim();
  await hubgateCli(dataDir, ['repo', 'create', 'alice/m']);
  const port = await freePort();
  const fd = fs.openSync(path.join(LOGS, `${name}.log`), 'w');
  // One process each (the /metrics counters are the process's own), no per-caller limits (one address).
  const child = spawn(process.execPath, [HUBGATE_BIN, 'serve', '--data', dataDir, '--host', '127.0.0.1', '--port', String(port)], {
    cwd: ROOT_DIR,
    env: { ...process.env, HUBGATE_SSH_PORT: '0', HUBGATE_WORKERS: '1', HUBGATE_GIT_REQUESTS_PER_MINUTE: '0', HUBGATE_API_REQUESTS_PER_MINUTE: '0', ...env },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  track(child, name, { group: true });
  let exited = null;
  child.once('exit', (c, s) => (exited = `hubgate exited (${c ?? s}), log ${LOGS}/${name}.log`));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (exited) throw new Error(exited);
    return (await fetch(`${base}/healthz`).catch(() => ({ ok: false }))).ok;
  }, { what: `hubgate ${name}`, timeoutMs: 30000 });
  return { name, base, token, dataDir, stop: () => stopChild(child) };
}

async function counter(hub, metric) {
  const text = await (await fetch(`${hub.base}/metrics`)).text();
  const m = new RegExp(`^${metric} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Bytes of every file under the server's LFS store, and of its parts. */
function stored(hub) {
  const at = (...p) => (fs.existsSync(path.join(hub.dataDir, 'lfs', ...p)) ? dirSize(path.join(hub.dataDir, 'lfs', ...p)) : 0);
  return { total: at(), lfsObjects: at('objects'), xorbs: at('xet', 'xorbs') };
}

// ---------------------------------------------------------------- measurements

const client = (hub) => ({ repo: 'alice/m', hubUrl: hub.base, accessToken: hub.token });

/** Reads a stream to its end, hashing it; its sha256 and length. */
async function drain(stream) {
  const h = crypto.createHash('sha256');
  let n = 0;
  for await (const c of stream) {
    h.update(c);
    n += c.length;
  }
  return { sha256: h.digest('hex'), bytes: n };
}

/** The whole file through a resolve GET (the redirect followed), as a client without Xet reads it. */
async function resolveGet(hub) {
  const r = await fetch(`${hub.base}/alice/m/resolve/main/model.safetensors`, { headers: { Authorization: `Bearer ${hub.token}` } });
  if (r.status !== 200) throw new Error(`resolve on ${hub.name}: HTTP ${r.status}`);
  return drain(r.body);
}

/** The whole file through @huggingface/hub's downloadFile: Xet reconstruction for a file uploaded through Xet. */
async function xetDownload(hub) {
  const blob = await downloadFile({ ...client(hub), path: 'model.safetensors' });
  if (!blob) throw new Error(`downloadFile on ${hub.name} found no file`);
  return drain(blob.stream());
}

/**
 * The whole file through the Xet protocol itself, as a native client (hf_xet) reads it: resolve's
 * X-Xet-Hash, a read token, the reconstruction, then each fetch range once (4 in flight), its
 * chunks decoded (headers, LZ4 when compressed) and the terms' chunks hashed in order. What the
 * server's side of a Xet download costs, without @huggingface/hub's own reassembly in JavaScript.
 */
async function xetProtocolGet(hub) {
  const { decompressChunk } = await import(path.join(ROOT_DIR, 'dist', 'xet', 'compression.js'));
  const auth = { Authorization: `Bearer ${hub.token}` };
  const head = await fetch(`${hub.base}/alice/m/resolve/main/model.safetensors`, { method: 'HEAD', redirect: 'manual', headers: auth });
  const fileHash = head.headers.get('x-xet-hash');
  if (!fileHash) throw new Error(`resolve on ${hub.name} gave no X-Xet-Hash`);
  const token = await (await fetch(`${hub.base}/api/models/alice/m/xet-read-token/main`, { headers: auth })).json();
  const cas = { Authorization: `Bearer ${token.accessToken}` };
  const rec = await (await fetch(`${token.casUrl}/v1/reconstructions/${fileHash}`, { headers: cas })).json();
  const ranges = Object.entries(rec.fetch_info).flatMap(([xorb, list]) => list.map((f) => ({ xorb, ...f })));
  const bytes = new Map();
  for (let next = 0; next < ranges.length; ) {
    await Promise.all(ranges.slice(next, next + 4).map(async (f) => {
      const r = await fetch(f.url, { headers: { Range: `bytes=${f.url_range.start}-${f.url_range.end}` } });
      if (r.status !== 200 && r.status !== 206) throw new Error(`xorb range on ${hub.name}: HTTP ${r.status}`);
      bytes.set(f, Buffer.from(await r.arrayBuffer()));
    }));
    next += 4;
  }
  const h = crypto.createHash('sha256');
  let n = 0;
  for (const t of rec.terms) {
    const f = rec.fetch_info[t.hash].find((x) => x.range.start <= t.range.start && x.range.end >= t.range.end);
    const buf = bytes.get(ranges.find((r) => r.xorb === t.hash && r.url === f.url));
    let at = 0;
    for (let c = f.range.start; c < t.range.end; c++) {
      const stored = buf.readUIntLE(at + 1, 3);
      const scheme = buf[at + 4];
      const size = buf.readUIntLE(at + 5, 3);
      if (c >= t.range.start) {
        const payload = buf.subarray(at + 8, at + 8 + stored);
        const chunk = scheme === 0 ? payload : decompressChunk(scheme, payload, size);
        h.update(chunk);
        n += chunk.length;
      }
      at += 8 + stored;
    }
  }
  return { sha256: h.digest('hex'), bytes: n };
}

async function timed(fn, expect) {
  const t0 = nowMs();
  const r = await fn();
  const ms = nowMs() - t0;
  if (r.sha256 !== expect) throw new Error(`downloaded bytes differ from the upload (sha256 ${r.sha256.slice(0, 12)}…, ${r.bytes} bytes)`);
  return ms;
}

async function main() {
  const results = { config: CFG, quick: QUICK, date: new Date().toISOString(), machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version }, errors: [] };
  let xet;
  let lfs;
  try {
    log(`${CFG.variants} variants of ${mb(CFG.size)}, ${pct(CFG.changedFraction)} changed each in ${CFG.changedPlaces} places; data in ${DATA}`);
    const base = crypto.randomBytes(CFG.size);
    xet = await startHub('xet', { HUBGATE_XET: 'on' });
    lfs = await startHub('lfs', { HUBGATE_XET: 'on' });
    const uploads = [];
    let last;
    for (let i = 0; i < CFG.variants; i++) {
      const bytes = variant(base, i);
      last = { sha256: sha256(bytes), size: bytes.length };
      const row = { variant: i + 1 };
      const received = await counter(xet, 'hubgate_xet_xorb_bytes_received_total');
      let t0 = nowMs();
      await uploadFiles({ ...client(xet), files: [{ path: 'model.safetensors', content: new Blob([bytes]) }] });
      row.xetMs = nowMs() - t0;
      row.xetSent = (await counter(xet, 'hubgate_xet_xorb_bytes_received_total')) - received;
      t0 = nowMs();
      await uploadFiles({ ...client(lfs), files: [{ path: 'model.safetensors', content: new Blob([bytes]) }], useXet: false });
      row.lfsMs = nowMs() - t0;
      row.lfsSent = bytes.length;
      uploads.push(row);
      log(`variant ${i + 1}: Xet ${(row.xetMs / 1000).toFixed(2)} s, ${mb(row.xetSent)} sent; LFS ${(row.lfsMs / 1000).toFixed(2)} s, ${mb(row.lfsSent)} sent`);
    }
    if ((await counter(lfs, 'hubgate_xet_xorb_bytes_received_total')) !== 0) throw new Error('the LFS server received xorbs: useXet: false was not honoured');
    const sum = (k) => uploads.reduce((n, r) => n + r[k], 0);
    const storedXet = stored(xet);
    const storedLfs = stored(lfs);
    results.uploads = uploads;
    results.sent = { xet: sum('xetSent'), lfs: sum('lfsSent'), ratio: sum('xetSent') / sum('lfsSent') };
    results.stored = { xet: storedXet, lfs: storedLfs, ratio: storedXet.total / storedLfs.total, xorbsOnlyRatio: storedXet.xorbs / storedLfs.total };
    results.uploadTime = { xetMs: sum('xetMs'), lfsMs: sum('lfsMs'), ratio: sum('xetMs') / sum('lfsMs') };
    log(`stored: Xet server ${mb(storedXet.total)} (xorbs ${mb(storedXet.xorbs)}, LFS objects ${mb(storedXet.lfsObjects)}), LFS server ${mb(storedLfs.total)}`);

    // Downloads of the last variant: one untimed warm-up each, then the runs in turn.
    const ways = {
      xetProtocol: () => xetProtocolGet(xet),
      xetReconstruction: () => xetDownload(xet),
      xetResolve: () => resolveGet(xet),
      lfsResolve: () => resolveGet(lfs),
    };
    const samples = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
    for (let r = -1; r < CFG.downloadRuns; r++) {
      for (const [k, fn] of Object.entries(ways)) {
        const ms = await timed(fn, last.sha256);
        if (r >= 0) samples[k].push(ms);
      }
    }
    const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
    results.download = {
      size: last.size, samples, medianMs: med,
      mbPerS: Object.fromEntries(Object.entries(med).map(([k, ms]) => [k, last.size / 1e6 / (ms / 1000)])),
      protocolRatio: med.lfsResolve / med.xetProtocol,
      reconstructionRatio: med.lfsResolve / med.xetReconstruction,
      resolveRatio: med.lfsResolve / med.xetResolve,
    };
    log(`download ${mb(last.size)}: Xet protocol ${(med.xetProtocol / 1000).toFixed(2)} s, @huggingface/hub downloadFile ${(med.xetReconstruction / 1000).toFixed(2)} s, resolve on the Xet server ${(med.xetResolve / 1000).toFixed(2)} s, LFS resolve ${(med.lfsResolve / 1000).toFixed(2)} s`);
  } catch (e) {
    results.errors.push(e.message);
    log(`failed: ${e.stack}`);
  } finally {
    await xet?.stop();
    await lfs?.stop();
  }

  const s = results.stored;
  const d = results.download;
  results.targets = [
    { id: 'xet-stored', what: `bytes stored with Xet / with LFS (${CFG.variants} variants)`, value: s?.ratio ?? null, limit: TARGETS.storedRatio, pass: s ? s.ratio <= TARGETS.storedRatio : null },
    { id: 'xet-download-reconstruction', what: 'download throughput, Xet reconstruction (the protocol, as hf_xet reads it) / LFS download', value: d?.protocolRatio ?? null, limit: TARGETS.downloadRatio, atLeast: true, pass: d ? d.protocolRatio >= TARGETS.downloadRatio : null },
    { id: 'xet-download-resolve', what: 'download throughput, resolve of the Xet-uploaded file / LFS download', value: d?.resolveRatio ?? null, limit: TARGETS.downloadRatio, atLeast: true, pass: d ? d.resolveRatio >= TARGETS.downloadRatio : null },
  ];
  const lines = [`# hubgate Xet benchmark${QUICK ? ' (--quick)' : ''}`, '', `${CFG.variants} variants of a ${mb(CFG.size)} file, ${pct(CFG.changedFraction)} of the bytes changed in ${CFG.changedPlaces} places each, uploaded one after another with @huggingface/hub.`, ''];
  if (results.uploads) {
    lines.push('| variant | Xet upload s | Xet xorb bytes sent | LFS upload s | LFS bytes sent |', '|---:|---:|---:|---:|---:|');
    for (const r of results.uploads) lines.push(`| ${r.variant} | ${(r.xetMs / 1000).toFixed(2)} | ${mb(r.xetSent)} | ${(r.lfsMs / 1000).toFixed(2)} | ${mb(r.lfsSent)} |`);
    lines.push('', '| measurement | Xet | LFS | ratio | target | result |', '|---|---:|---:|---:|---|---|');
    lines.push(`| bytes uploaded | ${mb(results.sent.xet)} | ${mb(results.sent.lfs)} | ${pct(results.sent.ratio)} | report | |`);
    lines.push(`| bytes stored (LFS store dir) | ${mb(s.xet.total)} (xorbs ${mb(s.xet.xorbs)}, LFS objects ${mb(s.xet.lfsObjects)}) | ${mb(s.lfs.total)} | ${pct(s.ratio)} (xorbs alone ${pct(s.xorbsOnlyRatio)}) | ≤ ${pct(TARGETS.storedRatio)} | ${pass(results.targets[0].pass)} |`);
    lines.push(`| upload time, all variants | ${(results.uploadTime.xetMs / 1000).toFixed(1)} s | ${(results.uploadTime.lfsMs / 1000).toFixed(1)} s | ${f2(results.uploadTime.ratio)}× | report | |`);
  }
  if (d) {
    lines.push(`| download, Xet reconstruction (token, reconstruction, xorb ranges) vs LFS resolve | ${(d.medianMs.xetProtocol / 1000).toFixed(2)} s (${d.mbPerS.xetProtocol.toFixed(0)} MB/s) | ${(d.medianMs.lfsResolve / 1000).toFixed(2)} s (${d.mbPerS.lfsResolve.toFixed(0)} MB/s) | ${f2(d.protocolRatio)} | ≥ ${TARGETS.downloadRatio} | ${pass(results.targets[1].pass)} |`);
    lines.push(`| download, @huggingface/hub downloadFile through Xet vs LFS resolve | ${(d.medianMs.xetReconstruction / 1000).toFixed(2)} s (${d.mbPerS.xetReconstruction.toFixed(0)} MB/s) | ${(d.medianMs.lfsResolve / 1000).toFixed(2)} s | ${f2(d.reconstructionRatio)} | report | |`);
    lines.push(`| download, resolve GET of the Xet-uploaded file vs LFS resolve | ${(d.medianMs.xetResolve / 1000).toFixed(2)} s (${d.mbPerS.xetResolve.toFixed(0)} MB/s) | ${(d.medianMs.lfsResolve / 1000).toFixed(2)} s | ${f2(d.resolveRatio)} | ≥ ${TARGETS.downloadRatio} | ${pass(results.targets[2].pass)} |`);
  }
  if (results.errors.length) lines.push('', '## errors', '', ...results.errors.map((e) => `- ${e}`));
  results.markdown = lines.join('\n');
  fs.writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${results.markdown}\n`);
}

main()
  .catch((e) => process.stderr.write(`xet bench: ${e.stack}\n`))
  .finally(() => process.exit(0));
