import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createFsStore } from '../../lfs/store/fs.js';

// The fs store's upload write path: a body cut off in the middle leaves nothing behind, and the
// same bytes sent whole in chunks of any size are hashed to their oid.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hubgate-fs-upload-'));
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

describe('fs store: an upload cut off in the middle', () => {
  it('leaves nothing staged, nothing in scratch, and no object', async () => {
    const root = path.join(dir, 'store');
    const store = createFsStore(root, { signed: () => 'http://x', signedEach: (_where, paths) => paths.map(() => 'http://x') });
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
