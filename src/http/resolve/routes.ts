import { type RequestHandler, Router } from 'express';
import type { HubUrls, ObjectStore } from '../../../lfs/store/types.js';
import { apiDenial, apiError } from '../api/respond.js';
import { repoGuard } from '../authorize.js';
import { redirectMoved } from '../moved.js';
import type { AppContext } from '../context.js';
import { parseRepoPath } from '../repo-path.js';
import { createBlobCache } from '../../git/blob-cache.js';
import { sessionOf } from '../session-cookie.js';
import { inOrder } from '../in-order.js';
import { downloadHandler } from './resolve.js';
import type { XetService } from '../../services/xet.js';
import { parseResolveTarget } from './resolve-path.js';

// The resolve surface: HEAD|GET /{datasets/|spaces/}{ns}/{name}[.git]/resolve/{revision}/{path}
// for the three repo types (models without prefix). The revision is one path segment (a branch
// with '/' arrives percent-encoded: refs%2Fpr%2F1), the path the rest; both are decoded and
// checked by resolve-path.ts, not by Express, so a bad percent-encoding gets resolve's own 400.
// HEAD|GET .../raw/{revision}/{path} is the file as git stores it (a Git LFS file's pointer, never
// a redirect), as on the Hub; @huggingface/hub's fileExists asks it. Answers are API-style JSON,
// denials included.

/** `/{datasets/|spaces/}{ns}/{name}` followed by /resolve or /raw: the shapes parseRepoPath takes apart. `/api/models/resolve/...` is the Hub API's. */
const REPO_PREFIX = /^(?!\/api\/)\/(?:(?:datasets|spaces)\/)?[^/]+\/[^/]+(?=\/(?:resolve|raw)(?:\/|$))/;
/** What follows the repo: /resolve/{revision}/{path}, or a malformed rest resolveTarget answers 400 for. */
const RESOLVE = /^\/resolve(?:\/.*)?$/;
const RESOLVE_REST = /^\/(?:resolve|raw)(\/|$)/;
/** /raw/{revision}/{path}: the file as git stores it. */
const RAW = /^\/raw(?:\/.*)?$/;

/** The resolve surface: its router, in the app's order, and its lane, taken before the app's router (see lane). */
export interface ResolveSurface {
  router: Router;
  /**
   * The download requests only this surface can answer (GET or HEAD of a valid repo's /resolve/
   * or /raw/ path: no other surface's paths have that shape), taken as the app's first step: they
   * run `common` (the steps the app runs for every request before its surfaces: the log line,
   * metrics, CORS, identify) and then their route's steps, in order, without walking the routes
   * of every surface before this one. HEAD resolve is the request before every hf_hub_download.
   * The steps are the router's own, so the answers are the same, and each request is decided once.
   */
  lane: (common: readonly RequestHandler[]) => RequestHandler;
}

/** `xet`: with Xet storage on, files stored through Xet are also announced to Xet clients (resolve.ts). */
/** `urls`: hubgate's signed LFS URLs, where objects uploaded through Xet (no bytes in the store) redirect. */
export function resolveRoutes(ctx: AppContext, store: ObjectStore, xet?: XetService, urls?: HubUrls): ResolveSurface {
  // A moved repo's old name: 307 to the new one, as the Hub answers.
  const guard = repoGuard(ctx, apiDenial, redirectMoved(307));
  const page = pageSession(ctx);
  const blobs = createBlobCache({ dataDir: ctx.cfg.dataDir, maxBytes: ctx.cfg.blobCacheSize, log: ctx.log });
  const download = [resolveTarget, page, guard('read'), downloadHandler(ctx, store, blobs, { xet, urls })];
  const raw = [rawNamed, resolveTarget, page, guard('read'), downloadHandler(ctx, store, blobs, { raw: true })];

  // Paths are matched as sent: no case folding.
  const router = Router({ caseSensitive: true, strict: true });
  //   method   path       checks and authorisation (guard)                      handler
  router.get(   RESOLVE,   ...download);  // GET and HEAD: resolveTarget, page, guard('read'), downloadHandler
  router.get(   RAW,       ...raw);       // the same for /raw/, named 'raw' in the metrics
  router.all(   RESOLVE,                                           methodNotAllowed);
  router.all(   RAW,                                               methodNotAllowed);

  const app = Router();
  app.use(REPO_PREFIX, named, router);

  const lane = (common: readonly RequestHandler[]): RequestHandler => {
    const downloads = inOrder([...common, named, ...download]);
    const raws = inOrder([...common, named, ...raw]);
    return (req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      const prefix = REPO_PREFIX.exec(req.path);
      if (!prefix) return next();
      const rest = req.path.slice(prefix[0].length);
      const steps = RESOLVE.test(rest) ? downloads : RAW.test(rest) ? raws : null;
      // Only a valid repo's paths: a name the router answers 400 for could be another surface's path.
      const parsed = steps && parseRepoPath(req.path, RESOLVE_REST);
      if (!steps || !parsed?.ok) return next();
      steps(req, res, next);
    };
  };
  return { router: app, lane };
}

/**
 * A request with no token but the web session's cookie reads as the session's user (read rights
 * only): the images and download links on a private or gated repo's pages load in the browser
 * that shows them. A request with a token is the token's, cookie or not.
 */
function pageSession(ctx: AppContext): RequestHandler {
  return async (req, res, next) => {
    if (res.locals.caller.kind !== 'anonymous') return next();
    const found = await sessionOf(ctx, req);
    if (found) res.locals.caller = { kind: 'user', user: found.user, tokenRole: 'read', token: null };
    next();
  };
}

const named: RequestHandler = (_req, res, next) => {
  res.locals.route = 'resolve';
  next();
};
const rawNamed: RequestHandler = (_req, res, next) => {
  res.locals.route = 'raw';
  next();
};

/** The repo (res.locals.repoRef), revision and file path (res.locals.resolveTarget) of the URL, decoded and checked; 400 otherwise. */
const resolveTarget: RequestHandler = (req, res, next) => {
  const parsed = parseRepoPath(req.baseUrl + req.path, RESOLVE_REST);
  if (!parsed) return next('router');
  if (!parsed.ok) return apiError(res, 400, parsed.message);
  const target = parseResolveTarget(parsed.rest);
  if (!target.ok) return apiError(res, 400, target.message);
  res.locals.repoRef = parsed.ref;
  res.locals.resolveTarget = { revision: target.revision, path: target.path };
  next();
};

const methodNotAllowed: RequestHandler = (_req, res) => apiError(res, 405, 'use GET or HEAD to download a file', { headers: { Allow: 'GET, HEAD' } });
