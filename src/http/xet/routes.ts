import { type NextFunction, type Request, type RequestHandler, type Response, Router } from 'express';
import { MAX_SHARD_BYTES } from '../../../xet/shard.js';
import type { XetGrant, XetScope, XetService } from '../../services/xet.js';
import type { AppContext } from '../context.js';
import { baseUrlOf } from '../urls.js';

// hubgate's CAS (the Xet protocol's content-addressed store), under /cas: the casUrl the token
// routes hand out (src/http/api/xet.ts). Each request is authorised once, by its Xet token (a
// signed grant for one repo and operation, checked against the repo still existing); the fetch
// route, by the signed range in its URL. Errors are JSON `{"error"}` with a status that says
// what to do (400 for a bad xorb or shard, 401 for a missing or expired token, 404 for what the
// token's repo does not hold). Handlers catch their own errors: the error renderer below only
// sees those of the routes above.

const HASH = '[0-9a-f]{64}';

export function xetRoutes(ctx: AppContext, xet: XetService): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const named = (route: string): RequestHandler => (_req, res, next) => {
    res.locals.route = route;
    next();
  };
  //   method       path                                            authorised by         handler
  router.post(      `/v1/xorbs/:prefix/:hash`,                      named('xet-xorb'), granted(xet, 'write'),     uploadXorb(xet));
  router.post(      '/v1/shards',                                   named('xet-shard'), granted(xet, 'write'),    uploadShard(ctx, xet));
  router.get(       '/v1/chunks/:prefix/:hash',                     named('xet-dedup'), granted(xet, 'read'),     dedup(xet));
  router.get(       '/v1/reconstructions/:hash',                    named('xet-reconstruction'), granted(xet, 'read'), reconstruction(ctx, xet, 1));
  router.get(       '/v2/reconstructions/:hash',                    named('xet-reconstruction'), granted(xet, 'read'), reconstruction(ctx, xet, 2));
  router.get(       '/fetch/:hash',                                 named('xet-fetch'), /* signed range */        fetchRange(xet));
  // Other paths under /cas fall through: a user or org named "cas" has its repos' pages, git and resolve routes there.
  router.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = typeof err.status === 'number' ? err.status : 500;
    if (status >= 500) {
      ctx.log.error({ err }, 'CAS request failed');
      return casError(res, 500, 'internal error');
    }
    casError(res, status, err.message);
  });
  const app = Router();
  app.use('/cas', router);
  return app;
}

function casError(res: Response, status: number, message: string): void {
  res.status(status).json({ error: message });
}

/** Checks the request's Xet token (Authorization: Bearer) for `scope`; sets res.locals.xetGrant. */
function granted(xet: XetService, scope: XetScope): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) return casError(res, 401, 'send the Xet token from the xet-read-token or xet-write-token route as Authorization: Bearer');
    const grant = await xet.grant(token, scope);
    if (!grant) return casError(res, 401, `the Xet token is invalid, expired or not for ${scope === 'write' ? 'uploads' : 'this'}: ask the xet-${scope}-token route for a new one`);
    res.locals.xetGrant = grant;
    next();
  };
}

const grantOf = (res: Response): XetGrant => res.locals.xetGrant as XetGrant;

function uploadXorb(xet: XetService): RequestHandler {
  return async (req, res, next) => {
    try {
      if (req.params.prefix !== 'default') return casError(res, 400, `xorbs are uploaded under /v1/xorbs/default/, not ${String(req.params.prefix).slice(0, 50)}`);
      await xet.uploadXorb(grantOf(res), String(req.params.hash), req);
      // Always true, stored before or not: the answer must not tell whether another repo had this xorb.
      res.json({ was_inserted: true });
    } catch (err) {
      if (!req.readableEnded) req.resume();
      next(err);
    }
  };
}

function uploadShard(ctx: AppContext, xet: XetService): RequestHandler {
  return async (req, res, next) => {
    try {
      const declared = Number(req.get('content-length') ?? 0);
      if (declared > MAX_SHARD_BYTES) {
        req.resume();
        return casError(res, 413, `a shard is at most ${MAX_SHARD_BYTES} bytes; split it`);
      }
      const parts: Buffer[] = [];
      let size = 0;
      for await (const b of req) {
        size += (b as Buffer).length;
        if (size > MAX_SHARD_BYTES) {
          req.resume();
          return casError(res, 413, `a shard is at most ${MAX_SHARD_BYTES} bytes; split it`);
        }
        parts.push(b as Buffer);
      }
      const result = await xet.uploadShard(grantOf(res), baseUrlOf(ctx.cfg, req), Buffer.concat(parts));
      if (!result) return casError(res, 404, 'the repo of this Xet token no longer exists');
      res.json({ result: result.result });
    } catch (err) {
      next(err);
    }
  };
}

function dedup(xet: XetService): RequestHandler {
  return async (req, res, next) => {
    try {
      if (req.params.prefix !== 'default' && req.params.prefix !== 'default-merkledb') return casError(res, 404, 'no such dedup prefix');
      if (!new RegExp(`^${HASH}$`).test(String(req.params.hash))) return casError(res, 400, 'a chunk hash is 64 hex digits');
      const shard = await xet.dedup(grantOf(res), String(req.params.hash));
      if (!shard) return casError(res, 404, 'no match');
      res.type('application/octet-stream').send(Buffer.from(shard));
    } catch (err) {
      next(err);
    }
  };
}

/** `bytes=s-e` (inclusive) or `bytes=s-` as [start, end) ; undefined for the whole file; null for a header not understood. */
function requestedRange(header: string | undefined): { start: number; end: number } | undefined | null {
  if (!header) return undefined;
  const m = /^bytes=(\d{1,16})-(\d{0,16})$/.exec(header.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === '' ? Number.MAX_SAFE_INTEGER : Number(m[2]) + 1;
  return end > start ? { start, end } : null;
}

function reconstruction(ctx: AppContext, xet: XetService, version: 1 | 2): RequestHandler {
  return async (req, res, next) => {
    try {
      if (!new RegExp(`^${HASH}$`).test(String(req.params.hash))) return casError(res, 400, 'a file hash is 64 hex digits');
      const range = requestedRange(req.get('range'));
      if (range === null) return casError(res, 400, 'send Range as bytes=START-END or bytes=START-');
      const base = `${baseUrlOf(ctx.cfg, req)}/cas/fetch`;
      const answer = await xet.reconstruction(grantOf(res), String(req.params.hash), range, version, (xorb, start, end) => `${base}/${xorb}?t=${xet.signFetch(xorb, start, end)}`);
      if (answer === undefined) return casError(res, 404, 'no such file in this repo');
      if (answer === null) return casError(res, 416, 'the range starts past the end of the file');
      res.set('Cache-Control', 'no-store').json(answer.json);
    } catch (err) {
      next(err);
    }
  };
}

/** GET of bytes of a xorb through a signed URL a reconstruction handed out: only within the signed range. */
function fetchRange(xet: XetService): RequestHandler {
  return async (req, res, next) => {
    try {
      const hash = String(req.params.hash);
      const signed = new RegExp(`^${HASH}$`).test(hash) ? xet.fetchGrant(req.query.t, hash) : null;
      if (!signed) return casError(res, 403, 'this fetch URL is invalid or expired: ask for the reconstruction again');
      let { start, end } = signed;
      const header = req.get('range');
      if (header) {
        const m = /^bytes=(\d{1,16})-(\d{1,16})$/.exec(header.trim());
        if (!m || Number(m[1]) < start || Number(m[2]) > end || Number(m[2]) < Number(m[1])) return casError(res, 416, `this URL serves bytes ${start}-${end} only`);
        start = Number(m[1]);
        end = Number(m[2]);
      }
      const body = await xet.readXorb(hash, start, end);
      res.status(header ? 206 : 200).set({
        'Content-Type': 'application/octet-stream', 'Content-Length': String(end - start + 1), 'Cache-Control': 'private, max-age=600',
        ...(header ? { 'Content-Range': `bytes ${start}-${end}/*` } : {}),
      });
      body.on('error', (err) => res.destroy(err));
      body.pipe(res);
    } catch (err) {
      next(err);
    }
  };
}
