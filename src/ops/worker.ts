import cluster from 'node:cluster';
import type { Registry } from 'prom-client';
import type { PrimaryMessage, WorkerMessage } from './primary.js';

// A worker's side of its link to the primary (src/ops/primary.ts): it says when it serves or
// why it could not start, stops when told, and answers /metrics with every worker's counts.

/** Is this process a worker forked by `hubgate serve --workers N`? */
export function isWorker(): boolean {
  return cluster.isWorker;
}

function tell(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(message, undefined, {}, () => resolve());
  });
}

function onMessage(handle: (m: PrimaryMessage) => void): void {
  process.on('message', (m: PrimaryMessage) => {
    if (typeof m === 'object' && m !== null) handle(m);
  });
}

/** This worker listens and serves. */
export function reportReady(port: number): Promise<void> {
  return tell({ type: 'hubgate:ready', port });
}

/** This worker could not start: the primary reports `message` (once for all workers at the first start). */
export function reportStartFailure(message: string): Promise<void> {
  return tell({ type: 'hubgate:start-failed', message });
}

/** Calls `stop` when the primary tells this worker to stop (as SIGTERM to the worker does). */
export function onStopRequest(stop: () => void): void {
  onMessage((m) => m.type === 'hubgate:stop' && stop());
}

/**
 * /metrics in a worker: hands this worker's registry to the primary when it gathers them, and
 * renders what the primary added up from all workers (a worker alone would tell only its share).
 */
export function clusterExposition(registry: Registry): () => Promise<string> {
  let next = 0;
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  onMessage((m) => {
    if (m.type === 'hubgate:metrics-collect') {
      void registry.getMetricsAsJSON().then((metrics) => tell({ type: 'hubgate:metrics-values', id: m.id, metrics }));
    } else if (m.type === 'hubgate:metrics-answer') {
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.text !== undefined) w?.resolve(m.text);
      else w?.reject(new Error(`the primary could not gather the workers' metrics: ${m.error}`));
    }
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary did not answer with the metrics in time'));
      }, 10_000);
      waiting.set(id, {
        resolve: (text) => (clearTimeout(timer), resolve(text)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      });
      void tell({ type: 'hubgate:metrics-request', id });
    });
}
