// Git files served by resolve from the blob cache (src/git/blob-cache.ts): a copy per blob under
// DATA/cache/blobs written on the first download and read by every later one, ranges cut from it,
// a copy of the wrong size never served, and the cache kept under HUBGATE_BLOB_CACHE_SIZE.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';

const KB = 1000;
const sha1Blob = (b: Buffer) => crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const copyOf = (hub: Hubgate, oid: string) => path.join(hub.dataDir, 'cache', 'blobs', oid.slice(0, 2), oid.slice(2, 4), oid);

async function get(hub: Hubgate, urlPath: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${hub.url}${urlPath}`, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Every file under the cache's blobs folder with its size. Eviction runs in the background after a
 * download, so a file listed may be gone by the time it is looked at: it is then not counted. */
function copies(hub: Hubgate): { name: string; size: number }[] {
  const root = path.join(hub.dataDir, 'cache', 'blobs');
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[])
    .map((rel) => ({ name: path.basename(rel), st: fs.statSync(path.join(root, rel), { throwIfNoEntry: false }) }))
    .filter((e): e is { name: string; st: fs.Stats } => e.st?.isFile() === true)
    .map((e) => ({ name: e.name, size: e.st.size }));
}

describe('the blob cache', () => {
  let hub: Hubgate;
  const big = crypto.randomBytes(300 * KB);
  const small = Buffer.from('{"model_type": "bert"}\n');

  beforeAll(async () => {
    hub = await startHubgate();
    const alice = await hub.userWithToken('alice');
    expect((await hub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
    await hub.pushFiles('alice/m', alice, { 'big.dat': big, 'config.json': small });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('writes a copy on the first download and serves the next ones from it, byte for byte', async () => {
    const oid = sha1Blob(big);
    expect(fs.existsSync(copyOf(hub, oid))).toBe(false);
    const first = await get(hub, '/alice/m/resolve/main/big.dat');
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).toBe(`"${oid}"`);
    expect(first.body.equals(big)).toBe(true);
    const copy = fs.statSync(copyOf(hub, oid));
    expect(copy.size).toBe(big.length);
    expect(fs.readFileSync(copyOf(hub, oid)).equals(big)).toBe(true);

    const second = await get(hub, '/alice/m/resolve/main/big.dat');
    expect(second.body.equals(big)).toBe(true);
    // The same file, not written again.
    expect(fs.statSync(copyOf(hub, oid)).ino).toBe(copy.ino);
    // No temp file is left behind.
    expect(fs.readdirSync(path.join(hub.dataDir, 'cache', 'tmp'))).toEqual([]);
    // Small files are read from git in memory: no copy.
    expect((await get(hub, '/alice/m/resolve/main/config.json')).body.equals(small)).toBe(true);
    expect(fs.existsSync(copyOf(hub, sha1Blob(small)))).toBe(false);
  });

  it('cuts ranges out of the copy: 206 with the exact bytes, 416 past the end', async () => {
    await get(hub, '/alice/m/resolve/main/big.dat');
    const part = await get(hub, '/alice/m/resolve/main/big.dat', { Range: 'bytes=123456-223455' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 123456-223455/${big.length}`);
    expect(part.headers.get('content-length')).toBe('100000');
    expect(part.body.equals(big.subarray(123456, 223456))).toBe(true);
    const tail = await get(hub, '/alice/m/resolve/main/big.dat', { Range: 'bytes=-7' });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(big.subarray(big.length - 7))).toBe(true);
    const from = await get(hub, '/alice/m/resolve/main/big.dat', { Range: `bytes=${big.length - 1}-` });
    expect(from.body.equals(big.subarray(big.length - 1))).toBe(true);
    const past = await get(hub, '/alice/m/resolve/main/big.dat', { Range: `bytes=${big.length}-` });
    expect(past.status).toBe(416);
  });

  it('never serves a copy of the wrong size: it is written again from git', async () => {
    const oid = sha1Blob(big);
    await get(hub, '/alice/m/resolve/main/big.dat');
    // A copy cut short (a disk fault, someone's hand): the size no longer matches the blob's.
    fs.truncateSync(copyOf(hub, oid), 1000);
    const again = await get(hub, '/alice/m/resolve/main/big.dat');
    expect(again.status).toBe(200);
    expect(again.body.equals(big)).toBe(true);
    expect(fs.readFileSync(copyOf(hub, oid)).equals(big)).toBe(true);
    // One too long is not served either.
    fs.appendFileSync(copyOf(hub, oid), 'extra');
    expect((await get(hub, '/alice/m/resolve/main/big.dat', { Range: 'bytes=-5' })).body.equals(big.subarray(big.length - 5))).toBe(true);
    expect(fs.statSync(copyOf(hub, oid)).size).toBe(big.length);
  });
});

describe('the blob cache at its size limit', () => {
  let hub: Hubgate;
  // A budget of 1 MB: copies of at most 250 kB, and 7 files of 200 kB do not all fit.
  const files = Array.from({ length: 7 }, () => crypto.randomBytes(200 * KB));
  const tooLarge = crypto.randomBytes(260 * KB);

  beforeAll(async () => {
    hub = await startHubgate({ env: { HUBGATE_BLOB_CACHE_SIZE: String(1000 * KB) } });
    const alice = await hub.userWithToken('alice');
    expect((await hub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
    await hub.pushFiles('alice/m', alice, { ...Object.fromEntries(files.map((f, i) => [`f${i}.dat`, f])), 'large.dat': tooLarge });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('removes the least recently used copies so the cache stays within its budget', async () => {
    for (let i = 0; i < files.length; i++) {
      const r = await get(hub, `/alice/m/resolve/main/f${i}.dat`);
      expect(r.body.equals(files[i])).toBe(true);
    }
    // Eviction runs after the fill that went over the budget: wait for it.
    const deadline = Date.now() + 10_000;
    let total = Number.POSITIVE_INFINITY;
    while (Date.now() < deadline) {
      total = copies(hub).reduce((sum, c) => sum + c.size, 0);
      if (total <= 1000 * KB) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(total).toBeLessThanOrEqual(1000 * KB);
    // The oldest copies went, the one used last is kept.
    const names = copies(hub).map((c) => c.name);
    expect(names).not.toContain(sha1Blob(files[0]));
    expect(names).toContain(sha1Blob(files[files.length - 1]));
    // An evicted file is written again when asked for.
    expect((await get(hub, '/alice/m/resolve/main/f0.dat')).body.equals(files[0])).toBe(true);
    expect(copies(hub).map((c) => c.name)).toContain(sha1Blob(files[0]));
  });

  it('serves a blob larger than a quarter of the budget straight from git, with no copy', async () => {
    const r = await get(hub, '/alice/m/resolve/main/large.dat');
    expect(r.status).toBe(200);
    expect(r.body.equals(tooLarge)).toBe(true);
    const part = await get(hub, '/alice/m/resolve/main/large.dat', { Range: 'bytes=100-199' });
    expect(part.body.equals(tooLarge.subarray(100, 200))).toBe(true);
    expect(copies(hub).map((c) => c.name)).not.toContain(sha1Blob(tooLarge));
  });
});
