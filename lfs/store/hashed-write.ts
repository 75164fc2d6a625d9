import type { FileHandle } from 'node:fs/promises';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { threadHash } from './sha256-thread.js';

// Receiving an upload's bytes at the disk's speed. The body is gathered into a few large blocks of
// shared memory; each full block is written (fs.write at its offset, no stream in between) and
// hashed on the hashing thread at the same time, while the next block fills. A block is reused
// only once both are done, so at most BLOCKS * BLOCK_SIZE bytes per upload are held. The file is
// fsynced once, at the end, so the rename that follows puts only complete bytes under the final name.

/** Bytes per block: large enough that each write and each hash step costs little overhead. */
export const BLOCK_SIZE = 512 * 1024;
/** Blocks per upload: one filling, the others being written and hashed. */
const BLOCKS = 4;

export interface Received {
  sha256: string;
  size: number;
}

/** Writes `view` whole at `position` (fs.write may write less than asked). */
async function writeAll(fh: FileHandle, view: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < view.length; ) {
    const { bytesWritten } = await fh.write(view, done, view.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Streams `body` into a new file `file` (which must not exist), hashing it on the way; its sha256
 * and size once the file is complete and on disk. Unlike pipeline(body, ...), a failure on the
 * disk side does not destroy the body (that would drop the client's connection before it is
 * answered): the rest of the body is read and discarded instead, so the caller can still tell the
 * client that the disk is full. A client that goes away fails the write. The file is left for the
 * caller to remove whatever happens.
 */
export async function writeHashed(body: Readable, file: string, blockSize = BLOCK_SIZE): Promise<Received> {
  const memory = new SharedArrayBuffer(blockSize * BLOCKS);
  const hash = threadHash(memory);
  const inFlight = new Set<Promise<void>>();
  let fh: FileHandle | undefined;
  let onData: ((chunk: Buffer) => void) | undefined;
  try {
    // Opened before any byte is taken: a disk that cannot take the file says so here (EROFS, ENOSPC).
    fh = await fsp.open(file, 'wx');
    const handle = fh;
    const size = await new Promise<number>((resolve, reject) => {
      const free = Array.from({ length: BLOCKS }, (_, i) => i);
      const pending: Buffer[] = [];
      let block = -1;
      let fill = 0;
      let written = 0;
      let ended = false;
      let failed = false;
      let pausedHere = false;
      let lastWrite = Promise.resolve();

      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        detach();
        reject(err);
      };
      /** Writes and hashes the first `length` bytes of block `b`; frees it once both are done. */
      const flush = (b: number, length: number) => {
        const offset = b * blockSize;
        const position = written;
        written += length;
        // One write at a time: concurrent writes to one file contend for its lock in the kernel
        // (twice the system time, measured), and the disk gains nothing from them.
        const write = (lastWrite = lastWrite.then(() => writeAll(handle, new Uint8Array(memory, offset, length), position)));
        const work = Promise.all([write, hash.update(offset, length)]).then(
          () => {
            inFlight.delete(work);
            free.push(b);
            if (!failed) fillBlocks();
          },
          (err: Error) => {
            inFlight.delete(work);
            fail(err);
          },
        );
        inFlight.add(work);
      };
      /** Copies what has arrived into free blocks; pauses the body while none is free. */
      const fillBlocks = () => {
        if (failed) return;
        while (pending.length) {
          if (block < 0) {
            const next = free.pop();
            if (next === undefined) {
              if (!pausedHere) body.pause();
              pausedHere = true;
              return;
            }
            block = next;
            fill = 0;
          }
          const chunk = pending[0];
          const n = Math.min(blockSize - fill, chunk.length);
          new Uint8Array(memory, block * blockSize + fill, n).set(chunk.subarray(0, n));
          fill += n;
          if (n === chunk.length) pending.shift();
          else pending[0] = chunk.subarray(n);
          if (fill === blockSize) {
            flush(block, fill);
            block = -1;
          }
        }
        if (pausedHere) {
          pausedHere = false;
          body.resume();
        }
        if (ended) {
          if (block >= 0 && fill > 0) flush(block, fill);
          block = -1;
          if (inFlight.size === 0) {
            detach();
            resolve(written);
          }
        }
      };
      onData = (chunk: Buffer) => {
        pending.push(chunk);
        fillBlocks();
      };
      const onEnd = () => {
        ended = true;
        fillBlocks();
      };
      const onError = (err: Error) => fail(err);
      const onClose = () => {
        if (!body.readableEnded) fail(new Error('the client closed the connection before the end of the body'));
      };
      const detach = () => {
        body.off('data', onData!);
        body.off('end', onEnd);
        body.off('error', onError);
        body.off('close', onClose);
      };
      // A client gone while the file was being opened sends nothing more.
      if (body.destroyed && !body.readableEnded) return fail(new Error('the client closed the connection before the end of the body'));
      body.on('data', onData);
      body.once('end', onEnd);
      body.once('error', onError);
      body.once('close', onClose);
    });
    const [sha256] = await Promise.all([hash.digest(), handle.sync()]);
    return { sha256, size };
  } catch (err) {
    if (onData) body.off('data', onData);
    // The rest of the body is read and dropped, so the client can still be answered.
    if (!body.destroyed) body.resume();
    hash.drop();
    throw err;
  } finally {
    // Nothing may still be writing to the file when it is closed (and then removed by the caller).
    await Promise.allSettled([...inFlight]);
    await fh?.close().catch(() => {});
  }
}
