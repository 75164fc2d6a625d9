import { ByteQueue, concatBytes, putU24, putU32, u24, u32 } from './bytes.js';
import { Compression, compressChunk, decompressChunk } from './compression.js';
import { MAX_CHUNK_SIZE } from './chunker.js';
import { XetFormatError } from './errors.js';
import { HASH_BYTES, type XetHash, chunkHash, hashToString, hashesEqual, xorbHash } from './hash.js';

// Xorbs (spec "Xorb Format"): chunks one after the other, each an 8-byte header (version 0, stored
// size u24, compression scheme u8, uncompressed size u24, little-endian) and its stored bytes.
// xet-core's writer appends a footer after the chunks (XorbObjectInfo: "XETBLOB", version, the xorb
// hash, the chunk hashes, the chunk boundaries, then its own length as a u32); huggingface.js sends
// none. Both are accepted; the footer, when present, must agree with the chunks. What is kept and
// served is the chunk section: its byte offsets are what reconstruction answers point into.

export const MAX_XORB_BYTES = 64 * 1024 * 1024;
export const MAX_XORB_CHUNKS = 8 * 1024;
export const CHUNK_HEADER_BYTES = 8;
/** A stored chunk is never much larger than its data (clients store it uncompressed when compression does not help); this leaves room for LZ4's frame. */
export const MAX_STORED_CHUNK_SIZE = MAX_CHUNK_SIZE + 4096;
const FOOTER_IDENT = 'XETBLOB';
const HASHES_IDENT = 'XBLBHSH';
const BOUNDARIES_IDENT = 'XBLBBND';
const FOOTER_BUFFER_BYTES = 16;
/** The largest footer of MAX_XORB_CHUNKS chunks, and its length field. */
const MAX_FOOTER_BYTES = 128 + MAX_XORB_CHUNKS * (HASH_BYTES + 8) + 4;

export interface ChunkHeader {
  version: number;
  storedSize: number;
  scheme: number;
  size: number;
}

export function parseChunkHeader(bytes: Uint8Array, at = 0): ChunkHeader {
  const header = { version: bytes[at], storedSize: u24(bytes, at + 1), scheme: bytes[at + 4], size: u24(bytes, at + 5) };
  if (header.version !== 0) throw new XetFormatError(`a chunk header has version ${header.version}; only version 0 exists`);
  if (header.size === 0 || header.size > MAX_CHUNK_SIZE) throw new XetFormatError(`a chunk of ${header.size} bytes is outside 1..${MAX_CHUNK_SIZE}`);
  if (header.storedSize === 0 || header.storedSize > MAX_STORED_CHUNK_SIZE) throw new XetFormatError(`a chunk stored in ${header.storedSize} bytes is outside 1..${MAX_STORED_CHUNK_SIZE}`);
  return header;
}

export interface XorbChunk {
  hash: XetHash;
  /** Uncompressed length. */
  size: number;
  /** Where its header starts in the chunk section. */
  offset: number;
  /** Where it ends (header and stored bytes). */
  end: number;
}

export interface VerifiedXorb {
  hash: XetHash;
  chunks: XorbChunk[];
  /** Length of the chunk section: the xorb as stored, without a footer. */
  chunksLength: number;
  /** Sum of the chunks' uncompressed lengths. */
  size: number;
  /** Whether the upload carried xet-core's footer (checked, then dropped). */
  hadFooter: boolean;
}

/**
 * Checks a xorb as its bytes arrive: `push` each block (memory: one chunk, or the footer),
 * `finish` with the hash the upload claims. Every chunk is decompressed and hashed; the hash of
 * the chunks must be `expected`. Throws XetFormatError (a 400) at the first fault.
 */
export class XorbVerifier {
  private queue = new ByteQueue();
  private received = 0;
  private chunks: XorbChunk[] = [];
  private offset = 0;
  private size = 0;
  private header: ChunkHeader | null = null;
  private inFooter = false;

  push(block: Uint8Array): void {
    this.received += block.length;
    if (this.received > MAX_XORB_BYTES) throw new XetFormatError(`a xorb is at most ${MAX_XORB_BYTES} bytes (64 MiB); split the upload into more xorbs`);
    this.queue.push(block);
    this.drain();
  }

  private drain(): void {
    while (!this.inFooter) {
      if (!this.header) {
        if (this.queue.length === 0) return;
        const first = this.queue.peek();
        if (first === FOOTER_IDENT.charCodeAt(0)) {
          this.inFooter = true; // not a chunk header (its version byte is 0): the footer, checked at the end
          break;
        }
        if (first !== 0) throw new XetFormatError(`chunk ${this.chunks.length} has header version ${first}; only version 0 exists`);
        if (this.queue.length < CHUNK_HEADER_BYTES) return;
        this.header = parseChunkHeader(this.queue.take(CHUNK_HEADER_BYTES));
      }
      if (this.queue.length < this.header.storedSize) return;
      const header = this.header;
      this.header = null;
      const data = decompressChunk(header.scheme, this.queue.take(header.storedSize), header.size);
      if (this.chunks.length === MAX_XORB_CHUNKS) throw new XetFormatError(`a xorb holds at most ${MAX_XORB_CHUNKS} chunks`);
      const end = this.offset + CHUNK_HEADER_BYTES + header.storedSize;
      this.chunks.push({ hash: chunkHash(data), size: header.size, offset: this.offset, end });
      this.offset = end;
      this.size += header.size;
    }
    if (this.queue.length > MAX_FOOTER_BYTES) throw new XetFormatError('a xorb has bytes after its chunks that are not a xorb footer');
  }

  finish(expected: XetHash): VerifiedXorb {
    if (this.header) throw new XetFormatError(`a xorb ends inside chunk ${this.chunks.length} (it is truncated)`);
    if (!this.inFooter && this.queue.length > 0) throw new XetFormatError(`a xorb ends inside the header of chunk ${this.chunks.length} (it is truncated)`);
    if (this.chunks.length === 0) throw new XetFormatError('a xorb must hold at least one chunk');
    const hash = xorbHash(this.chunks);
    if (!hashesEqual(hash, expected)) {
      throw new XetFormatError(`the xorb's chunks hash to ${hashToString(hash)}, not ${hashToString(expected)} as its URL says`);
    }
    const hadFooter = this.inFooter;
    if (hadFooter) checkFooter(this.queue.take(this.queue.length), hash, this.chunks);
    return { hash, chunks: this.chunks, chunksLength: this.offset, size: this.size, hadFooter };
  }
}

/** verifyXorb for a whole body at once. */
export function verifyXorb(body: Uint8Array, expected: XetHash): VerifiedXorb {
  const verifier = new XorbVerifier();
  verifier.push(body);
  return verifier.finish(expected);
}

function ident(bytes: Uint8Array, at: number, name: string, what: string): void {
  for (let i = 0; i < name.length; i++) {
    if (bytes[at + i] !== name.charCodeAt(i)) throw new XetFormatError(`the xorb footer's ${what} does not start with ${name}`);
  }
}

/** Checks xet-core's footer (version 1, or the older version 0) against the chunks it follows. */
function checkFooter(footer: Uint8Array, hash: XetHash, chunks: XorbChunk[]): void {
  const bad = (why: string) => new XetFormatError(`the xorb footer ${why}`);
  if (footer.length < 4 + 8 + HASH_BYTES) throw bad('is truncated');
  const infoLength = u32(footer, footer.length - 4);
  if (infoLength !== footer.length - 4) throw bad(`says it is ${infoLength} bytes long, but ${footer.length - 4} bytes follow the chunks`);
  ident(footer, 0, FOOTER_IDENT, 'start');
  const version = footer[7];
  const n = chunks.length;
  let at = 8;
  const need = (bytes: number) => {
    if (at + bytes > infoLength) throw bad('is truncated');
  };
  need(HASH_BYTES);
  if (!hashesEqual(footer.subarray(at, at + HASH_BYTES), hash)) throw bad('names a different xorb hash than its chunks have');
  at += HASH_BYTES;
  const countMatches = () => {
    need(4);
    if (u32(footer, at) !== n) throw bad(`counts ${u32(footer, at)} chunks, but the xorb has ${n}`);
    at += 4;
  };
  const hashesMatch = () => {
    need(n * HASH_BYTES);
    for (let i = 0; i < n; i++, at += HASH_BYTES) {
      if (!hashesEqual(footer.subarray(at, at + HASH_BYTES), chunks[i].hash)) throw bad(`lists a different hash for chunk ${i} than its data has`);
    }
  };
  const boundariesMatch = (values: (c: XorbChunk) => number, what: string) => {
    need(n * 4);
    let sum = 0;
    for (let i = 0; i < n; i++, at += 4) {
      sum = values(chunks[i]) + (what === 'uncompressed' ? sum : 0);
      if (u32(footer, at) !== sum) throw bad(`has a wrong ${what} boundary for chunk ${i}`);
    }
  };
  if (version === 0) {
    countMatches();
    boundariesMatch((c) => c.end, 'stored');
    hashesMatch();
    need(FOOTER_BUFFER_BYTES);
    at += FOOTER_BUFFER_BYTES;
  } else if (version === 1) {
    need(8);
    ident(footer, at, HASHES_IDENT, 'hash section');
    if (footer[at + 7] !== 0) throw bad(`has hash section version ${footer[at + 7]}, not 0`);
    at += 8;
    countMatches();
    hashesMatch();
    need(8);
    ident(footer, at, BOUNDARIES_IDENT, 'boundary section');
    if (footer[at + 7] !== 1) throw bad(`has boundary section version ${footer[at + 7]}, not 1`);
    at += 8;
    countMatches();
    boundariesMatch((c) => c.end, 'stored');
    boundariesMatch((c) => c.size, 'uncompressed');
    countMatches();
    need(8 + FOOTER_BUFFER_BYTES);
    at += 8 + FOOTER_BUFFER_BYTES; // the two section offsets (derived from the layout) and the reserved/nonce bytes
  } else {
    throw bad(`has version ${version}; versions 0 and 1 exist`);
  }
  if (at !== infoLength) throw bad('has bytes this version does not define');
}

/**
 * The data of the chunks stored in `bytes`, a run of whole chunks cut from a xorb's chunk
 * section (a range a reconstruction answer names), in order. Checks each header and length.
 */
export function* readChunks(bytes: Uint8Array): Generator<Uint8Array> {
  let at = 0;
  while (at < bytes.length) {
    if (at + CHUNK_HEADER_BYTES > bytes.length) throw new XetFormatError('a chunk range ends inside a chunk header');
    const header = parseChunkHeader(bytes, at);
    const start = at + CHUNK_HEADER_BYTES;
    if (start + header.storedSize > bytes.length) throw new XetFormatError('a chunk range ends inside a chunk');
    yield decompressChunk(header.scheme, bytes.subarray(start, start + header.storedSize), header.size);
    at = start + header.storedSize;
  }
}

export interface XorbWriteOptions {
  /** How to store each chunk; the default keeps whichever of LZ4 and ByteGrouping4LZ4 is smaller, or none when neither helps. */
  scheme?: Compression | ((index: number) => Compression);
  /** Append xet-core's footer (version 1). */
  footer?: boolean;
}

/** A xorb of `chunks` (each at most MAX_CHUNK_SIZE bytes): its bytes and hash. */
export function writeXorb(chunks: readonly Uint8Array[], options: XorbWriteOptions = {}): { bytes: Uint8Array; hash: XetHash; chunks: XorbChunk[] } {
  const parts: Uint8Array[] = [];
  const info: XorbChunk[] = [];
  let offset = 0;
  chunks.forEach((data, index) => {
    if (data.length === 0 || data.length > MAX_CHUNK_SIZE) throw new RangeError(`chunk ${index} has ${data.length} bytes`);
    const choice = typeof options.scheme === 'function' ? options.scheme(index) : options.scheme;
    let scheme: Compression;
    let stored: Uint8Array;
    if (choice !== undefined) {
      scheme = choice;
      stored = compressChunk(choice, data);
    } else {
      const lz4 = compressChunk(Compression.LZ4, data);
      const grouped = compressChunk(Compression.ByteGrouping4LZ4, data);
      [scheme, stored] = grouped.length < lz4.length ? [Compression.ByteGrouping4LZ4, grouped] : [Compression.LZ4, lz4];
      if (stored.length >= data.length) [scheme, stored] = [Compression.None, data];
    }
    const header = new Uint8Array(CHUNK_HEADER_BYTES);
    header[0] = 0;
    putU24(header, 1, stored.length);
    header[4] = scheme;
    putU24(header, 5, data.length);
    parts.push(header, stored);
    const end = offset + CHUNK_HEADER_BYTES + stored.length;
    info.push({ hash: chunkHash(data), size: data.length, offset, end });
    offset = end;
  });
  const hash = xorbHash(info);
  if (options.footer) parts.push(footerV1(hash, info));
  return { bytes: concatBytes(parts), hash, chunks: info };
}

function footerV1(hash: XetHash, chunks: XorbChunk[]): Uint8Array {
  const n = chunks.length;
  const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const u32s = (values: number[]) => {
    const out = new Uint8Array(values.length * 4);
    values.forEach((v, i) => putU32(out, i * 4, v));
    return out;
  };
  let unpacked = 0;
  const boundarySection = concatBytes([ascii(BOUNDARIES_IDENT), Uint8Array.of(1), u32s([n]), u32s(chunks.map((c) => c.end)), u32s(chunks.map((c) => (unpacked += c.size)))]);
  const hashSection = concatBytes([ascii(HASHES_IDENT), Uint8Array.of(0), u32s([n]), ...chunks.map((c) => c.hash)]);
  const tail = 12 + FOOTER_BUFFER_BYTES;
  const boundaryFromEnd = boundarySection.length + tail;
  const hashesFromEnd = hashSection.length + boundaryFromEnd;
  const info = concatBytes([ascii(FOOTER_IDENT), Uint8Array.of(1), hash, hashSection, boundarySection, u32s([n, hashesFromEnd, boundaryFromEnd]), new Uint8Array(FOOTER_BUFFER_BYTES)]);
  return concatBytes([info, u32s([info.length])]);
}
