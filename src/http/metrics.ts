import crypto from 'node:crypto';
import express, { type RequestHandler } from 'express';
import type { Config } from '../config.js';
import type { MetricsExposition } from '../ops/metrics.js';

// GET /metrics (Prometheus text). HUBGATE_METRICS_TOKEN: only with `Authorization: Bearer TOKEN`.
// HUBGATE_METRICS_LISTEN: only on that address (src/server.ts), and a 404 on the main one.

const digest = (s: string) => crypto.createHash('sha256').update(s).digest();

/** What /metrics needs: the token setting, and the metrics (this process's, or every worker's when the primary or a worker serves them). */
export interface MetricsDeps {
  cfg: Pick<Config, 'metricsToken'>;
  metrics: MetricsExposition;
}

/** The /metrics handler, behind the token when one is set (compared in constant time). */
export function metricsHandler(ctx: MetricsDeps): RequestHandler {
  const expected = ctx.cfg.metricsToken === undefined ? undefined : digest(ctx.cfg.metricsToken);
  return async (req, res) => {
    res.locals.route = 'metrics';
    if (expected) {
      const sent = /^Bearer +(\S+) *$/i.exec(req.get('authorization') ?? '')?.[1];
      // Hashes of equal length, so the comparison tells nothing about the token's length either.
      if (!crypto.timingSafeEqual(digest(sent ?? ''), expected) || sent === undefined) {
        res.status(401).set('WWW-Authenticate', 'Bearer realm="hubgate metrics"');
        return void res.json({ error: '/metrics needs `Authorization: Bearer TOKEN` with the token set in HUBGATE_METRICS_TOKEN' });
      }
    }
    res.set('Content-Type', ctx.metrics.contentType).send(await ctx.metrics.exposition());
  };
}

/** The app of the HUBGATE_METRICS_LISTEN address: /metrics only. */
export function metricsApp(ctx: MetricsDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsHandler(ctx));
  app.use((_req, res) => void res.status(404).json({ error: 'Not found: this address serves /metrics only' }));
  return app;
}
