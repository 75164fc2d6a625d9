import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { AccessRequest, AccessStatus } from '../../domain/types.js';
import type { AppContext } from '../context.js';
import { accessRequestPage, grantAccess, handleAccessRequest, PAGE_SIZE } from '../../services/access-requests.js';
import { actorOf } from '../../identity/identify.js';
import { authorizedRepo } from '../authorize.js';
import { baseUrlOf } from '../urls.js';
import { parseBody } from './body.js';

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

/** The statuses a list of requests may ask for (other words in that place are no route of the API). */
export const ACCESS_STATUSES: readonly string[] = ['pending', 'accepted', 'rejected'];

export interface AccessRequestHandlers {
  list: RequestHandler;
  handle: RequestHandler;
  grant: RequestHandler;
}

/** The access-request handlers, behind the route table's guard('write'): authors only, with a write token. */
export function accessRequestHandlers(ctx: AppContext): AccessRequestHandlers {
  const list: RequestHandler = async (req, res) => {
    const repo = authorizedRepo(res).row;
    const query = parseBody(listQuery, req.query, 'query');
    const page = await accessRequestPage(ctx.db, repo, req.params.status as AccessStatus, query.cursor, query.limit);
    if (page.next) {
      const url = new URL(`${baseUrlOf(ctx.cfg, req)}${req.path}`);
      url.searchParams.set('cursor', page.next);
      if (query.limit !== PAGE_SIZE) url.searchParams.set('limit', String(query.limit));
      res.set('Link', `<${url.href}>; rel="next"`);
    }
    res.json(page.requests.map(accessRequestJson));
  };

  const handle: RequestHandler = async (req, res) => {
    const repo = authorizedRepo(res).row;
    const body = parseBody(handleBody, req.body, 'handle request');
    const request = await handleAccessRequest(ctx.db, ctx.notifier, repo, body.user, body.status, body.rejectionReason ?? null, actorOf(res.locals.caller));
    res.json(accessRequestJson(request));
  };

  const grant: RequestHandler = async (req, res) => {
    const repo = authorizedRepo(res).row;
    const body = parseBody(grantBody, req.body, 'grant request');
    const request = await grantAccess(ctx.db, ctx.notifier, repo, body.user, actorOf(res.locals.caller));
    res.json(accessRequestJson(request));
  };

  return { list, handle, grant };
}
