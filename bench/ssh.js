#!/usr/bin/env node
// Git over SSH: hubgate's own SSH server against OpenSSH's sshd (Debian openssh-server, started
// here on a loopback port with its own config and host key) running `git-upload-pack` on the
// same bare repos. Both are reached by the same OpenSSH client with the same key.
//   (a) `git clone --bare` of the big repo, medians;
//   (c) 16 concurrent `git clone --bare` of the medium repo (wall time for all), and hubgate's
//       peak RSS meanwhile.
// Targets: both ≤ 1.2× sshd; hubgate peak RSS < 250 MB during (c).
//
//   node bench/ssh.js [--quick] [--runs N] [--concurrency N] [--only a,c] [--workers N] [--out FILE]
// hubgate runs with its default worker processes (one per CPU) unless --workers is given; its RSS
// is then the primary's and the workers' together.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureRepo } from './gen-repos.js';
import { populate } from './populate.js';
import { HUBGATE_BIN, ROOT_DIR, hubgateCli, startHubgate } from './servers.js';
import { freePort, installCleanup, median, nowMs, rmrf, rssSampler, run, stopChild, track, waitFor } from './util.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const WORK_DIR = path.join(BENCH_DIR, '.work');
const RUN_DIR = path.join(WORK_DIR, 'ssh-run');
const DATA_DIR = path.join(RUN_DIR, 'data');
const LOG_DIR = path.join(WORK_DIR, 'logs-ssh');
const CLONE_DIR = path.join(RUN_DIR, 'clones');
const SSHD = process.env.BENCH_SSHD || '/usr/sbin/sshd';
const TARGET_RATIO = 1.2;
const TARGET_RSS_MB = 250;

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    only: { type: 'string', default: 'a,c' },
    workers: { type: 'string' },
    out: { type: 'string', default: path.join(BENCH_DIR, 'ssh-results.json') },
  },
});
const QUICK = opt.quick;
const RUNS = Number(opt.runs ?? (QUICK ? 2 : 5));
const CONC = Number(opt.concurrency);
const ONLY = new Set(opt.only.split(','));
const log = (m) => process.stderr.write(`ssh bench: ${m}\n`);
installCleanup(() => rmrf(RUN_DIR));

const REPOS = { big: 'big', medium: 'medium' };

async function sshKeygen(file) {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', file]);
  return fs.readFileSync(`${file}.pub`, 'utf8');
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** OpenSSH's sshd on loopback, its own config and host key, letting the current user in with `key`. */
async function startSshd(pubKey) {
  const dir = path.join(RUN_DIR, 'sshd');
  fs.mkdirSync(dir, { recursive: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_ed25519')]);
  fs.writeFileSync(path.join(dir, 'authorized_keys'), pubKey, { mode: 0o600 });
  const port = await freePort();
  const user = os.userInfo().username;
  fs.writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PidFile none',
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      // As many sessions as the bench opens at once, like hubgate's unlimited bench settings.
      'MaxStartups 200',
      'MaxSessions 200',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  // sshd refuses to start without its privilege-separation directory.
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true });
  const out = fs.openSync(path.join(LOG_DIR, 'sshd.log'), 'w');
  const child = track(spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', out, out], detached: true }), 'sshd', { group: true });
  await waitFor(() => portAccepts(port), { what: `sshd on port ${port} (log: ${LOG_DIR}/sshd.log)` });
  const hostKey = fs.readFileSync(path.join(dir, 'host_ed25519.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  return { key: 'sshd', port, hostKey, user, pid: child.pid, repoUrl: (name) => `ssh://${user}@127.0.0.1:${port}${path.join(DATA_DIR, 'repos', 'models', 'alice', `${name}.git`)}`, stop: () => stopChild(child) };
}

/** hubgate's public host key (ed25519), from its data directory. */
function hubgateHostKey() {
  const dir = path.join(DATA_DIR, 'ssh');
  const pub = fs.readdirSync(dir).filter((f) => f.endsWith('.pub')).sort((a, b) => Number(b.includes('ed25519')) - Number(a.includes('ed25519')))[0];
  if (!pub) throw new Error(`no host key .pub file in ${dir}`);
  return fs.readFileSync(path.join(dir, pub), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

async function countObjects(dir) {
  const { stdout } = await run('git', ['-C', dir, 'count-objects', '-v']);
  return Number(/^in-pack: (\d+)/m.exec(stdout)[1]) + Number(/^count: (\d+)/m.exec(stdout)[1]);
}

async function main() {
  for (const d of [RUN_DIR]) rmrf(d);
  for (const d of [RUN_DIR, LOG_DIR, CLONE_DIR, path.join(RUN_DIR, 'home')]) fs.mkdirSync(d, { recursive: true });
  if (!fs.existsSync(SSHD)) throw new Error(`${SSHD} not found: apt-get install openssh-server`);
  if (!fs.existsSync(path.join(ROOT_DIR, 'dist', 'src', 'cli', 'index.js'))) throw new Error(`hubgate is not built (${HUBGATE_BIN} needs dist/): npm run build`);

  const sources = {};
  if (ONLY.has('a')) sources.big = await ensureRepo(WORK_DIR, QUICK ? 'big-quick' : 'big', { log });
  if (ONLY.has('c')) sources.medium = await ensureRepo(WORK_DIR, QUICK ? 'medium-quick' : 'medium', { log });

  const keyFile = path.join(RUN_DIR, 'client_key');
  const pubKey = await sshKeygen(keyFile);
  await hubgateCli(DATA_DIR, ['user', 'create', 'alice']);
  await run(process.execPath, [HUBGATE_BIN, 'ssh-key', 'add', 'alice', '--title', 'bench', '--data', DATA_DIR], { input: pubKey, cwd: ROOT_DIR });
  const stats = {};
  for (const [k, src] of Object.entries(sources)) {
    await hubgateCli(DATA_DIR, ['repo', 'create', `alice/${REPOS[k]}`]);
    const dst = path.join(DATA_DIR, 'repos', 'models', 'alice', `${REPOS[k]}.git`);
    stats[k] = await populate(dst, src, process.env, log);
    log(`repo alice/${REPOS[k]}: ${stats[k].objects} objects, pack ${(stats[k].packBytes / 1e6).toFixed(1)} MB`);
  }

  const sshPort = await freePort();
  const hub = await startHubgate({ dataDir: DATA_DIR, logDir: LOG_DIR, token: '', env: { HUBGATE_SSH_PORT: String(sshPort), ...(opt.workers ? { HUBGATE_WORKERS: opt.workers } : {}) } });
  await waitFor(() => portAccepts(sshPort), { what: `hubgate's SSH server on port ${sshPort}` });
  const sshd = await startSshd(pubKey);
  const knownHosts = path.join(RUN_DIR, 'known_hosts');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshPort} ${hubgateHostKey()}\n[127.0.0.1]:${sshd.port} ${sshd.hostKey}\n`);
  const env = {
    ...process.env,
    HOME: path.join(RUN_DIR, 'home'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: `ssh -F /dev/null -i ${keyFile} -o IdentitiesOnly=yes -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR`,
  };
  const servers = [
    { key: 'hubgate', pid: hub.pid, repoUrl: (name) => `ssh://git@127.0.0.1:${sshPort}/alice/${name}` },
    sshd,
  ];
  const loadBefore = os.loadavg()[0];
  const clone = async (url, dest) => {
    rmrf(dest);
    const t0 = nowMs();
    await run('git', ['clone', '--bare', '-q', url, dest], { env });
    return nowMs() - t0;
  };

  const results = { runs: RUNS, concurrency: CONC, workers: opt.workers ?? null };
  if (ONLY.has('a')) {
    log(`(a) git clone --bare of the big repo over SSH, ${RUNS} runs (+1 warm-up)`);
    const samples = { hubgate: [], sshd: [] };
    const dest = path.join(CLONE_DIR, 'big.git');
    for (let r = -1; r < RUNS; r++) {
      for (const s of r % 2 ? servers : [...servers].reverse()) {
        const ms = await clone(s.repoUrl(REPOS.big), dest);
        if (r < 0) {
          const n = await countObjects(dest);
          if (n !== stats.big.objects) throw new Error(`${s.key}: the clone has ${n} objects, the repo ${stats.big.objects}`);
        } else samples[s.key].push(ms);
        log(`  ${r < 0 ? 'warm-up' : `run ${r + 1}`} ${s.key.padEnd(8)} ${(ms / 1000).toFixed(3)} s`);
        rmrf(dest);
      }
    }
    results.big = { samples, median: { hubgate: median(samples.hubgate), sshd: median(samples.sshd) } };
  }
  if (ONLY.has('c')) {
    log(`(c) ${CONC} concurrent clones of the medium repo over SSH, ${RUNS} runs (+1 warm-up)`);
    const samples = { hubgate: [], sshd: [] };
    let rss = null;
    for (let r = -1; r < RUNS; r++) {
      for (const s of r % 2 ? servers : [...servers].reverse()) {
        const dests = Array.from({ length: CONC }, (_, i) => path.join(CLONE_DIR, `c${i}.git`));
        const stopRss = s.key === 'hubgate' ? rssSampler(s.pid) : null;
        const t0 = nowMs();
        await Promise.all(dests.map((d) => run('git', ['clone', '--bare', '-q', s.repoUrl(REPOS.medium), d], { env })));
        const ms = nowMs() - t0;
        if (stopRss) {
          const m = stopRss();
          rss = { peakMb: Math.max(rss?.peakMb ?? 0, m.peakMb), baseMb: m.baseMb };
        }
        if (r < 0) {
          for (const d of dests) {
            const n = await countObjects(d);
            if (n !== stats.medium.objects) throw new Error(`${s.key}: a clone has ${n} objects, the repo ${stats.medium.objects}`);
          }
        } else samples[s.key].push(ms);
        log(`  ${r < 0 ? 'warm-up' : `run ${r + 1}`} ${s.key.padEnd(8)} ${(ms / 1000).toFixed(3)} s`);
        for (const d of dests) rmrf(d);
      }
    }
    results.concurrent = { samples, median: { hubgate: median(samples.hubgate), sshd: median(samples.sshd) }, rss };
  }
  const loadAfter = os.loadavg()[0];
  await hub.stop();
  await sshd.stop();

  const rows = [];
  const pass = (ok) => (ok ? 'PASS' : 'FAIL');
  for (const [k, label] of [['big', '(a) clone of the big repo'], ['concurrent', `(c) ${CONC} concurrent clones, medium repo (wall)`]]) {
    const m = results[k]?.median;
    if (!m) continue;
    const ratio = m.hubgate / m.sshd;
    rows.push(`| ${label} | ${(m.hubgate / 1000).toFixed(3)} s | ${(m.sshd / 1000).toFixed(3)} s | ${ratio.toFixed(2)}× | ≤ ${TARGET_RATIO}× | ${pass(ratio <= TARGET_RATIO)} |`);
  }
  if (results.concurrent?.rss) {
    const mb = results.concurrent.rss.peakMb;
    rows.push(`| hubgate peak RSS during (c) | ${mb.toFixed(1)} MB | | | < ${TARGET_RSS_MB} MB | ${pass(mb < TARGET_RSS_MB)} |`);
  }
  results.load = { before: loadBefore, after: loadAfter, cpus: os.cpus().length };
  fs.writeFileSync(opt.out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(
    [
      `## git over SSH: hubgate vs OpenSSH sshd + git-upload-pack (${new Date().toISOString()}${QUICK ? ', --quick' : ''})`,
      '',
      '| measurement | hubgate | sshd | ratio | target | result |',
      '|---|---:|---:|---:|---:|---|',
      ...rows,
      '',
      `- hubgate worker processes: ${opt.workers ?? `default (${os.availableParallelism()})`}; RSS counts the primary and its workers together.`,
      `- medians of ${RUNS} runs after one untimed warm-up each; order alternated every run; load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)} on ${os.cpus().length} CPUs.`,
      '',
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`ssh bench: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
