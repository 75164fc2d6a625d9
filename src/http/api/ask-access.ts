import type { RequestHandler } from 'express';
import { z } from 'zod';
import { submitAccessRequest } from '../../services/access-requests.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { parseRepoPath } from '../repo-path.js';
import { accessRequestJson } from './access-requests.js';
import { parseBody } from './body.js';
import { apiError } from './respond.js';
import { BASIC_CHALLENGE, INVALID_CREDENTIALS } from '../../access/answer.js';

// POST /{prefix}{ns}/{name}/ask-access with JSON {"fields": {...}} and a Bearer token: scripts ask
// for access to a gated repo. The repo page's form posts to the same address (src/http/pages/).

/** Any path ending in /ask-access; askAccessRepo takes the repo part apart. */
export const ASK_ACCESS = /\/ask-access$/;
const ASK_ROUTE = /^\/ask-access$/;
const askBody = z.strictObject({ fields: z.record(z.string().max(200), z.unknown()).default({}) });

/**
 * The repo of a JSON ask-access request (res.locals.repoRef); answers 400 when its names are
 * invalid. The page's urlencoded form goes on to the pages router, with a session and a CSRF token.
 */
export const askAccessRepo: RequestHandler = (req, res, next) => {
  const parsed = parseRepoPath(req.path, ASK_ROUTE);
  if (!parsed || !req.is('application/json')) return next('route');
  res.locals.route = 'ask-access';
  if (!parsed.ok) return apiError(res, 400, parsed.message);
  res.locals.repoRef = parsed.ref;
  next();
};

/** Only a user can ask: anyone else is told to sign in with a token. */
export const signedInToAsk: RequestHandler = (_req, res, next) => {
  const caller = res.locals.caller;
  if (caller.kind === 'user') return next();
  const message = caller.kind === 'invalid' ? INVALID_CREDENTIALS : 'Sign in to ask for access: send a hubgate access token as a Bearer token';
  apiError(res, 401, message, { headers: { 'WWW-Authenticate': BASIC_CHALLENGE } });
};

/** Behind guard('view') and the JSON body: the request, 201. */
export function askAccessHandler(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const caller = res.locals.caller;
    if (caller.kind !== 'user') throw new Error('askAccessHandler: the route did not require a signed-in user');
    const body = parseBody(askBody, req.body, 'access request');
    const request = await submitAccessRequest(ctx, authorizedRepo(res).row, caller.user, body.fields);
    res.status(201).json(accessRequestJson(request));
  };
}
