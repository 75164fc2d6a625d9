// Little helpers for the binary formats: little-endian fields, and a queue of received blocks
// that hands out contiguous pieces (so a streamed body is parsed without joining it all).

export function u24(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);
}

export function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/** A u64 field as a number; null when it is above Number.MAX_SAFE_INTEGER (no real size or offset is). */
export function u64(bytes: Uint8Array, at: number): number | null {
  const value = u32(bytes, at) + u32(bytes, at + 4) * 2 ** 32;
  return Number.isSafeInteger(value) ? value : null;
}

export function putU24(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
}

export function putU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

export function putU64(bytes: Uint8Array, at: number, value: number): void {
  putU32(bytes, at, value % 2 ** 32);
  putU32(bytes, at + 4, Math.floor(value / 2 ** 32));
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Blocks received so far, read from the front. */
export class ByteQueue {
  private blocks: Uint8Array[] = [];
  private head = 0; // bytes of blocks[0] already taken
  length = 0;

  push(block: Uint8Array): void {
    if (block.length === 0) return;
    this.blocks.push(block);
    this.length += block.length;
  }

  /** The next byte, not taken; the queue must not be empty. */
  peek(): number {
    return this.blocks[0][this.head];
  }

  /** The next `n` bytes (n ≤ length), taken: a view when they lie in one block, else a copy. */
  take(n: number): Uint8Array {
    if (n > this.length) throw new RangeError('not enough bytes queued');
    this.length -= n;
    const first = this.blocks[0];
    if (first && first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.blocks.shift();
        this.head = 0;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const block = this.blocks[0];
      const piece = Math.min(block.length - this.head, n - filled);
      out.set(block.subarray(this.head, this.head + piece), filled);
      filled += piece;
      this.head += piece;
      if (this.head === block.length) {
        this.blocks.shift();
        this.head = 0;
      }
    }
    return out;
  }
}
