import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { XetFormatError } from './errors.js';

// The compression schemes of xorb chunks (spec "Chunk Compression Schemes"): none, an LZ4 frame, or
// an LZ4 frame of the bytes regrouped by their position in 4-byte groups (ByteGrouping4LZ4).

export const Compression = { None: 0, LZ4: 1, ByteGrouping4LZ4: 2 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

export const COMPRESSION_NAMES = ['none', 'LZ4', 'ByteGrouping4LZ4'] as const;

/** Byte grouping: byte i of every 4-byte group to group i, the groups concatenated (a tail of n % 4 bytes goes one each to the first groups). */
export function byteGroup4(data: Uint8Array): Uint8Array {
  const n = data.length;
  const out = new Uint8Array(n);
  const base = Math.floor(n / 4);
  const rest = n % 4;
  let at = 0;
  for (let g = 0; g < 4; g++) {
    const count = base + (g < rest ? 1 : 0);
    for (let k = 0; k < count; k++) out[at++] = data[k * 4 + g];
  }
  return out;
}

/** The inverse of byteGroup4. */
export function byteUngroup4(grouped: Uint8Array): Uint8Array {
  const n = grouped.length;
  const out = new Uint8Array(n);
  const base = Math.floor(n / 4);
  const rest = n % 4;
  let at = 0;
  for (let g = 0; g < 4; g++) {
    const count = base + (g < rest ? 1 : 0);
    for (let k = 0; k < count; k++) out[k * 4 + g] = grouped[at++];
  }
  return out;
}

function lz4Decode(payload: Uint8Array, expected: number): Uint8Array {
  let out: Uint8Array;
  try {
    out = decompressFrameSync(Buffer.from(payload.buffer, payload.byteOffset, payload.length));
  } catch (err) {
    throw new XetFormatError(`a chunk's LZ4 data is not a valid LZ4 frame (${(err as Error).message})`);
  }
  if (out.length !== expected) throw new XetFormatError(`a chunk's LZ4 data decompresses to ${out.length} bytes, not the ${expected} its header says`);
  return out;
}

/** A chunk's data from its stored form; refuses a scheme it does not know and a length that differs from `uncompressedSize`. */
export function decompressChunk(scheme: number, payload: Uint8Array, uncompressedSize: number): Uint8Array {
  switch (scheme) {
    case Compression.None:
      if (payload.length !== uncompressedSize) throw new XetFormatError(`an uncompressed chunk has ${payload.length} bytes, not the ${uncompressedSize} its header says`);
      return payload;
    case Compression.LZ4:
      return lz4Decode(payload, uncompressedSize);
    case Compression.ByteGrouping4LZ4:
      return byteUngroup4(lz4Decode(payload, uncompressedSize));
    default:
      throw new XetFormatError(`a chunk uses compression scheme ${scheme}, which is not one of 0 (none), 1 (LZ4), 2 (ByteGrouping4LZ4)`);
  }
}

/** A chunk's stored form in `scheme` (the server's own xorbs, and tests). */
export function compressChunk(scheme: Compression, data: Uint8Array): Uint8Array {
  const buffer = (d: Uint8Array) => Buffer.from(d.buffer, d.byteOffset, d.length);
  switch (scheme) {
    case Compression.None:
      return data;
    case Compression.LZ4:
      return new Uint8Array(compressFrameSync(buffer(data)));
    case Compression.ByteGrouping4LZ4:
      return new Uint8Array(compressFrameSync(buffer(byteGroup4(data))));
  }
}
