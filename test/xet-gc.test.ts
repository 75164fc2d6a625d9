// Garbage collection of Xet storage (`hubgate lfs gc`, src/services/xet-gc.ts), with
// @huggingface/hub uploading through Xet, on the fs store and on S3 (s3rver), SQLite and
// PostgreSQL: xorbs no file uses go (bytes, rows, dedup chunks, repo links) once their grace is
// over, a xorb another repo's file uses stays and reads back, a dry run changes nothing, a shard
// naming a removed xorb is told to upload it again, and a collection that died is finished by the
// next upload of its xorb.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { downloadFile, uploadFiles } from '@huggingface/hub';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkHash, fileHash, hashToString, verificationHash } from '../xet/hash.js';
import { writeShard } from '../xet/shard.js';
import { writeXorb } from '../xet/xorb.js';
import { Compression } from '../xet/compression.js';
import { type DatabaseKind, type Hubgate, startHubgate } from './helpers/hubgate.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

const MiB = 1024 ** 2;
const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const blob = (b: Uint8Array) => new Blob([b]);

const SETUPS: [string, 'fs' | 's3', DatabaseKind][] = [['fs store, SQLite', 'fs', 'sqlite'], ['s3 store, SQLite', 's3', 'sqlite'], ['fs store, PostgreSQL', 'fs', 'postgres']];

describe.each(SETUPS)('Xet garbage collection (%s)', (_label, store, db) => {
  let hub: Hubgate;
  let s3: S3rverHandle | undefined;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    s3 = store === 's3' ? await startS3rver() : undefined;
    hub = await startHubgate({ db, env: { ...(s3?.env ?? {}) } });
    alice = await hub.userWithToken('alice');
    bob = await hub.userWithToken('bob');
    for (const repo of ['alice/a', 'alice/b', 'bob/c']) expect((await hub.cli(['repo', 'create', repo])).code).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  /** Rows of the hub's database for `text` (`?` placeholders). */
  async function query(text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    if (db === 'sqlite') {
      const d = new Database(path.join(hub.dataDir, 'hubgate.sqlite'));
      try {
        const stmt = d.prepare(text);
        return stmt.reader ? (stmt.all(...params) as Record<string, unknown>[]) : (stmt.run(...params), []);
      } finally {
        d.close();
      }
    }
    const client = new pg.Client({ connectionString: hub.databaseUrl });
    await client.connect();
    try {
      let n = 0;
      return (await client.query(text.replace(/\?/g, () => `$${++n}`), params)).rows;
    } finally {
      await client.end();
    }
  }
  const count = async (text: string, params: unknown[]) => Number((await query(`SELECT count(*) AS n FROM ${text}`, params))[0].n);
  /** Whether the store holds a xorb's bytes. */
  const storedXorb = (hash: string): boolean => (s3 ? s3.keys().includes(`lfs/xet/xorbs/${hash}`) : fs.existsSync(path.join(hub.dataDir, 'lfs', 'xet', 'xorbs', hash.slice(0, 2), hash)));
  /** Whether the database has the xorb, and how many dedup chunks and repo links name it. */
  const xorbRows = async (hash: string) => ({
    xorb: await count('xet_xorbs WHERE hash = ?', [hash]),
    dedup: await count('xet_dedup_chunks WHERE xorb_hash = ?', [hash]),
    repos: await count('xet_repo_xorbs WHERE xorb_hash = ?', [hash]),
  });
  const gc = async (...args: string[]) => {
    const r = await hub.cli(['lfs', 'gc', '--no-scan', ...args]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const xetLine = (out: string) => /(?:would remove|removed) (\d+) Xet xorbs \(([^)]*)\).* and (\d+) Xet files/.exec(out);

  const client = (token: string, repo: string) => ({ repo, hubUrl: hub.url, accessToken: token });
  /** The xorbs a repo's file is reconstructed from (its v2 reconstruction). */
  async function xorbsOf(token: string, repo: string, file: string): Promise<string[]> {
    const t = (await (await fetch(`${hub.url}/api/models/${repo}/xet-read-token/main`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { accessToken: string; casUrl: string };
    const xetHash = (await fetch(`${hub.url}/${repo}/resolve/main/${file}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/vnd.xet-fileinfo+json' } })).headers.get('x-xet-hash');
    expect(xetHash, `${repo}/${file} was uploaded through Xet`).toMatch(/^[0-9a-f]{64}$/);
    const r = await fetch(`${t.casUrl}/v2/reconstructions/${xetHash}`, { headers: { Authorization: `Bearer ${t.accessToken}` } });
    expect(r.status).toBe(200);
    return Object.keys(((await r.json()) as { xorbs: Record<string, unknown> }).xorbs);
  }
  const readBack = async (token: string, repo: string, file: string) => Buffer.from(await (await downloadFile({ ...client(token, repo), path: file }))!.arrayBuffer());

  it('removes the xorbs of a deleted repo after the grace period (bytes, rows, dedup chunks, repo links); a xorb another repo uses stays; a dry run changes nothing', async () => {
    const own = crypto.randomBytes(2 * MiB);
    const shared = crypto.randomBytes(2 * MiB);
    // Separate uploads: one upload packs all its files' new chunks into the same xorbs.
    await uploadFiles({ ...client(alice, 'alice/a'), files: [{ path: 'own.bin', content: blob(own) }] });
    await uploadFiles({ ...client(alice, 'alice/a'), files: [{ path: 'shared.bin', content: blob(shared) }] });
    await uploadFiles({ ...client(bob, 'bob/c'), files: [{ path: 'shared.bin', content: blob(shared) }] });
    const ownXorbs = await xorbsOf(alice, 'alice/a', 'own.bin');
    const sharedXorbs = await xorbsOf(bob, 'bob/c', 'shared.bin');
    expect(ownXorbs.length).toBeGreaterThan(0);
    expect(sharedXorbs.filter((x) => ownXorbs.includes(x))).toEqual([]);
    for (const x of [...ownXorbs, ...sharedXorbs]) expect(storedXorb(x), x).toBe(true);
    const ownBytes = Number((await query(`SELECT sum(stored_size) AS n FROM xet_xorbs WHERE hash IN (${ownXorbs.map(() => '?').join(',')})`, ownXorbs))[0].n);

    // Everything is used: nothing goes, whatever the grace.
    expect(xetLine(await gc('--grace', '0'))?.slice(1)).toEqual(['0', '0 bytes', '0']);
    for (const x of [...ownXorbs, ...sharedXorbs]) expect(storedXorb(x)).toBe(true);

    expect((await hub.cli(['repo', 'delete', 'alice/a'])).code).toBe(0);
    const before = await Promise.all(ownXorbs.map(xorbRows));
    expect(before.every((r) => r.xorb === 1 && r.dedup > 0)).toBe(true);
    // A dry run reports the xorbs (and their bytes) and the file of the deleted repo, and removes nothing.
    const dry = xetLine(await gc('--dry-run', '--grace', '0'));
    expect(dry && [Number(dry[1]), Number(dry[3])]).toEqual([ownXorbs.length, 1]);
    expect(await count('xet_files WHERE file_hash NOT IN (SELECT file_hash FROM xet_repo_files)', [])).toBe(1);
    expect(await Promise.all(ownXorbs.map(xorbRows))).toEqual(before);
    for (const x of ownXorbs) expect(storedXorb(x)).toBe(true);
    // Within the grace period (the default, 24 h, from their upload) they stay, and so does the deleted
    // repo's file: its object (uploaded through Xet, no bytes in the store) still reads from it until
    // LFS garbage collection removes the object after the same grace period.
    const young = xetLine(await gc());
    expect(young && [Number(young[1]), Number(young[3])]).toEqual([0, 0]);
    for (const x of ownXorbs) expect(storedXorb(x)).toBe(true);
    expect(await count('xet_files WHERE file_hash NOT IN (SELECT file_hash FROM xet_repo_files)', [])).toBe(1);

    const out = await gc('--grace', '0');
    const done = xetLine(out);
    expect(done && [Number(done[1]), Number(done[3])]).toEqual([ownXorbs.length, 1]);
    expect(await count('xet_files WHERE file_hash NOT IN (SELECT file_hash FROM xet_repo_files)', [])).toBe(0);
    expect(out).toContain(`removed ${ownXorbs.length} Xet xorbs`);
    expect(ownBytes).toBeGreaterThan(own.length / 2);
    for (const x of ownXorbs) {
      expect(storedXorb(x), x).toBe(false);
      expect(await xorbRows(x)).toEqual({ xorb: 0, dedup: 0, repos: 0 });
    }
    // The xorb bob's file uses stays, and the file reads back through Xet.
    for (const x of sharedXorbs) expect(storedXorb(x)).toBe(true);
    expect(sha256(await readBack(bob, 'bob/c', 'shared.bin'))).toBe(sha256(shared));
    const audit = await query("SELECT details FROM audit_log WHERE action = 'lfs.gc' ORDER BY id DESC LIMIT 1");
    expect(JSON.parse(String(audit[0].details))).toMatchObject({ xet_xorbs: ownXorbs.length, xet_files: 1, xet_bytes: ownBytes });

    // Uploaded again, the same bytes are sent and stored anew (nothing answers dedup from the removed xorbs) and read back.
    await uploadFiles({ ...client(alice, 'alice/b'), files: [{ path: 'own.bin', content: blob(own) }] });
    const again = await xorbsOf(alice, 'alice/b', 'own.bin');
    for (const x of again) expect(storedXorb(x)).toBe(true);
    expect(sha256(await readBack(alice, 'alice/b', 'own.bin'))).toBe(sha256(own));
  }, 300_000);

  it('a xorb uploaded without its shard goes after the grace period; the shard is then told to upload it again; a lapsed collection is finished by the next upload', async () => {
    const token = (await (await fetch(`${hub.url}/api/models/alice/b/xet-write-token/main`, { headers: { Authorization: `Bearer ${alice}` } })).json()) as { accessToken: string; casUrl: string };
    const post = (p: string, body: Uint8Array) => fetch(`${token.casUrl}${p}`, { method: 'POST', body, headers: { Authorization: `Bearer ${token.accessToken}` } });
    const data = [crypto.randomBytes(20_000), crypto.randomBytes(30_000)].map((b) => new Uint8Array(b));
    const xorb = writeXorb(data, { scheme: Compression.LZ4 });
    const hash = hashToString(xorb.hash);
    const content = Buffer.concat(data);
    const refs = data.map((d) => ({ hash: chunkHash(d), size: d.length }));
    const shard = writeShard({ files: [{ hash: fileHash(refs), terms: [{ xorb: xorb.hash, flags: 0, size: content.length, start: 0, end: 2 }], verification: [verificationHash(refs.map((r) => r.hash))], sha256: sha256(content) }] });

    expect((await post(`/v1/xorbs/default/${hash}`, xorb.bytes)).status).toBe(200);
    expect(storedXorb(hash)).toBe(true);
    await gc();
    expect(storedXorb(hash)).toBe(true);
    await gc('--grace', '0');
    expect(storedXorb(hash)).toBe(false);
    expect((await xorbRows(hash)).xorb).toBe(0);
    const refused = await post('/v1/shards', shard);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toContain('upload every xorb before the shard');

    // A collection that claimed the xorb and died (its claim lapsed): the next upload finishes it and stores the xorb anew.
    expect((await post(`/v1/xorbs/default/${hash}`, xorb.bytes)).status).toBe(200);
    await query('UPDATE xet_xorbs SET deleting = ?, deleting_until = ? WHERE hash = ?', ['dead', new Date(Date.now() - 1000).toISOString(), hash]);
    // While claimed, the xorb is not there for a shard.
    expect((await post('/v1/shards', shard)).status).toBe(400);
    expect((await post(`/v1/xorbs/default/${hash}`, xorb.bytes)).status).toBe(200);
    expect(await query('SELECT deleting FROM xet_xorbs WHERE hash = ?', [hash])).toEqual([{ deleting: null }]);
    expect(storedXorb(hash)).toBe(true);
    const ok = await post('/v1/shards', shard);
    expect(ok.status, await ok.clone().text()).toBe(200);
    // Now a file uses it: no grace protects it, and still it stays.
    await gc('--grace', '0');
    expect(storedXorb(hash)).toBe(true);
  }, 120_000);

  it('shard uploads racing collections: a registered file never uses a xorb whose bytes are gone; a refused shard says to upload again', async () => {
    const token = (await (await fetch(`${hub.url}/api/models/alice/b/xet-write-token/main`, { headers: { Authorization: `Bearer ${alice}` } })).json()) as { accessToken: string; casUrl: string };
    const post = (p: string, body: Uint8Array) => fetch(`${token.casUrl}${p}`, { method: 'POST', body, headers: { Authorization: `Bearer ${token.accessToken}` } });
    const outcomes: number[] = [];
    for (let round = 0; round < 6; round++) {
      const pairs = Array.from({ length: 4 }, () => {
        const data = [new Uint8Array(crypto.randomBytes(40_000))];
        const xorb = writeXorb(data);
        const refs = data.map((d) => ({ hash: chunkHash(d), size: d.length }));
        const shard = writeShard({ files: [{ hash: fileHash(refs), terms: [{ xorb: xorb.hash, flags: 0, size: data[0].length, start: 0, end: 1 }], verification: [verificationHash(refs.map((r) => r.hash))], sha256: sha256(data[0]) }] });
        return { xorb, shard };
      });
      for (const p of pairs) expect((await post(`/v1/xorbs/default/${hashToString(p.xorb.hash)}`, p.xorb.bytes)).status).toBe(200);
      // A grace of 1.5 s, not 0: what a shard upload stages meanwhile (its LFS copy) is younger than that and stays.
      await new Promise((r) => setTimeout(r, 1600));
      const collection = gc('--grace', '1500ms');
      const answers = await Promise.all([
        // Spread over the collection's run (its process starts in about half a second): some before its claim, some after;
        // the last one once it is over.
        ...pairs.map(async (p, i) => {
          if (i === pairs.length - 1) await collection;
          else await new Promise((r) => setTimeout(r, 350 * i + 70 * round));
          const r = await post('/v1/shards', p.shard);
          if (r.status !== 200) expect(((await r.json()) as { error: string }).error).toContain('upload');
          return r.status;
        }),
        collection,
      ]).then((all) => all.slice(0, pairs.length) as number[]);
      outcomes.push(...answers);
      answers.forEach((status, i) => {
        const h = hashToString(pairs[i].xorb.hash);
        if (status === 200) expect(storedXorb(h), `round ${round}: xorb of a registered file`).toBe(true);
        else expect(status).toBe(400);
      });
      // Every xorb a file uses has its row, unclaimed, and its bytes.
      const used = await query('SELECT DISTINCT t.xorb_hash AS h, x.deleting AS d FROM xet_file_terms t LEFT JOIN xet_xorbs x ON x.hash = t.xorb_hash');
      for (const u of used) {
        expect(u.d, String(u.h)).toBeNull();
        expect(storedXorb(String(u.h)), String(u.h)).toBe(true);
      }
    }
    expect(outcomes).toContain(200);
    expect(outcomes).toContain(400);
  }, 240_000);
});
