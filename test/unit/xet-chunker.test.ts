// The content-defined chunker (xet/chunker.ts) against the spec's byte-by-byte pseudocode written
// out naively here with BigInt, fed in every way a stream can arrive, and against
// @huggingface/xetchunk-wasm (what huggingface.js chunks with) where that library follows the spec.
import crypto from 'node:crypto';
import { getChunks } from '@huggingface/xetchunk-wasm';
import { describe, expect, it } from 'vitest';
import { Chunker, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, chunkBoundaries } from '../../xet/chunker.js';
import { GEAR_TABLE_HEX } from '../../xet/gear-table.js';

/** The spec's pseudocode, one byte at a time, 64-bit arithmetic in BigInt: the chunks' end offsets. */
function specChunkEnds(data: Uint8Array): number[] {
  const table = GEAR_TABLE_HEX.trim().split(/\s+/).map((h) => BigInt(`0x${h}`));
  const MASK = 0xffff000000000000n;
  const M64 = (1n << 64n) - 1n;
  const ends: number[] = [];
  if (data.length < MIN_CHUNK_SIZE) return data.length ? [data.length] : [];
  let h = 0n;
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    h = ((h << 1n) + table[data[i]]) & M64;
    const size = i + 1 - start;
    if (size < MIN_CHUNK_SIZE) continue;
    if (size >= MAX_CHUNK_SIZE || (h & MASK) === 0n) {
      ends.push(i + 1);
      start = i + 1;
      h = 0n;
    }
  }
  if (start < data.length) ends.push(data.length);
  return ends;
}

/** Chunk ends from feeding `data` to a Chunker in blocks of the sizes `blockSize` gives. */
function streamedEnds(data: Uint8Array, blockSize: () => number): number[] {
  const chunker = new Chunker();
  const ends: number[] = [];
  let at = 0;
  const take = (c: Uint8Array | null) => {
    if (c) ends.push((at += c.length));
  };
  for (let pos = 0; pos < data.length; ) {
    const n = Math.min(blockSize(), data.length - pos);
    chunker.push(data.subarray(pos, pos + n)).forEach(take);
    pos += n;
  }
  take(chunker.finish());
  return ends;
}

/** Text-like data with repeats: low entropy, where CDC matters. */
function textish(n: number): Uint8Array {
  const words = ['tensor', 'weight', 'layer', 'bias', 'attention', 'norm', '0.125', '-3.5e-2', '\n', ' '];
  const out = new Uint8Array(n);
  const rand = crypto.randomBytes(n);
  for (let i = 0; i < n; ) {
    const w = words[rand[i] % words.length];
    for (let k = 0; k < w.length && i < n; k++) out[i++] = w.charCodeAt(k);
  }
  return out;
}

describe('content-defined chunking', () => {
  const random = new Uint8Array(crypto.randomBytes(1_500_000));
  const text = textish(1_000_000);

  it('cuts where the spec pseudocode cuts', () => {
    for (const data of [random, text]) {
      const ends = chunkBoundaries(data);
      expect(ends).toEqual(specChunkEnds(data));
      expect(ends.length).toBeGreaterThan(5);
    }
  });

  it('cuts the same however the stream is split (1 byte, odd sizes, random sizes, whole)', () => {
    const expected = chunkBoundaries(random);
    expect(streamedEnds(random.subarray(0, 300_000), () => 1)).toEqual(chunkBoundaries(random.subarray(0, 300_000)));
    expect(streamedEnds(random, () => 8191)).toEqual(expected);
    expect(streamedEnds(random, () => 1 + crypto.randomInt(200_000))).toEqual(expected);
    expect(streamedEnds(random, () => random.length)).toEqual(expected);
  });

  it('keeps chunks between 8 KiB and 128 KiB (the last may be shorter) and returns them as copies of the bytes', () => {
    const chunker = new Chunker();
    const chunks = [...chunker.push(random), chunker.finish()!];
    expect(Buffer.compare(Buffer.concat(chunks), random)).toBe(0);
    for (const c of chunks.slice(0, -1)) {
      expect(c.length).toBeGreaterThanOrEqual(MIN_CHUNK_SIZE);
      expect(c.length).toBeLessThanOrEqual(MAX_CHUNK_SIZE);
    }
    const average = random.length / chunks.length;
    expect(average).toBeGreaterThan(40_000);
    expect(average).toBeLessThan(100_000);
  });

  it('forces a cut at 128 KiB when the hash never matches, and keeps small inputs whole', () => {
    const zeros = new Uint8Array(5 * MAX_CHUNK_SIZE + 100);
    expect(chunkBoundaries(zeros)).toEqual(specChunkEnds(zeros));
    expect(chunkBoundaries(zeros)).toEqual([1, 2, 3, 4, 5].map((k) => k * MAX_CHUNK_SIZE).concat(zeros.length));
    expect(chunkBoundaries(new Uint8Array(100))).toEqual([100]);
    expect(chunkBoundaries(new Uint8Array(MIN_CHUNK_SIZE - 1))).toEqual([MIN_CHUNK_SIZE - 1]);
    expect(chunkBoundaries(new Uint8Array(0))).toEqual([]);
    expect(new Chunker().finish()).toBeNull();
  });

  it('a local edit moves at most the cuts just after it', () => {
    const before = chunkBoundaries(random);
    for (const at of [100_000, 700_000, 1_200_000]) {
      const edited = new Uint8Array(random);
      edited.fill(7, at, at + 100);
      const after = chunkBoundaries(edited);
      const moved = after.filter((e) => !before.includes(e));
      expect(moved.every((e) => e > at && e < at + 3 * MAX_CHUNK_SIZE), `cuts moved by an edit at ${at}: ${moved}`).toBe(true);
      expect(after.filter((e) => e <= at)).toEqual(before.filter((e) => e <= at));
      expect(after.filter((e) => before.includes(e)).length).toBeGreaterThan(before.length - 4);
    }
  });

  it('agrees with xetchunk-wasm wherever that library follows the spec', () => {
    // xetchunk-wasm may cut a chunk up to 64 bytes short of 8 KiB: it tests the hash from MIN_CHUNK_SIZE - 64
    // on (the reference xet-core does not). Where both start a chunk at the same offset and its chunk is
    // at least 8 KiB, the two must cut at the same place; after one of its short chunks they re-align.
    let compared = 0;
    let short = 0;
    for (const data of [random, text, new Uint8Array(crypto.randomBytes(2_000_000))]) {
      const ours = chunkBoundaries(data);
      const theirs: number[] = [];
      let at = 0;
      for (const c of getChunks(data)) theirs.push((at += c.length));
      const ourEnds = new Set(ours);
      const ourStarts = new Set([0, ...ours]);
      let start = 0;
      theirs.forEach((end, i) => {
        const last = i === theirs.length - 1;
        if (end - start < MIN_CHUNK_SIZE && !last) short++;
        else if (ourStarts.has(start)) {
          compared++;
          expect(ourEnds.has(end), `a chunk both start at ${start}`).toBe(true);
        }
        start = end;
      });
    }
    expect(compared).toBeGreaterThan(50);
    expect(short).toBeGreaterThan(0); // the difference is real, so this test compares something
  });
});

describe('chunking speed', () => {
  it('is measured on 100 MB', () => {
    const data = new Uint8Array(crypto.randomBytes(100 * 1024 * 1024));
    const start = performance.now();
    const chunker = new Chunker();
    let n = chunker.push(data).length;
    if (chunker.finish()) n++;
    const seconds = (performance.now() - start) / 1000;
    console.log(`chunking: ${(data.length / 1e6 / seconds).toFixed(0)} MB/s (${n} chunks)`);
    expect(n).toBeGreaterThan(1000);
  });
});
