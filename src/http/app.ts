import express, { type RequestHandler, type Router } from 'express';
import { apiError, apiFaults, unservedApiRoute } from './api/respond.js';
import { hubApi } from './api/routes.js';
import { resolveRoutes } from './resolve/routes.js';
import { cors } from './cors.js';
import type { AppContext } from './context.js';
import { gitRoutes } from './git/routes.js';
import { createLimits, type Limits, requestRates } from './limits.js';
import { bodyIdleTimeout } from './request-body.js';
import { giveRequestsIdsAndLoggers, requestLog } from './request-log.js';
import { identify } from '../identity/identify.js';
import type { ClaimSigner } from '../identity/lfs-ssh-token.js';
import { metricsHandler } from './metrics.js';
import { pages } from './pages/routes.js';
import type { HubUrls, ObjectStore } from '../../lfs/store/types.js';
import type { Transfers } from '../../lfs/transfers.js';
import type { XetService } from '../services/xet.js';
import { xetRoutes } from './xet/routes.js';
import { expressClasses, type HttpClasses } from './express-classes.js';

/** Git LFS as the composition root built it: its router (with its ports), and what the resolve route and the Hub API share of it. */
export interface LfsMount {
  routes: Router;
  store: ObjectStore;
  transfers: Transfers;
  /** The origin of the store's download URLs when it is not hubgate's (s3), for the pages' images. */
  downloadOrigin?: string;
  /** The server's signer: checks the LFS tokens handed out over SSH (src/identity/lfs-ssh-token.ts). */
  signer?: ClaimSigner;
  /** Xet storage (its CAS under /cas and the token routes), when HUBGATE_XET is on. */
  xet?: XetService;
  /** hubgate's signed LFS URLs: resolve redirects objects uploaded through Xet to them (lfs/xet-objects.ts). */
  urls?: HubUrls;
}

/**
 * Builds the Express app from its dependencies; no module state, so tests can build many. Its
 * HTTP server makes requests and responses of `classes` (express-classes.ts), as
 * `http.createServer({ ...classes }, app)`. `limits`: the process's per-caller limits (shared
 * with the SSH server); new ones when not given.
 */
export function createApp(ctx: AppContext, lfs: LfsMount, limits: Limits = createLimits(ctx.cfg)): { app: express.Express; classes: HttpClasses } {
  const app = express();
  // First: what is added to the app's request prototype below lands on these classes' prototype.
  const classes = expressClasses(app);
  app.disable('x-powered-by');
  app.set('etag', false);
  // Every request, first: a stalled body is cut whichever route it is waiting in; the request's
  // line in the log (its id and logger, req.id and req.log, for the handlers); its count in the metrics.
  giveRequestsIdsAndLoggers(app.request, ctx.log);
  const everyRequest: RequestHandler[] = [
    bodyIdleTimeout(ctx.cfg.bodyIdleTimeoutMs, ctx.log),
    requestLog(ctx.log),
    (req, res, next) => {
      res.on('finish', () => ctx.metrics.requests.labels(res.locals.route ?? 'other', req.method, String(res.statusCode)).inc());
      next();
    },
  ];
  // Then, before every surface: preflights are answered (and errors carry the CORS headers too), the caller is identified, its rate counted.
  const everyCaller: RequestHandler[] = [
    cors(ctx.cfg.corsOrigins),
    async (req, res, next) => {
      res.locals.caller = await identify(ctx.db, req.get('authorization'), lfs.signer && { path: req.path, signer: lfs.signer });
      next();
    },
    requestRates(limits),
  ];
  const resolve = resolveRoutes(ctx, lfs.store, ctx.cfg.xet ? lfs.xet : undefined, lfs.urls);
  // File downloads take a lane past the other surfaces' routes, through the same steps (resolve/routes.ts).
  app.use(resolve.lane([...everyRequest, ...everyCaller]));

  app.use(...everyRequest);
  app.get('/healthz', (_req, res) => {
    res.locals.route = 'healthz';
    res.json({ status: 'ok' });
  });
  // For load balancers: 200 when this node can work (database, object store, repos' storage
  // each answered within its deadline), 503 naming what failed, or while the node is stopping.
  app.get('/readyz', async (_req, res) => {
    res.locals.route = 'readyz';
    const report = await ctx.readiness.report();
    res.status(report.status === 'ready' ? 200 : 503).set('Cache-Control', 'no-store').json(report);
  });
  // With HUBGATE_METRICS_LISTEN, /metrics is on that address only (src/server.ts).
  if (!ctx.cfg.metricsListen) app.get('/metrics', metricsHandler(ctx));

  app.use(...everyCaller);
  if (lfs.xet && ctx.cfg.xet) app.use(xetRoutes(ctx, lfs.xet));
  app.use(gitRoutes(ctx, limits));
  app.use(lfs.routes);
  app.use(resolve.router);
  app.use(hubApi(ctx, lfs.transfers, ctx.cfg.xet ? lfs.xet : undefined));
  app.use(pages(ctx, lfs.transfers, lfs.downloadOrigin ? [lfs.downloadOrigin] : []));

  app.use((req, res) => {
    // Never RepoNotFound: a client must not take a route hubgate lacks for a missing repo.
    if (/^\/api(\/|$)/i.test(req.path)) return apiError(res, 404, unservedApiRoute(req), { code: 'RouteNotFound' });
    res.status(404).json({ error: 'Not found' });
  });
  app.use(apiFaults);
  return { app, classes };
}
