#!/usr/bin/env node
// One bench command (`npm run bench`): runs the chosen bench scripts one after the other as child processes,
// reads each one's JSON results file, and prints ONE summary table of the project's performance targets
// (hubgate vs its reference, ratio, target, PASS/FAIL), with the load average at the start and end of every
// section so a noisy run shows. Everything goes to bench/results.json.
//   node bench/all.js [--sections git,resolve,lfs,xet] [--quick] [--runs N] [--no-build] [--out FILE]
// Other sections: ssh, load, list, commit-pages, files-pages, cluster (several nodes behind nginx; SQLite vs PostgreSQL).
// Each script stays runnable on its own; its own detailed table goes to stderr here, the summary to stdout.
// Exit code 0 whatever the results (a section that crashes is reported in the table and the JSON).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT_DIR = path.dirname(BENCH_DIR);

const { values: opt } = parseArgs({
  options: {
    sections: { type: 'string', default: 'git,resolve,lfs,xet' },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(BENCH_DIR, 'results.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});
if (opt.help) {
  process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0]);
  process.exit(0);
}

// A section is one or more runs of a script; `quick` says whether the script takes --quick/--runs.
// resolve runs twice: hubgate's default worker count (one per CPU) and --workers 1, so the gain of the
// workers on the 16 concurrent downloads is visible side by side.
const SECTIONS = {
  git: [{ key: 'git', script: 'run.js', out: 'git-results.json', quick: true }],
  resolve: [
    { key: 'resolve', script: 'resolve.js', out: 'resolve-results.json', quick: true, args: ['--no-build'] },
    { key: 'resolve-w1', script: 'resolve.js', out: 'resolve-w1-results.json', quick: true, args: ['--no-build', '--workers', '1', '--no-accel'] },
  ],
  lfs: [{ key: 'lfs', script: 'lfs.js', out: 'lfs-results.json', quick: true }],
  xet: [{ key: 'xet', script: 'xet.js', out: 'xet-results.json', quick: true }],
  ssh: [{ key: 'ssh', script: 'ssh.js', out: 'ssh-results.json', quick: true }],
  load: [{ key: 'load', script: 'load.js', out: 'load-results.json' }],
  list: [{ key: 'list', script: 'list.js', out: 'list-results.json' }],
  'commit-pages': [{ key: 'commit-pages', script: 'commit-pages.js', out: 'commit-pages-results.json' }],
  'files-pages': [{ key: 'files-pages', script: 'files-pages.js', out: 'files-pages-results.json' }],
  // Not in the default set: two nodes behind nginx, and SQLite vs PostgreSQL when PostgreSQL is installed.
  cluster: [{ key: 'cluster', script: 'cluster.js', out: 'cluster-results.json', quick: true, args: ['--no-build'] }],
};
const chosen = opt.sections.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = chosen.filter((s) => !SECTIONS[s]);
if (unknown.length) {
  process.stderr.write(`bench: unknown section ${unknown.join(', ')}; choose from ${Object.keys(SECTIONS).join(', ')}\n`);
  process.exit(2);
}
if (opt.runs !== undefined && !(Number(opt.runs) >= 1)) throw new Error('--runs must be a positive number');

const log = (m) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const load1 = () => os.loadavg()[0];

/** Runs `cmd` with its output on our stderr (stdout stays for the summary); resolves with its exit code. */
function runChild(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT_DIR, stdio: ['ignore', 2, 2] });
    // Ctrl-C reaches the child through the process group; a plain kill of this process passes it on.
    const forward = (sig) => child.kill(sig);
    process.once('SIGTERM', forward);
    child.on('error', (e) => resolve({ code: null, error: e.message }));
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', forward);
      resolve({ code, signal });
    });
  });
}

// ---------------------------------------------------------------- the issue's targets, from each script's JSON

const MiB = 1024 * 1024;
const fmtMs = (ms) => (ms == null || !Number.isFinite(ms) ? '—' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);
const fmtX = (x) => (x == null || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}×`);
const fmtMb = (mb) => (mb == null || !Number.isFinite(mb) ? '—' : `${mb.toFixed(1)} MB`);
const verdict = (ok) => (ok == null ? 'n/a' : ok ? 'PASS' : 'FAIL');
const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** A row hubgate time vs reference time, pass when hubgate/reference ≤ limit. */
function timeRatioRow(section, measurement, hub, ref, refLabel, limit) {
  const x = num(hub) != null && num(ref) ? hub / ref : null;
  return { section, measurement, hubgate: fmtMs(hub), reference: ref == null ? '—' : `${fmtMs(ref)} ${refLabel}`, ratio: fmtX(x), target: limit == null ? 'report only' : `≤ ${limit.toFixed(1)}×`, value: x, limit, result: limit == null ? '' : verdict(x == null ? null : x <= limit) };
}

/** Rows for each section's JSON; `covered` = ids of the script's own targets already shown as the issue's. */
const SUMMARIZE = {
  git(j) {
    const rows = [];
    const m = j.results?.lsRemote?.median;
    if (m) {
      const peers = ['nginx', 'ngs'].filter((k) => num(m[k]) != null);
      const peer = peers.length ? peers.reduce((a, b) => (m[a] <= m[b] ? a : b)) : null;
      rows.push(timeRatioRow('git', `git ls-remote, ${j.results.lsRemote.refs} refs (client protocol ${j.results.lsRemote.protocol})`, m.hubgate, peer && m[peer], peer === 'ngs' ? 'node-git-server (faster peer)' : 'nginx + http-backend (faster peer)', 1.0));
    }
    return { rows, covered: ['b-ls-remote-peer'] };
  },
  resolve(j, key) {
    const r = j.results ?? {};
    const c = j.config ?? {};
    const workers = key === 'resolve-w1' ? '--workers 1' : `workers: ${j.config?.hubgateWorkers ?? 'default'}`;
    const rows = [];
    if (key === 'resolve') {
      if (r.seq) rows.push(timeRatioRow('resolve', `${c.fileSize / MiB} MiB git file via resolve, per GET`, r.seq.perGet.hubgate, r.seq.perGet.nginx, 'nginx static', 1.5));
      if (r.lfs) rows.push(timeRatioRow('resolve', `${c.lfsSize / MiB} MiB LFS file: resolve 302 + GET`, r.lfs.median.hubgate, r.lfs.median.nginx, 'nginx static', 1.2));
    }
    if (r.concurrent) rows.push(timeRatioRow('resolve', `${c.concurrency} concurrent ${c.lfsSize / MiB} MiB LFS downloads, wall (${workers})`, r.concurrent.median.hubgate, r.concurrent.median.nginx, 'nginx static', 1.3));
    if (r.rss) {
      const mb = num(r.rss.peakMb);
      rows.push({ section: 'resolve', measurement: `peak RSS of all hubgate processes during 1 + ${c.concurrency} concurrent ${c.lfsSize / MiB} MiB downloads (${workers})`, hubgate: fmtMb(mb), reference: '', ratio: '', target: '< 400 MB', value: mb, limit: 400, result: verdict(mb == null ? null : mb < 400) });
    }
    if (key === 'resolve' && r.headLfs) rows.push(timeRatioRow('resolve', 'HEAD resolve of the LFS file (302), per request', r.headLfs.median.hubgate, r.headLfs.median.nginx, 'nginx static HEAD', 3));
    if (key === 'resolve' && r.concurrent?.median?.accel != null) rows.push(timeRatioRow('resolve', `${c.concurrency} concurrent LFS downloads behind nginx with HUBGATE_ACCEL_REDIRECT`, r.concurrent.median.accel, r.concurrent.median.nginx, 'nginx static', null));
    return { rows, covered: ['1-seq-git-file', '2-lfs-download', '3-lfs-concurrent', '4-head-lfs', 'rss'] };
  },
  // ssh.js writes no targets array: its own targets (≤ 1.2× sshd, RSS < 250 MB) are applied here.
  ssh(j) {
    const rows = [];
    if (j.big?.median) rows.push(timeRatioRow('ssh', 'git clone over SSH, big repo', j.big.median.hubgate, j.big.median.sshd, 'OpenSSH sshd', 1.2));
    if (j.concurrent?.median) rows.push(timeRatioRow('ssh', `${j.concurrency} concurrent clones over SSH, wall`, j.concurrent.median.hubgate, j.concurrent.median.sshd, 'OpenSSH sshd', 1.2));
    const mb = num(j.concurrent?.rss?.peakMb);
    if (mb != null) rows.push({ section: 'ssh', measurement: 'peak RSS of all hubgate processes during the concurrent SSH clones', hubgate: fmtMb(mb), reference: '', ratio: '', target: '< 250 MB', value: mb, limit: 250, result: verdict(mb < 250) });
    return { rows, covered: [] };
  },
  // Report only: on one machine two nodes share its cores (bench/cluster.js says why they cannot double).
  cluster(j) {
    const rows = [];
    const c = j.config ?? {};
    const a = j.a ?? {};
    const nodes = (label, key) => {
      const one = num(a[1]?.[key]);
      const two = num(a[2]?.[key]);
      if (one == null && two == null) return;
      rows.push({ section: 'cluster', measurement: `${label}: 2 nodes behind nginx (reference: 1 node)`, hubgate: fmtMs(two), reference: `${fmtMs(one)} 1 node`, ratio: fmtX(one != null && two ? two / one : null), target: 'report only', value: null, limit: null, result: '' });
    };
    nodes(`${c.clones} concurrent clones, wall`, 'clonesMs');
    nodes(`LFS batch of ${c.batchObjects} existing objects, download`, 'singleDownloadMs');
    nodes(`${c.concurrentBatches} concurrent upload batches of ${c.batchObjects}, wall`, 'concurrentUploadMs');
    const b = j.b ?? {};
    const db = (label, key, fmt) => {
      if (b.sqlite?.[key] == null) return;
      const pg = num(b.postgres?.[key]);
      rows.push({ section: 'cluster', measurement: `${label}: PostgreSQL (reference: SQLite)${b.postgresSkipped ? `; PostgreSQL skipped: ${b.postgresSkipped}` : ''}`, hubgate: fmt(pg), reference: `${fmt(b.sqlite[key])} SQLite`, ratio: fmtX(pg != null && b.sqlite[key] ? pg / b.sqlite[key] : null), target: 'report only', value: null, limit: null, result: '' });
    };
    const perSec = (x) => (x == null ? '—' : `${x.toFixed(0)}/s`);
    db('token lookup + access decision (batch of 1, private repo), 16 at once', 'privateBatchPerSec', perSec);
    db(`LFS batch of ${c.batchObjects} existing objects, download`, 'singleDownloadMs', fmtMs);
    db(`LFS batch of ${c.batchObjects} new objects, upload`, 'singleUploadMs', fmtMs);
    return { rows, covered: [] };
  },
  // Ten variants of one file through Xet and through LFS (bench/xet.js): stored bytes and download throughput.
  xet(j) {
    const rows = [];
    const c = j.config ?? {};
    const what = `${c.variants} variants of ${((c.size ?? 0) / 1e6).toFixed(0)} MB, ${((c.changedFraction ?? 0) * 100).toFixed(0)} % changed each`;
    const pctOf = (x) => (x == null ? '—' : `${(x * 100).toFixed(1)} %`);
    if (j.sent) rows.push({ section: 'xet', measurement: `bytes uploaded, Xet vs LFS (${what})`, hubgate: fmtMb(j.sent.xet / 1e6), reference: `${fmtMb(j.sent.lfs / 1e6)} LFS`, ratio: pctOf(j.sent.ratio), target: 'report only', value: null, limit: null, result: '' });
    if (j.stored) {
      const x = num(j.stored.ratio);
      rows.push({ section: 'xet', measurement: `bytes stored, Xet vs LFS (${what}; xorbs alone ${pctOf(j.stored.xorbsOnlyRatio)})`, hubgate: fmtMb(j.stored.xet.total / 1e6), reference: `${fmtMb(j.stored.lfs.total / 1e6)} LFS`, ratio: pctOf(x), target: '≤ 15 %', value: x, limit: 0.15, result: verdict(x == null ? null : x <= 0.15) });
    }
    if (j.uploadTime) rows.push(timeRatioRow('xet', `upload time, all variants, Xet vs LFS`, j.uploadTime.xetMs, j.uploadTime.lfsMs, 'LFS', null));
    const d = j.download;
    if (d) {
      // The target is the server's side of a Xet download (the protocol read as hf_xet reads it) and
      // of a plain download through the reconstruction; @huggingface/hub's downloadFile is reported:
      // its own reassembly in JavaScript sets its pace.
      for (const [k, ratio, label, target] of [
        ['xetProtocol', 'protocolRatio', 'Xet reconstruction (the protocol: token, reconstruction, xorb ranges)', true],
        ['xetResolve', 'resolveRatio', 'resolve GET of the Xet-uploaded file', true],
        ['xetReconstruction', 'reconstructionRatio', '@huggingface/hub downloadFile through Xet', false],
      ]) {
        const x = num(d[ratio]);
        rows.push({ section: 'xet', measurement: `download throughput, ${label} vs LFS download (${(d.size / 1e6).toFixed(0)} MB)`, hubgate: fmtMs(d.medianMs?.[k]), reference: `${fmtMs(d.medianMs?.lfsResolve)} LFS`, ratio: x == null ? '—' : `${x.toFixed(2)} (LFS/Xet time)`, target: target ? '≥ 0.8' : 'report only', value: target ? x : null, limit: target ? 0.8 : null, result: target ? verdict(x == null ? null : x >= 0.8) : '' });
      }
    }
    return { rows, covered: ['xet-stored', 'xet-download-reconstruction', 'xet-download-resolve'] };
  },
  lfs(j) {
    const rows = [];
    const a = j.results?.a ?? j.a;
    const batchRow = (store, name, label) => {
      const v = a?.[store]?.[name];
      const ms = num(v?.medianMs);
      if (!v && !a?.[store]?.error) return;
      rows.push({ section: 'lfs', measurement: `LFS batch, ${label} (${store})`, hubgate: a[store].error ? `error: ${a[store].error}` : fmtMs(ms), reference: '', ratio: '', target: '< 30 ms', value: ms, limit: 30, result: verdict(ms == null ? null : ms < 30) });
    };
    const cfg = j.config ?? {};
    if (a) {
      batchRow('fs', `upload, ${cfg.batchObjects} new`, `${cfg.batchObjects} new objects, upload`);
      batchRow('s3', `upload, ${cfg.batchObjects} new`, `${cfg.batchObjects} new objects, upload`);
      batchRow('s3', `download, ${cfg.batchExisting} existing`, `${cfg.batchExisting} existing objects, download, presigning`);
    }
    const b = j.b;
    if (b && !b.error) {
      const size = b.size >= 1024 * MiB ? `${(b.size / MiB / 1024).toFixed(0)} GiB` : `${(b.size / MiB).toFixed(0)} MiB`;
      for (const [k, label, limit] of [['upload', 'upload (PUT + verify) vs nginx dav PUT', 0.8], ['download', 'download vs nginx static GET', 0.9]]) {
        const v = b[k];
        const x = num(v?.ratio);
        rows.push({ section: 'lfs', measurement: `fs store, ${size} ${label}`, hubgate: fmtMs(v?.hubgateMs), reference: `${fmtMs(v?.nginxMs)} nginx`, ratio: x == null ? '—' : `${x.toFixed(2)} (nginx/hubgate)`, target: `≥ ${limit}`, value: x, limit, result: verdict(x == null ? null : x >= limit) });
      }
    }
    for (const r of Array.isArray(j.c) ? j.c : []) {
      // The issue's bound is per worker: the worker that takes the upload (the sum of all processes is in lfs-results.json).
      const mb = num(r.largestWorkerPeakMb ?? r.peakMb);
      rows.push({ section: 'lfs', measurement: `peak RSS of the largest hubgate worker during an upload: ${r.label}`, hubgate: r.error ? `error: ${r.error}` : fmtMb(mb), reference: '', ratio: '', target: '< 150 MB per worker', value: mb, limit: 150, result: verdict(mb == null ? null : mb < 150) });
    }
    return { rows, covered: [] };
  },
};

/** The script's own targets (the `targets` array most scripts write) that the issue's rows don't already show. */
function scriptTargetRows(section, j, covered) {
  if (!Array.isArray(j.targets)) return [];
  return j.targets
    .filter((t) => !covered.includes(t.id))
    // The scripts check value ≤ limit; `what` names the unit (a ratio, MB).
    .map((t) => ({ section, measurement: `${t.what} (the script's own target)`, hubgate: '', reference: '', ratio: num(t.value) == null ? '—' : t.value.toFixed(2), target: `≤ ${t.limit}`, value: t.value, limit: t.limit, result: verdict(t.pass) }));
}

function markdownTable(head, rows) {
  const esc = (s) => String(s ?? '').replace(/\|/g, '\\|');
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i >= 2 && i <= 4 ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  const loadStart = os.loadavg();
  let build = 'skipped (--no-build)';
  if (!opt['no-build']) {
    log('building dist/ (npx tsc -p tsconfig.json)');
    const b = await runChild('npx', ['tsc', '-p', 'tsconfig.json']);
    build = b.code === 0 ? 'built' : `build failed (exit ${b.code})`;
    if (b.code !== 0) log(`warning: ${build}; the benches use the dist/ there is`);
  }
  const runs = [];
  const rows = [];
  for (const name of chosen) {
    for (const step of SECTIONS[name]) {
      const outFile = path.join(BENCH_DIR, step.out);
      fs.rmSync(outFile, { force: true }); // a crashed run must not be read from an old file
      const args = [path.join(BENCH_DIR, step.script), ...(step.args ?? []), '--out', outFile];
      if (step.quick && opt.quick) args.push('--quick');
      if (step.quick && opt.runs) args.push('--runs', opt.runs);
      log(`section ${step.key}: node ${path.relative(ROOT_DIR, args[0])} ${args.slice(1).map((a) => path.isAbsolute(a) ? path.relative(ROOT_DIR, a) : a).join(' ')}`);
      const entry = { section: step.key, script: `bench/${step.script}`, args: args.slice(1).map((a) => (path.isAbsolute(a) ? path.relative(ROOT_DIR, a) : a)), loadStart: load1() };
      const t0 = Date.now();
      const res = await runChild(process.execPath, args);
      entry.loadEnd = load1();
      entry.seconds = (Date.now() - t0) / 1000;
      entry.exitCode = res.code;
      if (res.signal) entry.signal = res.signal;
      let json = null;
      try {
        json = JSON.parse(fs.readFileSync(outFile, 'utf8'));
      } catch (e) {
        entry.error = `no results (${res.error ?? (res.signal ? `killed by ${res.signal}` : `exit ${res.code}`)}; ${e.code === 'ENOENT' ? `${step.out} not written` : e.message})`;
      }
      entry.resultsFile = `bench/${step.out}`;
      entry.results = json;
      runs.push(entry);
      log(`section ${step.key} done in ${entry.seconds.toFixed(0)} s, load ${entry.loadStart.toFixed(1)} → ${entry.loadEnd.toFixed(1)}${entry.error ? `: ${entry.error}` : ''}`);
      if (!json) {
        rows.push({ section: step.key, measurement: entry.error, hubgate: '', reference: '', ratio: '', target: '', result: 'ERROR' });
        continue;
      }
      const summarize = SUMMARIZE[name];
      const { rows: own, covered } = summarize ? summarize(json, step.key) : { rows: [], covered: [] };
      rows.push(...own, ...scriptTargetRows(step.key, json, covered));
      for (const e of Array.isArray(json.errors) ? json.errors : []) rows.push({ section: step.key, measurement: `error: ${e}`, hubgate: '', reference: '', ratio: '', target: '', result: 'ERROR' });
    }
  }
  const loadEnd = os.loadavg();
  const cpus = os.cpus().length;
  const machine = { cpus, cpuModel: os.cpus()[0]?.model?.trim(), memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version, platform: `${os.platform()} ${os.release()}` };
  const counts = { PASS: 0, FAIL: 0, 'n/a': 0, ERROR: 0 };
  for (const r of rows) if (r.result in counts) counts[r.result]++;
  const busy = runs.some((r) => Math.max(r.loadStart, r.loadEnd) > cpus / 2);
  const md = [
    `## hubgate bench summary (${new Date().toISOString()}${opt.quick ? ', --quick: smaller files and fewer runs, indicative only' : ''})`,
    '',
    `Machine: ${cpus} CPU (${machine.cpuModel}), ${machine.memGiB} GiB RAM; node ${machine.node}; ${machine.platform}. Sections: ${chosen.join(', ')}. dist: ${build}.`,
    '',
    markdownTable(['section', 'measurement (median)', 'hubgate', 'reference', 'ratio', 'target', 'result'], rows.map((r) => [r.section, r.measurement, r.hubgate, r.reference, r.ratio, r.target, r.result])),
    '',
    `${counts.PASS} PASS, ${counts.FAIL} FAIL${counts['n/a'] ? `, ${counts['n/a']} n/a` : ''}${counts.ERROR ? `, ${counts.ERROR} ERROR` : ''}.`,
    '',
    markdownTable(['section', 'load avg (1 min) at start', 'at end', 'seconds', 'results file'], runs.map((r) => [r.section, r.loadStart.toFixed(2), r.loadEnd.toFixed(2), r.seconds.toFixed(0), `${r.resultsFile}${r.error ? ` (${r.error})` : ''}`])),
    '',
    `Load average (1/5/15 min): ${loadStart.map((x) => x.toFixed(2)).join(' / ')} at the start, ${loadEnd.map((x) => x.toFixed(2)).join(' / ')} at the end, on ${cpus} CPUs${busy ? ': the machine was busy during at least one section (load above half the CPUs), treat differences as noise and re-run that section' : ''}.`,
  ].join('\n');
  process.stdout.write(`\n${md}\n`);
  const json = {
    date: new Date().toISOString(),
    quick: opt.quick,
    sections: chosen,
    machine,
    loadAverage: { start: loadStart, end: loadEnd },
    build,
    summary: rows.map(({ section, measurement, hubgate, reference, ratio, target, result, value, limit }) => ({ section, measurement, hubgate, reference, ratio, target, result, value: value ?? null, limit: limit ?? null })),
    counts,
    runs,
    markdown: md,
    durationSeconds: (Date.now() - started) / 1000,
  };
  fs.writeFileSync(opt.out, `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote ${path.relative(process.cwd(), opt.out) || opt.out} (${json.durationSeconds.toFixed(0)} s in all)`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
