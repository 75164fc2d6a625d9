import fs from 'node:fs';
import type { Readable } from 'node:stream';

// Writes an upload's body into a file at the speed of the disk. Each chunk is handed to `onChunk`
// (the sha256) as it arrives, on the main thread, while the chunks before it are written by the
// thread pool: hashing and writing overlap instead of taking turns. Chunks are gathered and
// written WRITE_SIZE at a time with one writev (no copy into a bigger buffer; a socket gives each
// chunk its own buffer), and the body is paused while more than MAX_QUEUED bytes wait for the
// disk, so an upload holds a few MiB whatever its size. Measured in bench/README.md ("Uploads").

/** Bytes gathered before one write. */
export const WRITE_SIZE = 2 * 1024 * 1024;
/** Bytes waiting for the disk beyond which the body is paused. */
const MAX_QUEUED = 4 * WRITE_SIZE;

/**
 * Writes `body` into `fd` from offset 0, calling `onChunk` with every chunk in order; resolves
 * with the number of bytes once all of them are written (not yet synced). A failure on the disk
 * side does not destroy the body (that would drop the client's connection before it is answered):
 * the rest of it is read and discarded instead, so the route can still say that the disk is full.
 * A client that goes away before the end fails the write.
 */
export function receiveFile(body: Readable, fd: number, onChunk: (chunk: Buffer) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let queued: Buffer[] = [];
    let queuedBytes = 0;
    let position = 0;
    let received = 0;
    let writing = false;
    let ended = false;
    let done = false;
    let paused = false;

    let failure: Error | undefined;
    /** Ends the call: at once, or once the write in flight is back (the caller closes the file next). */
    const settle = (err?: Error) => {
      if (done) return;
      done = true;
      failure = err;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      queued = [];
      // Whatever the body still sends is read and dropped.
      if (err && !body.destroyed) body.resume();
      if (!writing) answer();
    };
    const answer = () => (failure ? reject(failure) : resolve(received));

    const write = () => {
      if (done || writing) return;
      if (queuedBytes === 0) {
        if (ended) settle();
        return;
      }
      if (queuedBytes < WRITE_SIZE && !ended) return;
      const batch = queued;
      const bytes = queuedBytes;
      queued = [];
      queuedBytes = 0;
      writing = true;
      fs.writev(fd, batch, position, (err, written) => {
        writing = false;
        if (done) return answer();
        if (err) return settle(err);
        position += written;
        // A short write (rare on a file): what was not written goes first in the next one.
        if (written < bytes) requeue(batch, written);
        if (paused && queuedBytes < MAX_QUEUED) {
          paused = false;
          body.resume();
        }
        write();
      });
    };

    const requeue = (batch: Buffer[], written: number) => {
      const rest: Buffer[] = [];
      for (const chunk of batch) {
        if (written >= chunk.length) written -= chunk.length;
        else {
          rest.push(written > 0 ? chunk.subarray(written) : chunk);
          written = 0;
        }
      }
      queued = rest.concat(queued);
      queuedBytes = queued.reduce((n, c) => n + c.length, 0);
    };

    const onData = (chunk: Buffer) => {
      received += chunk.length;
      onChunk(chunk);
      queued.push(chunk);
      queuedBytes += chunk.length;
      if (queuedBytes >= MAX_QUEUED && !paused) {
        paused = true;
        body.pause();
      }
      write();
    };
    const onEnd = () => {
      ended = true;
      write();
    };
    const onError = (err: Error) => settle(err);
    const onClose = () => {
      if (!body.readableEnded) settle(new Error('the client closed the connection before the end of the body'));
    };

    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
  });
}
