import crypto from 'node:crypto';
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { FromThread, ToThread } from './receive-messages.js';

// The thread that writes and hashes uploads for lfs/store/receive-file.ts. Each batch of chunks
// the main thread hands over (their memory moved here, not copied) is given to the thread pool to
// write, and hashed here while that write runs. The main thread is left with reading the socket:
// on two cores, reading, hashing and writing then run side by side instead of taking turns.

interface Job {
  fd: number;
  hash: crypto.Hash;
  /** Bytes handed to the disk so far: where the next batch goes. */
  position: number;
  /** Writes the thread pool has not finished. */
  writing: number;
  failed?: { message: string; code?: string };
  /** What the main thread asked last: the answer waits until no write is in flight. */
  closing?: 'end' | 'cancel';
}

const jobs = new Map<number, Job>();
const port = parentPort!;
const send = (m: FromThread) => port.postMessage(m);

/** Writes every byte of `chunks` at `position`, again from where a short write stopped. */
function writeAll(fd: number, chunks: Uint8Array[], position: number, done: (err: NodeJS.ErrnoException | null) => void): void {
  fs.writev(fd, chunks, position, (err, written) => {
    if (err) return done(err);
    const rest: Uint8Array[] = [];
    let skip = written;
    for (const chunk of chunks) {
      if (skip >= chunk.length) skip -= chunk.length;
      else {
        rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
        skip = 0;
      }
    }
    if (rest.length === 0) return done(null);
    writeAll(fd, rest, position + written, done);
  });
}

/** Answers end or cancel once nothing of the job is in flight: the main thread closes the file next. */
function answerIfIdle(id: number, job: Job): void {
  if (!job.closing || job.writing > 0) return;
  jobs.delete(id);
  if (job.closing === 'cancel') send({ id, kind: 'cancelled' });
  else if (job.failed) send({ id, kind: 'failed', ...job.failed });
  else send({ id, kind: 'done', size: job.position, sha256: job.hash.digest('hex') });
}

port.on('message', (m: ToThread) => {
  if (m.op === 'open') {
    jobs.set(m.id, { fd: m.fd, hash: crypto.createHash('sha256'), position: 0, writing: 0 });
    return;
  }
  const job = jobs.get(m.id);
  if (!job) return;
  if (m.op === 'write') {
    if (job.failed || job.closing) return;
    let bytes = 0;
    for (const chunk of m.chunks) bytes += chunk.length;
    const at = job.position;
    job.position += bytes;
    job.writing++;
    writeAll(job.fd, m.chunks, at, (err) => {
      job.writing--;
      if (err && !job.failed) {
        job.failed = { message: err.message, code: err.code };
        send({ id: m.id, kind: 'write-failed', ...job.failed });
      } else if (!err) {
        // The memory goes back to the main thread, whose frequent collections free it soon; here
        // (little else is allocated, so collections are rare) it would pile up by the hundred MB.
        port.postMessage({ id: m.id, kind: 'written', bytes, chunks: m.chunks } satisfies FromThread, m.chunks.map((c) => c.buffer as ArrayBuffer));
      }
      answerIfIdle(m.id, job);
    });
    // Hashed while the thread pool writes the same (unchanging) bytes.
    for (const chunk of m.chunks) job.hash.update(chunk);
    return;
  }
  job.closing = m.op;
  answerIfIdle(m.id, job);
});
