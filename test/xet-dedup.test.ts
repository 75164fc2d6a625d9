// Xet dedup answers (docs/xet.md, `GET /v1/chunks/...`): the matched xorb comes with the other
// xorbs of the files using it, as the Hub's answer (the shard that registered the chunk) does, so
// a client dedups a whole file of several xorbs from one query; but only xorbs the token's repo
// holds are listed.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkHash, fileHash, hashToString, verificationHash } from '../xet/hash.js';
import { parseShard, writeShard } from '../xet/shard.js';
import { writeXorb } from '../xet/xorb.js';
import { DATABASES, type Hubgate, startHubgate } from './helpers/hubgate.js';

const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

describe.each(DATABASES)('Xet dedup answers list the sibling xorbs the repo holds, on %s', (db) => {
  let hub: Hubgate;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    hub = await startHubgate({ db });
    alice = await hub.userWithToken('alice');
    bob = await hub.userWithToken('bob');
    for (const repo of ['alice/m', 'bob/m']) expect((await hub.cli(['repo', 'create', repo])).code).toBe(0);
  }, 60_000);
  afterAll(() => hub?.stop());

  const token = async (user: string, repo: string, op: 'read' | 'write') =>
    (await (await fetch(`${hub.url}/api/models/${repo}/xet-${op}-token/main`, { headers: { Authorization: `Bearer ${user}` } })).json()) as { accessToken: string; casUrl: string };
  const xorbOf = () => {
    const data = [new Uint8Array(crypto.randomBytes(30_000)), new Uint8Array(crypto.randomBytes(20_000))];
    return { data, xorb: writeXorb(data) };
  };
  /** Uploads the xorbs and a shard registering one file made of all their chunks, for the user's repo. */
  async function register(user: string, repo: string, parts: ReturnType<typeof xorbOf>[]): Promise<void> {
    const t = await token(user, repo, 'write');
    const post = (p: string, body: Uint8Array) => fetch(`${t.casUrl}${p}`, { method: 'POST', body, headers: { Authorization: `Bearer ${t.accessToken}` } });
    for (const p of parts) expect((await post(`/v1/xorbs/default/${hashToString(p.xorb.hash)}`, p.xorb.bytes)).status).toBe(200);
    const refs = parts.flatMap((p) => p.data.map((d) => ({ hash: chunkHash(d), size: d.length })));
    const content = Buffer.concat(parts.flatMap((p) => p.data));
    const terms = parts.map((p) => ({ xorb: p.xorb.hash, flags: 0, size: p.data.reduce((n, d) => n + d.length, 0), start: 0, end: p.data.length }));
    const verification = parts.map((p) => verificationHash(p.data.map((d) => chunkHash(d))));
    const r = await post('/v1/shards', writeShard({ files: [{ hash: fileHash(refs), terms, verification, sha256: sha256(content) }] }));
    expect(r.status, await r.clone().text()).toBe(200);
  }
  async function listed(user: string, repo: string, chunk: Uint8Array): Promise<string[] | null> {
    const t = await token(user, repo, 'read');
    const r = await fetch(`${t.casUrl}/v1/chunks/default-merkledb/${hashToString(chunkHash(chunk))}`, { headers: { Authorization: `Bearer ${t.accessToken}` } });
    if (r.status === 404) return null;
    expect(r.status).toBe(200);
    return parseShard(new Uint8Array(await r.arrayBuffer())).xorbs.map((x) => hashToString(x.hash)).sort();
  }

  it('a query about a file\'s first chunk lists every xorb of that file the repo holds, and no xorb only another repo holds', async () => {
    const [a, b, c] = [xorbOf(), xorbOf(), xorbOf()];
    const h = (p: ReturnType<typeof xorbOf>) => hashToString(p.xorb.hash);
    await register(alice, 'alice/m', [a, b]);
    // bob's file starts with the same xorb (uploaded again: he proves he holds it) and goes on in his own.
    await register(bob, 'bob/m', [a, c]);
    expect(await listed(alice, 'alice/m', a.data[0])).toEqual([h(a), h(b)].sort());
    expect(await listed(bob, 'bob/m', a.data[0])).toEqual([h(a), h(c)].sort());
    // A repo that holds none of them gets nothing.
    expect((await hub.cli(['repo', 'create', 'alice/empty'])).code).toBe(0);
    expect(await listed(alice, 'alice/empty', a.data[0])).toBeNull();
  });
});
