import { Worker } from 'node:worker_threads';

// SHA-256 off the event loop: one worker thread per process hashes the blocks of every upload in
// progress, reading them straight from the uploads' shared memory (nothing is copied or
// transferred), while the main thread goes on receiving and writing. Hashing 1 GiB costs about a
// second of CPU; on the event loop it was serialised with every read and write of the body.

// Plain CommonJS, evaluated: the worker needs no file of its own next to the compiled code.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const sessions = new Map();
parentPort.on('message', (m) => {
  if (m.t === 'open') sessions.set(m.id, { hash: crypto.createHash('sha256'), mem: new Uint8Array(m.sab) });
  else if (m.t === 'update') {
    const s = sessions.get(m.id);
    s.hash.update(s.mem.subarray(m.off, m.off + m.len));
    parentPort.postMessage({ id: m.id });
  } else if (m.t === 'digest') {
    const s = sessions.get(m.id);
    sessions.delete(m.id);
    parentPort.postMessage({ id: m.id, hex: s.hash.digest('hex') });
  } else if (m.t === 'drop') sessions.delete(m.id);
});
`;

interface Waiter {
  resolve: (hex?: string) => void;
  reject: (err: Error) => void;
}

let worker: Worker | null = null;
let nextId = 1;
/** Per session, its requests awaiting an answer, in order (the worker answers each session in order). */
const waiting = new Map<number, Waiter[]>();
/** Sessions dropped while updates were still in flight: forgotten once those are answered. */
const dropped = new Set<number>();

let open = 0;
/** Keeps the process alive while a session waits for the thread, and only then. */
function hold(delta: number): void {
  open += delta;
  if (open > 0) worker?.ref();
  else worker?.unref();
}

function failAll(err: Error): void {
  worker = null;
  dropped.clear();
  for (const queue of waiting.values()) for (const w of queue.splice(0)) w.reject(err);
  waiting.clear();
}

function thread(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  // It keeps the process alive only while a hash is in progress (see hold).
  w.unref();
  w.on('message', (m: { id: number; hex?: string }) => {
    const queue = waiting.get(m.id);
    queue?.shift()?.resolve(m.hex);
    if (queue?.length === 0 && dropped.delete(m.id)) waiting.delete(m.id);
  });
  w.on('error', (err) => failAll(err));
  w.on('exit', (code) => {
    if (worker === w) failAll(new Error(`the hashing thread stopped (exit code ${code})`));
  });
  worker = w;
  return w;
}

/** A running SHA-256 of bytes laid down in `memory`, hashed by the process's hashing thread. */
export interface ThreadHash {
  /** Hashes `memory[offset, offset + length)`; resolves once done, so the bytes may be reused. Calls are hashed in order. */
  update(offset: number, length: number): Promise<void>;
  /** The hex digest of everything updated (once every update has been answered). */
  digest(): Promise<string>;
  /** Forgets the session (after a failure); idempotent. */
  drop(): void;
}

export function threadHash(memory: SharedArrayBuffer): ThreadHash {
  const id = nextId++;
  const w = thread();
  const queue: Waiter[] = [];
  waiting.set(id, queue);
  hold(+1);
  w.postMessage({ t: 'open', id, sab: memory });
  const ask = <T>(msg: object) =>
    new Promise<T>((resolve, reject) => {
      // A thread that stopped took the session's state with it.
      if (worker !== w) return reject(new Error('the hashing thread stopped'));
      queue.push({ resolve: resolve as (hex?: string) => void, reject });
      worker.postMessage(msg);
    });
  let done = false;
  return {
    update: (off, len) => ask<void>({ t: 'update', id, off, len }),
    async digest() {
      try {
        return await ask<string>({ t: 'digest', id });
      } finally {
        if (!done) hold(-1);
        done = true;
        waiting.delete(id);
      }
    },
    drop() {
      if (done) return;
      done = true;
      hold(-1);
      if (worker !== w) return;
      w.postMessage({ t: 'drop', id });
      // Updates still in flight are answered (their bytes are not reused before that) first.
      if (queue.length === 0) waiting.delete(id);
      else dropped.add(id);
    },
  };
}
