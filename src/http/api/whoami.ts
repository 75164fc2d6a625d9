import type { RequestHandler } from 'express';
import { BASIC_CHALLENGE, INVALID_CREDENTIALS } from '../../access/answer.js';
import { organizationsOf } from '../../services/accounts.js';
import type { AppContext } from '../context.js';
import { apiError } from './respond.js';

// GET /api/whoami-v2: who the token belongs to, as huggingface_hub's whoami() and
// @huggingface/hub's whoAmI() read it (hf-wire.md §3.4).

/** Signed in by a token (or a session); anyone else gets the 401 the clients expect. */
export function whoamiHandler(ctx: AppContext): RequestHandler {
  return async (_req, res) => {
    const caller = res.locals.caller;
    if (caller.kind === 'invalid') return apiError(res, 401, INVALID_CREDENTIALS, { headers: { 'WWW-Authenticate': BASIC_CHALLENGE } });
    if (caller.kind !== 'user') {
      return apiError(res, 401, 'Authentication required: send a hubgate access token as `Authorization: Bearer TOKEN`', {
        headers: { 'WWW-Authenticate': BASIC_CHALLENGE },
      });
    }
    const { user, token } = caller;
    const orgs = await organizationsOf(ctx.db, user.id);
    res.json({
      type: 'user',
      id: String(user.id),
      name: user.name,
      fullname: user.fullname,
      email: user.email,
      orgs: orgs.map((o) => ({ type: 'org', name: o.name, fullname: o.fullname, roleInOrg: o.role })),
      auth: token
        ? { type: 'access_token', accessToken: { displayName: token.name, role: token.role, createdAt: token.createdAt } }
        : { type: 'session' },
    });
  };
}
