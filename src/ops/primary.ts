import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';

// `hubgate serve --workers N`: the primary process forks N workers that share the listening
// sockets (node:cluster; the primary accepts connections and hands them out in turn), replaces a
// worker that exits, and on stop() tells every worker to finish what it serves and exit. The
// primary serves no request itself: what must happen once per start (migrations, removing what
// crashes left) runs in it before the workers are forked (src/server.ts), and the background jobs
// run in the workers as jobs claimed in the database (src/ops/jobs.ts), once for all of them.

/** One worker's metrics as prom-client hands them over for aggregation. */
export type MetricValues = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Messages between a worker (src/ops/worker.ts) and the primary. */
export type WorkerMessage =
  | { type: 'hubgate:ready'; port: number }
  | { type: 'hubgate:start-failed'; message: string }
  | { type: 'hubgate:metrics-request'; id: number }
  | { type: 'hubgate:metrics-values'; id: number; metrics: MetricValues };
export type PrimaryMessage =
  | { type: 'hubgate:stop' }
  | { type: 'hubgate:metrics-answer'; id: number; text?: string; error?: string }
  | { type: 'hubgate:metrics-collect'; id: number };

/** A worker that exits sooner than this after it began to serve (or before) failed fast. */
const STABLE_MS = 10_000;
/** Fast failures in a row after which the primary gives up instead of forking again. */
export const MAX_FAST_FAILURES = 5;
/** The wait before replacing a worker after the first fast failure, doubled at each further one. */
const RESTART_BASE_MS = 250;
/** Beyond their drain (shutdownTimeoutMs), workers get this long to close before they are killed. */
const EXIT_GRACE_MS = 10_000;
/** How long a worker may take to hand its metrics over; one that does not is left out of that answer. */
const METRICS_WAIT_MS = 3000;

export interface PrimaryOptions {
  workers: number;
  log: Logger;
  /** How long workers may take to finish the requests in flight when told to stop. */
  shutdownTimeoutMs: number;
}

export interface Primary {
  /** The port, once every worker first forked serves (null: stopped before that); rejects with the first start-up failure (its one-line message). */
  ready: Promise<number | null>;
  /** Resolves once every worker has exited after stop(); rejects when the workers keep failing, with the reason. */
  finished: Promise<void>;
  /** Tells every worker to stop (requests in flight finish, up to the timeout), forks no more. */
  stop(): void;
  /** Every worker's metrics together (counters summed), in the Prometheus text format. */
  exposition(): Promise<string>;
  contentType: string;
}

interface Started {
  worker: Worker;
  /** When it said it serves. */
  readyAt?: number;
  /** Why it could not start, as it said. */
  startFailure?: string;
}

export function startWorkers(o: PrimaryOptions): Primary {
  const workers = new Map<number, Started>();
  let up = false;
  let stopping = false;
  let failure: Error | undefined;
  let fastFailures = 0;
  let killTimer: NodeJS.Timeout | undefined;
  let resolveReady!: (port: number | null) => void;
  let rejectReady!: (err: Error) => void;
  let resolveFinished!: () => void;
  let rejectFinished!: (err: Error) => void;
  const ready = new Promise<number | null>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
  const finished = new Promise<void>((res, rej) => ((resolveFinished = res), (rejectFinished = rej)));
  // Whoever awaits only one of them must not see the other as unhandled.
  ready.catch(() => {});
  finished.catch(() => {});

  // Workers move bytes through reused buffers and allocate little that lives: a small young
  // generation keeps each one's peak memory down (during a 2 GiB upload the largest worker peaked
  // at 139-149 MB with it, 157-167 MB without). An operator's own setting (NODE_OPTIONS or node's flags) wins.
  // --expose-gc lets a large transfer collect its dead buffers as it goes (src/util/young-garbage.ts).
  const ownFlags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  const flags = [...(ownFlags.includes('--max-semi-space-size') ? [] : ['--max-semi-space-size=2']), ...(ownFlags.includes('--expose-gc') ? [] : ['--expose-gc'])];
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...flags] });

  const fork = () => {
    if (stopping) return;
    const worker = cluster.fork();
    workers.set(worker.id, { worker });
  };

  // A worker still starting may not listen for messages yet: SIGTERM stops it (it serves nothing
  // yet), and one that says it is ready after the stop is told again.
  const tellToStop = (s: Started) => {
    if (s.readyAt !== undefined && s.worker.isConnected()) s.worker.send({ type: 'hubgate:stop' } satisfies PrimaryMessage);
    else s.worker.process.kill('SIGTERM');
  };

  const stop = (because?: Error) => {
    if (stopping) return;
    stopping = true;
    failure = because;
    if (!up) {
      if (because) rejectReady(because);
      else resolveReady(null);
    }
    for (const s of workers.values()) tellToStop(s);
    killTimer = setTimeout(() => {
      for (const { worker } of workers.values()) {
        o.log.warn({ worker: worker.process.pid }, 'a worker did not exit in time after being told to stop: killed');
        worker.process.kill('SIGKILL');
      }
    }, o.shutdownTimeoutMs + EXIT_GRACE_MS);
    if (workers.size === 0) end();
  };

  const end = () => {
    clearTimeout(killTimer);
    cluster.removeListener('message', onMessage);
    cluster.removeListener('exit', onExit);
    if (failure) rejectFinished(failure);
    else resolveFinished();
  };

  const metrics = collector(workers);

  const onMessage = (worker: Worker, m: WorkerMessage) => {
    const s = workers.get(worker.id);
    if (!s || typeof m !== 'object' || m === null) return;
    switch (m.type) {
      case 'hubgate:ready':
        s.readyAt = Date.now();
        o.log.debug({ worker: worker.process.pid }, 'a worker serves');
        if (stopping) tellToStop(s);
        if (!up && !stopping && [...workers.values()].every((w) => w.readyAt !== undefined)) {
          up = true;
          resolveReady(m.port);
        }
        break;
      case 'hubgate:start-failed':
        s.startFailure = m.message;
        // At the first start, a failure (a port in use, a bad host) is the same in every worker: report it once.
        if (!up) stop(new Error(m.message));
        break;
      case 'hubgate:metrics-request':
        metrics.all().then(
          (text) => worker.isConnected() && worker.send({ type: 'hubgate:metrics-answer', id: m.id, text } satisfies PrimaryMessage),
          (err: Error) => worker.isConnected() && worker.send({ type: 'hubgate:metrics-answer', id: m.id, error: err.message } satisfies PrimaryMessage),
        );
        break;
      case 'hubgate:metrics-values':
        metrics.received(worker, m.id, m.metrics);
        break;
    }
  };

  const onExit = (worker: Worker, code: number | null, signal: string | null) => {
    const s = workers.get(worker.id);
    workers.delete(worker.id);
    metrics.gone(worker);
    if (stopping) {
      if (workers.size === 0) end();
      return;
    }
    const reason = s?.startFailure ?? (signal ? `a worker was killed by ${signal}` : `a worker exited with code ${code}`);
    const fast = !s?.readyAt || Date.now() - s.readyAt < STABLE_MS;
    fastFailures = fast ? fastFailures + 1 : 0;
    if (fastFailures >= MAX_FAST_FAILURES) {
      o.log.error({ worker: worker.process.pid, code, signal }, 'workers keep failing: stopping');
      return stop(new Error(`workers keep failing (${fastFailures} in a row, each within ${STABLE_MS / 1000} s of its start): ${reason}`));
    }
    // Right away after a worker that served for a while; with a growing pause after fast failures, so a worker that cannot start is not forked in a loop.
    const delay = fastFailures === 0 ? 0 : RESTART_BASE_MS * 2 ** (fastFailures - 1);
    o.log.warn({ worker: worker.process.pid, code, signal, reason, restartInMs: delay }, 'a worker exited: starting another');
    setTimeout(fork, delay);
  };

  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  for (let i = 0; i < o.workers; i++) fork();

  return {
    ready,
    finished,
    stop: () => stop(),
    exposition: () => metrics.all(),
    contentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE,
  };
}

type Values = MetricValues;

/** Gathers the metrics of every serving worker and adds them up (prom-client's cluster aggregation). */
function collector(workers: Map<number, Started>) {
  let next = 0;
  /** Per request: the workers still to answer, and what came. */
  const pending = new Map<number, { waiting: Set<number>; got: Values[]; done: () => void }>();
  const settle = (id: number) => {
    const p = pending.get(id);
    if (p && p.waiting.size === 0) p.done();
  };
  return {
    all(): Promise<string> {
      const id = next++;
      const serving = [...workers.values()].filter((s) => s.readyAt !== undefined && s.worker.isConnected());
      return new Promise<Values[]>((resolve) => {
        const p = { waiting: new Set(serving.map((s) => s.worker.id)), got: [] as Values[], done: () => {} };
        const timer = setTimeout(() => p.done(), METRICS_WAIT_MS);
        p.done = () => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(p.got);
        };
        pending.set(id, p);
        for (const s of serving) s.worker.send({ type: 'hubgate:metrics-collect', id } satisfies PrimaryMessage);
        settle(id);
      }).then((got) => AggregatorRegistry.aggregate(got).metrics());
    },
    received(worker: Worker, id: number, metrics: Values) {
      const p = pending.get(id);
      if (!p?.waiting.delete(worker.id)) return;
      p.got.push(metrics);
      settle(id);
    },
    gone(worker: Worker) {
      for (const [id, p] of pending) if (p.waiting.delete(worker.id)) settle(id);
    },
  };
}
