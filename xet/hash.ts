import { keyedBlake3 } from './blake3.js';
import { XetFormatError } from './errors.js';

// The Xet protocol's hashes (spec "Hashing"): chunk hashes, the aggregated (merkle) hash of a list of
// chunks that names a xorb, the file hash (that aggregate keyed once more with a zero key), the term
// verification hash of shards, and the keyed ("HMAC") chunk hashes of dedup answers. All are 32
// bytes; their text form swaps the bytes of each 8-byte group (spec "Converting Hashes to Strings").

export type XetHash = Uint8Array;
export const HASH_BYTES = 32;

/** Chunk hashes: BLAKE3 keyed with this (spec DATA_KEY). */
export const DATA_KEY = Uint8Array.from([
  102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28, 157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41,
]);
/** Internal nodes of the aggregated hash (spec INTERNAL_NODE_KEY). */
export const INTERNAL_NODE_KEY = Uint8Array.from([
  1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230, 93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63,
]);
/** Term verification hashes of shard uploads (spec VERIFICATION_KEY). */
export const VERIFICATION_KEY = Uint8Array.from([
  127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243, 164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195,
]);
/** File hashes are the aggregated hash keyed once more with 32 zero bytes. */
export const FILE_KEY = new Uint8Array(32);

/** A chunk as the aggregated hashes see it: its hash and its (uncompressed) length. */
export interface ChunkRef {
  hash: XetHash;
  size: number;
}

export function chunkHash(data: Uint8Array): XetHash {
  return keyedBlake3(DATA_KEY, data);
}

/** A hash keyed with `key`: the spec's "HMAC" of chunk hashes in dedup answers, and the file hash's last step. */
export function keyedHash(hash: XetHash, key: Uint8Array): XetHash {
  return keyedBlake3(key, hash);
}

/** The hash's text form: each 8-byte group as a little-endian u64 in 16 lowercase hex digits. */
export function hashToString(hash: XetHash): string {
  if (hash.length !== HASH_BYTES) throw new RangeError(`a Xet hash has ${HASH_BYTES} bytes, not ${hash.length}`);
  let out = '';
  for (let group = 0; group < 4; group++) {
    for (let i = 7; i >= 0; i--) out += HEX[hash[group * 8 + i]];
  }
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HASH_STRING = /^[0-9a-f]{64}$/;

/** The hash named by its text form (64 lowercase hex digits, as in CAS paths), or null when it is not one. */
export function hashFromString(text: string): XetHash | null {
  if (!HASH_STRING.test(text)) return null;
  const hash = new Uint8Array(HASH_BYTES);
  for (let group = 0; group < 4; group++) {
    for (let i = 0; i < 8; i++) hash[group * 8 + 7 - i] = parseInt(text.slice(group * 16 + i * 2, group * 16 + i * 2 + 2), 16);
  }
  return hash;
}

/** Like hashFromString for text that must be a hash: a XetFormatError naming `what` otherwise. */
export function parseHashString(text: string, what: string): XetHash {
  const hash = hashFromString(text);
  if (!hash) throw new XetFormatError(`${what} must be 64 lowercase hexadecimal digits`);
  return hash;
}

export function hashesEqual(a: XetHash, b: XetHash): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The last 8 bytes as a little-endian u64, modulo `m` (a power of two up to 2^32): the spec's `hash % m`. */
export function hashModulo(hash: XetHash, m: number): number {
  // For a power of two m ≤ 2^32 only the low 32 bits of that u64 matter: bytes 24..27.
  const low = (hash[24] | (hash[25] << 8) | (hash[26] << 16) | (hash[27] << 24)) >>> 0;
  return low % m;
}

/** Whether a chunk may be asked about in a global dedup query (spec "Eligibility Criteria"; the first chunk of a file always may). */
export function isGlobalDedupEligible(hash: XetHash): boolean {
  return hashModulo(hash, 1024) === 0;
}

// The aggregated hash (reference: xet-core merklehash aggregated_hashes): repeatedly cut the list of
// (hash, size) nodes into groups and replace each group by one node, until one is left. A group
// ends after a node whose hash % 4 == 0, but has at least 2 and at most 9 nodes (the last may have
// fewer). A group's node hashes, with INTERNAL_NODE_KEY, the lines "{hash string} : {size}\n" of its
// members, and its size is their sum.

const MEAN_BRANCHING = 4;
const MAX_GROUP = 2 * MEAN_BRANCHING + 1;

function groupEnd(nodes: ChunkRef[], start: number): number {
  const left = nodes.length - start;
  if (left <= 2) return nodes.length;
  const last = Math.min(MAX_GROUP, left);
  for (let i = 2; i < last; i++) {
    if (hashModulo(nodes[start + i].hash, MEAN_BRANCHING) === 0) return start + i + 1;
  }
  return start + last;
}

const encoder = new TextEncoder();

function mergeGroup(group: ChunkRef[]): ChunkRef {
  let text = '';
  let size = 0;
  for (const node of group) {
    text += `${hashToString(node.hash)} : ${node.size}\n`;
    size += node.size;
  }
  return { hash: keyedBlake3(INTERNAL_NODE_KEY, encoder.encode(text)), size };
}

/** The aggregated (merkle) hash of a list of chunks; 32 zero bytes for none. */
export function aggregatedHash(chunks: readonly ChunkRef[]): XetHash {
  if (chunks.length === 0) return new Uint8Array(HASH_BYTES);
  let level: ChunkRef[] = [...chunks];
  while (level.length > 1) {
    const next: ChunkRef[] = [];
    for (let start = 0; start < level.length; ) {
      const end = groupEnd(level, start);
      next.push(mergeGroup(level.slice(start, end)));
      start = end;
    }
    level = next;
  }
  return level[0].hash;
}

/** A xorb's hash: the aggregated hash of its chunks, in order. */
export function xorbHash(chunks: readonly ChunkRef[]): XetHash {
  return aggregatedHash(chunks);
}

/** A file's hash: the aggregated hash of its chunks keyed with FILE_KEY; 32 zero bytes for an empty file. */
export function fileHash(chunks: readonly ChunkRef[]): XetHash {
  if (chunks.length === 0) return new Uint8Array(HASH_BYTES);
  return keyedHash(aggregatedHash(chunks), FILE_KEY);
}

/** A term's verification hash: the raw chunk hashes of its range, concatenated, keyed with VERIFICATION_KEY. */
export function verificationHash(chunkHashes: readonly XetHash[]): XetHash {
  const all = new Uint8Array(chunkHashes.length * HASH_BYTES);
  chunkHashes.forEach((h, i) => all.set(h, i * HASH_BYTES));
  return keyedBlake3(VERIFICATION_KEY, all);
}
