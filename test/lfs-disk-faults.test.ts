// Defect: with the fs store on a full or read-only disk, an LFS PUT was never answered (the
// write error destroyed the request, and the route then skipped the response), so git-lfs hung.
// Now PUTs, part PUTs and the multipart assembly answer 507 (disk full) or 503 (read-only) in
// the LFS error format, keep nothing half-written, and succeed when retried once there is room.
// The disk is a real small tmpfs mounted on DATA/lfs (root only; skipped with the reason otherwise).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from './helpers/git-client.js';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';
import { type Answer, call, LFS_JSON, lfsClient, MiB, randomObject } from './helpers/lfs-client.js';

const DISK_FULL = "the server's disk is full: nothing was changed; ask the administrator to free space, then try again";
const READ_ONLY = "the server's storage is read-only or cannot be written: nothing was changed; ask the administrator, then try again";

/** Why tmpfs cannot be mounted here, or null when it can (tried on a scratch directory). */
function mountProblem(): string | null {
  const dir = tempDir('hubgate-mount-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `mounting a tmpfs is not permitted here (${String((err as Error).message).split('\n')[0]}): run as root to test a full and a read-only disk`;
  }
}

const problem = mountProblem();
if (problem) console.warn(`skipping test/lfs-disk-faults.test.ts: ${problem}`);

describe.skipIf(problem !== null)('the fs store on a full or read-only disk', () => {
  const dataDir = path.join(tempDir(), 'data');
  const disk = path.join(dataDir, 'lfs');
  const filler = path.join(disk, 'filler');
  let hub: Hubgate;
  let token: string;
  let lfs: ReturnType<typeof lfsClient>;

  const sh = (...args: string[]) => execFileSync(args[0], args.slice(1), { stdio: 'pipe' });
  /** Fills the disk so that only `left` bytes stay free. */
  function fillLeaving(left: number) {
    fs.rmSync(filler, { force: true });
    const st = fs.statfsSync(disk);
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, st.bavail * st.bsize - left)));
  }
  const scratch = () => fs.readdirSync(path.join(disk, 'tmp'));
  const expectFault = (r: Answer, status: number, message: string) => {
    expect(r.status, r.text).toBe(status);
    expect(r.headers.get('content-type')).toMatch(/^application\/vnd\.git-lfs\+json/);
    expect(r.json.message).toBe(message);
    expect(r.json.request_id).toBeTruthy();
    if (status === 503) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  };

  beforeAll(async () => {
    fs.mkdirSync(disk, { recursive: true });
    sh('mount', '-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', disk);
    hub = await startHubgate({ dataDir, env: { HUBGATE_LFS_MULTIPART_THRESHOLD: String(11 * MiB), HUBGATE_LFS_MULTIPART_CHUNK: String(5 * MiB), HUBGATE_LOG_LEVEL: 'info' } });
    token = await hub.userWithToken('alice');
    await hub.cli(['repo', 'create', 'alice/m']);
    lfs = lfsClient(hub, token, 'alice/m');
  });
  afterAll(async () => {
    await hub?.stop();
    try {
      sh('umount', disk);
    } catch {
      sh('umount', '-l', disk);
    }
  });

  it('a basic PUT larger than the free space answers 507, keeps nothing, and succeeds once there is room', async () => {
    const obj = randomObject(10 * MiB);
    const b = await lfs.batch('upload', [obj]);
    const actions = b.json.objects[0].actions;
    expectFault(await lfs.put(actions.upload, obj.bytes, 15_000), 507, DISK_FULL);
    expect(scratch()).toEqual([]);
    expect((await lfs.verify(actions.verify, obj)).status).toBe(404);
    expect(await lfs.downloadableIntact([obj])).toEqual([]);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);

    sh('mount', '-o', 'remount,size=64m', disk);
    expect((await lfs.put(actions.upload, obj.bytes)).status).toBe(200);
    expect((await lfs.verify(actions.verify, obj)).status).toBe(200);
    expect(await lfs.downloadableIntact([obj])).toEqual([obj.oid]);
  });

  it('a part PUT and the assembly of the parts answer 507 on a full disk; the upload completes once there is room', async () => {
    const obj = randomObject(12 * MiB);
    const b = await lfs.batch('upload', [obj], ['basic', 'multipart']);
    const actions = b.json.objects[0].actions;
    fillLeaving(2 * MiB);
    const part1 = await fetch(actions.upload.header['00001'], { method: 'PUT', body: obj.bytes.subarray(0, 5 * MiB), signal: AbortSignal.timeout(15_000) });
    expectFault({ status: part1.status, headers: part1.headers, text: '', json: await part1.json(), ms: 0 }, 507, DISK_FULL);
    expect(scratch()).toEqual([]);

    fs.rmSync(filler);
    const parts = await lfs.putParts(actions.upload, obj);
    // The parts are stored; assembling them needs as much room again, which is not there.
    fillLeaving(6 * MiB);
    expectFault(await lfs.complete(actions.upload.href, obj.oid, parts, 15_000), 507, DISK_FULL);
    expect(scratch()).toEqual([]);
    expect(await lfs.downloadableIntact([obj])).toEqual([]);

    fs.rmSync(filler);
    expect((await lfs.complete(actions.upload.href, obj.oid, parts)).status).toBe(200);
    expect((await lfs.verify(actions.verify, obj)).status).toBe(200);
    expect(await lfs.downloadableIntact([obj])).toEqual([obj.oid]);
  });

  it('a PUT and an assembly on a read-only disk answer 503 with Retry-After, and succeed once the disk is writable again', async () => {
    const obj = randomObject(2 * MiB);
    const b = await lfs.batch('upload', [obj]);
    const actions = b.json.objects[0].actions;
    const big = randomObject(12 * MiB);
    const mb = await lfs.batch('upload', [big], ['basic', 'multipart']);
    const multipart = mb.json.objects[0].actions;
    const parts = await lfs.putParts(multipart.upload, big);
    sh('mount', '-o', 'remount,ro', disk);
    try {
      expectFault(await lfs.put(actions.upload, obj.bytes, 15_000), 503, READ_ONLY);
      expectFault(await lfs.complete(multipart.upload.href, big.oid, parts, 15_000), 503, READ_ONLY);
      expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    } finally {
      sh('mount', '-o', 'remount,rw', disk);
    }
    expect(scratch()).toEqual([]);
    expect((await lfs.put(actions.upload, obj.bytes)).status).toBe(200);
    expect((await lfs.verify(actions.verify, obj)).status).toBe(200);
    expect((await lfs.complete(multipart.upload.href, big.oid, parts)).status).toBe(200);
    expect((await lfs.verify(multipart.verify, big)).status).toBe(200);
    expect(await lfs.downloadableIntact([obj, big])).toEqual([obj.oid, big.oid]);
  });

  it('git lfs push to a full disk fails with the message instead of hanging, and succeeds when pushed again', async () => {
    await hub.git(['lfs', 'install', '--skip-repo']);
    const work = tempDir('hubgate-full-push-');
    const git = async (...args: string[]) => ok(await hub.git(args, { cwd: work }), `git ${args.join(' ')}`);
    await git('clone', '-q', hub.remote('alice/m', token), '.');
    await git('lfs', 'track', '*.bin');
    fs.writeFileSync(path.join(work, 'w.bin'), randomObject(4 * MiB).bytes);
    await git('add', '.gitattributes', 'w.bin');
    await git('commit', '-qm', 'weights');
    fillLeaving(1 * MiB);
    const t0 = Date.now();
    const failed = await hub.git(['-c', 'lfs.transfer.maxretries=1', 'push', 'origin', 'main'], { cwd: work });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain("the server's disk is full");
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(scratch()).toEqual([]);

    fs.rmSync(filler);
    await git('push', 'origin', 'main');
    const oid = (await git('lfs', 'ls-files', '-l')).split(' ')[0];
    expect(await lfs.downloadableIntact([{ oid, size: 4 * MiB }])).toEqual([oid]);
  });
});

describe.skipIf(problem !== null)('the database on a full disk', () => {
  const dataDir = tempDir('hubgate-full-db-');
  const filler = path.join(dataDir, 'filler');
  let hub: Hubgate;
  afterAll(async () => {
    await hub?.stop();
    try {
      execFileSync('umount', [dataDir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', dataDir], { stdio: 'pipe' });
    }
  });

  it('an upload batch whose rows cannot be written answers 507 in the LFS format, and works once there is room', async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', dataDir], { stdio: 'pipe' });
    hub = await startHubgate({ dataDir, env: { HUBGATE_LOG_LEVEL: 'info' } });
    const token = await hub.userWithToken('alice');
    await hub.cli(['repo', 'create', 'alice/m']);
    const lfs = lfsClient(hub, token, 'alice/m');
    const objects = Array.from({ length: 1000 }, () => ({ oid: randomObject(8).oid, size: 1000 }));
    // The token's last use is recorded now, so the next request writes nothing before the batch's rows.
    expect((await lfs.batch('download', objects.slice(0, 1))).status).toBe(200);
    const st = fs.statfsSync(dataDir);
    fs.writeFileSync(filler, Buffer.alloc(st.bavail * st.bsize));

    const r = await lfs.batch('upload', objects, ['basic'], 15_000);
    expect(r.status, r.text).toBe(507);
    expect(r.headers.get('content-type')).toMatch(/^application\/vnd\.git-lfs\+json/);
    expect(r.json.message).toBe(DISK_FULL);
    // A lock is written in a transaction, which SQLite rolls back by itself on a full disk: the
    // answer is still the full disk, not a 500 about the rollback that came after.
    const lock = await call(`${hub.url}/alice/m.git/info/lfs/locks`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': LFS_JSON }, body: JSON.stringify({ path: 'w.bin' }), timeoutMs: 15_000,
    });
    expect(lock.status, lock.text).toBe(507);
    expect(lock.json.message).toBe(DISK_FULL);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);

    fs.rmSync(filler);
    const again = await lfs.batch('upload', objects);
    expect(again.status).toBe(200);
    expect(again.json.objects.every((o: any) => o.actions?.upload)).toBe(true);
  });
});
