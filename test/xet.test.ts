// Xet storage (docs/xet.md) against a real hubgate, with @huggingface/hub as the client (Xet is
// its default): uploads through the CAS that commit as LFS pointers, downloads through
// reconstructions, byte for byte, and the same files read by git-lfs; dedup of a re-upload with a
// small change, measured by the server's own counters; two owners storing one file while an
// outsider sees neither; gating at token time; corrupt xorbs and shards refused with nothing indexed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { downloadFile, uploadFiles } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkHash, fileHash, hashToString, verificationHash } from '../xet/hash.js';
import { parseShard, writeShard } from '../xet/shard.js';
import { writeXorb } from '../xet/xorb.js';
import { Compression } from '../xet/compression.js';
import { DATABASES, type Hubgate, requestsLogged, startHubgate, tempDir } from './helpers/hubgate.js';

const MiB = 1024 ** 2;
const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const blob = (b: Uint8Array | string) => new Blob([typeof b === 'string' ? Buffer.from(b) : b]);

/** A counter's value in /metrics. */
async function counter(hub: Hubgate, name: string): Promise<number> {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"=,]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe.each(DATABASES)('Xet storage, on %s', (db) => {
  let hub: Hubgate;
  let alice: string;
  let bob: string;
  let carol: string;
  const big = crypto.randomBytes(40 * MiB);

  beforeAll(async () => {
    hub = await startHubgate({ db, env: { HUBGATE_WORKERS: '1' } });
    alice = await hub.userWithToken('alice');
    bob = await hub.userWithToken('bob');
    carol = await hub.userWithToken('carol');
    for (const repo of ['alice/m', 'bob/m', 'alice/gated']) expect((await hub.cli(['repo', 'create', repo])).code).toBe(0);
    expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
  }, 60_000);
  afterAll(() => hub?.stop());

  const as = (token: string, repo: string) => ({ repo, hubUrl: hub.url, accessToken: token });
  const readBack = async (token: string, repo: string, file: string) => {
    const b = await downloadFile({ ...as(token, repo), path: file });
    return b ? Buffer.from(await b.arrayBuffer()) : null;
  };

  it('uploadFiles goes through the CAS and commits LFS pointers; downloadFile reconstructs the bytes; git-lfs reads them too', async () => {
    const before = (await requestsLogged(hub)).length;
    await uploadFiles({ ...as(alice, 'alice/m'), files: [{ path: 'model.safetensors', content: blob(big) }, { path: 'small.bin', content: blob(crypto.randomBytes(300_000)) }, { path: 'README.md', content: blob('# m\n') }] });
    const requests = (await requestsLogged(hub)).slice(before);
    const paths = requests.map((r) => `${r.method} ${r.path.split('?')[0]}`);
    expect(paths.filter((p) => p.startsWith('POST /cas/v1/xorbs/default/')).length).toBeGreaterThan(0);
    expect(paths).toContain('POST /cas/v1/shards');
    // No LFS transfer: the bytes went to the CAS only.
    expect(paths.filter((p) => p.startsWith('PUT ')).length).toBe(0);
    expect(requests.filter((r) => r.path.startsWith('/cas/')).every((r) => r.status === 200 || r.status === 404)).toBe(true);

    const info = await fetch(`${hub.url}/alice/m/resolve/main/model.safetensors`, { headers: { Authorization: `Bearer ${alice}`, Accept: 'application/vnd.xet-fileinfo+json, */*', Range: 'bytes=0-0' } });
    expect(info.status).toBe(200);
    expect(info.headers.get('x-linked-etag')).toBe(`"${sha256(big)}"`);
    expect(info.headers.get('x-xet-hash')).toMatch(/^[0-9a-f]{64}$/);
    expect(info.headers.get('link')).toContain('rel="xet-reconstruction-info"');

    const mark = (await requestsLogged(hub)).length;
    const fetched = await counter(hub, 'hubgate_http_requests_total{route="xet-fetch",method="GET",status="206"}');
    const back = await readBack(alice, 'alice/m', 'model.safetensors');
    expect(back?.length).toBe(big.length);
    expect(back && sha256(back)).toBe(sha256(big));
    const reads = (await requestsLogged(hub)).slice(mark).map((r) => r.path);
    expect(reads.some((p) => p.startsWith('/cas/v2/reconstructions/'))).toBe(true);
    // The xorb bytes came from hubgate's signed range URLs (fs store).
    expect(await counter(hub, 'hubgate_http_requests_total{route="xet-fetch",method="GET",status="206"}')).toBeGreaterThan(fetched);

    // A ranged read through the reconstruction.
    const whole = await downloadFile({ ...as(alice, 'alice/m'), path: 'model.safetensors' });
    const slice = Buffer.from(await whole!.slice(10 * MiB + 7, 10 * MiB + 100_007).arrayBuffer());
    expect(sha256(slice)).toBe(sha256(big.subarray(10 * MiB + 7, 10 * MiB + 100_007)));

    // git clone with git-lfs gets the same bytes.
    const dir = tempDir('hubgate-xet-clone-');
    const cloned = await hub.git(['clone', '-q', hub.remote('alice/m', alice), '.'], { cwd: dir });
    expect(cloned.code, cloned.stderr).toBe(0);
    expect(sha256(fs.readFileSync(path.join(dir, 'model.safetensors')))).toBe(sha256(big));
  }, 300_000);

  it('a re-upload with 1 % of the bytes changed sends and stores under 10 % of the file', async () => {
    const changed = Buffer.from(big);
    crypto.randomBytes(changed.length / 100).copy(changed, 20 * MiB);
    const received = await counter(hub, 'hubgate_xet_xorb_bytes_received_total');
    const stored = await counter(hub, 'hubgate_xet_xorb_bytes_stored_total');
    await uploadFiles({ ...as(alice, 'alice/m'), files: [{ path: 'model.safetensors', content: blob(changed) }] });
    const sent = (await counter(hub, 'hubgate_xet_xorb_bytes_received_total')) - received;
    const kept = (await counter(hub, 'hubgate_xet_xorb_bytes_stored_total')) - stored;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(big.length / 10);
    expect(kept).toBeLessThan(big.length / 10);
    const back = await readBack(alice, 'alice/m', 'model.safetensors');
    expect(back && sha256(back)).toBe(sha256(changed));
  }, 300_000);

  it('the same file in two owners\' repos is stored once; an outsider reads neither (404)', async () => {
    const file = crypto.randomBytes(3 * MiB);
    await uploadFiles({ ...as(alice, 'alice/m'), files: [{ path: 'shared.bin', content: blob(file) }] });
    const stored = await counter(hub, 'hubgate_xet_xorb_bytes_stored_total');
    await uploadFiles({ ...as(bob, 'bob/m'), files: [{ path: 'shared.bin', content: blob(file) }] });
    expect((await counter(hub, 'hubgate_xet_xorb_bytes_stored_total')) - stored).toBe(0);
    expect(sha256((await readBack(bob, 'bob/m', 'shared.bin'))!)).toBe(sha256(file));
    // Private repos: the outsider gets 404 for the files and for read tokens.
    for (const repo of ['alice/m', 'bob/m']) {
      expect((await hub.cli(['repo', 'set', repo, '--private'])).code).toBe(0);
      expect((await fetch(`${hub.url}/api/models/${repo}/xet-read-token/main`, { headers: { Authorization: `Bearer ${carol}` } })).status).toBe(404);
      expect((await fetch(`${hub.url}/${repo}/resolve/main/shared.bin`, { headers: { Authorization: `Bearer ${carol}` } })).status).toBe(404);
    }
    // A token for bob's repo reconstructs nothing of alice's repo.
    const token = (await (await fetch(`${hub.url}/api/models/bob/m/xet-read-token/main`, { headers: { Authorization: `Bearer ${bob}` } })).json()) as { accessToken: string; casUrl: string };
    const aliceHash = (await fetch(`${hub.url}/alice/m/resolve/main/model.safetensors`, { headers: { Authorization: `Bearer ${alice}`, Accept: 'application/vnd.xet-fileinfo+json' } })).headers.get('x-xet-hash');
    expect((await fetch(`${token.casUrl}/v2/reconstructions/${aliceHash}`, { headers: { Authorization: `Bearer ${token.accessToken}`, Range: 'bytes=0-99' } })).status).toBe(404);
    for (const repo of ['alice/m', 'bob/m']) expect((await hub.cli(['repo', 'set', repo, '--public'])).code).toBe(0);
  }, 300_000);

  it('gated repo: no read token before access is granted, a short-lived one after', async () => {
    expect((await hub.cli(['repo', 'gate', 'alice/gated', 'manual'])).code).toBe(0);
    const ask = () => fetch(`${hub.url}/api/models/alice/gated/xet-read-token/main`, { headers: { Authorization: `Bearer ${bob}` } });
    expect((await ask()).status).toBe(403);
    const grant = await fetch(`${hub.url}/api/models/alice/gated/user-access-request/grant`, {
      method: 'POST', headers: { Authorization: `Bearer ${alice}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'bob' }),
    });
    expect(grant.status).toBe(200);
    const ok = await ask();
    expect(ok.status).toBe(200);
    const token = (await ok.json()) as { accessToken: string; exp: number; casUrl: string };
    expect(token.casUrl).toBe(`${hub.url}/cas`);
    expect(ok.headers.get('x-xet-access-token')).toBe(token.accessToken);
    expect(ok.headers.get('x-xet-cas-url')).toBe(token.casUrl);
    expect(Number(ok.headers.get('x-xet-token-expiration'))).toBe(token.exp);
    const left = token.exp - Date.now() / 1000;
    expect(left).toBeGreaterThan(120);
    expect(left).toBeLessThanOrEqual(600);
    // A read token uploads nothing; bob cannot get a write token.
    expect((await fetch(`${token.casUrl}/v1/shards`, { method: 'POST', body: 'x', headers: { Authorization: `Bearer ${token.accessToken}` } })).status).toBe(401);
    expect((await fetch(`${hub.url}/api/models/alice/gated/xet-write-token/main`, { headers: { Authorization: `Bearer ${bob}` } })).status).toBe(403);
  });

  it('corrupt xorbs and shards using missing xorbs are refused with 400, nothing stored or indexed; a good pair registers the file', async () => {
    const token = (await (await fetch(`${hub.url}/api/models/alice/m/xet-write-token/main`, { headers: { Authorization: `Bearer ${alice}` } })).json()) as { accessToken: string; casUrl: string };
    const post = (p: string, body: Uint8Array) => fetch(`${token.casUrl}${p}`, { method: 'POST', body, headers: { Authorization: `Bearer ${token.accessToken}` } });
    const data = [crypto.randomBytes(20_000), Buffer.alloc(30_000, 7)].map((b) => new Uint8Array(b));
    const xorb = writeXorb(data, { scheme: Compression.LZ4 });
    const hash = hashToString(xorb.hash);
    const flipped = new Uint8Array(xorb.bytes);
    flipped[100] ^= 1;
    // A chunk header announcing LZ4 with bytes that are no LZ4 frame.
    const badLz4 = new Uint8Array(8 + 64);
    badLz4.set([0, 64, 0, 0, Compression.LZ4, 0xe8, 0x03, 0]);
    badLz4.set(crypto.randomBytes(64), 8);
    const other = writeXorb([new Uint8Array(crypto.randomBytes(1000))]);
    const stored = await counter(hub, 'hubgate_xet_xorb_bytes_stored_total');
    const cases: [string, Uint8Array, string][] = [
      ['flipped byte', flipped, hash],
      ['wrong hash', xorb.bytes, hashToString(other.hash)],
      ['truncated', xorb.bytes.subarray(0, xorb.bytes.length - 10), hash],
      ['bad compression', badLz4, hash],
    ];
    for (const [what, body, h] of cases) {
      const r = await post(`/v1/xorbs/default/${h}`, body);
      expect(r.status, what).toBe(400);
      expect(((await r.json()) as { error: string }).error.length, what).toBeGreaterThan(10);
    }
    expect(await counter(hub, 'hubgate_xet_xorb_bytes_stored_total')).toBe(stored);

    const content = Buffer.concat(data);
    const refs = data.map((d) => ({ hash: chunkHash(d), size: d.length }));
    const file = {
      hash: fileHash(refs), terms: [{ xorb: xorb.hash, flags: 0, size: content.length, start: 0, end: 2 }],
      verification: [verificationHash(refs.map((r) => r.hash))], sha256: sha256(content),
    };
    const missing = await post('/v1/shards', writeShard({ files: [file] }));
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toContain('upload every xorb before the shard');

    expect((await post(`/v1/xorbs/default/${hash}`, xorb.bytes)).status).toBe(200);
    // A shard whose sha256 is not the bytes' is refused, and nothing is linked under it.
    const lie = crypto.randomBytes(32).toString('hex');
    const lying = await post('/v1/shards', writeShard({ files: [{ ...file, sha256: lie }] }));
    expect(lying.status).toBe(400);
    const lfsBatch = (oid: string) => fetch(`${hub.url}/alice/m.git/info/lfs/objects/batch`, {
      method: 'POST', headers: { Authorization: `Bearer ${alice}`, 'Content-Type': 'application/vnd.git-lfs+json' },
      body: JSON.stringify({ operation: 'download', objects: [{ oid, size: content.length }] }),
    }).then((r) => r.json() as Promise<{ objects: { actions?: { download?: { href: string } }; error?: unknown }[] }>);
    expect((await lfsBatch(lie)).objects[0].actions).toBeUndefined();
    const good = await post('/v1/shards', writeShard({ files: [file] }));
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({ result: 1 });
    // Linked to the repo as the LFS object of its sha256: git-lfs downloads the same bytes.
    const href = (await lfsBatch(sha256(content))).objects[0].actions?.download?.href;
    expect(href).toBeDefined();
    expect(sha256(Buffer.from(await (await fetch(href!)).arrayBuffer()))).toBe(sha256(content));
  });

  it('fetch URLs open only their signed range; dedup answers only from the token repo\'s xorbs; v1 reconstructions', async () => {
    const tokenFor = async (user: string, repo: string) =>
      (await (await fetch(`${hub.url}/api/models/${repo}/xet-read-token/main`, { headers: { Authorization: `Bearer ${user}` } })).json()) as { accessToken: string; casUrl: string };
    const data = crypto.randomBytes(200_000);
    const mark = (await requestsLogged(hub)).length;
    await uploadFiles({ ...as(alice, 'alice/m'), files: [{ path: 'ranges.bin', content: blob(data) }] });
    // The client asked about the file's first chunk (no match then); the server has indexed it since.
    const firstChunk = (await requestsLogged(hub)).slice(mark).find((r) => r.path.startsWith('/cas/v1/chunks/default/'))!.path.split('/').pop()!;
    const hash = (await fetch(`${hub.url}/alice/m/resolve/main/ranges.bin`, { headers: { Authorization: `Bearer ${alice}`, Accept: 'application/vnd.xet-fileinfo+json' } })).headers.get('x-xet-hash')!;
    const t = await tokenFor(alice, 'alice/m');
    const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers: { Authorization: `Bearer ${t.accessToken}`, ...headers } });
    const v2 = (await (await get(`${t.casUrl}/v2/reconstructions/${hash}`, { Range: 'bytes=0-999' })).json()) as {
      offset_into_first_range: number; terms: { hash: string }[]; xorbs: Record<string, { url: string; ranges: { bytes: { start: number; end: number } }[] }[]>;
    };
    expect(v2.offset_into_first_range).toBe(0);
    const [xorb, [entry]] = Object.entries(v2.xorbs)[0];
    const { start, end } = entry.ranges[0].bytes;
    expect((await fetch(entry.url, { headers: { Range: `bytes=${start}-${end}` } })).status).toBe(206);
    expect((await fetch(entry.url, { headers: { Range: `bytes=${start}-${end + 1}` } })).status).toBe(416);
    expect((await fetch(entry.url.replace(/t=[^&]+/, (m) => `${m.slice(0, -2)}xx`))).status).toBe(403);
    expect((await fetch(entry.url.replace(xorb, '0'.repeat(64)))).status).toBe(403);
    expect((await get(`${t.casUrl}/v2/reconstructions/${hash}`, { Range: `bytes=${data.length}-` })).status).toBe(416);
    const v1 = (await (await get(`${t.casUrl}/v1/reconstructions/${hash}`)).json()) as { terms: unknown[]; fetch_info: Record<string, { url_range: { start: number; end: number } }[]> };
    expect(v1.terms.length).toBeGreaterThan(0);
    expect(Object.keys(v1.fetch_info)).toContain(xorb);

    // The file's first chunk answers alice's token (a shard with its xorb, chunk hashes keyed), not bob's: his repo never held it.
    const answer = await get(`${t.casUrl}/v1/chunks/default-merkledb/${firstChunk}`);
    expect(answer.status).toBe(200);
    const listed = parseShard(new Uint8Array(await answer.arrayBuffer()));
    expect(listed.files).toEqual([]);
    expect(listed.xorbs.map((x) => hashToString(x.hash))).toContain(xorb);
    expect(listed.xorbs.flatMap((x) => x.chunks.map((c) => hashToString(c.hash)))).not.toContain(firstChunk);
    const bobToken = await tokenFor(bob, 'bob/m');
    expect((await fetch(`${t.casUrl}/v1/chunks/default/${firstChunk}`, { headers: { Authorization: `Bearer ${bobToken.accessToken}` } })).status).toBe(404);
    expect((await get(`${t.casUrl}/v1/chunks/default/${'ab'.repeat(32)}`)).status).toBe(404);
    expect((await fetch(`${t.casUrl}/v1/chunks/default/${'ab'.repeat(32)}`)).status).toBe(401);
  });

  it('a file uploaded through Xet has no LFS copy: the LFS batch, resolve (whole, Range, HEAD) and git-lfs stream it from the xorbs; access is asked at each download; LFS GC after the repo is deleted drops its registrations', async () => {
    expect((await hub.cli(['repo', 'create', 'alice/solo'])).code).toBe(0);
    const data = crypto.randomBytes(9 * MiB + 12_345);
    const oid = sha256(data);
    // c.bin is in bob's repo too: it must outlive alice/solo.
    const common = crypto.randomBytes(2 * MiB + 99);
    await uploadFiles({ ...as(alice, 'alice/solo'), files: [{ path: 'w.bin', content: blob(data) }, { path: 'c.bin', content: blob(common) }] });
    await uploadFiles({ ...as(bob, 'bob/m'), files: [{ path: 'c.bin', content: blob(common) }] });
    // The fs store holds no object file for the oid, anywhere under lfs/objects.
    const stored: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) e.isDirectory() ? walk(path.join(dir, e.name)) : stored.push(e.name);
    };
    walk(path.join(hub.dataDir, 'lfs', 'objects'));
    expect(stored).not.toContain(oid);
    expect(fs.readdirSync(path.join(hub.dataDir, 'lfs', 'xet', 'xorbs')).length).toBeGreaterThan(0);

    // The LFS batch hands out hubgate's own signed URL, which streams the reconstruction.
    const batch = async (token?: string) => (await (await fetch(`${hub.url}/alice/solo.git/info/lfs/objects/batch`, {
      method: 'POST', headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Content-Type': 'application/vnd.git-lfs+json' },
      body: JSON.stringify({ operation: 'download', objects: [{ oid, size: data.length }] }),
    })).json() as { objects: { actions?: { download?: { href: string } } }[] }).objects[0].actions?.download?.href;
    const href = (await batch(alice))!;
    expect(href.startsWith(`${hub.url}/alice/solo.git/info/lfs/xet-objects/${oid}?token=`)).toBe(true);
    const whole = await fetch(href);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe(String(data.length));
    expect(whole.headers.get('etag')).toBe(`"${oid}"`);
    expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(oid);
    for (const [range, start, end] of [['bytes=5000000-5100000', 5_000_000, 5_100_000], ['bytes=-1000', data.length - 1000, data.length - 1], ['bytes=0-0', 0, 0], [`bytes=${data.length - 10}-`, data.length - 10, data.length - 1]] as const) {
      const r = await fetch(href, { headers: { Range: range } });
      expect(r.status, range).toBe(206);
      expect(r.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/${data.length}`);
      expect(sha256(Buffer.from(await r.arrayBuffer())), range).toBe(sha256(data.subarray(start, end + 1)));
    }
    expect((await fetch(href, { headers: { Range: `bytes=${data.length}-` } })).status).toBe(416);
    const head = await fetch(href, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(data.length));
    expect((await fetch(href.replace(/token=.{8}/, 'token=xxxxxxxx'))).status).toBe(401);

    // resolve for a client without Xet: 302 to that URL (with the usual headers); following it gives the bytes, a Range too.
    const resolveUrl = `${hub.url}/alice/solo/resolve/main/w.bin`;
    const redirect = await fetch(resolveUrl, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toContain(`/alice/solo.git/info/lfs/xet-objects/${oid}?token=`);
    expect(redirect.headers.get('x-linked-size')).toBe(String(data.length));
    expect(redirect.headers.get('x-linked-etag')).toBe(`"${oid}"`);
    expect(sha256(Buffer.from(await (await fetch(resolveUrl)).arrayBuffer()))).toBe(oid);
    const piece = await fetch(resolveUrl, { headers: { Range: 'bytes=3000000-3999999' } });
    expect(piece.status).toBe(206);
    expect(sha256(Buffer.from(await piece.arrayBuffer()))).toBe(sha256(data.subarray(3_000_000, 4_000_000)));

    // git clone with git-lfs: the same bytes, through the xet-objects URL.
    const mark = (await requestsLogged(hub)).length;
    const dir = tempDir('hubgate-xet-solo-');
    const cloned = await hub.git(['clone', '-q', hub.remote('alice/solo', alice), '.'], { cwd: dir });
    expect(cloned.code, cloned.stderr).toBe(0);
    expect(sha256(fs.readFileSync(path.join(dir, 'w.bin')))).toBe(oid);
    expect((await requestsLogged(hub)).slice(mark).some((r) => r.method === 'GET' && r.path.startsWith(`/alice/solo.git/info/lfs/xet-objects/${oid}`) && r.status === 200)).toBe(true);

    // Access is asked at each download: a link handed out while the repo was public stops once it is private; an outsider gets 404.
    const anonymous = (await batch())!;
    expect((await fetch(anonymous, { headers: { Range: 'bytes=0-9' } })).status).toBe(206);
    expect((await hub.cli(['repo', 'set', 'alice/solo', '--private'])).code).toBe(0);
    // (Anonymous: 401, as every LFS denial to nobody, so git-lfs asks for credentials.)
    expect((await fetch(anonymous)).status).toBe(401);
    expect((await fetch(resolveUrl, { headers: { Authorization: `Bearer ${carol}` } })).status).toBe(404);
    expect(sha256(Buffer.from(await (await fetch(href)).arrayBuffer()))).toBe(oid);

    // Deleting the repo unlinks the object; LFS GC removes its row and drops the file's registrations; the other repos read on.
    expect((await hub.cli(['repo', 'delete', 'alice/solo'])).code).toBe(0);
    const gc = await hub.cli(['lfs', 'gc', '--grace', '0']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stdout).toMatch(/removed [1-9]\d* LFS objects/);
    expect(gc.stdout).toMatch(/and [1-9]\d* Xet files of deleted repos/);
    const again = await hub.cli(['lfs', 'gc', '--grace', '0']);
    expect(again.stdout).toMatch(/and 0 Xet files of deleted repos/);
    const plain = await fetch(`${hub.url}/bob/m/resolve/main/c.bin`, { headers: { Authorization: `Bearer ${bob}` } });
    expect(plain.status).toBe(200);
    expect(sha256(Buffer.from(await plain.arrayBuffer()))).toBe(sha256(common));
    expect(sha256((await readBack(bob, 'bob/m', 'c.bin'))!)).toBe(sha256(common));
  }, 300_000);

  it('the same bytes uploaded later through git-lfs are stored as usual, and read from the store from then on', async () => {
    const data = crypto.randomBytes(MiB + 77);
    const oid = sha256(data);
    const objectFile = path.join(hub.dataDir, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
    const href = async (token: string, repo: string) => (await (await fetch(`${hub.url}/${repo}.git/info/lfs/objects/batch`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.git-lfs+json' },
      body: JSON.stringify({ operation: 'download', objects: [{ oid, size: data.length }] }),
    })).json() as { objects: { actions?: { download?: { href: string } } }[] }).objects[0].actions!.download!.href;
    await uploadFiles({ ...as(alice, 'alice/m'), files: [{ path: 'later.bin', content: blob(data) }] });
    expect(fs.existsSync(objectFile)).toBe(false);
    expect(await href(alice, 'alice/m')).toContain('/info/lfs/xet-objects/');
    await uploadFiles({ ...as(bob, 'bob/m'), files: [{ path: 'later.bin', content: blob(data) }], useXet: false });
    expect(fs.existsSync(objectFile)).toBe(true);
    for (const [token, repo] of [[alice, 'alice/m'], [bob, 'bob/m']]) {
      const h = await href(token, repo);
      expect(h).toContain(`/info/lfs/objects/${oid}`);
      expect(sha256(Buffer.from(await (await fetch(h)).arrayBuffer()))).toBe(oid);
    }
  }, 120_000);
});
