import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { parseRepoPath } from './repo-path.js';

// Cross-origin access for browser code (@huggingface/hub, isomorphic-git in a page): the Hub
// API, resolve downloads, Git LFS and git smart HTTP. Every one of these is authorized by the
// Authorization header alone (hubgate's session cookie is read only by its HTML pages), so any
// origin may call them without credentials: a page must hold a token to act as anyone. Only the
// origins in HUBGATE_CORS_ORIGINS also get `Access-Control-Allow-Credentials: true` (a browser's
// remembered Basic credentials). The HTML pages never get CORS: they use the session cookie.

const ALLOW_METHODS = 'GET, HEAD, POST, PUT, DELETE, OPTIONS';
const ALLOW_HEADERS = [
  'Authorization', 'Content-Type', 'Range', 'X-Requested-With', 'Accept', 'Cache-Control',
  'If-None-Match', 'If-Match', 'If-Modified-Since', 'Git-Protocol', 'X-Request-Id',
].join(', ');
const EXPOSE_HEADERS = [
  'X-Error-Code', 'X-Error-Message', 'X-Repo-Commit', 'X-Total-Count', 'X-Linked-Etag', 'X-Linked-Size', 'ETag', 'Content-Range',
  'Link', 'Content-Length', 'Accept-Ranges', 'Content-Disposition', 'Location', 'WWW-Authenticate', 'X-Request-Id',
  'X-Total-Count', 'X-Xet-Hash', 'X-Xet-Cas-Url', 'X-Xet-Access-Token', 'X-Xet-Token-Expiration',
].join(', ');
const PREFLIGHT_MAX_AGE = '600';

/** resolve and raw downloads, LFS (batch, signed transfers, locks) and git smart HTTP, after `/{prefix}{ns}/{name}[.git]`. */
const REPO_ROUTES = /^\/(resolve\/|raw\/|info\/lfs\/|info\/refs$|git-upload-pack$|git-receive-pack$)/;

/** Whether a request path is one of the routes browser code may call across origins. */
export function isCorsRoute(pathname: string): boolean {
  if (pathname.startsWith('/api/')) return true;
  return parseRepoPath(pathname, REPO_ROUTES) !== null;
}

/** `origin` in the form browsers send it (scheme://host[:port], lower case, no default port); null when it is not one. */
export function normalizeOrigin(origin: string): string | null {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    return url.origin;
  } catch {
    return null;
  }
}

export function cors(credentialedOrigins: readonly string[]): RequestHandler {
  const trusted = new Set(credentialedOrigins.map((o) => normalizeOrigin(o) ?? o));
  return (req: Request, res: Response, next: NextFunction) => {
    if (!isCorsRoute(req.path)) return next();
    const origin = req.get('origin');
    const normalized = origin ? normalizeOrigin(origin) : null;
    res.vary('Origin');
    if (normalized && trusted.has(normalized)) {
      res.set({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' });
    } else {
      res.set('Access-Control-Allow-Origin', '*');
    }
    res.set('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    if (req.method === 'OPTIONS') {
      res.locals.route = 'cors-preflight';
      res.set({ 'Access-Control-Allow-Methods': ALLOW_METHODS, 'Access-Control-Allow-Headers': ALLOW_HEADERS, 'Access-Control-Max-Age': PREFLIGHT_MAX_AGE });
      res.status(204).end();
      return;
    }
    next();
  };
}
