// The server's own xorbs (xet/xorb-builder.ts, what the conversion of LFS objects stores): they pass
// the same verification as uploaded xorbs, give back the chunks byte for byte, store each chunk
// no larger than it is, and stop at the format's limits (8,192 chunks, 64 MiB).
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chunkBoundaries } from '../../xet/chunker.js';
import { Compression } from '../../xet/compression.js';
import { chunkHash, hashToString } from '../../xet/hash.js';
import { SchemeChooser, XorbBuilder } from '../../xet/xorb-builder.js';
import { MAX_XORB_BYTES, MAX_XORB_CHUNKS, readChunks, verifyXorb } from '../../xet/xorb.js';

function floats(n: number): Uint8Array {
  const values = new Float32Array(n / 4);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i / 500) * 0.01 + (i % 7) * 1e-4;
  return new Uint8Array(values.buffer);
}

function chunksOf(data: Uint8Array): Uint8Array[] {
  let at = 0;
  return chunkBoundaries(data).map((end) => data.subarray(at, (at = end)));
}

describe('XorbBuilder', () => {
  it('builds xorbs that verify, with the chunks and hashes given, compressed where that helps', () => {
    const data = new Uint8Array(Buffer.concat([crypto.randomBytes(1_000_000), Buffer.from(floats(1_000_000)), Buffer.alloc(300_000, 3)]));
    const chunks = chunksOf(data);
    const builder = new XorbBuilder();
    const used = chunks.map((c) => {
      const added = builder.add(c);
      expect(added).not.toBe(false);
      if (added === false) throw new Error('unreachable');
      expect(hashToString(added.hash)).toBe(hashToString(chunkHash(c)));
      return added.scheme;
    });
    const built = builder.take()!;
    const verified = verifyXorb(built.bytes, built.hash);
    expect(verified.chunks.map((c) => hashToString(c.hash))).toEqual(chunks.map((c) => hashToString(chunkHash(c))));
    expect(built.size).toBe(data.length);
    expect(Buffer.concat([...readChunks(built.bytes)]).equals(data)).toBe(true);
    // Random bytes stay as they are; floats and repeated bytes compress.
    expect(used).toContain(Compression.None);
    expect(used.some((s) => s !== Compression.None)).toBe(true);
    expect(built.bytes.length).toBeLessThan(data.length);
    expect(builder.take()).toBeNull();
  });

  it('refuses a chunk past 8,192 chunks or 64 MiB, and starts the next xorb with it', () => {
    const builder = new XorbBuilder();
    const small = new Uint8Array([1]);
    let added = 0;
    while (builder.add(small, Compression.None) !== false) added++;
    expect(added).toBe(MAX_XORB_CHUNKS);
    expect(builder.add(small, Compression.None)).toBe(false);
    expect(builder.take()!.chunks.length).toBe(MAX_XORB_CHUNKS);

    const big = new Uint8Array(crypto.randomBytes(128 * 1024));
    let n = 0;
    while (builder.add(big) !== false) n++;
    // Random bytes are stored uncompressed: as many 128 KiB chunks with their headers as fit.
    expect(n).toBe(Math.floor(MAX_XORB_BYTES / (big.length + 8)));
    const built = builder.take()!;
    expect(built.bytes.length).toBeLessThanOrEqual(MAX_XORB_BYTES);
    expect(verifyXorb(built.bytes, built.hash).chunks.length).toBe(n);
    expect(builder.add(big)).not.toBe(false);
  });

  it('SchemeChooser tries both compressions on every 16th chunk and reuses the winner between', () => {
    const chooser = new SchemeChooser(4);
    const asked: (Compression | undefined)[] = [];
    for (let i = 0; i < 8; i++) {
      const s = chooser.next();
      asked.push(s);
      chooser.record(s, i < 4 ? Compression.ByteGrouping4LZ4 : Compression.None);
    }
    expect(asked).toEqual([undefined, Compression.ByteGrouping4LZ4, Compression.ByteGrouping4LZ4, Compression.ByteGrouping4LZ4, undefined, Compression.None, Compression.None, Compression.None]);
  });
});
