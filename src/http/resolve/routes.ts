import { type RequestHandler, Router } from 'express';
import type { ObjectStore } from '../../../lfs/store/types.js';
import { apiDenial, apiError } from '../api/respond.js';
import { repoGuard } from '../authorize.js';
import { redirectMoved } from '../moved.js';
import type { AppContext } from '../context.js';
import { parseRepoPath } from '../repo-path.js';
import { createBlobCache } from '../../git/blob-cache.js';
import { sessionOf } from '../session-cookie.js';
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

/** `xet`: with Xet storage on, files stored through Xet are also announced to Xet clients (resolve.ts). */
export function resolveRoutes(ctx: AppContext, store: ObjectStore, xet?: XetService): Router {
  // A moved repo's old name: 307 to the new one, as the Hub answers.
  const guard = repoGuard(ctx, apiDenial, redirectMoved(307));
  const page = pageSession(ctx);
  const blobs = createBlobCache({ dataDir: ctx.cfg.dataDir, maxBytes: ctx.cfg.blobCacheSize, log: ctx.log });

  // Paths are matched as sent: no case folding.
  const router = Router({ caseSensitive: true, strict: true });
  //   method   path       checks                authorised by     handler
  router.get(   RESOLVE,   resolveTarget, page,  guard('read'),    downloadHandler(ctx, store, blobs, { xet }));  // GET and HEAD
  router.get(   RAW,       rawNamed, resolveTarget, page, guard('read'), downloadHandler(ctx, store, blobs, { raw: true }));
  router.all(   RESOLVE,                                           methodNotAllowed);
  router.all(   RAW,                                               methodNotAllowed);

  const app = Router();
  app.use(REPO_PREFIX, named, router);
  return app;
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
