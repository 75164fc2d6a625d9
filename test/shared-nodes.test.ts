// Several nodes on one database and one data directory: nothing one node keeps for itself may
// matter to another. The URL signing key was a file the first node made (and a node that made
// its own, or read another copy, rejected every link the others handed out): it is one secret in
// the database now, imported from an existing DATA/signing.key so links handed out before the
// upgrade keep working. A maintenance lock of another machine was judged by its age alone (six
// hours): its holder touches it now, and one no longer touched is taken over. A warm reader
// started before another node's push sees the pushed commit at once. A multipart upload that a
// node matched and died before committing is hashed again by the node that takes it over (the
// version of the staged bytes that was matched is known only to the node that read it). A node
// starting removed every file written before its start that no live pid of its own machine held,
// a live push or commit of another node included: it does so now only while no other node is at work.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CompleteMultipartUploadCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastImport, git, newWorkRepo, ok, poll, processesIn, sleep } from './helpers/git-client.js';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';
import { type LfsObject, lfsClient, MiB, randomObject } from './helpers/lfs-client.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

const ENV = { HUBGATE_LOG_LEVEL: 'info' };
const T0 = 1_700_000_000;

function secrets(dataDir: string): { name: string; value: string }[] {
  const db = new SQLite(path.join(dataDir, 'hubgate.sqlite'), { readonly: true });
  try {
    return db.prepare('select name, value from secrets order by name').all() as { name: string; value: string }[];
  } finally {
    db.close();
  }
}

describe('the URL signing key, shared through the database', () => {
  const started: Hubgate[] = [];
  afterAll(async () => {
    await Promise.all(started.map((hub) => hub.stop()));
  });

  it('imports an existing signing.key once; a node that finds another file still signs and verifies with the shared key', async () => {
    const dataDir = path.join(tempDir(), 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    const legacy = crypto.randomBytes(32);
    fs.writeFileSync(path.join(dataDir, 'signing.key'), legacy, { mode: 0o600 });
    const a = await startHubgate({ dataDir, env: ENV });
    started.push(a);
    expect(secrets(dataDir)).toEqual([{ name: 'url-signing', value: legacy.toString('base64') }]);

    // The file changes (another node's copy, a restore of something else): nodes no longer read it.
    fs.writeFileSync(path.join(dataDir, 'signing.key'), crypto.randomBytes(32));
    const b = await startHubgate({ dataDir, env: ENV });
    started.push(b);
    expect(secrets(dataDir)).toEqual([{ name: 'url-signing', value: legacy.toString('base64') }]);

    // Links signed by one node work on the other: upload and verify hrefs from a's batch sent to b,
    // download hrefs from b's batch fetched from a.
    const token = await a.userWithToken('alice');
    ok(await a.cli(['repo', 'create', 'alice/signed']), 'repo create');
    const onB = (href: string) => href.replace(a.url, b.url);
    const lfsA = lfsClient(a, token, 'alice/signed');
    const lfsB = lfsClient(b, token, 'alice/signed');
    const obj = randomObject(200_000);
    const batch = await lfsA.batch('upload', [obj]);
    expect(batch.status, batch.text).toBe(200);
    const actions = batch.json.objects[0].actions;
    expect(actions.upload.href.startsWith(a.url)).toBe(true);
    const put = await lfsA.put({ ...actions.upload, href: onB(actions.upload.href) }, obj.bytes);
    expect(put.status, put.text).toBe(200);
    const verify = await lfsA.verify({ ...actions.verify, href: onB(actions.verify.href) }, obj);
    expect(verify.status, verify.text).toBe(200);
    const down = await lfsB.batch('download', [obj]);
    const href: string = down.json.objects[0].actions.download.href;
    expect(href.startsWith(b.url)).toBe(true);
    const got = await fetch(href.replace(b.url, a.url), { headers: down.json.objects[0].actions.download.header ?? {} });
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(obj.bytes)).toBe(true);
    // A link signed with any other key is refused.
    const forged = new URL(href);
    const t = forged.searchParams.get('token') ?? '';
    expect(t).toMatch(/\./);
    if (t) {
      forged.searchParams.set('token', `${t.split('.')[0]}.${crypto.createHmac('sha256', crypto.randomBytes(32)).update(t.split('.')[0]).digest('base64url')}`);
      expect((await fetch(forged, { headers: down.json.objects[0].actions.download.header ?? {} })).status).not.toBe(200);
    }
  }, 120_000);

  it('two nodes starting at once on a new data directory agree on one key, and make no key file', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const [a, b] = await Promise.all([startHubgate({ dataDir, env: ENV }), startHubgate({ dataDir, env: ENV })]);
    started.push(a, b);
    const kept = secrets(dataDir);
    expect(kept.map((s) => s.name)).toEqual(['url-signing']);
    expect(Buffer.from(kept[0].value, 'base64')).toHaveLength(32);
    expect(fs.existsSync(path.join(dataDir, 'signing.key'))).toBe(false);
    // Each verifies what the other signed.
    const token = await a.userWithToken('bob');
    ok(await a.cli(['repo', 'create', 'bob/both']), 'repo create');
    const obj = randomObject(10_000);
    const batch = await lfsClient(b, token, 'bob/both').batch('upload', [obj]);
    const actions = batch.json.objects[0].actions;
    expect((await lfsClient(a, token, 'bob/both').put({ ...actions.upload, href: actions.upload.href.replace(b.url, a.url) }, obj.bytes)).status).toBe(200);
    expect((await lfsClient(a, token, 'bob/both').verify({ ...actions.verify, href: actions.verify.href.replace(b.url, a.url) }, obj)).status).toBe(200);
  }, 120_000);
});

describe('two nodes on one data directory', () => {
  let a: Hubgate;
  let b: Hubgate;
  let token: string;

  beforeAll(async () => {
    a = await startHubgate({ env: ENV });
    b = await startHubgate({ env: ENV, dataDir: a.dataDir });
    token = await a.userWithToken('alice');
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('leaves alone a maintenance lock another machine still touches, takes over one it stopped touching, and runs the run asked for', async () => {
    ok(await a.cli(['repo', 'create', 'alice/locked']), 'repo create');
    const dir = a.repoDir('alice/locked');
    const lock = path.join(dir, 'hubgate-maintenance.lock');
    const wanted = path.join(dir, 'hubgate-maintenance.again');
    const work = await newWorkRepo(a.remote('alice/locked', token));
    const packDir = path.join(dir, 'objects', 'pack');
    const hasBitmap = () => fs.readdirSync(packDir).some((f) => f.endsWith('.bitmap'));
    // Another machine's lock: a pid that may well be alive here means nothing there.
    const foreign = JSON.stringify({ pid: 1, hostname: 'another-node.invalid', startedAt: new Date().toISOString(), token: 'theirs', run: 'their-run', renewed: true });
    fs.writeFileSync(lock, foreign);

    // Touched a moment ago: the push asks for a run and leaves the lock alone.
    await fastImport(work, { ref: 'refs/heads/main', count: 5, time: T0 });
    ok(await git(['push', '--quiet', '--force', 'origin', 'main'], work), 'push');
    expect(await poll(() => fs.existsSync(wanted), 10_000)).toBe(true);
    await sleep(1500);
    expect(hasBitmap()).toBe(false);
    expect(fs.readFileSync(lock, 'utf8')).toBe(foreign);

    // Not touched for three minutes (longer than the stale age): its holder is gone; the next
    // push, through the other node, takes it over and runs.
    const old = new Date(Date.now() - 180_000);
    fs.utimesSync(lock, old, old);
    await fastImport(work, { ref: 'refs/heads/main', count: 1, from: ok(await git(['rev-parse', 'main'], work)).trim(), time: T0 + 100 });
    ok(await git(['push', '--quiet', '--force', b.remote('alice/locked', token), 'main'], work), 'push');
    expect(await poll(() => hasBitmap() && !fs.existsSync(lock) && !fs.existsSync(wanted) && processesIn(dir).length === 0, 30_000)).toBe(true);
  }, 60_000);

  it('keeps a lock of a version that does not touch it for its age limit, however old its file time', async () => {
    ok(await a.cli(['repo', 'create', 'alice/legacy']), 'repo create');
    const dir = a.repoDir('alice/legacy');
    const lock = path.join(dir, 'hubgate-maintenance.lock');
    const work = await newWorkRepo(a.remote('alice/legacy', token));
    const legacy = JSON.stringify({ pid: 1, hostname: 'another-node.invalid', startedAt: new Date().toISOString(), token: 'theirs' });
    fs.writeFileSync(lock, legacy);
    const old = new Date(Date.now() - 180_000);
    fs.utimesSync(lock, old, old);
    await fastImport(work, { ref: 'refs/heads/main', count: 3, time: T0 });
    ok(await git(['push', '--quiet', '--force', 'origin', 'main'], work), 'push');
    expect(await poll(() => fs.existsSync(path.join(dir, 'hubgate-maintenance.again')), 10_000)).toBe(true);
    await sleep(1000);
    expect(fs.readFileSync(lock, 'utf8')).toBe(legacy);
    fs.rmSync(lock);
  }, 60_000);

  it('a node whose warm reader and card cache were filled before the other node\'s push serves the pushed commit at once', async () => {
    ok(await a.cli(['repo', 'create', 'alice/cards']), 'repo create');
    const first = await b.pushFiles('alice/cards', token, { 'README.md': '---\nlicense: mit\n---\n# first card\n' }, 'first');
    const info = async (hub: Hubgate) => (await (await fetch(`${hub.url}/api/models/alice/cards`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { sha: string; cardData?: { license?: string } };
    const readme = async (hub: Hubgate) => (await fetch(`${hub.url}/alice/cards/resolve/main/README.md`, { headers: { Authorization: `Bearer ${token}` } })).text();
    const page = async (hub: Hubgate) => (await fetch(`${hub.url}/alice/cards`)).text();
    // a reads the repo: its warm reader runs and its caches hold the first card.
    expect((await info(a)).sha).toBe(first);
    expect(await readme(a)).toContain('# first card');
    expect(await page(a)).toContain('first card');

    const second = await b.pushFiles('alice/cards', token, { 'README.md': '---\nlicense: apache-2.0\n---\n# second card\n' }, 'second');
    expect(second).not.toBe(first);
    const now = await info(a);
    expect(now.sha).toBe(second);
    expect(now.cardData?.license).toBe('apache-2.0');
    expect(await readme(a)).toContain('# second card');
    const html = await page(a);
    expect(html).toContain('second card');
    expect(html).not.toContain('first card');
    // And the other way round: a push through a is seen by b's reader.
    const third = await a.pushFiles('alice/cards', token, { 'README.md': '# third card\n' }, 'third');
    expect((await info(b)).sha).toBe(third);
    expect(await readme(b)).toContain('# third card');
  }, 60_000);

  it('the v2 capability advertisement each node keeps follows a change of the repo\'s config made elsewhere', async () => {
    ok(await a.cli(['repo', 'create', 'alice/adv']), 'repo create');
    const v2 = async (hub: Hubgate) => {
      const res = await fetch(`${hub.url}/alice/adv.git/info/refs?service=git-upload-pack`, { headers: { Authorization: `Bearer ${token}`, 'Git-Protocol': 'version=2' } });
      expect(res.status).toBe(200);
      return Buffer.from(await res.arrayBuffer()).toString('latin1');
    };
    for (const hub of [a, b]) expect(await v2(hub)).not.toMatch(/session-id/);
    // Changed by git on another machine (an operator, another node): both nodes answer the new capabilities.
    ok(await git(['config', '--file', path.join(a.repoDir('alice/adv'), 'config'), 'transfer.advertiseSID', 'true'], a.dataDir), 'git config');
    for (const hub of [a, b]) expect(await v2(hub)).toMatch(/session-id=/);
  }, 60_000);
});

describe('a multipart upload hashed by a node that died before committing it, taken over by another node (s3)', () => {
  let s3: S3rverHandle;
  let a: Hubgate;
  let b: Hubgate;
  let token: string;
  const env = () => ({ ...ENV, ...s3.env, HUBGATE_LFS_MULTIPART_THRESHOLD: String(MiB), HUBGATE_LFS_MULTIPART_CHUNK: String(5 * MiB) });

  beforeAll(async () => {
    s3 = await startS3rver();
    a = await startHubgate({ env: env() });
    b = await startHubgate({ env: env(), dataDir: a.dataDir });
    token = await a.userWithToken('alice');
    ok(await a.cli(['repo', 'create', 'alice/parts']), 'repo create');
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await s3?.stop();
  });

  /**
   * Begins a multipart upload of `obj` through node a and leaves it as a node that died after
   * matching the bytes (hashed_at) and before committing them would: assembled at the staging
   * key, the row in 'hashing' with a lapsed claim. Then `staged` replaces the staged bytes.
   */
  async function hashedByADeadNode(obj: LfsObject, staged: Buffer): Promise<{ id: string; verify: { href: string; header?: Record<string, string> } }> {
    const lfs = lfsClient(a, token, 'alice/parts');
    const batch = await lfs.batch('upload', [obj], ['multipart', 'basic']);
    expect(batch.json.transfer).toBe('multipart');
    const actions = batch.json.objects[0].actions;
    const id = /multipart\/([^/]+)\/complete/.exec(actions.upload.href)![1];
    const parts = await lfs.putParts(actions.upload, obj);
    const row = dbRow(a.dataDir, id);
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const Key = `lfs/staging/${id}`;
    await client.send(new CompleteMultipartUploadCommand({ Bucket: s3.bucket, Key, UploadId: row.store_upload_id, MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) } }));
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: staged }));
    client.destroy();
    const db = new SQLite(path.join(a.dataDir, 'hubgate.sqlite'), { timeout: 5000 });
    try {
      db.prepare("update lfs_uploads set state = 'hashing', hashed_at = ?, claim = 'dead', claimed_until = ? where id = ?").run(new Date().toISOString(), new Date(Date.now() - 1000).toISOString(), id);
    } finally {
      db.close();
    }
    return { id, verify: actions.verify };
  }

  function dbRow(dataDir: string, id: string): { state: string; store_upload_id: string } {
    const db = new SQLite(path.join(dataDir, 'hubgate.sqlite'), { readonly: true });
    try {
      return db.prepare('select state, store_upload_id from lfs_uploads where id = ?').get(id) as { state: string; store_upload_id: string };
    } finally {
      db.close();
    }
  }

  const verifyOnB = async (verify: { href: string; header?: Record<string, string> }, obj: LfsObject) => {
    const lfs = lfsClient(b, token, 'alice/parts');
    for (let i = 0; ; i++) {
      const r = await lfs.verify({ ...verify, href: verify.href.replace(a.url, b.url) }, obj);
      if (r.status !== 503 || i >= 20) return r;
      await sleep(1000);
    }
  };

  it('hashes the staged bytes again: bytes changed since the dead node matched them are never committed under the oid', async () => {
    const obj = randomObject(7 * MiB);
    const other = randomObject(7 * MiB).bytes;
    const { id, verify } = await hashedByADeadNode(obj, other);
    const r = await verifyOnB(verify, obj);
    expect(r.status, r.text).not.toBe(200);
    expect(await poll(() => dbRow(a.dataDir, id).state === 'failed', 20_000)).toBe(true);
    expect(s3.keys()).not.toContain(`lfs/objects/${obj.oid.slice(0, 2)}/${obj.oid.slice(2, 4)}/${obj.oid}`);
    expect(await lfsClient(b, token, 'alice/parts').downloadableIntact([obj])).toEqual([]);
  }, 60_000);

  it('and commits and links bytes that still match, whichever node verifies', async () => {
    const obj = randomObject(7 * MiB);
    const { id, verify } = await hashedByADeadNode(obj, obj.bytes);
    const r = await verifyOnB(verify, obj);
    expect(r.status, r.text).toBe(200);
    expect(dbRow(a.dataDir, id).state).toBe('done');
    expect(await lfsClient(a, token, 'alice/parts').downloadableIntact([obj])).toEqual([obj.oid]);
  }, 60_000);
});

describe('the start-up cleanup while another machine\'s process is at work on the shared data directory', () => {
  it('leaves files written before the start alone while another node renews its presence, and removes them once it stopped', async () => {
    let hub = await startHubgate({ env: ENV });
    const dataDir = hub.dataDir;
    await hub.userWithToken('alice');
    ok(await hub.cli(['repo', 'create', 'alice/q']), 'repo create');
    const dead = spawnSync('true').pid!;
    // What a node at work writes: git's quarantine of a push being received (no owner in its
    // name), an API commit's scratch and a repo being created (its pid, meaningless here).
    const entries = [
      path.join(hub.repoDir('alice/q'), 'objects', 'tmp_objdir-incoming-AbC123'),
      path.join(dataDir, 'tmp', `commit-${dead}-XyZ789`),
      path.join(dataDir, 'repos', '.tmp', `repo-${dead}-QwE456`),
    ];
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    for (const dir of entries) {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'f'), 'in use');
      fs.utimesSync(path.join(dir, 'f'), tenMinutesAgo, tenMinutesAgo);
      fs.utimesSync(dir, tenMinutesAgo, tenMinutesAgo);
    }
    const sql = (text: string, ...params: unknown[]) => {
      const db = new SQLite(path.join(dataDir, 'hubgate.sqlite'), { timeout: 5000 });
      try {
        db.prepare(text).run(...params);
      } finally {
        db.close();
      }
    };
    sql('insert into nodes (id, hostname, pid, started_at, seen_at) values (?, ?, ?, ?, ?)', 'other', 'another-node.invalid', 1, new Date().toISOString(), new Date().toISOString());

    await hub.stop();
    hub = await startHubgate({ dataDir, env: ENV });
    expect(await poll(() => hub.log().includes('other hubgate processes are at work'), 10_000)).toBe(true);
    await sleep(1000);
    for (const dir of entries) expect(fs.existsSync(dir), dir).toBe(true);

    // The other node stopped renewing (it died): the next start removes what it left.
    sql('update nodes set seen_at = ? where id = ?', new Date(Date.now() - 5 * 60_000).toISOString(), 'other');
    await hub.stop();
    hub = await startHubgate({ dataDir, env: ENV });
    expect(await poll(() => entries.every((dir) => !fs.existsSync(dir)), 10_000)).toBe(true);
    expect(hub.log()).not.toContain('other hubgate processes are at work');
    await hub.stop();
  }, 60_000);
});
