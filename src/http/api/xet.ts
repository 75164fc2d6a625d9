import type { RequestHandler } from 'express';
import type { XetScope, XetService } from '../../services/xet.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { baseUrlOf } from '../urls.js';
import { apiError } from './respond.js';

// GET /api/{models|datasets|spaces}/{ns}/{name}/xet-write-token/{rev} and .../xet-read-token/{rev}:
// a short-lived token for hubgate's CAS (/cas, src/http/xet/routes.ts), scoped to the repo and the
// operation, issued after the route's guard (write, or read with gating): revoked access or a
// closed gate takes effect at the next token. Answered as JSON (@huggingface/hub, hf_xet) and as
// X-Xet-* headers (huggingface_hub reads only those). With HUBGATE_XET=off: a 501 that says how to
// turn Xet off in the clients (hf_xet takes 501 as final).

export const XET_UNSUPPORTED =
  'Xet storage is turned off on this server (HUBGATE_XET=off); it stores large files with Git LFS. Set HF_HUB_DISABLE_XET=1 for huggingface_hub ' +
  '(or uninstall hf_xet); with @huggingface/hub pass useXet: false';

/** Where a request's Xet clients reach the CAS. */
export const casUrlOf = (ctx: AppContext, req: Parameters<RequestHandler>[0]) => `${baseUrlOf(ctx.cfg, req)}/cas`;

/** The answer of one Xet token route, behind its guard. */
export function xetTokenHandler(ctx: AppContext, xet: XetService | undefined, scope: XetScope): RequestHandler {
  return (req, res) => {
    if (!ctx.cfg.xet || !xet) return apiError(res, 501, XET_UNSUPPORTED);
    const repo = authorizedRepo(res);
    const caller = res.locals.caller;
    const token = xet.issueToken(repo.row.id, scope, caller.kind === 'user' ? caller.user.id : null, casUrlOf(ctx, req));
    res.set({ 'X-Xet-Cas-Url': token.casUrl, 'X-Xet-Access-Token': token.accessToken, 'X-Xet-Token-Expiration': String(token.exp), 'Cache-Control': 'no-store' });
    res.json(token);
  };
}
