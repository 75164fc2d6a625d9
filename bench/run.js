#!/usr/bin/env node
// hubgate benchmark: the same bare repos served side by side by hubgate, nginx + fcgiwrap +
// `git http-backend`, and node-git-server 1.0.0, on loopback. See bench/README.md.
//
//   node bench/run.js [--quick] [--runs N] [--repo /path/to/bare.git] [--servers hubgate,nginx,ngs]
//                     [--only a,b,c] [--concurrency N] [--protocol 0|2] [--workers N] [--keep] [--out FILE]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureRepo } from './gen-repos.js';
import { populate } from './populate.js';
import { advertisedRefs, parsePktLines, timedUploadPack, wantAllBody } from './git-proto.js';
import { FCGIWRAP, HTTP_BACKEND, HUBGATE_BIN, hubgateCli, LABELS, NGINX, ROOT_DIR, speaksV2, startHubgate, startNginx, startNgs } from './servers.js';
import { installCleanup, median, nowMs, procStatusKb, resetPeakRss, rmrf, run } from './util.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const WORK_DIR = path.join(BENCH_DIR, '.work');
const SERVER_KEYS = ['hubgate', 'nginx', 'ngs'];

// ---------------------------------------------------------------- options

const { values: opt } = parseArgs({
  options: {
    repo: { type: 'string' },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    servers: { type: 'string', default: SERVER_KEYS.join(',') },
    only: { type: 'string', default: 'a,b,c' },
    concurrency: { type: 'string', default: '16' },
    protocol: { type: 'string' },
    keep: { type: 'boolean', default: false },
    workers: { type: 'string' },
    out: { type: 'string', default: path.join(BENCH_DIR, 'git-results.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});
if (opt.help) {
  process.stdout.write(fs.readFileSync(path.join(BENCH_DIR, 'README.md'), 'utf8'));
  process.exit(0);
}
const QUICK = opt.quick;
const RUNS = Number(opt.runs ?? (QUICK ? 2 : 5));
const CLONE_RUNS = Number(opt.runs ?? (QUICK ? 2 : 3)); // big clones are the slow part; see README
const LSR_RUNS = Math.max(RUNS * 3, 5);
const CONC = Number(opt.concurrency);
const SERVERS = opt.servers.split(',').map((s) => s.trim()).filter(Boolean);
const ONLY = new Set(opt.only.split(',').map((s) => s.trim()));
const USER_REPO = opt.repo ?? process.env.BENCH_REPO;
for (const s of SERVERS) if (!SERVER_KEYS.includes(s)) throw new Error(`unknown server ${s} (use ${SERVER_KEYS.join(', ')})`);
if (!(RUNS >= 1 && CONC >= 1)) throw new Error('--runs and --concurrency must be positive numbers');
if (opt.protocol && !['0', '1', '2'].includes(opt.protocol)) throw new Error('--protocol must be 0, 1 or 2');
if (opt.workers !== undefined && !(Number(opt.workers) >= 1)) throw new Error('--workers must be a positive number');
// hubgate's worker processes (HUBGATE_WORKERS; its default, one per CPU, unless given); its RSS is then the primary's and the workers' together.
const HUBGATE_ENV = opt.workers ? { HUBGATE_WORKERS: opt.workers } : {};

const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

// ---------------------------------------------------------------- environment

const RUN_DIR = path.join(WORK_DIR, 'run');
const DATA_DIR = path.join(RUN_DIR, 'data');
const PROJECT_ROOT = path.join(DATA_DIR, 'repos', 'models');
const LOG_DIR = path.join(WORK_DIR, 'logs');
const CLONE_DIR = path.join(RUN_DIR, 'clones');
const HOME_DIR = path.join(RUN_DIR, 'home');

/** git client environment: no user/system config, no prompts. */
const CLIENT_ENV = {
  ...process.env,
  HOME: HOME_DIR,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_ASKPASS: '/bin/false',
  LC_ALL: 'C',
};
const CLIENT_CFG = opt.protocol ? ['-c', `protocol.version=${opt.protocol}`] : [];

installCleanup(() => {
  if (!opt.keep) {
    rmrf(CLONE_DIR);
  }
});

// ---------------------------------------------------------------- repos

/** Names the repos get on every server (alice/NAME). */
const REPOS = { big: 'big', medium: 'medium', refs: 'refs5k' };

async function prepare() {
  for (const [tool, p] of [['nginx', NGINX], ['fcgiwrap', FCGIWRAP], ['git-http-backend', HTTP_BACKEND]]) {
    if (SERVERS.includes('nginx') && !fs.existsSync(p)) throw new Error(`${tool} not found at ${p}`);
  }
  if (SERVERS.includes('hubgate') && !fs.existsSync(path.join(ROOT_DIR, 'dist', 'src', 'cli', 'index.js'))) {
    throw new Error(`hubgate is not built (${HUBGATE_BIN} needs dist/): run \`npm run build\` or use \`npm run bench\`, or leave it out with --servers nginx,ngs`);
  }

  const sources = {};
  if (USER_REPO) {
    const p = path.resolve(USER_REPO);
    const { stdout } = await run('git', ['-C', p, 'rev-parse', '--is-bare-repository'], { env: CLIENT_ENV });
    if (stdout.trim() !== 'true') throw new Error(`--repo ${p} is not a bare repository`);
    sources.big = p;
  } else if (ONLY.has('a')) {
    sources.big = await ensureRepo(WORK_DIR, QUICK ? 'big-quick' : 'big', { log });
  }
  if (ONLY.has('c')) sources.medium = await ensureRepo(WORK_DIR, QUICK ? 'medium-quick' : 'medium', { log });
  // refs5k is also the repo the servers are probed with, so it always exists.
  sources.refs = await ensureRepo(WORK_DIR, 'refs', { log });

  rmrf(RUN_DIR);
  fs.mkdirSync(HOME_DIR, { recursive: true });
  fs.mkdirSync(CLONE_DIR, { recursive: true });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  for (const f of fs.readdirSync(LOG_DIR)) fs.rmSync(path.join(LOG_DIR, f), { force: true });

  let token = null;
  if (SERVERS.includes('hubgate')) {
    log('bench: setting up hubgate (user alice, a write token, public repos) ...');
    await hubgateCli(DATA_DIR, ['user', 'create', 'alice']);
    token = await hubgateCli(DATA_DIR, ['token', 'create', 'alice', '--role', 'write']);
    if (!token || /\s/.test(token)) throw new Error(`hubgate token create printed ${JSON.stringify(token)}, expected the token alone`);
    for (const k of Object.keys(sources)) await hubgateCli(DATA_DIR, ['repo', 'create', `alice/${REPOS[k]}`]);
  } else {
    for (const k of Object.keys(sources)) {
      await run('git', ['init', '-q', '--bare', '--initial-branch=main', path.join(PROJECT_ROOT, 'alice', `${REPOS[k]}.git`)], { env: CLIENT_ENV });
    }
  }
  const stats = {};
  for (const [k, src] of Object.entries(sources)) {
    const dst = path.join(PROJECT_ROOT, 'alice', `${REPOS[k]}.git`);
    if (!fs.existsSync(path.join(dst, 'HEAD'))) throw new Error(`expected a bare repo at ${dst} (did \`hubgate repo create\` put it elsewhere?)`);
    stats[k] = { source: src, path: dst, ...(await populate(dst, src, CLIENT_ENV, log)) };
  }
  return { token, stats };
}

// ---------------------------------------------------------------- measurements

/** Rotates the server order each round, so none always goes first. */
const rotate = (xs, r) => xs.map((_, i) => xs[(i + r) % xs.length]);

function localAdvertisement(dir) {
  return run('git', ['upload-pack', '--stateless-rpc', '--advertise-refs', dir], { env: CLIENT_ENV }).then(({ stdout }) => stdout);
}

async function floorUploadPack(dir, bodyFile) {
  const inFd = fs.openSync(bodyFile, 'r');
  const outFd = fs.openSync('/dev/null', 'w');
  try {
    const t0 = nowMs();
    await run('git', ['upload-pack', '--stateless-rpc', dir], { env: CLIENT_ENV, stdin: inFd, stdout: outFd });
    return nowMs() - t0;
  } finally {
    fs.closeSync(inFd);
    fs.closeSync(outFd);
  }
}

async function measurePack(servers, repoDir) {
  log(`\nbench: (a-i) upload-pack POST wanting every head and tag, ${RUNS} runs (+1 warm-up)`);
  // The floor's request: the same wants, built from git's own advertisement of the repo.
  const advert = await localAdvertisement(repoDir);
  const localRefs = [];
  let first = true;
  for (const line of parsePktLines(Buffer.from(advert))) {
    if (line === null) continue;
    const l = first ? line.split('\0')[0] : line.replace(/\n$/, '');
    first = false;
    const [oid, ref] = l.split(' ');
    if (ref && !ref.endsWith('^{}')) localRefs.push({ oid, ref });
  }
  const local = wantAllBody(localRefs);
  const bodyFile = path.join(RUN_DIR, 'want-all.req');
  fs.writeFileSync(bodyFile, local.body);

  const samples = Object.fromEntries([...servers.map((s) => s.key), 'floor'].map((k) => [k, []]));
  const bytes = {};
  const errors = {};
  const targets = [...servers, { key: 'floor' }];
  for (let r = -1; r < RUNS; r++) {
    for (const s of rotate(targets, Math.max(r, 0))) {
      if (errors[s.key]) continue;
      try {
        let ms;
        if (s.key === 'floor') ms = await floorUploadPack(repoDir, bodyFile);
        else {
          const url = s.repoUrl(REPOS.big);
          const refs = await advertisedRefs(url);
          const { body } = wantAllBody(refs);
          if (!body.equals(local.body)) throw new Error('advertised refs differ from the repo on disk');
          const res = await timedUploadPack(url, body);
          ms = res.ms;
          bytes[s.key] = res.bytes;
        }
        if (r >= 0) samples[s.key].push(ms);
        log(`  ${r < 0 ? 'warm-up' : `run ${r + 1}`}  ${(LABELS[s.key] ?? 'floor (git upload-pack)').padEnd(24)} ${(ms / 1000).toFixed(3)} s${bytes[s.key] ? `  ${(bytes[s.key] / 1e6).toFixed(1)} MB` : ''}`);
      } catch (e) {
        errors[s.key] = e.message;
        log(`  ${LABELS[s.key] ?? 'floor'}: ERROR ${e.message}`);
      }
    }
  }
  return { unit: 'ms', wants: local.wants, samples, bytes, errors, median: medians(samples) };
}

async function countObjects(dir) {
  const { stdout } = await run('git', ['-C', dir, 'count-objects', '-v'], { env: CLIENT_ENV });
  return Number(/^in-pack: (\d+)/m.exec(stdout)[1]) + Number(/^count: (\d+)/m.exec(stdout)[1]);
}

async function gitClone(url, dest) {
  rmrf(dest);
  const t0 = nowMs();
  await run('git', [...CLIENT_CFG, 'clone', '--bare', '-q', url, dest], { env: CLIENT_ENV });
  return nowMs() - t0;
}

async function measureClone(servers, expectObjects) {
  log(`\nbench: (a-ii) git clone --bare of the big repo, ${CLONE_RUNS} runs (+1 warm-up)`);
  const samples = Object.fromEntries(servers.map((s) => [s.key, []]));
  const errors = {};
  const dest = path.join(CLONE_DIR, 'big.git');
  for (let r = -1; r < CLONE_RUNS; r++) {
    for (const s of rotate(servers, Math.max(r, 0))) {
      if (errors[s.key]) continue;
      try {
        const ms = await gitClone(s.repoUrl(REPOS.big), dest);
        if (r < 0) {
          const n = await countObjects(dest);
          if (n !== expectObjects) throw new Error(`clone has ${n} objects, the repo ${expectObjects}`);
        } else samples[s.key].push(ms);
        log(`  ${r < 0 ? 'warm-up' : `run ${r + 1}`}  ${LABELS[s.key].padEnd(24)} ${(ms / 1000).toFixed(3)} s`);
      } catch (e) {
        errors[s.key] = e.message;
        log(`  ${LABELS[s.key]}: ERROR ${e.message}`);
      } finally {
        rmrf(dest);
      }
    }
  }
  return { unit: 'ms', samples, errors, median: medians(samples) };
}

async function measureLsRemote(servers, expectRefs, cfg = CLIENT_CFG) {
  log(`\nbench: (b) git ls-remote of a repo with ${expectRefs} refs${cfg.length ? ` (${cfg.join(' ')})` : ''}, ${LSR_RUNS} runs (+1 warm-up)`);
  const samples = Object.fromEntries(servers.map((s) => [s.key, []]));
  const errors = {};
  for (let r = -1; r < LSR_RUNS; r++) {
    for (const s of rotate(servers, Math.max(r, 0))) {
      if (errors[s.key]) continue;
      try {
        const t0 = nowMs();
        const { stdout } = await run('git', [...cfg, 'ls-remote', s.repoUrl(REPOS.refs)], { env: CLIENT_ENV });
        const ms = nowMs() - t0;
        const n = stdout.split('\n').filter((l) => l && !l.endsWith('^{}') && !/\tHEAD$/.test(l)).length;
        if (n !== expectRefs) throw new Error(`ls-remote listed ${n} refs, expected ${expectRefs}`);
        if (r >= 0) samples[s.key].push(ms);
      } catch (e) {
        errors[s.key] = e.message;
        log(`  ${LABELS[s.key]}: ERROR ${e.message}`);
      }
    }
  }
  const med = medians(samples);
  for (const s of servers) if (!errors[s.key]) log(`  ${LABELS[s.key].padEnd(24)} median ${med[s.key].toFixed(1)} ms  (min ${Math.min(...samples[s.key]).toFixed(1)}, max ${Math.max(...samples[s.key]).toFixed(1)})`);
  return { unit: 'ms', samples, errors, median: med };
}

async function measureConcurrent(servers, expectObjects) {
  log(`\nbench: (c) ${CONC} concurrent clones of the medium repo, ${RUNS} runs (+1 warm-up)`);
  const samples = Object.fromEntries(servers.map((s) => [s.key, []]));
  const errors = {};
  const hub = servers.find((s) => s.key === 'hubgate');
  const rss = { baselineMb: null, peakMb: null, sampledPeakMb: null, hwmPeakMb: null, method: null };
  let hwmReset = false;
  if (hub) {
    rss.baselineMb = procStatusKb(hub.pid, 'VmRSS') / 1024;
    hwmReset = resetPeakRss(hub.pid);
    rss.method = hwmReset ? 'VmHWM after resetting it (clear_refs 5) before (c), and VmRSS sampled every 20 ms' : 'VmRSS sampled every 20 ms';
  }
  for (let r = -1; r < RUNS; r++) {
    for (const s of rotate(servers, Math.max(r, 0))) {
      if (errors[s.key]) continue;
      const dests = Array.from({ length: CONC }, (_, i) => path.join(CLONE_DIR, `c${i}.git`));
      let sampler = null;
      let peakKb = 0;
      if (s === hub) {
        sampler = setInterval(() => {
          const kb = procStatusKb(hub.pid, 'VmRSS');
          if (kb > peakKb) peakKb = kb;
        }, 20);
      }
      try {
        for (const d of dests) rmrf(d);
        const t0 = nowMs();
        await Promise.all(dests.map((d) => run('git', [...CLIENT_CFG, 'clone', '--bare', '-q', s.repoUrl(REPOS.medium), d], { env: CLIENT_ENV })));
        const ms = nowMs() - t0;
        if (r < 0) {
          for (const d of dests) {
            const n = await countObjects(d);
            if (n !== expectObjects) throw new Error(`a clone has ${n} objects, the repo ${expectObjects}`);
          }
        } else samples[s.key].push(ms);
        log(`  ${r < 0 ? 'warm-up' : `run ${r + 1}`}  ${LABELS[s.key].padEnd(24)} ${(ms / 1000).toFixed(3)} s`);
      } catch (e) {
        errors[s.key] = e.message;
        log(`  ${LABELS[s.key]}: ERROR ${e.message}`);
      } finally {
        if (sampler) {
          clearInterval(sampler);
          const kb = procStatusKb(hub.pid, 'VmRSS');
          if (kb > peakKb) peakKb = kb;
          rss.sampledPeakMb = Math.max(rss.sampledPeakMb ?? 0, peakKb / 1024);
        }
        for (const d of dests) rmrf(d);
      }
    }
  }
  if (hub) {
    if (hwmReset) rss.hwmPeakMb = procStatusKb(hub.pid, 'VmHWM') / 1024;
    rss.peakMb = Math.max(rss.sampledPeakMb ?? 0, rss.hwmPeakMb ?? 0);
    log(`  hubgate RSS: ${rss.baselineMb.toFixed(1)} MB before (c), peak ${rss.peakMb.toFixed(1)} MB during (c)`);
  }
  return { unit: 'ms', concurrency: CONC, samples, errors, median: medians(samples), rss };
}

function medians(samples) {
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.length ? median(v) : null]));
}

// ---------------------------------------------------------------- report

const fmtS = (ms) => (ms == null ? '—' : `${(ms / 1000).toFixed(2)} s`);
const fmtMs = (ms) => (ms == null ? '—' : `${ms.toFixed(1)} ms`);
const fmtX = (x) => (x == null || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}×`);

function bestPeer(med) {
  const peers = ['nginx', 'ngs'].filter((k) => med[k] != null);
  if (!peers.length) return null;
  return peers.reduce((a, b) => (med[a] <= med[b] ? a : b));
}

function evaluate(results) {
  const rows = [];
  const targets = [];
  const check = (id, what, value, limit) => {
    const pass = value == null || !Number.isFinite(value) ? null : value <= limit;
    targets.push({ id, what, value, limit, pass });
    return pass;
  };
  const verdict = (parts) => (parts.some((p) => p === false) ? 'FAIL' : parts.some((p) => p === null) ? 'n/a' : 'PASS');

  if (results.pack) {
    const m = results.pack.median;
    const peer = bestPeer(m);
    const vsFloor = m.hubgate != null && m.floor ? m.hubgate / m.floor : null;
    const vsPeer = m.hubgate != null && peer ? m.hubgate / m[peer] : null;
    const p1 = check('a-pack-floor', 'upload-pack POST ≤ 1.35× floor', vsFloor, 1.35);
    const p2 = check('a-pack-peer', 'upload-pack POST ≤ 1.0× faster peer', vsPeer, 1.0);
    rows.push({
      name: `(a-i) upload-pack POST, all ${results.pack.wants} heads+tags`,
      hubgate: fmtS(m.hubgate), nginx: fmtS(m.nginx), ngs: fmtS(m.ngs), floor: fmtS(m.floor),
      ratio: `${fmtX(vsFloor)} floor, ${fmtX(vsPeer)} ${peer ? LABELS[peer].split(' ')[0] : 'peer'}`,
      target: '≤ 1.35× floor, ≤ 1.00× faster peer', result: verdict([p1, p2]),
    });
  }
  if (results.clone) {
    const m = results.clone.median;
    const vs = m.hubgate != null && m.nginx ? m.hubgate / m.nginx : null;
    const p = check('a-clone-nginx', 'git clone --bare ≤ 1.0× nginx', vs, 1.0);
    rows.push({ name: '(a-ii) git clone --bare, big repo', hubgate: fmtS(m.hubgate), nginx: fmtS(m.nginx), ngs: fmtS(m.ngs), floor: '', ratio: `${fmtX(vs)} nginx`, target: '≤ 1.00× nginx', result: verdict([p]) });
  }
  if (results.lsRemote) {
    const m = results.lsRemote.median;
    const peer = bestPeer(m);
    const vs = m.hubgate != null && peer ? m.hubgate / m[peer] : null;
    const p = check('b-ls-remote-peer', 'ls-remote ≤ 1.0× faster peer', vs, 1.0);
    rows.push({ name: `(b) git ls-remote, ${results.lsRemote.refs} refs`, hubgate: fmtMs(m.hubgate), nginx: fmtMs(m.nginx), ngs: fmtMs(m.ngs), floor: '', ratio: `${fmtX(vs)} ${peer ? LABELS[peer].split(' ')[0] : 'peer'}`, target: '≤ 1.00× faster peer', result: verdict([p]) });
  }
  if (results.lsRemoteV0) {
    const m = results.lsRemoteV0.median;
    const peer = bestPeer(m);
    const vs = m.hubgate != null && peer ? m.hubgate / m[peer] : null;
    rows.push({ name: `(b) git ls-remote, ${results.lsRemoteV0.refs} refs, client forced to v0`, hubgate: fmtMs(m.hubgate), nginx: fmtMs(m.nginx), ngs: fmtMs(m.ngs), floor: '', ratio: `${fmtX(vs)} ${peer ? LABELS[peer].split(' ')[0] : 'peer'}`, target: '(info)', result: '' });
  }
  if (results.concurrent) {
    const c = results.concurrent;
    const m = c.median;
    const peer = bestPeer(m);
    const vs = m.hubgate != null && peer ? m.hubgate / m[peer] : null;
    const p = check('c-concurrent-peer', `${c.concurrency} concurrent clones ≤ 1.0× faster peer`, vs, 1.0);
    rows.push({ name: `(c) ${c.concurrency} concurrent clones, medium repo (wall)`, hubgate: fmtS(m.hubgate), nginx: fmtS(m.nginx), ngs: fmtS(m.ngs), floor: '', ratio: `${fmtX(vs)} ${peer ? LABELS[peer].split(' ')[0] : 'peer'}`, target: '≤ 1.00× faster peer', result: verdict([p]) });
    const rssMb = c.rss.peakMb;
    const pr = check('c-rss', 'hubgate peak RSS during (c) < 200 MB', rssMb, 200);
    rows.push({ name: '(c) hubgate peak RSS during (c)', hubgate: rssMb == null ? '—' : `${rssMb.toFixed(1)} MB`, nginx: '', ngs: '', floor: '', ratio: '', target: '< 200 MB', result: verdict([pr]) });
  }
  return { rows, targets };
}

function markdownTable(rows) {
  const head = ['Measurement (median)', 'hubgate', 'nginx + http-backend', 'node-git-server', 'floor', 'hubgate ratio', 'target', 'result'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${[r.name, r.hubgate, r.nginx, r.ngs, r.floor, r.ratio, r.target, r.result].join(' | ')} |`);
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  const { token, stats } = await prepare();
  for (const [k, st] of Object.entries(stats)) {
    log(`bench: repo alice/${REPOS[k]}: ${st.objects} objects, pack ${(st.packBytes / 1e6).toFixed(1)} MB, ${st.refs} refs (from ${path.relative(process.cwd(), st.source) || st.source})`);
  }

  const servers = [];
  log('bench: starting servers ...');
  for (const key of SERVERS) {
    if (key === 'hubgate') servers.push(await startHubgate({ dataDir: DATA_DIR, logDir: LOG_DIR, token, env: HUBGATE_ENV }));
    if (key === 'nginx') servers.push(await startNginx({ runDir: RUN_DIR, logDir: LOG_DIR, projectRoot: PROJECT_ROOT, workers: Math.max(24, CONC + 8), probeRepo: REPOS.refs }));
    if (key === 'ngs') servers.push(await startNgs({ logDir: LOG_DIR, projectRoot: PROJECT_ROOT, probeRepo: REPOS.refs }));
  }
  const hubServer = servers.find((s) => s.key === 'hubgate');
  const hubgateStartRssMb = hubServer ? procStatusKb(hubServer.pid, 'VmRSS') / 1024 : null;
  const loadBefore = os.loadavg()[0];
  if (loadBefore > os.cpus().length / 2) log(`bench: WARNING: load average is ${loadBefore.toFixed(1)} on ${os.cpus().length} CPUs: other work on this machine will make the numbers noisy`);
  const v2 = {};
  for (const s of servers) {
    v2[s.key] = await speaksV2(s.repoUrl(REPOS.refs));
    log(`  ${LABELS[s.key].padEnd(24)} ${s.base}  (protocol v2: ${v2[s.key] ? 'yes' : 'no'})`);
  }

  const results = {};
  if (ONLY.has('a')) {
    results.pack = await measurePack(servers, stats.big.path);
    results.clone = await measureClone(servers, stats.big.objects);
  }
  if (ONLY.has('b')) {
    results.lsRemote = { refs: stats.refs.refs, protocol: opt.protocol ? `v${opt.protocol}` : 'default', ...(await measureLsRemote(servers, stats.refs.refs)) };
    // Informational: the same with v0 forced, so node-git-server (v0 only) is compared like for like.
    if (!opt.protocol) results.lsRemoteV0 = { refs: stats.refs.refs, protocol: 'v0', ...(await measureLsRemote(servers, stats.refs.refs, ['-c', 'protocol.version=0'])) };
  }
  if (ONLY.has('c')) results.concurrent = await measureConcurrent(servers, stats.medium.objects);

  const loadAfter = os.loadavg()[0];
  if (results.concurrent?.rss) results.concurrent.rss.afterStartMb = hubgateStartRssMb;
  for (const s of servers) await s.stop();

  const { rows, targets } = evaluate(results);
  const [gitVersion, nginxVersion] = await Promise.all([
    run('git', ['--version']).then((r) => r.stdout.trim()),
    run(NGINX, ['-v'], { allowFail: true }).then((r) => r.stderr.trim()).catch(() => null),
  ]);
  const clientProto = opt.protocol ? `v${opt.protocol}` : 'git default (v2)';
  const notes = [
    `git client protocol: ${clientProto}; server speaks v2: ${servers.map((s) => `${LABELS[s.key]} ${v2[s.key] ? 'yes' : 'no (clients fall back to v0)'}`).join(', ')}. (a-i) is always protocol v0.`,
    ...(results.pack ? ['(a-i) times the POST only (request sent → last response byte read); the floor is `git upload-pack --stateless-rpc` fed the same body, stdout to /dev/null.'] : []),
    `load average (1 min) ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end, on ${os.cpus().length} CPUs${Math.max(loadBefore, loadAfter) > os.cpus().length / 2 ? ': the machine was busy, treat small differences as noise' : ''}.`,
    ...(hubgateStartRssMb != null && results.concurrent ? [`hubgate RSS: ${hubgateStartRssMb.toFixed(1)} MB after start, ${results.concurrent.rss.baselineMb.toFixed(1)} MB just before (c), peak ${results.concurrent.rss.peakMb.toFixed(1)} MB during (c) (${results.concurrent.rss.method}).`] : []),
    `runs: (a-i) ${RUNS}, (a-ii) ${CLONE_RUNS}, (b) ${LSR_RUNS} per protocol, (c) ${RUNS}; each after one untimed warm-up; server order rotated every run.`,
  ];
  const errors = Object.entries(results).flatMap(([m, r]) => Object.entries(r.errors ?? {}).map(([k, e]) => `${m} ${LABELS[k] ?? k}: ${e}`));

  const repoLine = (k, label) => stats[k] && `${label} alice/${REPOS[k]}: ${stats[k].objects.toLocaleString('en-US')} objects, ${(stats[k].packBytes / 1e6).toFixed(1)} MB pack, ${stats[k].refs} refs`;
  const md = [
    `## hubgate bench (${new Date().toISOString()}${QUICK ? ', --quick' : ''})`,
    '',
    `Machine: ${os.cpus().length} CPU (${os.cpus()[0]?.model?.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM; node ${process.version}; ${gitVersion}; ${nginxVersion ?? 'nginx ?'}.`,
    [repoLine('big', '(a)'), repoLine('refs', '(b)'), repoLine('medium', '(c)')].filter(Boolean).map((l) => `- ${l}`).join('\n'),
    '',
    markdownTable(rows),
    '',
    ...notes.map((n) => `- ${n}`),
    ...(errors.length ? ['', '**Errors:**', ...errors.map((e) => `- ${e}`)] : []),
  ].join('\n');
  process.stdout.write(`\n${md}\n`);

  const json = {
    date: new Date().toISOString(),
    quick: QUICK,
    loadAverage: { start: loadBefore, end: loadAfter },
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: os.totalmem() / 2 ** 30, node: process.version, git: gitVersion, nginx: nginxVersion },
    options: { runs: RUNS, cloneRuns: CLONE_RUNS, lsRemoteRuns: LSR_RUNS, concurrency: CONC, clientProtocol: opt.protocol ?? null, servers: SERVERS, hubgateWorkers: opt.workers ?? 'default (one per CPU)' },
    servers: Object.fromEntries(servers.map((s) => [s.key, { label: LABELS[s.key], url: s.base, protocolV2: v2[s.key] }])),
    repos: Object.fromEntries(Object.entries(stats).map(([k, st]) => [k, { name: `alice/${REPOS[k]}`, source: st.source, objects: st.objects, packBytes: st.packBytes, refs: st.refs }])),
    results,
    targets,
    table: rows,
    markdown: md,
    errors,
    durationSeconds: (Date.now() - started) / 1000,
  };
  fs.writeFileSync(opt.out, `${JSON.stringify(json, null, 2)}\n`);
  log(`\nbench: wrote ${path.relative(process.cwd(), opt.out) || opt.out} (${((Date.now() - started) / 1000).toFixed(0)} s in all; logs in ${path.relative(process.cwd(), LOG_DIR)})`);
  if (!opt.keep) rmrf(RUN_DIR);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
