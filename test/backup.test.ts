// `hubgate backup` while pushes (git and LFS) run, then `hubgate restore` into a new data
// directory and a server on it: every restored repo passes git fsck, every ref names a commit
// that is there and a value the ref really had, every LFS object the database links is there
// with its bytes, and the old token still clones with the LFS files. A file uploaded through Xet
// (its bytes only in xorbs) comes back with its xorbs.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { uploadFiles } from '@huggingface/hub';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type Hubgate, run, startHubgate, tempDir } from './helpers/hubgate.js';

const REPOS = ['alice/m0', 'alice/m1', 'alice/m2'];
let hub: Hubgate;
let restored: Hubgate | undefined;
let token: string;

const hubgate = (args: string[]) => run(process.execPath, [BIN, ...args]);

async function git(h: Hubgate, args: string[], cwd: string): Promise<string> {
  const r = await h.git(args, { cwd });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

/** `refname -> id` of a bare repo. */
async function refsOf(h: Hubgate, repo: string): Promise<Map<string, string>> {
  const out = await git(h, ['for-each-ref', '--format=%(refname) %(objectname)'], repo);
  return new Map(out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

/** The bare repos under a data (or backup) directory. */
function bareRepos(dir: string): string[] {
  const found: string[] = [];
  for (const type of ['models', 'datasets', 'spaces']) {
    const typeDir = path.join(dir, 'repos', type);
    if (!fs.existsSync(typeDir)) continue;
    for (const ns of fs.readdirSync(typeDir)) for (const name of fs.readdirSync(path.join(typeDir, ns))) found.push(path.join(typeDir, ns, name));
  }
  return found.sort();
}

interface Pusher {
  /** Every value main had: the first one seen and each commit pushed (added before its push). */
  values: Set<string>;
  /** The LFS files written, by path. */
  files: Map<string, Buffer>;
  pushes: number;
  /** [start, end] of each push (ms). */
  times: [number, number][];
}

beforeAll(async () => {
  hub = await startHubgate();
  token = await hub.userWithToken('alice');
  // Private: only the token restored with the database can clone them.
  for (const repo of REPOS) expect((await hub.cli(['repo', 'create', repo, '--private'])).code).toBe(0);
  const hooks = path.join(hub.repoDir(REPOS[1]), 'custom_hooks', 'pre-receive.d');
  fs.mkdirSync(hooks, { recursive: true });
  fs.writeFileSync(path.join(hooks, 'accept'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
});

afterAll(async () => {
  await restored?.stop();
  await hub?.stop();
});

describe('backup while pushes run, then restore', () => {
  it('restores consistent repos, LFS objects and users', async () => {
    const pushers = new Map<string, Pusher>();
    let stop = false;
    const loop = async (repo: string) => {
      const work = tempDir('hubgate-backup-work-');
      await git(hub, ['clone', '--quiet', hub.remote(repo, token), '.'], work);
      const p: Pusher = { values: new Set([await git(hub, ['rev-parse', 'HEAD'], work)]), files: new Map(), pushes: 0, times: [] };
      pushers.set(repo, p);
      await git(hub, ['lfs', 'track', '*.bin'], work);
      for (let i = 0; !stop || p.pushes < 2; i++) {
        const bytes = crypto.randomBytes(20_000 + i * 997);
        fs.writeFileSync(path.join(work, `f${i}.bin`), bytes);
        fs.writeFileSync(path.join(work, `n${i}.txt`), `note ${i} of ${repo}\n`);
        await git(hub, ['add', '.'], work);
        await git(hub, ['commit', '--quiet', '-m', `push ${i}`], work);
        p.values.add(await git(hub, ['rev-parse', 'HEAD'], work));
        p.files.set(`f${i}.bin`, bytes);
        const started = Date.now();
        await git(hub, ['push', '--quiet', 'origin', 'main'], work);
        p.times.push([started, Date.now()]);
        p.pushes++;
      }
    };
    const loops = Promise.all(REPOS.map(loop));
    // The backup starts once every repo has been pushed to, and runs while they are pushed to.
    while (REPOS.some((r) => (pushers.get(r)?.pushes ?? 0) < 1)) await new Promise((r) => setTimeout(r, 100));
    const backupDir = path.join(tempDir('hubgate-backup-'), 'backup');
    const backupStarted = Date.now();
    const made = await hub.cli(['backup', backupDir]);
    const backupEnded = Date.now();
    stop = true;
    await loops;
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^backed up 3 repos and \d+ LFS objects into /);
    // Pushes went on during the backup.
    const during = REPOS.flatMap((r) => pushers.get(r)!.times).filter(([start, end]) => start < backupEnded && end > backupStarted);
    expect(during.length).toBeGreaterThan(0);

    const manifest = JSON.parse(fs.readFileSync(path.join(backupDir, 'backup.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 1, hubgate: expect.any(String), repos: 3, missingRepos: [], lfs: { store: 'fs', missing: [] } });
    // The key that signs links is in the database, so the backup's is the live one.
    const signingKey = (dir: string) => {
      const db = new Database(path.join(dir, 'hubgate.sqlite'), { readonly: true });
      try {
        return (db.prepare("select value from secrets where name = 'url-signing'").get() as { value: string } | undefined)?.value;
      } finally {
        db.close();
      }
    };
    expect(signingKey(backupDir)).toBeTruthy();
    expect(signingKey(backupDir)).toBe(signingKey(hub.dataDir));
    expect(fs.readdirSync(path.dirname(backupDir))).toStrictEqual(['backup']); // no backup.partial left

    // Every ref of the backup is a value the ref had.
    const backedUp = new Map<string, string>();
    for (const repo of REPOS) {
      const [ns, name] = repo.split('/');
      const refs = await refsOf(hub, path.join(backupDir, 'repos', 'models', ns, `${name}.git`));
      expect([...refs.keys()]).toStrictEqual(['refs/heads/main']);
      expect(pushers.get(repo)!.values.has(refs.get('refs/heads/main')!)).toBe(true);
      backedUp.set(repo, refs.get('refs/heads/main')!);
    }

    // Refusals: a backup into a non-empty directory, a restore into one, a restore of something else.
    const busy = tempDir('hubgate-backup-busy-');
    fs.writeFileSync(path.join(busy, 'keep.txt'), 'mine');
    const intoBusy = await hub.cli(['backup', busy]);
    expect(intoBusy.code).toBe(1);
    expect(intoBusy.stderr).toMatch(/^hubgate: the backup directory .* is not empty: give a new or empty directory/);
    expect(fs.readdirSync(busy)).toStrictEqual(['keep.txt']);
    const restoreBusy = await hubgate(['restore', backupDir, '--data', busy]);
    expect(restoreBusy.code).toBe(1);
    expect(restoreBusy.stderr).toMatch(/^hubgate: the data directory .* is not empty: restore into a new or empty directory/);
    const notBackup = await hubgate(['restore', hub.dataDir, '--data', path.join(tempDir(), 'data')]);
    expect(notBackup.code).toBe(1);
    expect(notBackup.stderr).toMatch(/is not a complete hubgate backup \(it has no backup\.json\)/);

    // Restore.
    const newData = path.join(tempDir('hubgate-restored-'), 'data');
    const back = await hubgate(['restore', backupDir, '--data', newData]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain(`into ${newData}`);
    expect(fs.existsSync(`${newData}.partial`)).toBe(false);

    const repoDirs = bareRepos(newData);
    expect(repoDirs.map((d) => path.relative(newData, d))).toStrictEqual(REPOS.map((r) => `repos/models/${r}.git`));
    for (const dir of repoDirs) {
      const fsck = await hub.git(['fsck', '--full', '--strict'], { cwd: dir });
      expect(fsck.code, `${dir}: ${fsck.stderr}`).toBe(0);
      for (const [ref, id] of await refsOf(hub, dir)) expect(await git(hub, ['cat-file', '-t', id], dir), ref).toBe('commit');
    }

    // A repo's own hooks come back, still executable.
    expect(fs.statSync(path.join(newData, 'repos', 'models', `${REPOS[1]}.git`, 'custom_hooks', 'pre-receive.d', 'accept')).mode & 0o777).toBe(0o755);

    // Every LFS object the restored database links is in the restored store, with its bytes.
    const sqlite = new Database(path.join(newData, 'hubgate.sqlite'), { readonly: true, fileMustExist: true });
    const linked = (sqlite.prepare('select distinct oid from lfs_links').all() as { oid: string }[]).map((r) => r.oid);
    sqlite.close();
    expect(linked.length).toBeGreaterThanOrEqual(REPOS.length);
    for (const oid of linked) {
      const file = path.join(newData, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
      expect(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe(oid);
    }

    // Every LFS pointer in a restored repo's history names an object linked to that repo (or
    // downloads would be refused) and present.
    const sqlite2 = new Database(path.join(newData, 'hubgate.sqlite'), { readonly: true, fileMustExist: true });
    const linkedTo = sqlite2.prepare('select l.oid from lfs_links l join repos r on r.id = l.repo_id join accounts a on a.id = r.owner_id where a.name = ? and r.name = ?');
    for (const repo of REPOS) {
      const dir = path.join(newData, 'repos', 'models', `${repo}.git`);
      const links = new Set((linkedTo.all(...repo.split('/')) as { oid: string }[]).map((r) => r.oid));
      const blobs = (await git(hub, ['rev-list', '--objects', '--all'], dir)).split('\n').filter((l) => l.endsWith('.bin'));
      expect(blobs.length).toBeGreaterThanOrEqual(1);
      for (const line of blobs) {
        const pointer = await git(hub, ['cat-file', 'blob', line.split(' ')[0]], dir);
        const oid = /^oid sha256:([0-9a-f]{64})$/m.exec(pointer)![1];
        expect(links.has(oid), `${repo} ${line}`).toBe(true);
        expect(fs.existsSync(path.join(newData, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid))).toBe(true);
      }
    }
    sqlite2.close();

    // A server on the restored data: the old token clones every repo with its LFS files, byte for byte.
    restored = await startHubgate({ dataDir: newData });
    expect((await restored.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
    for (const repo of REPOS) {
      const clone = tempDir('hubgate-restored-clone-');
      await git(restored, ['clone', '--quiet', restored.remote(repo, token), '.'], clone);
      expect(await git(restored, ['rev-parse', 'HEAD'], clone)).toBe(backedUp.get(repo));
      const bins = fs.readdirSync(clone).filter((f) => f.endsWith('.bin'));
      expect(bins.length).toBeGreaterThanOrEqual(1);
      for (const f of bins) expect(fs.readFileSync(path.join(clone, f)).equals(pushers.get(repo)!.files.get(f)!), `${repo} ${f}`).toBe(true);
    }
    const anonymous = await restored.git(['ls-remote', restored.remote(REPOS[0])]);
    expect(anonymous.code).not.toBe(0);
    // ... and pushes to it.
    await restored.pushFiles('alice/m0', token, { 'after-restore.txt': 'still writable\n' });
  });

  it('a file uploaded through Xet (bytes only in xorbs) is backed up with its xorbs and read after a restore', async () => {
    expect((await hub.cli(['repo', 'create', 'alice/x', '--private'])).code).toBe(0);
    const data = crypto.randomBytes(3 * 1024 * 1024 + 5);
    const oid = crypto.createHash('sha256').update(data).digest('hex');
    await uploadFiles({ repo: 'alice/x', hubUrl: hub.url, accessToken: token, files: [{ path: 'w.bin', content: new Blob([data]) }] });
    expect(fs.existsSync(path.join(hub.dataDir, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid))).toBe(false);
    const backupDir = path.join(tempDir('hubgate-backup-'), 'backup');
    const made = await hub.cli(['backup', backupDir]);
    expect(made.code, made.stderr).toBe(0);
    // Not missing: its bytes are the xorbs, which the backup holds.
    expect(JSON.parse(fs.readFileSync(path.join(backupDir, 'backup.json'), 'utf8')).lfs.missing).toEqual([]);
    expect(fs.readdirSync(path.join(backupDir, 'lfs', 'xet', 'xorbs')).length).toBeGreaterThan(0);
    const newData = path.join(tempDir('hubgate-restored-'), 'data');
    const back = await hubgate(['restore', backupDir, '--data', newData]);
    expect(back.code, back.stderr).toBe(0);
    const again = await startHubgate({ dataDir: newData });
    try {
      const r = await fetch(`${again.url}/alice/x/resolve/main/w.bin`, { headers: { Authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
      expect(crypto.createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex')).toBe(oid);
    } finally {
      await again.stop();
    }
  });
});
