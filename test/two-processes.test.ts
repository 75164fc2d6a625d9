// Two `hubgate serve` processes on one data directory (several nodes behind a balancer, or a
// restart overlapping the old process). Coordination that lived in one process's memory broke
// there: a verify of a basic upload sent to both (git-lfs retrying against another node, a
// commit confirming its pending uploads) found the staged bytes already moved by the other
// process (a 500, or a false 404 "not uploaded"); a multipart completion sent to both found the
// parts already assembled; pushes through both ran two `git repack` in one repo at once. Now
// verifies and completions are claimed in the database and maintenance takes a lock file.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastImport, git, newWorkRepo, ok, poll, processesIn, sleep } from './helpers/git-client.js';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { type Answer, lfsClient, MiB, randomObject } from './helpers/lfs-client.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

const ENV = { HUBGATE_LFS_MULTIPART_THRESHOLD: String(6 * MiB), HUBGATE_LFS_MULTIPART_CHUNK: String(5 * MiB), HUBGATE_LOG_LEVEL: 'info' };
const T0 = 1_700_000_000;

/** Repeats `attempt` while it answers 503 with Retry-After (at most `tries` times); every answer. */
async function retrying503(attempt: () => Promise<Answer>, tries = 5): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < tries; i++) {
    const r = await attempt();
    answers.push(r);
    if (r.status !== 503 || !r.headers.get('retry-after')) break;
    await sleep(1000);
  }
  return answers;
}

function parentOf(pid: number): number | undefined {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
  } catch {
    return undefined; // gone meanwhile
  }
}

/** Writes to hubgate's database as a crashed process would have left it. */
function write(dataDir: string, sql: string, ...params: unknown[]): void {
  const db = new SQLite(path.join(dataDir, 'hubgate.sqlite'), { timeout: 5000 });
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

function rows(dataDir: string, sql: string): unknown[] {
  const db = new SQLite(path.join(dataDir, 'hubgate.sqlite'), { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

/**
 * Uploads basic and multipart objects through `a`, then verifies and completes each several times
 * through both processes at once, with API commits naming the objects: every request ends 200
 * (a 503 with Retry-After only on the way), nothing is linked twice, every object is intact.
 */
async function verifiesOnceAcrossProcesses(a: Hubgate, b: Hubgate, token: string, repo: string): Promise<void> {
  const onB = (href: string) => href.replace(a.url, b.url);
  const lfsA = lfsClient(a, token, repo);
  const lfsB = lfsClient(b, token, repo);
  const basics = Array.from({ length: 12 }, () => randomObject(256 * 1024));
  const batch = await lfsA.batch('upload', basics);
  expect(batch.status).toBe(200);
  const actions = batch.json.objects.map((o: any) => o.actions);
  for (const [i, obj] of basics.entries()) expect((await lfsA.put(actions[i].upload, obj.bytes)).status).toBe(200);

  const large = Array.from({ length: 2 }, () => randomObject(7 * MiB));
  const mp = await lfsA.batch('upload', large, ['multipart', 'basic']);
  expect(mp.status).toBe(200);
  expect(mp.json.transfer).toBe('multipart');
  const mpActions = mp.json.objects.map((o: any) => o.actions);
  const mpParts = await Promise.all(large.map((obj, i) => lfsA.putParts(mpActions[i].upload, obj)));

  // Everything at once: 3 verifies per basic object to each process, an API commit naming
  // every other object through each process, and 2 completions per multipart object to each.
  const verifies = basics.flatMap((obj, i) =>
    [actions[i].verify.href, onB(actions[i].verify.href)].flatMap((href) =>
      Array.from({ length: 3 }, () => retrying503(() => lfsA.verify({ href }, obj))),
    ),
  );
  const commits = basics
    .filter((_, i) => i % 2 === 0)
    .flatMap((obj, i) => [lfsA, lfsB].map((c, side) => retrying503(() => c.commitLfsFile(obj, `f${i}-${side}.bin`))));
  const completions = large.flatMap((obj, i) =>
    [mpActions[i].upload.href, onB(mpActions[i].upload.href)].flatMap((href) =>
      Array.from({ length: 2 }, () => retrying503(() => lfsA.complete(href, obj.oid, mpParts[i]))),
    ),
  );
  const [v, c, m] = await Promise.all([Promise.all(verifies), Promise.all(commits), Promise.all(completions)]);

  const statuses = (answers: Answer[][]) => answers.map((tries) => tries.map((r) => `${r.status}${r.status === 200 ? '' : ` ${r.text.slice(0, 120)}`}`));
  const last = (answers: Answer[][]) => answers.map((tries) => tries[tries.length - 1].status);
  // No 500 anywhere, no false "not uploaded": every request ends 200 (a 503 only on the way).
  expect(statuses(v).flat().filter((s) => !/^(200|503)/.test(s))).toEqual([]);
  expect(last(v).every((s) => s === 200), JSON.stringify(statuses(v))).toBe(true);
  expect(statuses(m).flat().filter((s) => !/^(200|503)/.test(s))).toEqual([]);
  expect(last(m).every((s) => s === 200), JSON.stringify(statuses(m))).toBe(true);
  // A commit may lose the race for the branch to the other process's commit (409/412 are
  // not what is tested here); it must never say an uploaded object was not uploaded, or fail.
  // The servers' error lines say why, should a commit fail.
  const errors = () => [a, b].flatMap((hub) => hub.log().split('\n').filter((l) => l.includes('"level":50'))).join('\n').slice(0, 4000);
  for (const s of statuses(c).flat()) {
    if (/^5(?!03)/.test(s)) expect.fail(`a commit answered ${s}\n${errors()}`);
    expect(s).not.toMatch(/not (been )?uploaded|upload it/i);
  }

  for (const [i, obj] of large.entries()) {
    const r = await retrying503(() => lfsB.verify({ href: onB(mpActions[i].verify.href) }, obj), 20);
    expect(r[r.length - 1].status, r.map((x) => x.text).join(' | ')).toBe(200);
  }
  const all = [...basics, ...large];
  expect((await lfsB.downloadableIntact(all)).sort()).toEqual(all.map((o) => o.oid).sort());
  expect((await lfsA.downloadableIntact(all)).sort()).toEqual(all.map((o) => o.oid).sort());
  // One object row and one link per oid; every upload ended done.
  const oids = all.map((o) => `'${o.oid}'`).join(',');
  expect(rows(a.dataDir, `select oid, count(*) n from lfs_links where oid in (${oids}) group by oid having n > 1`)).toEqual([]);
  expect(rows(a.dataDir, `select count(*) n from lfs_objects where oid in (${oids})`)).toEqual([{ n: all.length }]);
  expect(rows(a.dataDir, `select state, count(*) n from lfs_uploads where oid in (${oids}) group by state`)).toEqual([{ state: 'done', n: all.length }]);
  for (const hub of [a, b]) expect(hub.log()).not.toMatch(/"level":50/);
}

describe('two hubgate processes on one data directory', () => {
  let a: Hubgate;
  let b: Hubgate;
  let token: string;

  beforeAll(async () => {
    a = await startHubgate({ env: ENV });
    b = await startHubgate({ env: ENV, dataDir: a.dataDir });
    token = await a.userWithToken('alice');
    ok(await a.cli(['repo', 'create', 'alice/shared']), 'repo create');
    ok(await a.cli(['repo', 'create', 'alice/pushed']), 'repo create');
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  /** The same signed link, sent to the other process. */
  const onB = (href: string) => href.replace(a.url, b.url);

  it('verifies each basic upload once, whichever process is asked how often, and completes each multipart upload once', async () => {
    await verifiesOnceAcrossProcesses(a, b, token, 'alice/shared');
  }, 120_000);

  it('never runs two repacks in one repo at once for pushes through both processes, and still maintains it', async () => {
    const dir = a.repoDir('alice/pushed');
    const lock = path.join(dir, 'hubgate-maintenance.lock');
    const work = await newWorkRepo(a.remote('alice/pushed', token));
    let watching = true;
    let mostRepacks = 0;
    let lockSeen = false;
    let overlap: { pid: number; cmd: string }[] = [];
    const watcher = (async () => {
      while (watching) {
        const found = processesIn(dir).filter((p) => /^git\b.*\brepack\b/.test(p.cmd));
        // A repack's child between fork and exec still shows the repack's command line.
        const repacks = found.filter((p) => !found.some((q) => q.pid === parentOf(p.pid)));
        if (repacks.length > mostRepacks) overlap = repacks;
        mostRepacks = Math.max(mostRepacks, repacks.length);
        lockSeen ||= fs.existsSync(lock);
        await sleep(5);
      }
    })();

    let tips: string[] = [];
    for (let round = 0; round < 5; round++) {
      tips = await Promise.all(
        [0, 1].map((side) =>
          fastImport(work, { ref: `refs/heads/r${round}-${side}`, count: 3, time: T0 + round * 10, prefix: `s${side}-`, file: () => randomObject(MiB).bytes }),
        ),
      );
      const pushes = await Promise.all(
        [a, b].map((hub, side) => git(['push', '--quiet', hub.remote('alice/pushed', token), `refs/heads/r${round}-${side}`], work)),
      );
      for (const p of pushes) ok(p, 'push');
    }
    // Maintenance runs after the last pushes, and finishes: bitmaps, no lock left, no git left.
    const packDir = path.join(dir, 'objects', 'pack');
    expect(await poll(() => fs.readdirSync(packDir).some((f) => f.endsWith('.bitmap')) && !fs.existsSync(lock) && processesIn(dir).length === 0, 30_000)).toBe(true);
    await sleep(500);
    watching = false;
    await watcher;
    expect(mostRepacks, JSON.stringify(overlap)).toBe(1);
    expect(lockSeen).toBe(true);
    expect(fs.existsSync(path.join(dir, 'hubgate-maintenance.again'))).toBe(false);
    ok(await git([`--git-dir=${dir}`, 'fsck', '--no-progress'], dir), 'fsck');
    const clone = path.join(path.dirname(work), `clone-${Date.now()}`);
    ok(await git(['clone', '--quiet', '--no-checkout', b.remote('alice/pushed', token), clone], path.dirname(work)), 'clone');
    for (const tip of tips) expect(ok(await git(['cat-file', '-t', tip], clone)).trim()).toBe('commit');
  }, 120_000);

  it('takes over the verify claim of a crashed process once it lapses, and waits for it until then', async () => {
    const lfsA = lfsClient(a, token, 'alice/shared');
    const [held, lapsed] = [randomObject(100_000), randomObject(100_000)];
    const batch = await lfsA.batch('upload', [held, lapsed]);
    const actions = batch.json.objects.map((o: any) => o.actions);
    for (const [i, obj] of [held, lapsed].entries()) expect((await lfsA.put(actions[i].upload, obj.bytes)).status).toBe(200);
    const uploadId = (oid: string) => rows(a.dataDir, `select id from lfs_uploads where oid = '${oid}'`) as { id: string }[];
    const [heldId, lapsedId] = [uploadId(held.oid)[0].id, uploadId(lapsed.oid)[0].id];
    // A verifier that died mid-verify: one claim still running for 3 s, one past its time.
    write(a.dataDir, 'update lfs_uploads set claim = ?, claimed_until = ? where id = ?', 'dead', new Date(Date.now() + 3000).toISOString(), heldId);
    write(a.dataDir, 'update lfs_uploads set claim = ?, claimed_until = ? where id = ?', 'dead', new Date(Date.now() - 1000).toISOString(), lapsedId);

    const t0 = Date.now();
    const [h, l] = await Promise.all([lfsA.verify({ href: onB(actions[0].verify.href) }, held), lfsA.verify(actions[1].verify, lapsed)]);
    expect(l.status).toBe(200);
    expect(l.ms).toBeLessThan(2000);
    expect(h.status, h.text).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2500);
    expect(await lfsA.downloadableIntact([held, lapsed])).toHaveLength(2);
    expect(rows(a.dataDir, `select state, claim from lfs_uploads where id in ('${heldId}', '${lapsedId}')`)).toEqual([
      { state: 'done', claim: null },
      { state: 'done', claim: null },
    ]);
  }, 60_000);

  it('takes over a maintenance lock whose process is dead, and leaves a live one alone, asking for a run', async () => {
    ok(await a.cli(['repo', 'create', 'alice/locked']), 'repo create');
    const dir = a.repoDir('alice/locked');
    const lock = path.join(dir, 'hubgate-maintenance.lock');
    const wanted = path.join(dir, 'hubgate-maintenance.again');
    const work = await newWorkRepo(a.remote('alice/locked', token));
    const packDir = path.join(dir, 'objects', 'pack');
    const hasBitmap = () => fs.readdirSync(packDir).some((f) => f.endsWith('.bitmap'));
    const owner = (pid: number) => JSON.stringify({ pid, hostname: os.hostname(), startedAt: new Date().toISOString(), token: 'test' });

    // Held by a live process (this test runner): the push asks for a run and does not repack.
    fs.writeFileSync(lock, owner(process.pid));
    await fastImport(work, { ref: 'refs/heads/main', count: 5, time: T0 });
    ok(await git(['push', '--quiet', '--force', 'origin', 'main'], work), 'push');
    expect(await poll(() => fs.existsSync(wanted), 10_000)).toBe(true);
    await sleep(1500);
    expect(hasBitmap()).toBe(false);
    expect(JSON.parse(fs.readFileSync(lock, 'utf8')).pid).toBe(process.pid); // not taken over

    // Left by a process that is gone: taken over at the next push, which also does the run asked for.
    const dead = spawnSync('true').pid;
    fs.writeFileSync(lock, owner(dead));
    await fastImport(work, { ref: 'refs/heads/main', count: 1, from: ok(await git(['rev-parse', 'main'], work)).trim(), time: T0 + 100 });
    ok(await git(['push', '--quiet', '--force', 'origin', 'main'], work), 'push');
    expect(await poll(() => hasBitmap() && !fs.existsSync(lock) && !fs.existsSync(wanted) && processesIn(dir).length === 0, 30_000)).toBe(true);
  }, 60_000);
});

describe('two hubgate processes on one data directory, s3 store (verify hashes the staged bytes)', () => {
  let s3: S3rverHandle;
  let a: Hubgate;
  let b: Hubgate;
  let token: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    a = await startHubgate({ env: { ...ENV, ...s3.env } });
    b = await startHubgate({ env: { ...ENV, ...s3.env }, dataDir: a.dataDir });
    token = await a.userWithToken('alice');
    ok(await a.cli(['repo', 'create', 'alice/shared']), 'repo create');
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await s3?.stop();
  });

  it('verifies each basic upload once, whichever process is asked how often, and completes each multipart upload once', async () => {
    await verifiesOnceAcrossProcesses(a, b, token, 'alice/shared');
  }, 120_000);
});
