import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { ByteRange } from './byte-range.js';

// Sends a byte range of an open file as a response body, for every file download served by Node
// (LFS objects of the fs store, git files from the blob cache). Node has no sendfile, so each byte
// is copied twice (file to buffer, buffer to socket); this keeps everything else off the path: one
// file descriptor, reads of READ_SIZE straight at the range, two buffers per response reused for
// the whole file (a new buffer per read costs the kernel a fresh mapping and zeroed pages, and the
// garbage collector the rest), the next read running while the socket takes the last one, and no
// stream or transform in between. The socket is the backpressure: a buffer is read into again only
// once the socket has taken all of it. Measured in bench/README.md ("Serving files").

/** Bytes per read. */
export const READ_SIZE = 1024 * 1024;
/** Buffers per response: one being read while the other is written. */
const BUFFERS_PER_RESPONSE = 2;
/** Full-size buffers kept for the next responses, so short downloads do not map fresh memory each time. */
const MAX_SPARE = 4;

const spare: Buffer[] = [];

function takeBuffer(size: number): Buffer {
  if (size === READ_SIZE) return spare.pop() ?? Buffer.allocUnsafeSlow(READ_SIZE);
  return Buffer.allocUnsafeSlow(size);
}

function giveBack(buf: Buffer): void {
  if (buf.length === READ_SIZE && spare.length < MAX_SPARE) spare.push(buf);
}

/**
 * Sends bytes [range.start, range.end] of `handle` (status and headers already set, Content-Length
 * among them); the handle is closed once the body is sent or the client has gone. A file that
 * turns out shorter than the range cuts the connection: the length is already promised.
 */
export function sendFileRange(handle: FileHandle, res: ServerResponse, range: ByteRange): void {
  const end = range.end + 1;
  let position = range.start;
  if (end <= position || res.destroyed) {
    void handle.close().catch(() => {});
    res.end();
    return;
  }
  const size = Math.min(READ_SIZE, end - position);
  const free: Buffer[] = Array.from({ length: Math.min(BUFFERS_PER_RESPONSE, Math.ceil((end - position) / size)) }, () => takeBuffer(size));
  let reading = false;
  let stopped = false;

  const close = () => void handle.close().catch(() => {});
  const stop = () => {
    if (stopped) return;
    stopped = true;
    // Buffers still with the socket or a read are dropped, never reused.
    for (const buf of free.splice(0)) giveBack(buf);
    // A read in flight still uses the descriptor: it is closed when that read is back.
    if (!reading) close();
  };
  res.once('close', stop);

  const next = () => {
    if (stopped || reading || position >= end) return;
    const buf = free.pop();
    if (!buf) return; // both are with the socket: its write callback calls next
    reading = true;
    fs.read(handle.fd, buf, 0, Math.min(buf.length, end - position), position, (err, bytesRead) => {
      reading = false;
      if (stopped) return close();
      if (err || bytesRead === 0) {
        // The status and length are already sent: a cut connection is the only way to say the body is incomplete.
        res.destroy(err ?? new Error('the file ended before the range'));
        return;
      }
      position += bytesRead;
      res.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead), (writeErr) => {
        if (writeErr) return stop();
        if (stopped) return;
        free.push(buf);
        next();
      });
      if (position >= end) res.end();
      else next();
    });
  };
  next();
}
