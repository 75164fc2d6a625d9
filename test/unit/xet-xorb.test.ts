// Xorbs (xet/xorb.ts): the xorbs @huggingface/hub itself uploads (captured from its uploadFiles)
// verify, with the hashes it put in their URLs and the chunks its chunker cut; the files come back
// from them byte for byte; every kind of damage is refused with a message.
import crypto from 'node:crypto';
import { getChunks, hashToHex } from '@huggingface/xetchunk-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Compression, compressChunk } from '../../xet/compression.js';
import { XetFormatError } from '../../xet/errors.js';
import { hashFromString, hashToString, parseHashString } from '../../xet/hash.js';
import { listedXorbs, parseShard } from '../../xet/shard.js';
import { CHUNK_HEADER_BYTES, type VerifiedXorb, XorbVerifier, parseChunkHeader, readChunks, verifyXorb, writeXorb } from '../../xet/xorb.js';
import { type CapturedUpload, captureXetUpload } from '../helpers/xet-client-capture.js';

/** Smooth float32 values: byte grouping compresses them best. */
function floats(n: number): Uint8Array {
  const values = new Float32Array(n / 4);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i / 500) * 0.01 + (i % 7) * 1e-4;
  return new Uint8Array(values.buffer);
}

function textish(n: number): Uint8Array {
  const words = ['tensor ', 'weight ', 'layer.', 'bias ', 'attention\n', 'norm ', '0.125 ', '-3.5e-2 '];
  const rand = crypto.randomBytes(n);
  return new TextEncoder().encode(Array.from({ length: n / 6 }, (_, i) => words[rand[i] % words.length]).join('').slice(0, n));
}

const FILES = [
  { path: 'random.bin', content: new Uint8Array(crypto.randomBytes(3_000_000)) },
  { path: 'notes.txt', content: textish(2_000_000) },
  { path: 'weights.safetensors', content: floats(2_000_000) },
];

function expectRefused(body: Uint8Array, hash: Uint8Array, message: string | RegExp): void {
  let error: unknown;
  try {
    verifyXorb(body, hash);
  } catch (err) {
    error = err;
  }
  expect(error, 'the xorb should be refused').toBeInstanceOf(XetFormatError);
  expect((error as XetFormatError).status).toBe(400);
  expect((error as Error).message).toMatch(message);
}

function schemesOf(body: Uint8Array): number[] {
  const schemes: number[] = [];
  for (let at = 0; at < body.length; ) {
    const h = parseChunkHeader(body, at);
    schemes.push(h.scheme);
    at += CHUNK_HEADER_BYTES + h.storedSize;
  }
  return schemes;
}

describe('xorbs the client uploads', () => {
  let upload: CapturedUpload;
  const verified = new Map<string, VerifiedXorb>();

  beforeAll(async () => {
    upload = await captureXetUpload(FILES);
  });

  it('verify, with the hash in their URL, as stored without a footer', () => {
    expect(upload.xorbs.length).toBeGreaterThan(0);
    for (const { hash, body } of upload.xorbs) {
      const xorb = verifyXorb(body, parseHashString(hash, 'the xorb hash'));
      expect(hashToString(xorb.hash)).toBe(hash);
      expect(xorb.hadFooter).toBe(false);
      expect(xorb.chunksLength).toBe(body.length);
      expect(xorb.chunks.at(-1)!.end).toBe(body.length);
      verified.set(hash, xorb);
    }
  });

  it('use every compression scheme, and LZ4-napi reads the client LZ4 frames of both kinds', () => {
    const schemes = upload.xorbs.flatMap((x) => schemesOf(x.body));
    for (const scheme of [Compression.None, Compression.LZ4, Compression.ByteGrouping4LZ4]) expect(schemes).toContain(scheme);
  });

  it('hold the chunks the client chunker cut from the files', () => {
    const ours = new Set([...verified.values()].flatMap((x) => x.chunks.map((c) => `${hashToString(c.hash)}:${c.size}`)));
    const theirs = FILES.flatMap((f) => getChunks(f.content).map((c) => `${hashToHex(c.hash)}:${c.length}`));
    expect([...ours].sort()).toEqual([...new Set(theirs)].sort());
  });

  it('give back every file byte for byte through the terms of its shard', () => {
    const shards = upload.shards.map((s) => parseShard(s, { upload: true }));
    const files = shards.flatMap((s) => s.files);
    expect(files).toHaveLength(FILES.length);
    for (const file of files) {
      const parts: Uint8Array[] = [];
      for (const term of file.terms) {
        const xorb = verified.get(hashToString(term.xorb))!;
        const bytes = upload.xorbs.find((x) => x.hash === hashToString(term.xorb))!.body;
        parts.push(...readChunks(bytes.subarray(xorb.chunks[term.start].offset, xorb.chunks[term.end - 1].end)));
      }
      const content = Buffer.concat(parts);
      const original = FILES.find((f) => crypto.createHash('sha256').update(f.content).digest('hex') === file.sha256)!;
      expect(original, 'the shard names a sha256 of one of the files').toBeDefined();
      expect(content.length).toBe(file.size);
      expect(Buffer.compare(content, original.content)).toBe(0);
      expect(upload.committed.get(original.path)?.sha256).toBe(file.sha256);
    }
    // The shards list the xorbs as verified.
    for (const shard of shards) {
      const lookup = listedXorbs(shard);
      for (const [hash, xorb] of verified) {
        const listed = lookup(hashFromString(hash)!);
        if (listed) expect(listed.map((c) => hashToString(c.hash))).toEqual(xorb.chunks.map((c) => hashToString(c.hash)));
      }
    }
  });

  it('verify the same streamed in blocks of any size', () => {
    for (const { hash, body } of upload.xorbs) {
      for (const blockSize of [1000, 8, 65537, () => 1 + crypto.randomInt(200_000)]) {
        const verifier = new XorbVerifier();
        for (let at = 0; at < body.length; ) {
          const n = typeof blockSize === 'number' ? blockSize : blockSize();
          verifier.push(body.subarray(at, at + n));
          at += n;
        }
        const xorb = verifier.finish(hashFromString(hash)!);
        expect(xorb.chunks).toEqual(verified.get(hash)!.chunks);
      }
    }
  });

  describe('damaged', () => {
    const first = () => upload.xorbs[0];
    const copy = () => new Uint8Array(first().body);
    const hash = () => hashFromString(first().hash)!;
    const chunkOf = (body: Uint8Array, scheme: number) => {
      for (let at = 0; at < body.length; ) {
        const h = parseChunkHeader(body, at);
        if (h.scheme === scheme) return { at, header: h };
        at += CHUNK_HEADER_BYTES + h.storedSize;
      }
      throw new Error(`no chunk with scheme ${scheme}`);
    };

    it('a flipped byte in stored data is refused', () => {
      const plain = copy();
      const { at } = chunkOf(plain, Compression.None);
      plain[at + CHUNK_HEADER_BYTES + 100] ^= 0x01;
      expectRefused(plain, hash(), /chunks hash to [0-9a-f]{64}, not [0-9a-f]{64} as its URL says/);
      const lz4 = copy();
      const c = chunkOf(lz4, Compression.LZ4);
      lz4[c.at + CHUNK_HEADER_BYTES + Math.floor(c.header.storedSize / 2)] ^= 0x55;
      expectRefused(lz4, hash(), /LZ4|hash to/);
    });

    it('a hash other than its own is refused', () => {
      const other = new Uint8Array(hash());
      other[0] ^= 1;
      expectRefused(first().body, other, `not ${hashToString(other)} as its URL says`);
    });

    it('a truncated xorb is refused', () => {
      const body = first().body;
      expectRefused(body.subarray(0, 5), hash(), 'ends inside the header of chunk 0');
      expectRefused(body.subarray(0, body.length - 1), hash(), /ends inside chunk \d+ \(it is truncated\)/);
      expectRefused(body.subarray(0, verified.get(first().hash)!.chunks[1].offset), hash(), 'as its URL says'); // whole chunks, but not all
      expectRefused(new Uint8Array(0), hash(), 'at least one chunk');
    });

    it('bad compression is refused', () => {
      const unknown = copy();
      unknown[4] = 7;
      expectRefused(unknown, hash(), 'compression scheme 7, which is not one of 0 (none), 1 (LZ4), 2 (ByteGrouping4LZ4)');
      const relabelled = copy();
      const c = chunkOf(relabelled, Compression.LZ4);
      relabelled[c.at + 4] = Compression.None;
      expectRefused(relabelled, hash(), 'an uncompressed chunk has');
      const garbage = copy();
      const g = chunkOf(garbage, Compression.LZ4);
      garbage.fill(0xab, g.at + CHUNK_HEADER_BYTES, g.at + CHUNK_HEADER_BYTES + 16);
      expectRefused(garbage, hash(), 'is not a valid LZ4 frame');
      const sizes = copy();
      const s = chunkOf(sizes, Compression.ByteGrouping4LZ4);
      sizes[s.at + 5] ^= 0x01; // the uncompressed size
      expectRefused(sizes, hash(), /decompresses to \d+ bytes, not the \d+ its header says/);
    });

    it('bad headers and sizes are refused', () => {
      const version = copy();
      version[0] = 1;
      expectRefused(version, hash(), 'chunk 0 has header version 1');
      const big = copy();
      big.set([0x01, 0x00, 0x02], 5); // uncompressed 128 KiB + 1
      expectRefused(big, hash(), 'outside 1..131072');
      const verifier = new XorbVerifier();
      expect(() => verifier.push(new Uint8Array(64 * 1024 * 1024 + 1))).toThrow('at most 67108864 bytes (64 MiB)');
    });
  });
});

describe('xorbs with xet-core\'s footer', () => {
  const data = [new Uint8Array(crypto.randomBytes(70_000)), textish(100_000), floats(60_000), new Uint8Array(9)];

  it('verify, and are kept without the footer', () => {
    const plain = writeXorb(data);
    const withFooter = writeXorb(data, { footer: true });
    expect(withFooter.hash).toEqual(plain.hash);
    expect(withFooter.bytes.length).toBeGreaterThan(plain.bytes.length);
    const xorb = verifyXorb(withFooter.bytes, withFooter.hash);
    expect(xorb.hadFooter).toBe(true);
    expect(xorb.chunksLength).toBe(plain.bytes.length);
    expect(xorb.chunks).toEqual(plain.chunks);
    expect(xorb.size).toBe(data.reduce((n, d) => n + d.length, 0));
    expect(Buffer.compare(Buffer.concat([...readChunks(withFooter.bytes.subarray(0, xorb.chunksLength))]), Buffer.concat(data))).toBe(0);
  });

  it('that disagrees with the chunks is refused', () => {
    const { bytes, hash, chunks } = writeXorb(data, { footer: true });
    const footerAt = chunks.at(-1)!.end;
    const wrongHash = new Uint8Array(bytes);
    wrongHash[footerAt + 8] ^= 1; // the xorb hash in the footer
    expectRefused(wrongHash, hash, 'names a different xorb hash');
    const wrongChunk = new Uint8Array(bytes);
    wrongChunk[footerAt + 8 + 32 + 8 + 4 + 32 + 3] ^= 1; // chunk 1's hash
    expectRefused(wrongChunk, hash, 'lists a different hash for chunk 1');
    expectRefused(bytes.subarray(0, bytes.length - 3), hash, /xorb footer/);
    const extra = new Uint8Array(bytes.length + 4);
    extra.set(bytes);
    expectRefused(extra, hash, /xorb footer says it is \d+ bytes long/);
  });

  it('written with each scheme read back the same', () => {
    for (const scheme of [Compression.None, Compression.LZ4, Compression.ByteGrouping4LZ4]) {
      const { bytes, hash } = writeXorb(data, { scheme });
      expect(schemesOf(bytes).every((s) => s === scheme)).toBe(true);
      expect(verifyXorb(bytes, hash).chunks).toHaveLength(data.length);
      expect(Buffer.compare(Buffer.concat([...readChunks(bytes)]), Buffer.concat(data))).toBe(0);
    }
    expect(compressChunk(Compression.ByteGrouping4LZ4, data[2]).length).toBeLessThan(compressChunk(Compression.LZ4, data[2]).length);
  });
});

describe('xorb verification speed', () => {
  it('is measured on a 16 MiB xorb of mixed chunks', () => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; total < 16 * 1024 * 1024; i++) {
      const c = i % 3 === 0 ? new Uint8Array(crypto.randomBytes(65536)) : i % 3 === 1 ? textish(65536) : floats(65536);
      chunks.push(c);
      total += c.length;
    }
    const { bytes, hash } = writeXorb(chunks);
    const start = performance.now();
    const xorb = verifyXorb(bytes, hash);
    const seconds = (performance.now() - start) / 1000;
    console.log(`xorb verify: ${(xorb.size / 1e6 / seconds).toFixed(0)} MB/s of chunk data (${(bytes.length / 1e6 / seconds).toFixed(0)} MB/s of xorb, ${xorb.chunks.length} chunks)`);
    expect(xorb.size).toBe(total);
  });
});
