import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What /metrics answers with: this process's registry, or with workers every worker's together (src/ops/worker.ts). */
export interface MetricsExposition {
  contentType: string;
  exposition(): Promise<string>;
}

export interface Metrics extends MetricsExposition {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'status'>;
  gitDuration: Histogram<'service' | 'outcome'>;
  gitBytesServed: Counter<'service'>;
  /** Xet: xorb bytes clients sent, and the bytes of those stored (new xorbs only). */
  xetXorbBytesReceived: Counter;
  xetXorbBytesStored: Counter;
}

/**
 * One registry per app, so several apps (tests) never share counters. `exposition`: how /metrics
 * is rendered when it is not this registry alone (a worker answers with every worker's counts).
 */
export function createMetrics(exposition?: (registry: Registry) => () => Promise<string>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hubgate_' });
  return {
    registry,
    contentType: registry.contentType,
    exposition: exposition ? exposition(registry) : () => registry.metrics(),
    requests: new Counter({
      name: 'hubgate_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    gitDuration: new Histogram({
      name: 'hubgate_git_service_duration_seconds',
      help: 'Duration of git service processes (advertisement and RPC)',
      labelNames: ['service', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800],
      registers: [registry],
    }),
    gitBytesServed: new Counter({
      name: 'hubgate_git_bytes_served_total',
      help: 'Bytes written to clients by git services',
      labelNames: ['service'],
      registers: [registry],
    }),
    xetXorbBytesReceived: new Counter({ name: 'hubgate_xet_xorb_bytes_received_total', help: 'Bytes of xorb uploads received by the CAS', registers: [registry] }),
    xetXorbBytesStored: new Counter({ name: 'hubgate_xet_xorb_bytes_stored_total', help: 'Bytes of new xorbs stored (xorbs already stored are not stored again)', registers: [registry] }),
  };
}
