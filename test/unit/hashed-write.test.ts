import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { writeHashed } from '../../lfs/store/hashed-write.js';
import { createFsStore } from '../../lfs/store/fs.js';

// The upload write path hashes on a separate thread while it writes blocks of shared memory: the
// digest and the file must be exactly the bytes sent, however the body is cut into chunks.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hubgate-hashed-write-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** A body that sends `bytes` in chunks of random sizes, sometimes after a pause. */
function chopped(bytes: Buffer, rand: () => number, maxChunk: number): Readable {
  async function* chunks() {
    for (let at = 0; at < bytes.length; ) {
      const n = Math.min(bytes.length - at, 1 + Math.floor(rand() * maxChunk));
      // Copies, as a socket gives fresh buffers: the writer must not keep a view of a reused one.
      yield Buffer.from(bytes.subarray(at, at + n));
      at += n;
      if (rand() < 0.1) await new Promise((r) => setTimeout(r, 1));
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** A small deterministic generator, so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

describe('writeHashed', () => {
  it('gives the sha256 and size of the bytes and writes them whole, for many sizes and chunkings', async () => {
    const blockSize = 1024;
    const sizes = [0, 1, blockSize - 1, blockSize, blockSize + 1, 4 * blockSize, 5 * blockSize - 3, 37 * blockSize + 11];
    let n = 0;
    for (const size of sizes) {
      for (let seed = 1; seed <= 6; seed++) {
        const rand = rng(size * 31 + seed);
        const bytes = crypto.randomBytes(size);
        // Chunks smaller and larger than a block (larger ones make the writer pause the body).
        const maxChunk = [1, 7, 300, blockSize, 3 * blockSize, 20 * blockSize][seed - 1];
        const file = path.join(dir, `f${n++}`);
        const got = await writeHashed(chopped(bytes, rand, maxChunk), file, blockSize);
        expect(got, `size ${size}, chunks up to ${maxChunk}, seed ${seed}`).toEqual({ sha256: sha256(bytes), size });
        expect(sha256(fs.readFileSync(file))).toBe(sha256(bytes));
        fs.rmSync(file);
      }
    }
  });

  it('hashes several uploads at once without mixing their bytes', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => crypto.randomBytes(50_000 + i * 7919));
    const got = await Promise.all(bodies.map((b, i) => writeHashed(chopped(b, rng(i + 100), 4096), path.join(dir, `c${i}`), 2048)));
    expect(got.map((g) => g.sha256)).toEqual(bodies.map(sha256));
    for (let i = 0; i < bodies.length; i++) {
      expect(fs.readFileSync(path.join(dir, `c${i}`)).equals(bodies[i])).toBe(true);
      fs.rmSync(path.join(dir, `c${i}`));
    }
  });

  it('fails when the client stops in the middle, and a write to a file that exists fails before reading', async () => {
    const body = new PassThrough();
    const file = path.join(dir, 'stopped');
    const done = writeHashed(body, file, 1024);
    body.write(crypto.randomBytes(5000));
    setTimeout(() => body.destroy(), 20);
    await expect(done).rejects.toThrow('the client closed the connection before the end of the body');
    // The file is the caller's to remove; it is closed (removable) once the call returns.
    fs.rmSync(file);
    fs.writeFileSync(file, 'x');
    await expect(writeHashed(Readable.from([Buffer.from('abc')]), file)).rejects.toThrow(/EEXIST/);
    fs.rmSync(file);
  });
});

describe('fs store: an upload cut off in the middle', () => {
  it('leaves nothing staged, nothing in scratch, and no object', async () => {
    const root = path.join(dir, 'store');
    const store = createFsStore(root, { signed: () => 'http://x' });
    const bytes = crypto.randomBytes(3 * 1024 * 1024);
    const oid = sha256(bytes);
    const upload = { repoId: '1', baseUrl: 'http://x', id: 'A'.repeat(24), oid, size: bytes.length };
    const body = new PassThrough();
    const done = store.writeStaged(upload, body);
    body.write(bytes.subarray(0, 2 * 1024 * 1024));
    setTimeout(() => body.destroy(), 50);
    await expect(done).rejects.toThrow('the client closed the connection');
    expect(fs.readdirSync(path.join(root, 'staging'))).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
    expect(await store.stat(oid)).toBeNull();
    expect(await store.stagedSize(upload)).toBeNull();
    // The same upload sent whole then goes through, hashed to its oid.
    await store.writeStaged(upload, chopped(bytes, rng(7), 200_000));
    expect(await store.stagedSize(upload)).toBe(bytes.length);
    await store.commitStaged(upload);
    expect(sha256(fs.readFileSync(store.objectPath(oid)))).toBe(oid);
  });
});
