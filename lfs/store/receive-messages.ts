// What lfs/store/receive-file.ts and its thread (receive-thread.ts) say to each other, per upload (`id`).

/** To the thread: start an upload into `fd`; write a batch (its memory moves to the thread); end it; or cancel it. */
export type ToThread =
  | { op: 'open'; id: number; fd: number }
  | { op: 'write'; id: number; chunks: Uint8Array[] }
  | { op: 'end' | 'cancel'; id: number };

/**
 * From the thread: a batch is on disk (`written`), a write failed (`write-failed`, at once); then,
 * once no write is in flight, one last answer: `done` (every byte written, with their sha256),
 * `failed` (a write failed before the end) or `cancelled`.
 */
export type FromThread =
  | { id: number; kind: 'written'; bytes: number; chunks: Uint8Array[] }
  | { id: number; kind: 'write-failed' | 'failed'; message: string; code?: string }
  | { id: number; kind: 'done'; size: number; sha256: string }
  | { id: number; kind: 'cancelled' };
