import { GEAR_TABLE_HEX } from './gear-table.js';

// Content-defined chunking (spec "Content-Defined Chunking Algorithm"): a gear rolling hash
// h = (h << 1) + TABLE[byte] over 64 bits; a chunk ends where h & 0xFFFF000000000000 == 0 once it
// holds at least 8 KiB, and is cut at 128 KiB regardless; h restarts at 0 after each cut. The same
// bytes always give the same chunks, however they arrive (the state carries over between pushes).

export const MIN_CHUNK_SIZE = 8 * 1024;
export const MAX_CHUNK_SIZE = 128 * 1024;

// 64-bit values as two 32-bit halves: JavaScript numbers cannot hold them, BigInt is too slow here.
// Signed 32-bit tables and int32 operations keep the hot loop in V8's integer fast path.
const TABLE_HI = new Int32Array(256);
const TABLE_LO = new Int32Array(256);
GEAR_TABLE_HEX.trim().split(/\s+/).forEach((hex, i) => {
  TABLE_HI[i] = parseInt(hex.slice(0, 8), 16) | 0;
  TABLE_LO[i] = parseInt(hex.slice(8), 16) | 0;
});
if (TABLE_HI.length !== 256 || GEAR_TABLE_HEX.trim().split(/\s+/).length !== 256) throw new Error('gear table must have 256 entries');

/** The hash at a position depends only on the last 64 bytes, so a chunk's first bytes need not be hashed: the first test is at MIN_CHUNK_SIZE. */
const WINDOW = 64;

/**
 * A streaming chunker: `push` blocks of a file in order and get back the chunks they complete
 * (copies, independent of the blocks); `finish` returns the last one. Memory: one chunk at most.
 */
export class Chunker {
  private hi = 0;
  private lo = 0;
  /** The current (unfinished) chunk's bytes so far. */
  private pending = new Uint8Array(MAX_CHUNK_SIZE);
  private pendingLength = 0;

  push(block: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let pos = 0;
    while (pos < block.length) {
      const cut = this.scan(block, pos);
      const end = cut < 0 ? block.length : cut;
      this.pending.set(block.subarray(pos, end), this.pendingLength);
      this.pendingLength += end - pos;
      pos = end;
      if (cut >= 0) out.push(this.take());
    }
    return out;
  }

  /** The last chunk (the bytes since the last cut), or null when there are none. */
  finish(): Uint8Array | null {
    return this.pendingLength > 0 ? this.take() : null;
  }

  private take(): Uint8Array {
    const chunk = this.pending.slice(0, this.pendingLength);
    this.pendingLength = 0;
    this.hi = 0;
    this.lo = 0;
    return chunk;
  }

  /** The index in `block` just after the next cut, or -1 when the block ends first; updates the hash state. */
  private scan(block: Uint8Array, from: number): number {
    const have = this.pendingLength; // bytes of the current chunk before `from`
    let hi = this.hi;
    let lo = this.lo;
    // Skip what cannot change a test: bytes more than WINDOW before the chunk's first testable position.
    let i = from;
    const skipTo = from + (MIN_CHUNK_SIZE - WINDOW - 1 - have);
    if (skipTo > i) {
      i = Math.min(skipTo, block.length);
      hi = 0;
      lo = 0;
    }
    // Up to the first testable position: hash only.
    const firstTest = Math.min(from + MIN_CHUNK_SIZE - 1 - have, block.length);
    for (; i < firstTest; i++) {
      const b = block[i];
      const a = lo << 1;
      const t = TABLE_LO[b];
      const sum = (a + t) | 0;
      // The carry out of the unsigned 32-bit addition a + t.
      const carry = ((a & t) | ((a | t) & ~sum)) >>> 31;
      hi = (((hi << 1) | (lo >>> 31)) + TABLE_HI[b] + carry) | 0;
      lo = sum;
    }
    // Testable positions, up to the forced cut at MAX_CHUNK_SIZE.
    const lastAllowed = Math.min(from + MAX_CHUNK_SIZE - 1 - have, block.length - 1);
    for (; i <= lastAllowed; i++) {
      const b = block[i];
      const a = lo << 1;
      const t = TABLE_LO[b];
      const sum = (a + t) | 0;
      // The carry out of the unsigned 32-bit addition a + t.
      const carry = ((a & t) | ((a | t) & ~sum)) >>> 31;
      hi = (((hi << 1) | (lo >>> 31)) + TABLE_HI[b] + carry) | 0;
      lo = sum;
      if (hi >>> 16 === 0) return i + 1;
    }
    if (i === from + MAX_CHUNK_SIZE - have) return i; // forced cut
    this.hi = hi;
    this.lo = lo;
    return -1;
  }
}

/** Where the chunks of a whole buffer end: their end offsets, in order. */
export function chunkBoundaries(data: Uint8Array): number[] {
  const ends: number[] = [];
  const chunker = new Chunker();
  let at = 0;
  // Pushing the whole buffer copies each chunk once; fine for tests and for the server's own conversions.
  for (const chunk of chunker.push(data)) ends.push((at += chunk.length));
  const last = chunker.finish();
  if (last) ends.push(at + last.length);
  return ends;
}
