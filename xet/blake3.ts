import { createKeyed } from 'blake3-jit';

// Every Xet hash is a BLAKE3 keyed hash (32-byte key, 32-byte digest). This is the one place that
// calls a BLAKE3 implementation, so it can be swapped without touching the formats. blake3-jit
// (pure JS with WebAssembly SIMD for large inputs) is about 7x faster than a plain JS BLAKE3 here,
// which matters: verifying a 64 MiB xorb hashes every chunk of it.

/** BLAKE3 keyed with `key` (32 bytes) over `data`: 32 bytes. */
export function keyedBlake3(key: Uint8Array, data: Uint8Array): Uint8Array {
  return createKeyed(key).update(data).finalize();
}
