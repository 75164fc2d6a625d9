import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { ByteRange } from './range.js';

// Sends a byte range of an open file as a response body: the file is read straight at the
// range (nothing before it is read, nothing is cut or copied in between) in large reads, each
// handed to the socket as it is; the response's backpressure pauses the reads. Node has no
// sendfile, so large reads are what keeps the per-chunk cost small: each chunk is a thread-pool
// round trip and a socket write, and on a busy machine every wake-up of a thread waits for a CPU.
// For an 8 MiB file read again and again by one client, 2 MiB reads gave the shortest and
// steadiest times (64 KiB took about twice as long, 512 KiB and 8 MiB varied most; bench/README.md,
// "Serving files"). A response holds about two reads in memory while its client takes them.

/** Bytes per read. */
export const READ_CHUNK = 2 * 1024 * 1024;

/** Sends bytes [range.start, range.end] of `handle`; the handle is closed when the body is sent or the client goes away. */
export function sendFileBody(handle: FileHandle, res: ServerResponse, range: ByteRange): void {
  if (range.end < range.start) {
    void handle.close().catch(() => {});
    res.end();
    return;
  }
  const stream = fs.createReadStream('', { fd: handle, start: range.start, end: range.end, highWaterMark: Math.min(READ_CHUNK, range.end - range.start + 1) });
  pipeline(stream, res, (err) => {
    // The status and length are already sent: a cut connection is the only way to say the body is incomplete.
    if (err && !res.writableFinished && !res.destroyed) res.destroy();
  });
}
