import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createFsStore } from '../../lfs/store/fs.js';
import { receiveFile } from '../../lfs/store/receive-file.js';

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

// The body goes to a thread that writes and hashes it (lfs/store/receive-file.ts): the bytes on
// disk and the hash are the body's whatever its chunks are made of, a failed write is reported
// with its code once no write is in flight, and uploads side by side do not mix.
describe('receiveFile: writing and hashing on the upload thread', () => {
  const file = (name: string) => path.join(dir, name);

  it('keeps buffers it does not own intact: chunks that are views of one larger buffer', async () => {
    const whole = crypto.randomBytes(5 * 1024 * 1024 + 123);
    const copy = Buffer.from(whole);
    const views: Buffer[] = [];
    for (let at = 0; at < whole.length; at += 70_001) views.push(whole.subarray(at, Math.min(whole.length, at + 70_001)));
    const fd = fs.openSync(file('views.bin'), 'w');
    try {
      // Even said to be ours, views of a larger buffer are copied, not taken.
      const got = await receiveFile(Readable.from(views, { objectMode: false }), fd, true);
      expect(got).toEqual({ size: whole.length, sha256: sha256(copy) });
    } finally {
      fs.closeSync(fd);
    }
    // Nothing was taken from the caller's buffer, and the file holds the body.
    expect(whole.equals(copy)).toBe(true);
    expect(sha256(fs.readFileSync(file('views.bin')))).toBe(sha256(copy));
  });

  it('writes several uploads at once, each hashed to its own bytes', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => crypto.randomBytes(1024 * 1024 * (i + 1) + i));
    const fds = bodies.map((_, i) => fs.openSync(file(`many-${i}.bin`), 'w'));
    try {
      const got = await Promise.all(bodies.map((b, i) => receiveFile(chopped(b, rng(100 + i), 300_000), fds[i], true)));
      expect(got).toEqual(bodies.map((b) => ({ size: b.length, sha256: sha256(b) })));
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
    bodies.forEach((b, i) => expect(fs.readFileSync(file(`many-${i}.bin`)).equals(b)).toBe(true));
  });

  it('reports a failed write with its code, after reading the rest of the body', async () => {
    fs.writeFileSync(file('read-only.bin'), '');
    // Writes into a file opened for reading fail (EBADF), as a full disk's fail with ENOSPC.
    const fd = fs.openSync(file('read-only.bin'), 'r');
    const bytes = crypto.randomBytes(12 * 1024 * 1024);
    const body = chopped(bytes, rng(3), 100_000);
    try {
      await expect(receiveFile(body, fd, true)).rejects.toMatchObject({ code: 'EBADF' });
    } finally {
      fs.closeSync(fd);
    }
    // Drained, not destroyed: the route can still answer the client.
    await new Promise((r) => (body.readableEnded ? r(null) : body.once('end', r)));
    expect(body.destroyed && !body.readableEnded).toBe(false);
  });

  it('takes over the chunks only when told they are its own', async () => {
    const run = async (ours: boolean) => {
      const chunks = [crypto.randomBytes(200_000), crypto.randomBytes(300_000)];
      const expected = sha256(Buffer.concat(chunks));
      const fd = fs.openSync(file(`own-${ours}.bin`), 'w');
      try {
        expect((await receiveFile(Readable.from(chunks, { objectMode: false }), fd, ours)).sha256).toBe(expected);
      } finally {
        fs.closeSync(fd);
      }
      return chunks.map((c) => c.length);
    };
    // Not ours (a body made by other code): the caller's buffers are as they were.
    expect(await run(false)).toEqual([200_000, 300_000]);
    // Ours (an HTTP request's body): their memory went to the thread.
    expect(await run(true)).toEqual([0, 0]);
  });

  it('the empty body: zero bytes, the sha256 of nothing', async () => {
    const fd = fs.openSync(file('empty.bin'), 'w');
    try {
      expect(await receiveFile(Readable.from([], { objectMode: false }), fd)).toEqual({ size: 0, sha256: sha256(Buffer.alloc(0)) });
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe('young garbage collection during large transfers', () => {
  it('collects the young generation every TRANSFER_GC_BYTES when gc is exposed, and does nothing otherwise', () => {
    const script = `
      import { PerformanceObserver, constants } from 'node:perf_hooks';
      const { youngGarbageMeter, TRANSFER_GC_BYTES } = await import(${JSON.stringify(new URL('../../dist/src/util/young-garbage.js', import.meta.url).href)});
      let minor = 0;
      const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++; });
      obs.observe({ entryTypes: ['gc'] });
      const meter = youngGarbageMeter();
      for (let i = 0; i < 10; i++) meter(TRANSFER_GC_BYTES / 2);
      await new Promise((r) => setTimeout(r, 50));
      console.log(minor);`;
    const run = (flags: string[]) => Number(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8' }).trim());
    // Ten half-steps: five collections asked for (V8 may add its own, never fewer).
    expect(run(['--expose-gc'])).toBeGreaterThanOrEqual(5);
    expect(run([])).toBeLessThan(5);
  });
});
