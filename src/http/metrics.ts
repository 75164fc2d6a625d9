import crypto from 'node:crypto';
import express, { type RequestHandler } from 'express';
import type { AppContext } from './context.js';

// GET /metrics (Prometheus text). HUBGATE_METRICS_TOKEN: only with `Authorization: Bearer TOKEN`.
// HUBGATE_METRICS_LISTEN: only on that address (src/server.ts), and a 404 on the main one.

const digest = (s: string) => crypto.createHash('sha256').update(s).digest();

/** The /metrics handler, behind the token when one is set (compared in constant time). */
export function metricsHandler(ctx: AppContext): RequestHandler {
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
    res.set('Content-Type', ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  };
}

/** The app of the HUBGATE_METRICS_LISTEN address: /metrics only. */
export function metricsApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsHandler(ctx));
  app.use((_req, res) => void res.status(404).json({ error: 'Not found: this address serves /metrics only' }));
  return app;
}
