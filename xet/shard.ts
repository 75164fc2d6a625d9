import { concatBytes, putU32, putU64, u32, u64 } from './bytes.js';
import { MAX_CHUNK_SIZE } from './chunker.js';
import { XetFormatError } from './errors.js';
import { type ChunkRef, HASH_BYTES, type XetHash, fileHash, hashFromString, hashToString, hashesEqual, keyedHash, verificationHash } from './hash.js';
import { MAX_XORB_BYTES, MAX_XORB_CHUNKS } from './xorb.js';

// MDB shards, version 2 (spec "Shard Format"): a 48-byte header (a 32-byte tag, version 2, the
// footer's size), the file info section (per file: a header, its terms, optionally one verification
// entry per term and a metadata entry with the file's sha256; then a bookend), the CAS info section
// (per xorb: a header and one entry per chunk; then a bookend), and an optional 200-byte footer.
// Every record is 48 bytes; integers are little-endian. Uploads carry the file reconstructions and
// the new xorbs' listings; global dedup answers carry xorb listings whose chunk hashes are keyed
// with the footer's key. The spec says uploads omit the footer; huggingface.js sends one, so both
// are read.

export const MAX_SHARD_BYTES = 64 * 1024 * 1024;
export const SHARD_HEADER_BYTES = 48;
export const SHARD_FOOTER_BYTES = 200;
const RECORD = 48;
const HEADER_VERSION = 2;
const FOOTER_VERSION = 1;
export const SHARD_TAG = Uint8Array.from([
  ...'HFRepoMetaData'.split('').map((c) => c.charCodeAt(0)),
  0, 85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169,
]);
export const FILE_FLAG_WITH_VERIFICATION = 0x80000000;
export const FILE_FLAG_WITH_METADATA_EXT = 0x40000000;

/** A reconstruction term: chunks [start, end) of a xorb, `size` bytes once unpacked. */
export interface ShardTerm {
  xorb: XetHash;
  flags: number;
  size: number;
  start: number;
  end: number;
}

export interface ShardFile {
  hash: XetHash;
  terms: ShardTerm[];
  /** One per term, when the file has them. */
  verification: XetHash[] | null;
  /** The file's sha256 (hex), when the file has a metadata entry. */
  sha256: string | null;
  /** Sum of the terms' sizes. */
  size: number;
}

export interface ShardXorbChunk {
  hash: XetHash;
  /** Where the chunk starts among the xorb's unpacked bytes. */
  offset: number;
  size: number;
}

/** A xorb as a shard lists it (its CAS info block). */
export interface ShardXorb {
  hash: XetHash;
  flags: number;
  chunks: ShardXorbChunk[];
  /** Sum of the chunks' sizes. */
  size: number;
  /** Its serialized length as uploaded. */
  storedSize: number;
}

export interface ShardFooter {
  /** Chunk hashes of the CAS section are keyed with this when it is not all zeros (dedup answers). */
  hmacKey: XetHash;
  createdAt: number;
  /** Unix seconds after which a dedup answer should not be used; 0 for none. */
  keyExpiry: number;
}

export interface Shard {
  files: ShardFile[];
  xorbs: ShardXorb[];
  footer: ShardFooter | null;
}

export interface ShardParseOptions {
  /** A shard upload: every file must have verification entries and a sha256 (spec "Shard Upload"). */
  upload?: boolean;
}

const isBookend = (bytes: Uint8Array, at: number) => {
  for (let i = 0; i < HASH_BYTES; i++) if (bytes[at + i] !== 0xff) return false;
  return true;
};

/** Reads a shard, checking its layout and everything that needs no other data (sizes, ranges, counts, offsets). */
export function parseShard(bytes: Uint8Array, options: ShardParseOptions = {}): Shard {
  const bad = (why: string) => new XetFormatError(`the shard ${why}`);
  if (bytes.length > MAX_SHARD_BYTES) throw bad(`is ${bytes.length} bytes; at most ${MAX_SHARD_BYTES} (64 MiB) are allowed, split it`);
  if (bytes.length < SHARD_HEADER_BYTES + 2 * RECORD) throw bad('is truncated');
  for (let i = 0; i < SHARD_TAG.length; i++) if (bytes[i] !== SHARD_TAG[i]) throw bad('does not start with the MDB shard tag');
  if (u64(bytes, 32) !== HEADER_VERSION) throw bad(`has header version ${u64(bytes, 32)}; only version ${HEADER_VERSION} is read`);
  const footerSize = u64(bytes, 40);
  if (footerSize !== 0 && footerSize !== SHARD_FOOTER_BYTES) throw bad(`declares a footer of ${footerSize} bytes; a footer is ${SHARD_FOOTER_BYTES} bytes, or 0 for none`);
  const end = bytes.length - footerSize;
  if (end < SHARD_HEADER_BYTES + 2 * RECORD) throw bad('is truncated');

  let at = SHARD_HEADER_BYTES;
  /** The next `count` records, which must lie before the footer. */
  const records = (count: number, what: string) => {
    if (count > (end - at) / RECORD) throw bad(`is truncated in ${what}`);
    const start = at;
    at += count * RECORD;
    return start;
  };

  const files: ShardFile[] = [];
  for (;;) {
    const header = records(1, 'the file info section');
    if (isBookend(bytes, header)) break;
    const index = files.length;
    const flags = u32(bytes, header + 32);
    const count = u32(bytes, header + 36);
    if (count > MAX_SHARD_BYTES / RECORD) throw bad(`gives file ${index} ${count} terms`);
    const termsAt = records(count, `the terms of file ${index}`);
    const terms: ShardTerm[] = [];
    let size = 0;
    for (let t = 0; t < count; t++) {
      const r = termsAt + t * RECORD;
      const term = { xorb: bytes.slice(r, r + HASH_BYTES), flags: u32(bytes, r + 32), size: u32(bytes, r + 36), start: u32(bytes, r + 40), end: u32(bytes, r + 44) };
      if (term.start >= term.end || term.end > MAX_XORB_CHUNKS) throw bad(`gives term ${t} of file ${index} the chunk range [${term.start}, ${term.end}), which is empty or beyond a xorb's ${MAX_XORB_CHUNKS} chunks`);
      if (term.size === 0 || term.size > (term.end - term.start) * MAX_CHUNK_SIZE) throw bad(`gives term ${t} of file ${index} ${term.size} bytes for ${term.end - term.start} chunks`);
      size += term.size;
      terms.push(term);
    }
    let verification: XetHash[] | null = null;
    if (flags & FILE_FLAG_WITH_VERIFICATION) {
      const v = records(count, `the verification entries of file ${index}`);
      verification = terms.map((_, t) => bytes.slice(v + t * RECORD, v + t * RECORD + HASH_BYTES));
    }
    let sha256: string | null = null;
    if (flags & FILE_FLAG_WITH_METADATA_EXT) {
      const m = records(1, `the metadata of file ${index}`);
      sha256 = hashToString(bytes.subarray(m, m + HASH_BYTES)); // stored like a Xet hash: its text form is the usual hex
    }
    files.push({ hash: bytes.slice(header, header + HASH_BYTES), terms, verification, sha256, size });
  }
  const casStart = at;

  const xorbs: ShardXorb[] = [];
  for (;;) {
    const header = records(1, 'the CAS info section');
    if (isBookend(bytes, header)) break;
    const index = xorbs.length;
    const hash = bytes.slice(header, header + HASH_BYTES);
    const count = u32(bytes, header + 36);
    const size = u32(bytes, header + 40);
    const storedSize = u32(bytes, header + 44);
    if (count === 0 || count > MAX_XORB_CHUNKS) throw bad(`lists ${count} chunks for xorb ${hashToString(hash)}; a xorb has 1..${MAX_XORB_CHUNKS}`);
    if (storedSize > MAX_XORB_BYTES) throw bad(`says xorb ${hashToString(hash)} is ${storedSize} bytes; a xorb is at most ${MAX_XORB_BYTES}`);
    const entries = records(count, `the chunks of xorb ${index}`);
    const chunks: ShardXorbChunk[] = [];
    let offset = 0;
    for (let c = 0; c < count; c++) {
      const r = entries + c * RECORD;
      const chunk = { hash: bytes.slice(r, r + HASH_BYTES), offset: u32(bytes, r + 32), size: u32(bytes, r + 36) };
      if (chunk.size === 0 || chunk.size > MAX_CHUNK_SIZE) throw bad(`lists chunk ${c} of xorb ${hashToString(hash)} with ${chunk.size} bytes, outside 1..${MAX_CHUNK_SIZE}`);
      if (chunk.offset !== offset) throw bad(`lists chunk ${c} of xorb ${hashToString(hash)} at offset ${chunk.offset}, but the chunks before it end at ${offset}`);
      offset += chunk.size;
      chunks.push(chunk);
    }
    if (offset !== size) throw bad(`says xorb ${hashToString(hash)} holds ${size} bytes, but its chunks add up to ${offset}`);
    xorbs.push({ hash, flags: u32(bytes, header + 32), chunks, size, storedSize });
  }
  const footerStart = at;
  if (footerStart !== end) throw bad(`has ${end - footerStart} bytes after its CAS info section that are not a footer`);

  let footer: ShardFooter | null = null;
  if (footerSize) {
    const f = footerStart;
    if (u64(bytes, f) !== FOOTER_VERSION) throw bad(`has footer version ${u64(bytes, f)}; only version ${FOOTER_VERSION} is read`);
    if (u64(bytes, f + 8) !== SHARD_HEADER_BYTES || u64(bytes, f + 16) !== casStart || u64(bytes, f + 192) !== footerStart) {
      throw bad("footer's section offsets do not match where the sections are");
    }
    footer = { hmacKey: bytes.slice(f + 72, f + 104), createdAt: u64(bytes, f + 104) ?? 0, keyExpiry: u64(bytes, f + 112) ?? 0 };
  }

  if (options.upload) {
    files.forEach((file, i) => {
      if (!file.verification) throw bad(`has no verification entries for file ${i} (${hashToString(file.hash)}); uploads must have one per term`);
      if (file.sha256 === null) throw bad(`has no sha256 for file ${i} (${hashToString(file.hash)}); uploads must carry each file's sha256 in a metadata entry`);
    });
    if (footer && !footer.hmacKey.every((b) => b === 0)) throw bad('is an upload but its chunk hashes are keyed (the footer has a key)');
  } else if (files.some((f) => f.verification) && files.some((f) => !f.verification)) {
    throw bad('has verification entries for some files but not all');
  }
  return { files, xorbs, footer };
}

/** The chunks of a xorb (hash and size, in order), as the server knows them; undefined when it has no such xorb. */
export type XorbChunksLookup = (xorb: XetHash) => readonly ChunkRef[] | undefined;

/** A lookup over the xorbs a shard lists itself (what its uploader claims: check them against the stored xorbs before trusting them). */
export function listedXorbs(shard: Shard): XorbChunksLookup {
  const byHash = new Map(shard.xorbs.map((x) => [hashToString(x.hash), x.chunks]));
  return (xorb) => byHash.get(hashToString(xorb));
}

/**
 * Checks each file's reconstruction against the chunks of the xorbs it uses: every term's range
 * lies inside its xorb, its size is the sum of its chunks' sizes, its verification hash (when the
 * file has them) is the hash of their chunk hashes, and the file's hash is the hash of all its
 * chunks. Throws XetFormatError naming the first fault; a xorb `lookup` does not know is one.
 */
export function checkReconstructions(shard: Shard, lookup: XorbChunksLookup): void {
  shard.files.forEach((file, index) => {
    const name = `file ${index} (${hashToString(file.hash)})`;
    const chunks: ChunkRef[] = [];
    file.terms.forEach((term, t) => {
      const xorbChunks = lookup(term.xorb);
      if (!xorbChunks) throw new XetFormatError(`${name} uses xorb ${hashToString(term.xorb)}, which has not been uploaded; upload every xorb before the shard that uses it`);
      if (term.end > xorbChunks.length) throw new XetFormatError(`term ${t} of ${name} asks for chunks [${term.start}, ${term.end}) of xorb ${hashToString(term.xorb)}, which has ${xorbChunks.length}`);
      const range = xorbChunks.slice(term.start, term.end);
      const size = range.reduce((n, c) => n + c.size, 0);
      if (size !== term.size) throw new XetFormatError(`term ${t} of ${name} says its chunks hold ${term.size} bytes; they hold ${size}`);
      if (file.verification && !hashesEqual(file.verification[t], verificationHash(range.map((c) => c.hash)))) {
        throw new XetFormatError(`the verification hash of term ${t} of ${name} does not match the chunks of xorb ${hashToString(term.xorb)} it names`);
      }
      chunks.push(...range);
    });
    if (!hashesEqual(fileHash(chunks), file.hash)) throw new XetFormatError(`${name}: its terms' chunks hash to ${hashToString(fileHash(chunks))}, not to the file hash`);
  });
}

/** Whether a shard's listing of a xorb matches the xorb's chunks as stored (hashes and sizes, in order). */
export function listingMatches(listing: ShardXorb, stored: readonly ChunkRef[]): boolean {
  return listing.chunks.length === stored.length && listing.chunks.every((c, i) => c.size === stored[i].size && hashesEqual(c.hash, stored[i].hash));
}

/** A xorb listing for a dedup answer: its chunk hashes keyed with `key` (spec "HMAC Key Protection"). */
export function keyedListing(listing: ShardXorb, key: XetHash): ShardXorb {
  return { ...listing, chunks: listing.chunks.map((c) => ({ ...c, hash: keyedHash(c.hash, key) })) };
}

/** The listing of a xorb from its chunks. */
export function xorbListing(hash: XetHash, chunks: readonly ChunkRef[], storedSize: number): ShardXorb {
  let offset = 0;
  const listed = chunks.map((c) => {
    const entry = { hash: c.hash, offset, size: c.size };
    offset += c.size;
    return entry;
  });
  return { hash, flags: 0, chunks: listed, size: offset, storedSize };
}

export interface ShardWriteInput {
  files?: readonly (Omit<ShardFile, 'size'> & { size?: number })[];
  xorbs?: readonly ShardXorb[];
  /** Write a footer (dedup answers have one, with their key). */
  footer?: ShardFooter;
}

/** The bytes of a shard (dedup answers, and tests). */
export function writeShard(input: ShardWriteInput): Uint8Array {
  const parts: Uint8Array[] = [];
  const record = () => new Uint8Array(RECORD);
  const bookend = () => {
    const r = record();
    r.fill(0xff, 0, HASH_BYTES);
    return r;
  };
  const footerBytes = input.footer ? SHARD_FOOTER_BYTES : 0;
  const header = new Uint8Array(SHARD_HEADER_BYTES);
  header.set(SHARD_TAG);
  putU64(header, 32, HEADER_VERSION);
  putU64(header, 40, footerBytes);
  parts.push(header);
  for (const file of input.files ?? []) {
    const h = record();
    h.set(file.hash);
    putU32(h, 32, (file.verification ? FILE_FLAG_WITH_VERIFICATION : 0) | (file.sha256 !== null ? FILE_FLAG_WITH_METADATA_EXT : 0));
    putU32(h, 36, file.terms.length);
    parts.push(h);
    for (const term of file.terms) {
      const r = record();
      r.set(term.xorb);
      putU32(r, 32, term.flags);
      putU32(r, 36, term.size);
      putU32(r, 40, term.start);
      putU32(r, 44, term.end);
      parts.push(r);
    }
    for (const v of file.verification ?? []) {
      const r = record();
      r.set(v);
      parts.push(r);
    }
    if (file.sha256 !== null) {
      const r = record();
      const sha = hashFromString(file.sha256); // stored like a Xet hash, as parseShard reads it
      if (!sha) throw new RangeError('a sha256 is 64 lowercase hex digits');
      r.set(sha);
      parts.push(r);
    }
  }
  parts.push(bookend());
  const casStart = parts.reduce((n, p) => n + p.length, 0);
  for (const xorb of input.xorbs ?? []) {
    const h = record();
    h.set(xorb.hash);
    putU32(h, 32, xorb.flags);
    putU32(h, 36, xorb.chunks.length);
    putU32(h, 40, xorb.size);
    putU32(h, 44, xorb.storedSize);
    parts.push(h);
    for (const chunk of xorb.chunks) {
      const r = record();
      r.set(chunk.hash);
      putU32(r, 32, chunk.offset);
      putU32(r, 36, chunk.size);
      parts.push(r);
    }
  }
  parts.push(bookend());
  if (input.footer) {
    const footerStart = parts.reduce((n, p) => n + p.length, 0);
    const f = new Uint8Array(SHARD_FOOTER_BYTES);
    putU64(f, 0, FOOTER_VERSION);
    putU64(f, 8, SHARD_HEADER_BYTES);
    putU64(f, 16, casStart);
    // No lookup tables: the file, CAS and chunk lookup sections are empty and start at the footer
    // (huggingface.js reads xorbs up to the file lookup offset).
    putU64(f, 24, footerStart);
    putU64(f, 40, footerStart);
    putU64(f, 56, footerStart);
    f.set(input.footer.hmacKey, 72);
    putU64(f, 104, input.footer.createdAt);
    putU64(f, 112, input.footer.keyExpiry);
    putU64(f, 192, footerStart);
    parts.push(f);
  }
  return concatBytes(parts);
}
