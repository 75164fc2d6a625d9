// GET /readyz, what a load balancer polls: 200 while the database, the LFS object store and the
// repos' storage all answer, each within its deadline; 503 naming the check that failed and a
// short reason otherwise (a repos folder gone or read-only, an object store folder gone, S3
// frozen or dead), and 503 "stopping" from SIGTERM on, while the node still serves what it has.
// Real faults: folders moved away, a tmpfs remounted read-only (root only; skipped otherwise),
// s3rver stopped with SIGSTOP and killed. The answer never shows a path.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poll } from './helpers/git-client.js';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';
import { type S3rverProcess, startS3rverProcess } from './helpers/s3.js';

interface Ready {
  status: number;
  ms: number;
  text: string;
  body: { status: string; checks: Record<string, { ok: boolean; ms: number; reason?: string }> };
}

async function readyz(hub: Hubgate): Promise<Ready> {
  const t0 = Date.now();
  const r = await fetch(`${hub.url}/readyz`, { signal: AbortSignal.timeout(15_000) });
  const text = await r.text();
  return { status: r.status, ms: Date.now() - t0, text, body: JSON.parse(text) };
}

const CHECKS = ['database', 'objectStore', 'repoStorage'];
const failing = (r: Ready) => Object.entries(r.body.checks).filter(([, c]) => !c.ok).map(([name, c]) => `${name}: ${c.reason}`);

function mountPermitted(): boolean {
  const probe = tempDir('hubgate-mount-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe('/readyz with the fs store', () => {
  let hub: Hubgate;
  let mounted: string | undefined;
  const canMount = mountPermitted();

  beforeAll(async () => {
    const dataDir = path.join(tempDir(), 'data');
    // The repos on a file system of their own, to make it read-only for real.
    if (canMount) {
      mounted = path.join(dataDir, 'repos');
      fs.mkdirSync(mounted, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mounted], { stdio: 'pipe' });
    }
    hub = await startHubgate({ dataDir, env: { HUBGATE_LOG_LEVEL: 'info' } });
  });
  afterAll(async () => {
    await hub?.stop();
    if (mounted) execFileSync('umount', ['-l', mounted], { stdio: 'pipe' });
  });

  it('answers 200 with every check when all is well, without auth, and shows no path', async () => {
    const r = await readyz(hub);
    expect(r.status, r.text).toBe(200);
    expect(r.body.status).toBe('ready');
    expect(Object.keys(r.body.checks).sort()).toEqual(CHECKS.sort());
    for (const name of CHECKS) expect(r.body.checks[name].ok).toBe(true);
    expect(r.text).not.toContain(hub.dataDir);
    expect(r.text).not.toContain('/');
    // The probe file it wrote to the repos' folder is gone again.
    expect(fs.readdirSync(path.join(hub.dataDir, 'repos')).filter((n) => n.startsWith('.readyz-'))).toEqual([]);
  });

  it('answers 503 naming the repos\' storage while its folder is missing, and 200 once it is back', async (ctx) => {
    if (mounted) return ctx.skip(); // a mount point cannot be moved away: the read-only case below runs instead
    const repos = path.join(hub.dataDir, 'repos');
    fs.renameSync(repos, `${repos}.away`);
    try {
      const r = await readyz(hub);
      expect(r.status, r.text).toBe(503);
      expect(r.body.status).toBe('not ready');
      expect(failing(r)).toEqual(['repoStorage: missing']);
      expect(r.text).not.toContain(hub.dataDir);
    } finally {
      fs.renameSync(`${repos}.away`, repos);
    }
    expect((await readyz(hub)).status).toBe(200);
  });

  it('answers 503 naming the repos\' storage while it is read-only, and 200 once it is writable again', async (ctx) => {
    if (!mounted) return ctx.skip();
    execFileSync('mount', ['-o', 'remount,ro', mounted], { stdio: 'pipe' });
    try {
      const r = await readyz(hub);
      expect(r.status, r.text).toBe(503);
      expect(failing(r)).toEqual(['repoStorage: read-only']);
      expect(r.body.checks.database.ok).toBe(true);
      expect(r.body.checks.objectStore.ok).toBe(true);
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', mounted], { stdio: 'pipe' });
    }
    expect((await readyz(hub)).status).toBe(200);
  });

  it('answers 503 naming the object store while its objects folder is missing, and 200 once it is back', async () => {
    const objects = path.join(hub.dataDir, 'lfs', 'objects');
    fs.renameSync(objects, `${objects}.away`);
    try {
      const r = await readyz(hub);
      expect(r.status, r.text).toBe(503);
      expect(failing(r)).toEqual(['objectStore: missing']);
    } finally {
      fs.renameSync(`${objects}.away`, objects);
    }
    expect((await readyz(hub)).status).toBe(200);
  });
});

describe('/readyz with the s3 store', () => {
  let s3: S3rverProcess;
  let hub: Hubgate;

  beforeAll(async () => {
    s3 = await startS3rverProcess();
    hub = await startHubgate({ env: { ...s3.env, HUBGATE_LOG_LEVEL: 'info' } });
  });
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  it('answers 503 within its deadline while S3 is frozen, names the object store, and 200 after SIGCONT', async () => {
    expect((await readyz(hub)).status).toBe(200);
    s3.process.kill('SIGSTOP');
    try {
      const r = await readyz(hub);
      expect(r.status, r.text).toBe(503);
      expect(failing(r)).toEqual(['objectStore: timed out after 2000 ms']);
      expect(r.ms).toBeLessThan(4000);
      expect(r.text).not.toContain(s3.endpoint.replace('http://', ''));
    } finally {
      s3.process.kill('SIGCONT');
    }
    expect(await poll(async () => (await readyz(hub)).status === 200, 10_000)).toBe(true);
  });

  it('answers 503 while S3 is down, and 200 once it is back', async () => {
    s3.process.kill('SIGKILL');
    await new Promise((r) => s3.process.once('exit', r));
    const r = await readyz(hub);
    expect(r.status, r.text).toBe(503);
    expect(failing(r)).toHaveLength(1);
    expect(failing(r)[0]).toMatch(/^objectStore: /);
    expect(r.ms).toBeLessThan(4000);
    await s3.restart();
    expect(await poll(async () => (await readyz(hub)).status === 200, 10_000)).toBe(true);
  });
});

describe('/readyz while stopping', () => {
  it('answers 503 "stopping" from SIGTERM on, while requests are still served for HUBGATE_SHUTDOWN_DELAY_MS, then the node exits', async () => {
    const hub = await startHubgate({ env: { HUBGATE_SHUTDOWN_DELAY_MS: '3000', HUBGATE_LOG_LEVEL: 'info' } });
    expect((await readyz(hub)).status).toBe(200);
    const exited = new Promise<number>((r) => hub.process.once('exit', () => r(Date.now())));
    const t0 = Date.now();
    hub.process.kill('SIGTERM');
    const r = await poll(async () => {
      const answer = await readyz(hub);
      return answer.status === 503 ? answer : null;
    }, 2000, 50);
    expect(r, 'readyz never answered 503 after SIGTERM').toBeTruthy();
    expect(r!.body.status).toBe('stopping');
    // Still serving meanwhile: liveness and ordinary requests answer.
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${hub.url}/api/models`)).status).toBe(200);
    const at = await exited;
    expect(at - t0).toBeGreaterThanOrEqual(2500);
    await expect(fetch(`${hub.url}/healthz`)).rejects.toThrow();
  });
});
