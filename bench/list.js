#!/usr/bin/env node
// Listing bench: GET /api/models pages (search, sorts, filters, cursors) against a hubgate whose
// database holds 100,000 repos. See bench/README.md ("Listings and search").
//   The repos are rows only (no git directories: listings never open git): written straight into
//   a fresh data directory's SQLite with better-sqlite3 after `hubgate user create` migrated it,
//   each with its listing card (tags) as a refresh would store it.
//
//   node bench/list.js [--repos N] [--runs N] [--no-build] [--keep] [--out FILE]
// Writes bench/list-results.json; always exits 0 (a missed target is a FAIL in the table).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { ROOT_DIR, hubgateCli, startHubgate } from './servers.js';
import { installCleanup, median, nowMs, rmrf, run } from './util.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const LOG_DIR = path.join(BENCH_DIR, '.work', 'logs-list');

const { values: opt } = parseArgs({
  options: {
    repos: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '21' },
    'no-build': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(BENCH_DIR, 'list-results.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});
if (opt.help) {
  process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0]);
  process.exit(0);
}
const REPOS = Number(opt.repos);
const RUNS = Number(opt.runs);
if (!(REPOS >= 1000) || !(RUNS >= 1)) throw new Error('--repos is at least 1000 and --runs at least 1');
const TARGET_MS = 50;
const ACCOUNTS = 500;

const WORK = path.join(os.tmpdir(), `hubgate-list-bench-${process.pid}`);
const DATA_DIR = path.join(WORK, 'data');
installCleanup(() => {
  if (!opt.keep) rmrf(WORK);
});
const log = (...a) => process.stderr.write(`[list-bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);

// ---------------------------------------------------------------- build

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
  const marker = path.join(ROOT_DIR, 'dist', 'src', 'http', 'api', 'list-repos.js');
  const built = fs.existsSync(marker) ? fs.statSync(marker).mtimeMs : 0;
  const newest = Math.max(...['src', 'lfs', 'hooks'].map((d) => newestSourceMtime(path.join(ROOT_DIR, d))));
  if (opt['no-build'] || (built && built >= newest)) return built ? 'dist up to date' : 'not built';
  log('dist is older than the sources: npx tsc -p tsconfig.json ...');
  try {
    await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT_DIR });
    return 'built with tsc';
  } catch (e) {
    if (!fs.existsSync(marker)) throw e;
    log(`WARNING: tsc reported errors (benching the dist/ it wrote anyway): ${e.message.slice(0, 300)}`);
    return 'tsc reported errors';
  }
}

// ---------------------------------------------------------------- data

/** A small deterministic random generator, so every run lists the same repos. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['bert', 'llama', 'tiny', 'gpt', 'vision', 'whisper', 'mistral', 'clip', 't5', 'roberta', 'qwen', 'phi', 'stable', 'diffusion', 'sentiment',
  'ner', 'squad', 'base', 'large', 'small', 'distil', 'finetuned', 'lora', 'gguf', 'awq', 'chat', 'instruct', 'code', 'math', 'audio'];
const LICENSES = ['license:mit', 'license:apache-2.0', 'license:cc-by-4.0', 'license:other'];
const LIBRARIES = ['transformers', 'diffusers', 'sentence-transformers', 'timm', 'peft'];
const TASKS = ['text-classification', 'text-generation', 'image-classification', 'automatic-speech-recognition', 'fill-mask'];

/** Writes the accounts and repos rows (with their cards and tags) straight into the migrated database. */
function fillDatabase() {
  const db = new Database(path.join(DATA_DIR, 'hubgate.sqlite'));
  db.pragma('journal_mode = WAL');
  const rand = rng(12);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const alice = db.prepare("select id from accounts where name = 'alice'").get().id;
  const insertAccount = db.prepare("insert into accounts (name, kind, fullname, created_at) values (?, ?, '', ?)");
  const insertMember = db.prepare("insert into memberships (org_id, user_id, role, created_at) values (?, ?, 'read', ?)");
  const insertRepo = db.prepare('insert into repos (type, owner_id, name, private, gated, created_at, ready, last_modified, downloads) values (?, ?, ?, ?, ?, ?, 1, ?, ?)');
  const insertCard = db.prepare("insert into repo_cards (repo_id, sha, pipeline_tag, library_name, tags, card_data, computed_at) values (?, null, ?, ?, ?, null, ?)");
  const insertTag = db.prepare('insert into repo_tags (tag, repo_id) values (?, ?)');
  const now = new Date().toISOString();
  const owners = [alice];
  db.transaction(() => {
    for (let i = 0; i < ACCOUNTS; i++) {
      const org = i % 5 === 0;
      const id = insertAccount.run(`${org ? 'org' : 'user'}${i}`, org ? 'org' : 'user', now).lastInsertRowid;
      owners.push(Number(id));
      // alice belongs to a few organizations: her listings check memberships.
      if (org && i % 25 === 0) insertMember.run(id, alice, now);
    }
    const start = Date.UTC(2023, 0, 1);
    for (let i = 0; i < REPOS; i++) {
      const r = rand();
      const type = r < 0.8 ? 'model' : r < 0.95 ? 'dataset' : 'space';
      const created = start + Math.floor(rand() * 700 * 86400_000);
      const modified = created + Math.floor(rand() * 60 * 86400_000);
      const downloads = Math.floor(1 / (rand() + 0.0001)) - 1;
      const name = `${pick(WORDS)}-${pick(WORDS)}-${i}`;
      const id = Number(insertRepo.run(type, pick(owners), name, rand() < 0.1 ? 1 : 0, rand() < 0.05 ? 'manual' : null, new Date(created).toISOString(), new Date(modified).toISOString(), downloads).lastInsertRowid);
      const library = type === 'model' ? pick(LIBRARIES) : null;
      const task = type === 'model' ? pick(TASKS) : null;
      const tags = [...new Set([library, task, pick(LICENSES), rand() < 0.3 ? 'en' : null].filter(Boolean))];
      insertCard.run(id, task, library, JSON.stringify(tags), now);
      for (const tag of tags) insertTag.run(tag, id);
    }
  })();
  const count = db.prepare('select count(*) n from repos').get().n;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return count;
}

// ---------------------------------------------------------------- measurements

async function timedGet(url, token) {
  const t0 = nowMs();
  const res = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const body = await res.json();
  const ms = nowMs() - t0;
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return { ms, items: body.length, next: /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1] };
}

/** A page `depth` pages in: the cursor URL is fetched untimed, then the page it names is timed. */
async function deepUrl(base, query, depth, token) {
  let url = `${base}/api/models?${query}`;
  for (let i = 0; i < depth; i++) url = (await timedGet(url, token)).next;
  return url;
}

async function main() {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const build = await ensureBuilt();
  log(build);
  await hubgateCli(DATA_DIR, ['user', 'create', 'alice', '--email', 'alice@example.com']);
  const token = await hubgateCli(DATA_DIR, ['token', 'create', 'alice', '--role', 'read']);
  const t0 = nowMs();
  const count = fillDatabase();
  log(`${count} repos written in ${((nowMs() - t0) / 1000).toFixed(1)} s`);
  const hub = await startHubgate({ dataDir: DATA_DIR, logDir: LOG_DIR, token });
  const base = hub.base;

  const cases = [
    ['default order (lastModified desc), limit 100', 'limit=100'],
    ['sort=downloads, limit 100', 'sort=downloads&limit=100'],
    ['sort=createdAt, limit 100', 'sort=createdAt&limit=100'],
    ['sort=id direction=1, limit 100', 'sort=id&direction=1&limit=100'],
    ['sort=likes, limit 100', 'sort=likes&limit=100'],
    ['search=llama (common), limit 100', 'search=llama&limit=100'],
    ['search=llama sort=downloads, limit 100', 'search=llama&sort=downloads&limit=100'],
    ['search=gpt-tiny (rarer), limit 100', 'search=gpt-tiny&limit=100'],
    ['search=12345 (one repo)', 'search=-12345&limit=100'],
    ['search=t5 (2 chars: scan), limit 100', 'search=t5&limit=100'],
    ['author=user1 (one owner), limit 100', 'author=user1&limit=100'],
    ['filter=license:mit + transformers, limit 100', 'filter=license:mit&filter=transformers&limit=100'],
    ['filter + search + sort=downloads', 'filter=license:mit&search=bert&sort=downloads&limit=100'],
    ['limit 1000 (a whole page)', 'limit=1000'],
  ];
  const results = [];
  const measure = async (label, urlFor, who) => {
    await timedGet(await urlFor(), who); // warm-up
    const samples = [];
    let items = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await timedGet(await urlFor(), who);
      samples.push(r.ms);
      items = r.items;
    }
    const sorted = [...samples].sort((a, b) => a - b);
    const row = { label: `${label}${who ? ' (as a user)' : ''}`, median: median(samples), p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))], items, samples };
    row.pass = row.median < TARGET_MS;
    results.push(row);
    log(`${row.label}: median ${row.median.toFixed(1)} ms, ${items} items`);
  };
  for (const [label, query] of cases) await measure(label, () => `${base}/api/models?${query}`);
  await measure('default order, limit 100', () => `${base}/api/models?limit=100`, token);
  await measure('search=llama, limit 100', () => `${base}/api/models?search=llama&limit=100`, token);
  const deep = await deepUrl(base, 'sort=downloads&limit=100', 50, undefined);
  await measure('page 51 by cursor (sort=downloads)', () => deep);
  const deepSearch = await deepUrl(base, 'search=bert&sort=createdAt&limit=100', 20, undefined);
  await measure('page 21 by cursor (search=bert sort=createdAt)', () => deepSearch);
  await hub.stop();

  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const lines = [
    `Listings of ${count} repos (${REPOS} asked), ${RUNS} runs each; target: median < ${TARGET_MS} ms per page. Load average: ${load}.`,
    '',
    '| request | median ms | p95 ms | items | < 50 ms |',
    '|---|---:|---:|---:|---|',
    ...results.map((r) => `| ${r.label} | ${r.median.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.items} | ${r.pass ? 'PASS' : 'FAIL'} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  fs.writeFileSync(opt.out, `${JSON.stringify({ repos: count, runs: RUNS, targetMs: TARGET_MS, build, load: os.loadavg(), cpus: os.cpus().length, results }, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`FAILED: ${err.stack ?? err}`);
    process.exit(0);
  },
);
