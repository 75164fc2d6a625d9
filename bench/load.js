// Load under abuse (loopback only, bounded, stops by itself): wrk measures GET /healthz while
//   - 2,000 anonymous POSTs hold their sockets open with a stalled body (headers and 13 bytes of
//     a 1 MB body, then nothing),
//   - 200 anonymous clients loop on GET info/refs?service=git-upload-pack,
//   - and, in the second phase, 3 anonymous clients loop on POST /api/validate-yaml with 739 KB
//     of small YAML mappings.
// Target: /healthz p99 < 100 ms in both phases. `--root DIR` runs another hubgate checkout (built,
// with node_modules), e.g. an export of an older commit, for comparison.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, installCleanup, rmrf, run, sleep, stopChild, track, waitFor } from './util.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROOT = path.resolve(opt('--root', path.dirname(BENCH_DIR)));
const SLOW = Number(opt('--slow', 2000));
const REFS = Number(opt('--refs', 200));
const YAML_SENDERS = Number(opt('--yaml', 3));
const SECONDS = Number(opt('--seconds', 10));
const OUT = opt('--out', path.join(BENCH_DIR, 'load-results.json'));
const WRK = process.env.BENCH_WRK || '/usr/bin/wrk';
const TARGET_P99_MS = 100;

installCleanup();
const log = (m) => process.stderr.write(`load: ${m}\n`);

/** One HTTP request on its own connection; resolves with the status (0 on error), never rejects. */
function request(port, { method = 'GET', path: p, headers = {}, body }) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(30_000, () => req.destroy());
    req.end(body);
  });
}

/** Opens `n` sockets that each send a POST's headers and the start of its body, then stall. */
async function openSlowBodies(port, n) {
  const sockets = [];
  let closedByServer = 0;
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => closedByServer++);
    s.write('POST /api/validate-yaml HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"content": "');
    sockets.push(s);
    if (i % 200 === 199) await sleep(20); // do not overflow the listen backlog
  }
  return { closedByServer: () => closedByServer, close: () => sockets.forEach((s) => s.destroy()) };
}

/** `n` loops of anonymous requests until stop(); counts answers by status. */
function loops(n, port, req) {
  let running = true;
  const statuses = {};
  const done = Promise.all(
    Array.from({ length: n }, async () => {
      while (running) {
        const status = await request(port, req());
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  return {
    statuses,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** wrk on /healthz; latency percentiles in ms. */
async function wrk(port) {
  const { stdout } = await run(WRK, ['-t1', '-c8', `-d${SECONDS}s`, '--timeout', '10s', '--latency', `http://127.0.0.1:${port}/healthz`]);
  const ms = (v, unit) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? NaN);
  const pct = {};
  for (const m of stdout.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$/gm)) pct[`p${m[1]}`] = ms(m[2], m[3]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const timeouts = Number(/timeout (\d+)/.exec(stdout)?.[1] ?? 0);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  return { ...pct, requests, timeouts, non2xx: errors ? Number(errors[1]) : 0, raw: stdout };
}

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'src', 'server.js'))) {
    log(`building ${ROOT}`);
    await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT });
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hubgate-load-bench-'));
  process.on('exit', () => rmrf(work));
  const dataDir = path.join(work, 'data');
  const bin = path.join(ROOT, 'bin', 'hubgate.js');
  await run(process.execPath, [bin, 'user', 'create', 'alice', '--data', dataDir], { cwd: ROOT });
  await run(process.execPath, [bin, 'repo', 'create', 'alice/pub', '--data', dataDir], { cwd: ROOT });

  const port = await freePort();
  const logFile = path.join(work, 'hubgate.log');
  const fd = fs.openSync(logFile, 'a');
  const server = spawn(process.execPath, [bin, 'serve', '--data', dataDir, '--host', '127.0.0.1', '--port', String(port)], {
    cwd: ROOT,
    env: { ...process.env, HUBGATE_LOG_LEVEL: 'warn', HUBGATE_SSH_PORT: '0' }, // SSH off: another hubgate may hold 2222
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  track(server, 'hubgate', { group: true });
  await waitFor(async () => (await request(port, { path: '/healthz' })) === 200, { what: 'hubgate /healthz', timeoutMs: 30_000 });
  log(`hubgate from ${ROOT} on port ${port}`);

  const idle = await wrk(port);
  log(`idle: p99 ${idle.p99} ms`);

  log(`opening ${SLOW} stalled bodies and ${REFS} info/refs loops`);
  const slow = await openSlowBodies(port, SLOW);
  const refs = loops(REFS, port, () => ({ path: '/alice/pub/info/refs?service=git-upload-pack' }));
  await sleep(3000); // measured once every connection is open and every loop has started
  const underLoad = await wrk(port);
  log(`stalled bodies + info/refs: p99 ${underLoad.p99} ms`);

  let yaml = '';
  for (let i = 0; yaml.length < 739 * 1024; i++) yaml += `k${i}: {a: 1}\n`;
  const yamlBody = JSON.stringify({ content: `---\n${yaml}---\n# card\n`, repoType: 'model' });
  const senders = loops(YAML_SENDERS, port, () => ({ method: 'POST', path: '/api/validate-yaml', headers: { 'content-type': 'application/json' }, body: yamlBody }));
  await sleep(1000);
  const withYaml = await wrk(port);
  log(`+ ${YAML_SENDERS} validate-yaml senders: p99 ${withYaml.p99} ms`);

  await Promise.all([refs.stop(), senders.stop()]);
  const slowClosed = slow.closedByServer();
  slow.close();
  await stopChild(server);

  const phases = { idle, stalledBodiesAndInfoRefs: underLoad, plusValidateYaml: withYaml };
  const row = (name, r) => `| ${name} | ${r.p50 ?? '-'} | ${r.p99 ?? '-'} | ${r.requests} | ${r.timeouts} | ${r.requests > 0 && r.p99 !== undefined && r.p99 < TARGET_P99_MS && r.timeouts === 0 ? 'PASS' : 'FAIL'} |`;
  console.log(`hubgate: ${ROOT}; ${SLOW} stalled bodies, ${REFS} info/refs loops, ${YAML_SENDERS} validate-yaml senders; wrk ${SECONDS} s, 8 connections; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('| /healthz under | p50 ms | p99 ms | requests | timeouts | p99 < 100 ms |');
  console.log('|---|---|---|---|---|---|');
  console.log(row('nothing else', idle));
  console.log(row(`${SLOW} stalled bodies + ${REFS} info/refs loops`, underLoad));
  console.log(row(`… + ${YAML_SENDERS} validate-yaml senders (739 KB)`, withYaml));
  console.log(`\ninfo/refs answers by status: ${JSON.stringify(refs.statuses)}; validate-yaml answers by status: ${JSON.stringify(senders.statuses)}; stalled sockets closed by the server during the run: ${slowClosed}`);
  fs.writeFileSync(OUT, JSON.stringify({ root: ROOT, slow: SLOW, refs: REFS, yamlSenders: YAML_SENDERS, seconds: SECONDS, phases, infoRefsStatuses: refs.statuses, validateYamlStatuses: senders.statuses, slowClosedByServer: slowClosed, loadavg: os.loadavg() }, null, 2));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
