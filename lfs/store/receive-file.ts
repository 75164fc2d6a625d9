import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { youngGarbageMeter } from '../../src/util/young-garbage.js';
import type { FromThread, ToThread } from './receive-messages.js';

// Writes an upload's body into a file and hashes it at the speed of the disk. The main thread
// only reads the socket: every WRITE_SIZE bytes of chunks are handed to one thread per process
// (receive-thread.ts; their memory moves there, nothing is copied), which gives them to the thread
// pool to write and hashes them meanwhile. Reading, hashing and writing then overlap on two cores
// instead of taking turns on the main thread (SHA-256 alone takes 0.6-1 s a GiB). The body is
// paused while more than MAX_QUEUED bytes wait for the thread or the disk, so an upload holds a
// few MiB whatever its size. Measured in bench/README.md ("Uploads").

/** Bytes gathered before they are handed to the thread as one write. */
export const WRITE_SIZE = 2 * 1024 * 1024;
/** Bytes waiting for the thread or the disk beyond which the body is paused. */
const MAX_QUEUED = 2 * WRITE_SIZE;

/** What was received: the number of bytes, all written (not yet synced), and their sha256. */
export interface Received {
  size: number;
  sha256: string;
}

/** A last answer from the thread, or the thread lost (it died, so no answer will come). */
type Answer = FromThread | { id: number; kind: 'lost'; message: string };

let thread: Worker | undefined;
const listeners = new Map<number, (m: Answer) => void>();
let lastId = 0;

/** The compiled thread: beside this file, or under dist/ when this runs from the TypeScript sources (the tests). */
function threadFile(): URL {
  const beside = new URL('./receive-thread.js', import.meta.url);
  return fs.existsSync(beside) ? beside : new URL('../../dist/lfs/store/receive-thread.js', import.meta.url);
}

/** The process's receiving thread, started at the first upload; holds the process open only while it has work. */
function receivingThread(): Worker {
  if (thread) return thread;
  // Its heap holds little more than the messages: kept small, so the thread costs a few MB.
  const started = new Worker(threadFile(), { resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 32 } });
  const lost = (message: string) => {
    if (thread !== started) return;
    thread = undefined;
    for (const [id, listener] of [...listeners]) listener({ id, kind: 'lost', message });
  };
  started.on('message', (m: FromThread) => listeners.get(m.id)?.(m));
  started.on('error', (err) => lost(`the upload thread failed: ${err.message}`));
  started.on('exit', (code) => lost(`the upload thread stopped (${code})`));
  started.unref();
  thread = started;
  return started;
}

function listen(id: number, listener: (m: Answer) => void): Worker {
  const w = receivingThread();
  if (listeners.size === 0) w.ref();
  listeners.set(id, listener);
  return w;
}

function forget(id: number): void {
  listeners.delete(id);
  if (listeners.size === 0) thread?.unref();
}

/**
 * The chunk as a Uint8Array whose memory can move to the thread: the chunk itself when it is
 * `ours` and owns all of its memory, else a copy. A view of a larger (shared, pooled) buffer, or
 * a buffer its maker may still read, is copied: moving it would take it away from its owner.
 */
function movable(chunk: Buffer, ours: boolean): Uint8Array {
  const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer;
  return ours && whole ? chunk : new Uint8Array(chunk);
}

/**
 * Writes `body` into `fd` from offset 0 and hashes it; resolves once every byte is written (not
 * yet synced). `chunksAreOurs`: nothing else holds the body's chunks (an HTTP request's body,
 * whose chunks the parser makes for its one reader), so their memory moves to the thread instead
 * of being copied, and they are empty afterwards. A failure on the disk side does not destroy the body (that would drop the
 * client's connection before it is answered): the rest of it is read and discarded instead, so
 * the route can still say that the disk is full. A client that goes away before the end fails the
 * call. It never settles while a write into `fd` is in flight, so the caller may close it then.
 */
export function receiveFile(body: Readable, fd: number, chunksAreOurs = false): Promise<Received> {
  return new Promise((resolve, reject) => {
    const id = ++lastId;
    let queued: Uint8Array[] = [];
    let queuedBytes = 0;
    /** Bytes handed to the thread and not yet written. */
    let inFlight = 0;
    let received = 0;
    let paused = false;
    /** What the thread was last asked: once asked, the only thing left is its last answer. */
    let closing: 'end' | 'cancel' | undefined;
    let failure: Error | undefined;
    const collect = youngGarbageMeter();

    const post = (m: ToThread, transfer?: ArrayBuffer[]) => w.postMessage(m, transfer);

    const flush = () => {
      if (queuedBytes === 0) return;
      const chunks = queued;
      post({ op: 'write', id, chunks }, chunks.map((c) => c.buffer as ArrayBuffer));
      inFlight += queuedBytes;
      queued = [];
      queuedBytes = 0;
    };

    const stopReading = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      queued = [];
      queuedBytes = 0;
    };

    /** Stops the upload for `err`; the call ends once the thread has nothing of it in flight. */
    const cancel = (err: Error) => {
      if (closing) return;
      failure = err;
      stopReading();
      // Whatever the body still sends is read and dropped.
      if (!body.destroyed) body.resume();
      closing = 'cancel';
      post({ op: 'cancel', id });
    };

    const onAnswer = (m: Answer) => {
      switch (m.kind) {
        case 'written':
          inFlight -= m.bytes;
          // The chunks came back from the thread to die here, with the parser's: collected as they go.
          collect(m.bytes);
          if (paused && queuedBytes + inFlight < MAX_QUEUED) {
            paused = false;
            body.resume();
          }
          return;
        case 'write-failed':
          // After the end the last answer says it; before, the rest of the body is dropped.
          if (!closing) cancel(errorOf(m));
          return;
        case 'done':
          forget(id);
          if (m.size !== received) return reject(new Error(`the upload thread wrote ${m.size} bytes of ${received}`));
          return resolve({ size: m.size, sha256: m.sha256 });
        case 'failed':
          forget(id);
          return reject(errorOf(m));
        case 'cancelled':
          forget(id);
          return reject(failure);
        case 'lost':
          forget(id);
          stopReading();
          if (!body.destroyed) body.resume();
          return reject(new Error(m.message));
      }
    };

    const onData = (chunk: Buffer) => {
      received += chunk.length;
      queued.push(movable(chunk, chunksAreOurs));
      queuedBytes += chunk.length;
      if (queuedBytes >= WRITE_SIZE) flush();
      if (!paused && queuedBytes + inFlight >= MAX_QUEUED) {
        paused = true;
        body.pause();
      }
    };
    const onEnd = () => {
      flush();
      stopReading();
      closing = 'end';
      post({ op: 'end', id });
    };
    const onError = (err: Error) => cancel(err);
    const onClose = () => {
      if (!body.readableEnded) cancel(new Error('the client closed the connection before the end of the body'));
    };

    const w = listen(id, onAnswer);
    post({ op: 'open', id, fd });
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
  });
}

/** The thread's report of a failed write as an error with its code (ENOSPC, EROFS, EIO: the routes answer by it). */
function errorOf(m: { message: string; code?: string }): Error {
  return Object.assign(new Error(m.message), m.code ? { code: m.code } : {});
}
