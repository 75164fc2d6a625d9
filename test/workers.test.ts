// `hubgate serve --workers 2`: a primary and two worker processes sharing the port. Requests are
// answered by both (the pid on each request's log line); /metrics adds both up; a periodic job
// runs once per interval for all of them; a worker killed with -9, or stopped with SIGTERM, is
// replaced while clones go on, and the replacement leaves a sibling's push quarantine alone; a
// push in flight when the primary gets SIGTERM completes and the whole tree exits 0; workers that keep dying make the primary give up with exit 1; a port in
// use is reported once, as with one process.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, installCustomHook, newWorkRepo, ok, poll, processesIn, sleep } from './helpers/git-client.js';
import { BIN, freePort, type Hubgate, logEntries, ownProcess, run, startHubgate, tempDir } from './helpers/hubgate.js';

const WORKERS_ENV = { HUBGATE_WORKERS: '2', HUBGATE_SWEEP_INTERVAL_MS: '1000', HUBGATE_SHUTDOWN_TIMEOUT_MS: '20000' };

/** The live child processes of `pid` (Linux /proc): a primary's children are its workers. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [state, ppid] = fs.readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
      if (Number(ppid) === pid && state !== 'Z') found.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return found.sort((a, b) => a - b);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The pids that logged an answer to `urlPath`, with how many each. */
function servedBy(hub: Hubgate, urlPath: string, since = 0): Map<number, number> {
  const by = new Map<number, number>();
  for (const e of logEntries(hub)) if (e.req?.path === urlPath && e.res && e.time >= since) by.set(e.pid, (by.get(e.pid) ?? 0) + 1);
  return by;
}

describe('hubgate serve --workers 2', () => {
  let hub: Hubgate;
  let token: string;
  let primary: number;
  beforeAll(async () => {
    hub = await startHubgate({ env: WORKERS_ENV });
    primary = hub.process.pid!;
    token = await hub.userWithToken('alice');
    const made = await hub.cli(['repo', 'create', 'alice/m']);
    if (made.code !== 0) throw new Error(made.stderr);
    await hub.pushFiles('alice/m', token, { 'weights.txt': 'x'.repeat(200_000), 'README.md': '# m\n' });
  });
  afterAll(() => hub?.stop());

  const info = () => fetch(`${hub.url}/api/models/alice/m`, { headers: { Authorization: `Bearer ${token}` } });

  it('answers concurrent requests from both workers, and /metrics counts what both answered', async () => {
    const workers = childrenOf(primary);
    expect(workers).toHaveLength(2);
    const answers = await Promise.all(Array.from({ length: 64 }, () => info().then((r) => r.status)));
    expect(answers).toEqual(Array(64).fill(200));
    // Each answer's log line (with the pid of the worker that wrote it) follows it closely.
    const total = () => [...servedBy(hub, '/api/models/alice/m').values()].reduce((a, b) => a + b, 0);
    await poll(() => total() >= 64, 5000, 50);
    const by = servedBy(hub, '/api/models/alice/m');
    expect([...by.keys()].sort((a, b) => a - b)).toEqual(workers);
    expect([...by.values()].reduce((a, b) => a + b, 0)).toBe(64);
    // Whichever worker answers /metrics, it tells both workers' counts together.
    for (let i = 0; i < 3; i++) {
      const text = await (await fetch(`${hub.url}/metrics`)).text();
      expect(text).toMatch(/^hubgate_http_requests_total\{route="api-repo-info",method="GET",status="200"\} 64$/m);
    }
  });

  it('runs a periodic job once per interval, not once per worker', async () => {
    const runs = () => logEntries(hub).filter((e) => e.job === 'housekeeping' && e.msg === 'periodic job ran');
    const before = runs().length;
    const t0 = Date.now();
    await sleep(5000);
    const during = runs().slice(before);
    const seconds = (Date.now() - t0) / 1000;
    // Every second (HUBGATE_SWEEP_INTERVAL_MS) by one of the two workers; per worker it would be twice that.
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(during.length).toBeLessThanOrEqual(Math.floor(seconds) + 1);
    const starts = during.map((e) => e.startedAt as number).sort((a, b) => a - b);
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(950);
  });

  it('replaces a worker killed with -9 (clones meanwhile succeed) and one stopped with SIGTERM', async () => {
    const [victim, survivor] = childrenOf(primary);
    process.kill(victim, 'SIGKILL');
    // A connection the primary hands to a worker in the instant it dies is lost with it (node's
    // cluster round-robin; operations.md says so): clone once the primary has seen the death.
    await poll(() => logEntries(hub).some((e) => e.msg === 'a worker exited: starting another' && e.worker === victim), 20_000, 50);
    for (let i = 0; i < 3; i++) {
      const clone = await hub.git(['clone', '-q', hub.remote('alice/m', token), 'c']);
      expect(clone.code, clone.stderr).toBe(0);
    }
    const replaced = await poll(() => {
      const now = childrenOf(primary);
      return now.length === 2 && now.includes(survivor) && !now.includes(victim) ? now : null;
    }, 20_000, 100);
    expect(replaced).not.toBeNull();
    const [fresh] = replaced!.filter((p) => p !== survivor);
    expect(logEntries(hub).some((e) => e.msg === 'a worker exited: starting another' && e.worker === victim && e.signal === 'SIGKILL')).toBe(true);
    // The new worker serves too.
    await poll(() => logEntries(hub).some((e) => e.msg === 'a worker serves' && e.worker === fresh), 20_000, 100);
    const since = Date.now();
    await Promise.all(Array.from({ length: 32 }, () => info().then((r) => expect(r.status).toBe(200))));
    await poll(() => servedBy(hub, '/api/models/alice/m', since).get(fresh), 5000, 50);
    expect(servedBy(hub, '/api/models/alice/m', since).get(fresh)).toBeGreaterThan(0);

    // SIGTERM to a worker alone: it stops, and the primary starts another.
    process.kill(survivor, 'SIGTERM');
    const again = await poll(() => {
      const now = childrenOf(primary);
      return now.length === 2 && now.includes(fresh) && !now.includes(survivor) ? now : null;
    }, 20_000, 100);
    expect(again).not.toBeNull();
    expect((await info()).status).toBe(200);
  });

  /**
   * Starts a push of a new commit to alice/m that a hook holds, once its pack is in git's
   * quarantine, until release() (or 30 s); `held` resolves when it is there.
   */
  async function heldPush(file: string) {
    const dir = tempDir('hubgate-hold-');
    const [marker, go] = [path.join(dir, 'in-hook'), path.join(dir, 'release')];
    installCustomHook(hub.repoDir('alice/m'), 'hold', `#!/bin/sh\ncat >/dev/null\ntouch '${marker}'\ni=0\nwhile [ ! -e '${go}' ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n`);
    const work = await newWorkRepo(hub.remote('alice/m', token));
    ok(await git(['pull', '-q', 'origin', 'main'], work));
    fs.writeFileSync(path.join(work, file), `${file}\n`);
    ok(await git(['add', file], work));
    ok(await git(['commit', '-qm', file], work));
    const tip = ok(await git(['rev-parse', 'HEAD'], work)).trim();
    const result = git(['push', '-q', 'origin', 'main'], work);
    const held = await poll(() => fs.existsSync(marker), 20_000, 20);
    return { tip, result, held, release: () => fs.writeFileSync(go, '') };
  }
  const quarantines = () => fs.readdirSync(path.join(hub.repoDir('alice/m'), 'objects')).filter((n) => n.startsWith('tmp_objdir-'));
  const mainOf = async () => (await run('git', ['--git-dir', hub.repoDir('alice/m'), 'rev-parse', 'main'])).stdout.trim();

  it("a worker started while a sibling receives a push leaves the push's quarantine alone (start-up cleanup is the primary's)", async () => {
    const push = await heldPush('during-restart.txt');
    expect(push.held).toBe(true);
    expect(quarantines()).toHaveLength(1);
    // The worker serving the push is the parent of its receive-pack; the other one is replaced.
    const receivePack = processesIn(hub.dataDir).find((p) => /receive-pack/.test(p.cmd));
    const serving = childrenOf(primary).find((w) => childrenOf(w).includes(receivePack!.pid));
    const other = childrenOf(primary).find((w) => w !== serving)!;
    expect(serving).toBeDefined();
    process.kill(other, 'SIGKILL');
    const fresh = await poll(() => childrenOf(primary).find((w) => w !== serving && w !== other), 20_000, 50);
    expect(await poll(() => logEntries(hub).some((e) => e.msg === 'a worker serves' && e.worker === fresh), 20_000, 50)).toBe(true);
    await sleep(1000); // what a start-up cleanup would do, it does at once
    expect(quarantines()).toHaveLength(1);
    push.release();
    const pushed = await push.result;
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(await mainOf()).toBe(push.tip);
  });

  it('lets a push in flight finish when the primary gets SIGTERM, then the primary and its workers exit 0', async () => {
    const push = await heldPush('while-stopping.txt');
    expect(push.held).toBe(true);
    const workers = childrenOf(primary);
    const exited = new Promise<number | null>((r) => hub.process.once('exit', (code) => r(code)));
    const t0 = Date.now();
    hub.process.kill('SIGTERM');
    await sleep(1000); // the push goes on while the workers are stopping
    push.release();
    const pushed = await push.result;
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(await exited).toBe(0);
    // Well within the workers' drain (20 s); the log's last lines say why if not.
    expect(Date.now() - t0, hub.log().split('\n').filter((l) => !l.includes('"req"')).slice(-20).join('\n')).toBeLessThan(15_000);
    expect(workers.filter(alive)).toEqual([]);
    expect(await mainOf()).toBe(push.tip);
    const fsck = await run('git', ['--git-dir', hub.repoDir('alice/m'), 'fsck', '--no-progress']);
    expect(fsck.code, fsck.stderr).toBe(0);
  });
});

describe('a primary whose workers cannot serve', () => {
  it('gives up with exit 1 and the reason when its workers keep dying, instead of forking them forever', async () => {
    const metricsPort = await freePort();
    const hub = await startHubgate({ env: { ...WORKERS_ENV, HUBGATE_METRICS_LISTEN: `127.0.0.1:${metricsPort}` } });
    const primary = hub.process.pid!;
    // Meanwhile: the primary serves HUBGATE_METRICS_LISTEN, with both workers' counts (the start's /healthz polls).
    // (It listens there once every worker serves; startHubgate returned when the first one did.)
    const counted = async () => {
      const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text(), () => '');
      return Number(/^hubgate_http_requests_total\{route="healthz",method="GET",status="200"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    const logged = () => logEntries(hub).filter((e) => e.req?.path === '/healthz' && e.res?.statusCode === 200).length;
    expect(await poll(async () => (await counted()) > 0 && (await counted()) === logged(), 20_000, 100)).toBe(true);
    expect((await fetch(`${hub.url}/metrics`)).status).toBe(404);

    const exited = new Promise<number | null>((r) => hub.process.once('exit', (code) => r(code)));
    let killed = 0;
    while (hub.process.exitCode === null && killed < 20) {
      for (const pid of childrenOf(primary)) {
        process.kill(pid, 'SIGKILL');
        killed++;
      }
      await sleep(50);
    }
    expect(await exited).toBe(1);
    expect(killed).toBeLessThan(10);
    expect(hub.log()).toMatch(/^hubgate: workers keep failing \(5 in a row, each within 10 s of its start\): a worker was killed by SIGKILL$/m);
  });

  it('stops cleanly (exit 0) on a SIGTERM that comes while its workers are starting', async () => {
    const child = ownProcess(spawn(process.execPath, [BIN, 'serve', '--data', path.join(tempDir(), 'data'), '--host', '127.0.0.1', '--port', String(await freePort()), '--workers', '2'], { env: { ...process.env, HUBGATE_LOG_LEVEL: 'silent' }, stdio: 'ignore' }));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // The primary is up once it has forked its workers (which take a while longer to serve).
    expect(await poll(() => childrenOf(child.pid!).length === 2, 20_000, 20)).toBe(true);
    const workers = childrenOf(child.pid!);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(workers.filter(alive)).toEqual([]);
  });

  it('reports a port in use once, with exit 1, as one process does', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await run(process.execPath, [BIN, 'serve', '--data', path.join(tempDir(), 'data'), '--host', '127.0.0.1', '--port', String(port), '--workers', '2'], { env: { ...process.env, HUBGATE_LOG_LEVEL: 'silent' } });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`hubgate: HUBGATE_PORT ${port} is in use by another process: stop it or choose another port with HUBGATE_PORT or --port\n`);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });
});
