import { ByteQueue } from './bytes.js';
import { decompressChunk } from './compression.js';
import { XetFormatError } from './errors.js';
import { CHUNK_HEADER_BYTES, type ChunkHeader, parseChunkHeader } from './xorb.js';

// Decodes a run of whole chunks cut from a stored xorb (a range a reconstruction names) as its
// bytes arrive from the store: each chunk's data as soon as its stored bytes are all there, so
// memory holds one block read from the store and one chunk, never the range.

export class ChunkStreamReader {
  private queue = new ByteQueue();
  private header: ChunkHeader | null = null;

  /** The data of the chunks completed by `block`, in order (none when it ends inside a chunk). */
  push(block: Uint8Array): Uint8Array[] {
    this.queue.push(block);
    const out: Uint8Array[] = [];
    for (;;) {
      if (!this.header) {
        if (this.queue.length < CHUNK_HEADER_BYTES) return out;
        this.header = parseChunkHeader(this.queue.take(CHUNK_HEADER_BYTES));
      }
      if (this.queue.length < this.header.storedSize) return out;
      const { scheme, storedSize, size } = this.header;
      this.header = null;
      out.push(decompressChunk(scheme, this.queue.take(storedSize), size));
    }
  }

  /** Checks that the range ended at a chunk boundary. */
  finish(): void {
    if (this.header || this.queue.length > 0) throw new XetFormatError('a chunk range ends inside a chunk');
  }
}
