import { blake3 } from '@noble/hashes/blake3.js';

// Every Xet hash is a BLAKE3 keyed hash (32-byte key, 32-byte digest). This is the one place that
// calls a BLAKE3 implementation, so it can be swapped for a faster one without touching the formats.

/** BLAKE3 keyed with `key` (32 bytes) over `data`: 32 bytes. */
export function keyedBlake3(key: Uint8Array, data: Uint8Array): Uint8Array {
  return blake3(data, { key });
}
