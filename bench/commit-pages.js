#!/usr/bin/env node
// Page bench: server-rendered repo pages against a real hubgate. See bench/README.md ("Pages").
//   Section `commit`: the commit page of a commit whose diff is 5,000 lines (target: median
//   < 300 ms, the whole page read), the page of a 50,000-line diff (cut at the page's budget, same
//   target) and its raw .diff streamed whole; the History page of a 2,000-commit history, first
//   and a deep page (same target).
//
//   node bench/commit-pages.js [--only commit] [--runs N] [--no-build] [--keep] [--out FILE]
// Writes bench/commit-pages-results.json; always exits 0 (a missed target is a FAIL in the table).
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
    only: { type: 'string', default: 'commit' },
    runs: { type: 'string', default: '21' },
    'no-build': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(BENCH_DIR, 'commit-pages-results.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});
if (opt.help) {
  process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0]);
  process.exit(0);
}
const RUNS = Number(opt.runs);
if (!(RUNS >= 1)) throw new Error('--runs is at least 1');
const SECTIONS = new Set(opt.only.split(','));

const WORK = path.join(os.tmpdir(), `hubgate-pages-bench-${process.pid}`);
const DATA_DIR = path.join(WORK, 'data');
installCleanup(() => {
  if (!opt.keep) rmrf(WORK);
});
const log = (...a) => process.stderr.write(`[pages-bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);

async function ensureBuilt() {
  if (opt['no-build']) return 'not rebuilt (--no-build)';
  await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT_DIR });
  return 'built with tsc';
}

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: WORK,
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};
const git = async (cwd, args, input) => (await run('git', args, { cwd, env: GIT_ENV, input })).stdout.trim();

async function timedGet(url) {
  const t0 = nowMs();
  const res = await fetch(url);
  const body = await res.text();
  const ms = nowMs() - t0;
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body.slice(0, 300)}`);
  return { ms, bytes: Buffer.byteLength(body) };
}

const results = [];
async function measure(section, label, url, targetMs) {
  await timedGet(url); // warm-up
  const samples = [];
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await timedGet(url);
    samples.push(r.ms);
    bytes = r.bytes;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const row = { section, label, median: median(samples), p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))], bytes, targetMs, samples };
  row.pass = targetMs === null || row.median < targetMs;
  results.push(row);
  log(`${label}: median ${row.median.toFixed(1)} ms, ${bytes} bytes`);
}

// ---------------------------------------------------------------- section: commit (and history)

async function commitSection(base, token) {
  await hubgateCli(DATA_DIR, ['repo', 'create', 'alice/diffs']);
  const work = path.join(WORK, 'diffs');
  fs.mkdirSync(work, { recursive: true });
  await git(work, ['clone', '-q', `http://x:${token}@${base.slice('http://'.length)}/alice/diffs`, '.']);
  // A 2,000-commit history (fast-import), then a 5,000-line change and a 50,000-line one.
  const parts = [];
  for (let i = 0; i < 2000; i++) {
    const when = `${1_700_000_000 + i} +0000`;
    const msg = `commit ${i}\n`;
    const data = `content ${i}\n`;
    parts.push(`commit refs/heads/main\nmark :${i + 1}\ncommitter Bench <bench@example.com> ${when}\ndata ${msg.length}\n${msg}`);
    if (i === 0) parts.push(`from ${await git(work, ['rev-parse', 'HEAD'])}\n`);
    parts.push(`M 644 inline files/f-${i % 100}.txt\ndata ${data.length}\n${data}\n`);
  }
  await git(work, ['fast-import', '--quiet', '--force'], parts.join(''));
  await git(work, ['reset', '-q', '--hard', 'main']);
  const lines = (n, tag) => Array.from({ length: n }, (_, i) => `${tag} line ${i} of a longer text file, with some words in it`).join('\n') + '\n';
  fs.writeFileSync(path.join(work, 'five-thousand.txt'), lines(2500, 'old'));
  await git(work, ['add', '.']);
  await git(work, ['commit', '-q', '-m', 'old text']);
  fs.writeFileSync(path.join(work, 'five-thousand.txt'), lines(2500, 'new'));
  await git(work, ['commit', '-q', '-am', 'A 5,000-line diff']);
  const five = await git(work, ['rev-parse', 'HEAD']);
  fs.writeFileSync(path.join(work, 'fifty-thousand.txt'), lines(50_000, 'added'));
  await git(work, ['add', '.']);
  await git(work, ['commit', '-q', '-m', 'A 50,000-line diff']);
  const fifty = await git(work, ['rev-parse', 'HEAD']);
  await git(work, ['push', '-q', 'origin', 'main']);

  await measure('commit', 'commit page, 5,000-line diff', `${base}/alice/diffs/commit/${five}`, 300);
  await measure('commit', 'commit page, 50,000-line diff (cut)', `${base}/alice/diffs/commit/${fifty}`, 300);
  await measure('commit', 'raw .diff, 50,000 lines (streamed whole)', `${base}/alice/diffs/commit/${fifty}.diff`, null);
  await measure('commit', 'History page 1 (2,005 commits)', `${base}/alice/diffs/commits/main`, 300);
  await measure('commit', 'History page 40 (2,005 commits)', `${base}/alice/diffs/commits/main?p=39`, 300);
}

async function main() {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const build = await ensureBuilt();
  log(build);
  await hubgateCli(DATA_DIR, ['user', 'create', 'alice', '--email', 'alice@example.com']);
  const token = await hubgateCli(DATA_DIR, ['token', 'create', 'alice', '--role', 'write']);
  const hub = await startHubgate({ dataDir: DATA_DIR, logDir: LOG_DIR, token });
  try {
    if (SECTIONS.has('commit')) await commitSection(hub.base, token);
  } finally {
    await hub.stop();
  }

  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const out = [
    `Pages, ${RUNS} runs each (whole responses read). Load average: ${load}.`,
    '',
    '| section | request | median ms | p95 ms | bytes | target |',
    '|---|---|---:|---:|---:|---|',
    ...results.map((r) => `| ${r.section} | ${r.label} | ${r.median.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.bytes} | ${r.targetMs === null ? '—' : `< ${r.targetMs} ms: ${r.pass ? 'PASS' : 'FAIL'}`} |`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  fs.writeFileSync(opt.out, `${JSON.stringify({ runs: RUNS, build, load: os.loadavg(), cpus: os.cpus().length, results }, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`FAILED: ${err.stack ?? err}`);
    process.exit(0);
  },
);
