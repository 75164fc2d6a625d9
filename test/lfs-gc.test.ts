// LFS garbage collection (`hubgate lfs gc`, src/services/lfs-gc.ts) on the fs store and on S3
// (s3rver): what no repo links goes after the grace period, nothing linked ever goes, a dry run
// removes nothing, staging leftovers go, an upload of the same oid racing a collection keeps its
// object, and random sequences of uploads, commits, repo deletions and collections never leave
// a repo with a file it cannot download.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { lfsClient, type LfsObject, randomObject } from './helpers/lfs-client.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

const STORES = ['fs', 's3'] as const;

/** A small deterministic generator (mulberry32) for the random sequences. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.each(STORES)('LFS garbage collection (%s store)', (store) => {
  let hub: Hubgate;
  let s3: S3rverHandle | undefined;
  let token: string;

  beforeAll(async () => {
    s3 = store === 's3' ? await startS3rver() : undefined;
    hub = await startHubgate({ env: { ...(s3?.env ?? {}) } });
    token = await hub.userWithToken('alice');
  });
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  /** Whether the store holds the bytes of `oid`. */
  const stored = (oid: string): boolean => {
    if (s3) return s3.keys().includes(`lfs/objects/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`);
    return fs.existsSync(path.join(hub.dataDir, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid));
  };
  const staging = (): string[] => (s3 ? s3.keys().filter((k) => k.startsWith('lfs/staging/')) : fs.readdirSync(path.join(hub.dataDir, 'lfs', 'staging')));
  const cli = async (args: string[]) => {
    const r = await hub.cli(args);
    if (r.code !== 0) throw new Error(`hubgate ${args.join(' ')}: ${r.code} ${r.stderr}`);
    return r.stdout;
  };
  const createRepo = (name: string) => cli(['repo', 'create', `alice/${name}`]);
  const deleteRepo = (name: string) => cli(['repo', 'delete', `alice/${name}`]);
  const gc = (...args: string[]) => cli(['lfs', 'gc', ...args]);
  async function addFile(repo: string, obj: LfsObject, file: string): Promise<void> {
    const c = lfsClient(hub, token, `alice/${repo}`);
    await c.upload(obj);
    const r = await c.commitLfsFile(obj, file);
    if (r.status !== 200) throw new Error(`commit to ${repo}: ${r.status} ${r.text}`);
  }
  /** Every LFS file of the repo downloads (batch and resolve), byte for byte. */
  async function downloadsAll(repo: string, files: Map<string, LfsObject>): Promise<void> {
    if (files.size === 0) return;
    const c = lfsClient(hub, token, `alice/${repo}`);
    const objs = [...new Map([...files.values()].map((o) => [o.oid, o])).values()];
    expect((await c.downloadableIntact(objs)).sort(), `repo ${repo}`).toEqual(objs.map((o) => o.oid).sort());
    const [file, obj] = [...files.entries()][0];
    const r = await fetch(`${hub.url}/alice/${repo}/resolve/main/${file}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(r.status, `resolve ${repo}/${file}`).toBe(200);
    expect(Buffer.from(await r.arrayBuffer()).equals(obj.bytes)).toBe(true);
  }

  it('removes an object no repo links once its grace period is over, never a linked one; a dry run removes nothing', async () => {
    await createRepo('keep');
    await createRepo('gone');
    const kept = randomObject(3000);
    const shared = randomObject(2000);
    const dropped = randomObject(1000);
    await addFile('keep', kept, 'kept.bin');
    await addFile('keep', shared, 'shared.bin');
    await addFile('gone', shared, 'shared.bin');
    await addFile('gone', dropped, 'dropped.bin');
    await deleteRepo('gone');

    // Unlinked a moment ago: within the default grace period (24 h), and within 1 h.
    expect(await gc()).toMatch(/^removed 0 LFS objects/);
    expect(await gc('--grace', '1h')).toMatch(/^removed 0 LFS objects/);
    expect(stored(dropped.oid)).toBe(true);

    const dry = await gc('--grace', '0', '--dry-run', '--verbose');
    expect(dry).toContain(`would remove ${dropped.oid} 1000`);
    expect(dry).toMatch(/would remove 1 LFS objects \(1000 bytes\)/);
    expect(stored(dropped.oid)).toBe(true);

    const out = await gc('--grace', '0', '--verbose');
    expect(out).toContain(`removed ${dropped.oid} 1000`);
    expect(out).not.toContain(kept.oid);
    expect(out).not.toContain(shared.oid);
    expect(out).toMatch(/read the history of \d+ repos/);
    expect(stored(dropped.oid)).toBe(false);
    expect(stored(kept.oid)).toBe(true);
    expect(stored(shared.oid)).toBe(true);
    await downloadsAll('keep', new Map([['kept.bin', kept], ['shared.bin', shared]]));
    expect(await gc('--grace', '0')).toMatch(/^removed 0 LFS objects/);

    // The same bytes pushed again afterwards are stored anew.
    await createRepo('again');
    await addFile('again', dropped, 'dropped.bin');
    await downloadsAll('again', new Map([['dropped.bin', dropped]]));

    // Recorded in the audit log with its counts.
    expect(await cli(['audit', '--limit', '5'])).toMatch(/lfs\.gc .*objects=1/);
  });

  it('keeps an unlinked object that a pointer in a repo still names, and says so', async () => {
    await createRepo('named');
    const obj = randomObject(1500);
    await addFile('named', obj, 'named.bin');
    // Links and history disagree (as after a database restored from an older backup).
    const db = new Database(path.join(hub.dataDir, 'hubgate.sqlite'));
    db.prepare('DELETE FROM lfs_links WHERE oid = ?').run(obj.oid);
    db.close();
    const r = await hub.cli(['lfs', 'gc', '--grace', '0']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`kept ${obj.oid}: no repo links it, but pointers in models/alice/named name it`);
    expect(r.stderr).toMatch(/LFS pointers name objects their repo does not link/);
    expect(stored(obj.oid)).toBe(true);
  });

  it('removes staged bytes no upload owns any more (its repo deleted) once past the grace period', async () => {
    await createRepo('staged');
    const obj = randomObject(1200);
    const c = lfsClient(hub, token, 'alice/staged');
    const b = await c.batch('upload', [obj]);
    expect((await c.put(b.json.objects[0].actions.upload, obj.bytes)).status).toBe(200);
    expect(staging().length).toBeGreaterThan(0);
    await deleteRepo('staged');
    expect(await gc('--grace', '0', '--dry-run')).toMatch(/would remove 1 staged uploads/);
    expect(staging().length).toBeGreaterThan(0);
    expect(await gc('--grace', '0')).toMatch(/removed 1 staged uploads/);
    expect(staging()).toEqual([]);
    expect(stored(obj.oid)).toBe(false);
  });

  it('an upload of an unlinked object to another repo, verified while a collection runs, ends linked and stored', async () => {
    for (let round = 0; round < 4; round++) {
      await createRepo(`race-a${round}`);
      await createRepo(`race-b${round}`);
      const obj = randomObject(4000 + round);
      await addFile(`race-a${round}`, obj, 'x.bin');
      await deleteRepo(`race-a${round}`);
      const c = lfsClient(hub, token, `alice/race-b${round}`);
      const b = await c.batch('upload', [obj]);
      const actions = b.json.objects[0].actions;
      expect(actions, 'the batch asks for the bytes again').toBeTruthy();
      expect((await c.put(actions.upload, obj.bytes)).status).toBe(200);
      // The collection and the verify at once, the verify a little later each round.
      const [, verified] = await Promise.all([
        gc('--grace', '0', '--no-scan'),
        new Promise((r) => setTimeout(r, round * 150)).then(() => c.verify(actions.verify, obj)),
      ]);
      expect(verified.status).toBe(200);
      expect((await c.commitLfsFile(obj, 'x.bin')).status).toBe(200);
      expect(await gc('--grace', '0')).toBeTruthy();
      expect(stored(obj.oid)).toBe(true);
      await downloadsAll(`race-b${round}`, new Map([['x.bin', obj]]));
    }
  });

  it('a collection claimed before an upload began is finished by the verifier once its collector is gone, and the upload is stored', async () => {
    await createRepo('claim-a');
    await createRepo('claim-b');
    const obj = randomObject(2500);
    await addFile('claim-a', obj, 'y.bin');
    await deleteRepo('claim-a');
    // A collector that claimed the object and died before removing its bytes.
    const db = new Database(path.join(hub.dataDir, 'hubgate.sqlite'));
    db.prepare('UPDATE lfs_objects SET deleting = ?, deleting_until = ? WHERE oid = ?').run('dead-collector', new Date(Date.now() + 1500).toISOString(), obj.oid);
    db.close();
    const c = lfsClient(hub, token, 'alice/claim-b');
    const b = await c.batch('upload', [obj]);
    const actions = b.json.objects[0].actions;
    expect((await c.put(actions.upload, obj.bytes)).status).toBe(200);
    const v = await c.verify(actions.verify, obj);
    expect(v.status).toBe(200);
    expect((await c.commitLfsFile(obj, 'y.bin')).status).toBe(200);
    expect(stored(obj.oid)).toBe(true);
    expect(await gc('--grace', '0')).toBeTruthy();
    await downloadsAll('claim-b', new Map([['y.bin', obj]]));
  });

  it.each([1, 2])('random sequences of uploads, commits, repo deletions and collections never lose a file a repo has (seed %i)', async (seed) => {
    const random = rng(seed * 7919 + (store === 's3' ? 1 : 0));
    const pick = <T,>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
    const pool = Array.from({ length: 4 }, (_, i) => randomObject(500 + i * 100));
    const repos = [`p${seed}-x`, `p${seed}-y`, `p${seed}-z`];
    // What each repo's main holds: file path -> object.
    const files = new Map<string, Map<string, LfsObject>>();
    for (const r of repos) {
      await createRepo(r);
      files.set(r, new Map());
    }
    let n = 0;
    for (let step = 0; step < 30; step++) {
      const roll = random();
      const repo = pick(repos);
      if (roll < 0.5) {
        // An object of the pool (maybe stored for another repo, maybe unlinked) committed to a repo.
        const obj = pick(pool);
        const file = `f${n++}.bin`;
        await addFile(repo, obj, file);
        files.get(repo)!.set(file, obj);
      } else if (roll < 0.65) {
        await deleteRepo(repo);
        await createRepo(repo);
        files.set(repo, new Map());
      } else {
        await gc('--grace', '0', ...(random() < 0.5 ? ['--no-scan'] : []));
        for (const r of repos) await downloadsAll(r, files.get(r)!);
      }
    }
    await gc('--grace', '0');
    for (const r of repos) await downloadsAll(r, files.get(r)!);
    // Whatever no repo names any more is gone from the store.
    const named = new Set([...files.values()].flatMap((m) => [...m.values()].map((o) => o.oid)));
    for (const obj of pool) expect(stored(obj.oid), obj.oid).toBe(named.has(obj.oid));
  });
});
