#!/usr/bin/env node
// Pages bench: the Files tab and the model card of a repo whose root holds 10,000 files (one
// commit), and a folder of 500 files written by 500 commits (last commits per entry), against a
// real hubgate. See bench/README.md ("Pages").
//
//   node bench/files-pages.js [--files N] [--runs N] [--no-build] [--keep] [--out FILE]
// Writes bench/files-pages-results.json; always exits 0 (a missed target is a FAIL in the table).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT_DIR, hubgateCli, startHubgate } from './servers.js';
import { installCleanup, median, nowMs, rmrf, run } from './util.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const LOG_DIR = path.join(BENCH_DIR, '.work', 'logs-pages');

const { values: opt } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '21' },
    'no-build': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(BENCH_DIR, 'files-pages-results.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});
if (opt.help) {
  process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0]);
  process.exit(0);
}
const FILES = Number(opt.files);
const RUNS = Number(opt.runs);
const TARGET_MS = 100;
const FOLDER_COMMITS = 500;

const WORK = path.join(os.tmpdir(), `hubgate-pages-bench-${process.pid}`);
const DATA_DIR = path.join(WORK, 'data');
installCleanup(() => {
  if (!opt.keep) rmrf(WORK);
});
const log = (...a) => process.stderr.write(`[pages-bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);

/** The repo's history, written with one `git fast-import`: FILES files at the root, then a folder growing by one file a commit. */
async function fillRepo(repoDir) {
  const parts = [];
  const put = (s) => parts.push(Buffer.from(s));
  const data = (s) => {
    put(`data ${Buffer.byteLength(s)}\n`);
    put(s);
    put('\n');
  };
  let time = 1_700_000_000;
  const commit = (message, files) => {
    put(`commit refs/heads/main\ncommitter Bench <bench@example.com> ${time++} +0000\n`);
    data(message);
    for (const [file, content] of files) {
      put(`M 644 inline ${file}\n`);
      data(content);
    }
  };
  const root = [['README.md', '---\nlicense: mit\ntags: [bench]\n---\n# Bench\n\nSee [the files](folder/f0.txt).\n']];
  for (let i = 0; i < FILES; i++) root.push([`file-${String(i).padStart(6, '0')}.txt`, `${i}\n`]);
  commit('Many files', root);
  for (let i = 0; i < FOLDER_COMMITS; i++) commit(`Folder file ${i}`, [[`folder/f${i}.txt`, `${i}\n`]]);
  put('done\n');
  await run('git', ['fast-import', '--quiet', '--done', '--force'], { cwd: repoDir, input: Buffer.concat(parts) });
}

async function timedGet(url) {
  const t0 = nowMs();
  const res = await fetch(url);
  const body = await res.text();
  const ms = nowMs() - t0;
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`);
  return { ms, rows: (body.match(/<tr><td class="name">/g) ?? []).length };
}

async function main() {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  if (!opt['no-build']) await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT_DIR });
  await hubgateCli(DATA_DIR, ['user', 'create', 'alice', '--email', 'alice@example.com']);
  await hubgateCli(DATA_DIR, ['repo', 'create', 'alice/big']);
  const t0 = nowMs();
  await fillRepo(path.join(DATA_DIR, 'repos', 'models', 'alice', 'big.git'));
  log(`${FILES} files and ${FOLDER_COMMITS} commits written in ${((nowMs() - t0) / 1000).toFixed(1)} s`);
  const hub = await startHubgate({ dataDir: DATA_DIR, logDir: LOG_DIR, token: '' });
  const base = `${hub.base}/alice/big`;

  const cases = [
    [`tree: root of ${FILES} entries, page 1`, `${base}/tree/main`],
    [`tree: root of ${FILES} entries, last page`, `${base}/tree/main?page=${Math.ceil((FILES + 2) / 1000)}`],
    [`tree: folder of ${FOLDER_COMMITS} files with last commits (cached)`, `${base}/tree/main/folder`],
    ['blob: a small text file', `${base}/blob/main/README.md`],
    ['model card', base],
  ];
  const results = [];
  // The first (uncached) folder listing: one git log walk over its 500 commits.
  const cold = await timedGet(`${base}/tree/main/folder`);
  results.push({ label: `tree: folder of ${FOLDER_COMMITS} files with last commits (first request)`, median: cold.ms, p95: cold.ms, rows: cold.rows, samples: [cold.ms] });
  for (const [label, url] of cases) {
    await timedGet(url); // warm-up
    const samples = [];
    let rows = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await timedGet(url);
      samples.push(r.ms);
      rows = r.rows;
    }
    const sorted = [...samples].sort((a, b) => a - b);
    results.push({ label, median: median(samples), p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))], rows, samples });
  }
  await hub.stop();

  const lines = ['| case | rows | median ms | p95 ms | target |', '|---|---:|---:|---:|---|'];
  for (const r of results) {
    const target = r.label.startsWith('tree: root') ? (r.median < TARGET_MS ? `PASS (< ${TARGET_MS} ms)` : `FAIL (< ${TARGET_MS} ms)`) : '';
    lines.push(`| ${r.label} | ${r.rows} | ${r.median.toFixed(1)} | ${r.p95.toFixed(1)} | ${target} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  fs.writeFileSync(opt.out, `${JSON.stringify({ files: FILES, runs: RUNS, targetMs: TARGET_MS, machine: { cpus: os.cpus().length, load: os.loadavg() }, results }, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  },
);
