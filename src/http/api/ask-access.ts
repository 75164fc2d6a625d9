import { Router } from 'express';
import { z } from 'zod';
import { submitAccessRequest } from '../../services/access-requests.js';
import type { AppContext } from '../context.js';
import { parseRepoPath } from '../repo-path.js';
import { accessRequestJson } from './access-requests.js';
import { jsonBody, parseBody } from './body.js';
import { apiError, authorizeRepo } from './respond.js';
import { BASIC_CHALLENGE, INVALID_CREDENTIALS } from '../../access/answer.js';

// POST /{prefix}{ns}/{name}/ask-access with JSON {"fields": {...}} and a Bearer token: scripts ask
// for access to a gated repo. The repo page's form posts to the same address (src/http/pages/).

const ASK_ROUTE = /^\/ask-access$/;
const askBody = z.strictObject({ fields: z.record(z.string().max(200), z.unknown()).default({}) });

export function askAccessRoutes(ctx: AppContext): Router {
  const router = Router();
  router.post(/\/ask-access$/, async (req, res, next) => {
    const parsed = parseRepoPath(req.path, ASK_ROUTE);
    // The page's urlencoded form is handled by the pages router, with a session and a CSRF token.
    if (!parsed || !req.is('application/json')) return next();
    res.locals.route = 'ask-access';
    if (!parsed.ok) return apiError(res, 400, parsed.message);
    const caller = res.locals.caller;
    if (caller.kind !== 'user') {
      const message = caller.kind === 'invalid' ? INVALID_CREDENTIALS : 'Sign in to ask for access: send a hubgate access token as a Bearer token';
      return apiError(res, 401, message, { headers: { 'WWW-Authenticate': BASIC_CHALLENGE } });
    }
    const repo = await authorizeRepo(ctx, req, res, parsed.ref, 'view');
    if (!repo) return;
    await new Promise<void>((resolve, reject) => jsonBody(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
    const body = parseBody(askBody, req.body, 'access request');
    const request = await submitAccessRequest(ctx, repo, caller.user, body.fields);
    res.status(201).json(accessRequestJson(request));
  });
  return router;
}
