import { putU24 } from './bytes.js';
import { Compression, compressChunk } from './compression.js';
import { MAX_CHUNK_SIZE } from './chunker.js';
import { chunkHash, type XetHash, xorbHash } from './hash.js';
import { CHUNK_HEADER_BYTES, MAX_XORB_BYTES, MAX_XORB_CHUNKS, type XorbChunk } from './xorb.js';

// Packs chunks into one xorb as they come, the way the clients do: each chunk stored as the
// smaller of LZ4 and ByteGrouping4LZ4 (or uncompressed when neither is smaller), appended while
// the xorb stays within 64 MiB and 8,192 chunks. The buffer is allocated once and reused after
// `take`, so a conversion holds one xorb in memory. Trying both compressions costs more than
// chunking and hashing together, so `SchemeChooser` tries both only on a sample of the chunks and
// uses the last winner in between (none at all for data that does not compress).

export interface BuiltXorb {
  hash: XetHash;
  /** The chunk section (a view of the builder's buffer: valid until the next `add`). */
  bytes: Uint8Array;
  chunks: XorbChunk[];
  /** Sum of the chunks' unpacked lengths. */
  size: number;
}

export class XorbBuilder {
  private buffer: Uint8Array | null = null;
  private offset = 0;
  private chunks: XorbChunk[] = [];
  private size = 0;

  /** How many chunks the xorb being built holds. */
  get chunkCount(): number {
    return this.chunks.length;
  }

  /**
   * Appends a chunk (at most MAX_CHUNK_SIZE bytes), compressed with `scheme` (uncompressed when
   * that is not smaller) or the best of both compressions (`scheme` undefined); returns its hash
   * and the scheme used. False, with nothing appended, when it does not fit: `take` the xorb, then
   * add the chunk to the next one. `hash`: the chunk's hash when the caller computed it already.
   */
  add(data: Uint8Array, scheme?: Compression, hash: XetHash = chunkHash(data)): { hash: XetHash; scheme: Compression } | false {
    if (data.length === 0 || data.length > MAX_CHUNK_SIZE) throw new RangeError(`a chunk of ${data.length} bytes`);
    if (this.chunks.length >= MAX_XORB_CHUNKS) return false;
    let stored: Uint8Array;
    let used: Compression;
    if (scheme !== undefined) {
      [used, stored] = [scheme, compressChunk(scheme, data)];
      if (stored.length >= data.length) [used, stored] = [Compression.None, data];
    } else {
      const lz4 = compressChunk(Compression.LZ4, data);
      const grouped = compressChunk(Compression.ByteGrouping4LZ4, data);
      [used, stored] = grouped.length < lz4.length ? [Compression.ByteGrouping4LZ4, grouped] : [Compression.LZ4, lz4];
      if (stored.length >= data.length) [used, stored] = [Compression.None, data];
    }
    const end = this.offset + CHUNK_HEADER_BYTES + stored.length;
    if (end > MAX_XORB_BYTES) return false;
    this.buffer ??= new Uint8Array(MAX_XORB_BYTES);
    const b = this.buffer;
    b[this.offset] = 0;
    putU24(b, this.offset + 1, stored.length);
    b[this.offset + 4] = used;
    putU24(b, this.offset + 5, data.length);
    b.set(stored, this.offset + CHUNK_HEADER_BYTES);
    this.chunks.push({ hash, size: data.length, offset: this.offset, end });
    this.offset = end;
    this.size += data.length;
    return { hash, scheme: used };
  }

  /** The xorb built so far (null when empty); the builder starts the next one, reusing its buffer. */
  take(): BuiltXorb | null {
    if (this.chunks.length === 0 || !this.buffer) return null;
    const built = { hash: xorbHash(this.chunks), bytes: this.buffer.subarray(0, this.offset), chunks: this.chunks, size: this.size };
    this.chunks = [];
    this.offset = 0;
    this.size = 0;
    return built;
  }
}

/**
 * Which compression to give the next chunk: undefined (try both) for every `sampleEvery`-th
 * chunk, else the scheme the last sample chose.
 */
export class SchemeChooser {
  private count = 0;
  private last: Compression = Compression.LZ4;

  constructor(private readonly sampleEvery = 16) {}

  next(): Compression | undefined {
    return this.count++ % this.sampleEvery === 0 ? undefined : this.last;
  }

  /** What the chunk given `asked` (from next()) was stored with. */
  record(asked: Compression | undefined, used: Compression): void {
    if (asked === undefined) this.last = used;
  }
}
