import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import type { RepoWithOwner } from '../../db/repos.js';
import type { AccessRequest, AccessStatus } from '../../domain/types.js';
import type { AppContext } from '../context.js';
import { accessRequestPage, grantAccess, handleAccessRequest, PAGE_SIZE } from '../../services/access-requests.js';
import { apiRepoRef, authorizeRepo } from './respond.js';
import { baseUrlOf } from '../urls.js';
import { jsonBody, parseBody } from './body.js';

// The Hub's access-request API (seeds: gated models / datasets), for authors with write on the repo.

const handleBody = z.strictObject({
  user: z.string().min(1).max(96),
  status: z.enum(['accepted', 'rejected', 'pending']),
  // Checked by the service, so its message names the limit.
  rejectionReason: z.string().max(10_000).nullish(),
});
const listQuery = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(PAGE_SIZE).default(PAGE_SIZE),
});
const grantBody = z.strictObject({ user: z.string().min(1).max(96) });

/** The Hub's JSON shape of a request, as huggingface_hub's AccessRequest reads it. */
export function accessRequestJson(r: AccessRequest) {
  return {
    user: { user: r.user.name, fullname: r.user.fullname, email: r.user.email },
    status: r.status,
    timestamp: r.createdAt,
    fields: r.fields,
    ...(r.rejectionReason ? { rejectionReason: r.rejectionReason } : {}),
  };
}

export function accessRequestRoutes(ctx: AppContext): Router {
  const router = Router();
  const base = '/api/:plural/:ns/:name/user-access-request';

  /** Authors only: write on the repo, with a write token. */
  const author = (req: Request, res: Response): Promise<RepoWithOwner | undefined> => authorizeRepo(ctx, req, res, apiRepoRef(req.params), 'write');

  router.get(`${base}/:status`, async (req, res, next) => {
    const status = req.params.status;
    if (status !== 'pending' && status !== 'accepted' && status !== 'rejected') return next();
    res.locals.route = 'api-access-requests';
    const repo = await author(req, res);
    if (!repo) return;
    const query = parseBody(listQuery, req.query, 'query');
    const page = await accessRequestPage(ctx.db, repo, status as AccessStatus, query.cursor, query.limit);
    if (page.next) {
      const url = new URL(`${baseUrlOf(ctx.cfg, req)}${req.path}`);
      url.searchParams.set('cursor', page.next);
      if (query.limit !== PAGE_SIZE) url.searchParams.set('limit', String(query.limit));
      res.set('Link', `<${url.href}>; rel="next"`);
    }
    res.json(page.requests.map(accessRequestJson));
  });

  router.post(`${base}/handle`, jsonBody, async (req, res) => {
    res.locals.route = 'api-access-requests';
    const repo = await author(req, res);
    if (!repo) return;
    const body = parseBody(handleBody, req.body, 'handle request');
    const request = await handleAccessRequest(ctx.db, ctx.notifier, repo, body.user, body.status, body.rejectionReason ?? null);
    res.json(accessRequestJson(request));
  });

  router.post(`${base}/grant`, jsonBody, async (req, res) => {
    res.locals.route = 'api-access-requests';
    const repo = await author(req, res);
    if (!repo) return;
    const body = parseBody(grantBody, req.body, 'grant request');
    const request = await grantAccess(ctx.db, ctx.notifier, repo, body.user);
    res.json(accessRequestJson(request));
  });

  return router;
}
