// Collects the young generation's garbage every so many bytes of a large transfer. A socket or an
// HTTP body hands out a new 64 KiB buffer per read; V8 collects the dead ones only once about
// 32 MB of them have piled up (its young generation's trigger for external memory), so a long
// transfer holds that much garbage on top of what it uses. A young collection is cheap (well
// under a millisecond: little lives there), so one every TRANSFER_GC_BYTES keeps the garbage at
// that size. The `gc` function exists when node runs with --expose-gc, which hubgate's workers do
// (src/ops/primary.ts); without it (a single process) nothing is done.

type Gc = (options?: { type?: 'minor' | 'major' }) => void;
const gc = (globalThis as { gc?: Gc }).gc;

/** Bytes of a transfer between two young collections. */
export const TRANSFER_GC_BYTES = 8 * 1024 * 1024;

/** A counter for one transfer: call it with each chunk's size; it collects every TRANSFER_GC_BYTES. */
export function youngGarbageMeter(every = TRANSFER_GC_BYTES): (bytes: number) => void {
  if (!gc) return () => {};
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < every) return;
    since = 0;
    gc({ type: 'minor' });
  };
}
