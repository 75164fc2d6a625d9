import type { Request, Response } from 'express';
import { resolveAccess } from '../../access/resolve.js';
import { HubgateError } from '../../domain/errors.js';
import { type RepoRef, repoIdOf } from '../../domain/names.js';
import type { AppContext } from '../context.js';
import { submitAccessRequest } from '../../services/access-requests.js';
import { answersFrom } from './gate-form.js';
import { readCard } from './gate.js';
import { showRepoPage } from './repo-page.js';
import { notFoundPage, redirectTo } from './respond.js';
import { checkCsrf } from './session.js';

// The browser's form of POST /{prefix}{ns}/{name}/ask-access (the JSON form, with a Bearer
// token, is served by the gating API). The request is validated and recorded by the gating
// module; a refusal shows the form again with the message and the user's answers.

/** Handles the form POST; returns false when the request is not a form post (so the JSON route answers). */
export async function askAccessFromPage(ctx: AppContext, req: Request, res: Response, ref: RepoRef): Promise<boolean> {
  if (!req.is('application/x-www-form-urlencoded')) return false;
  if (!checkCsrf(req, res)) return true;
  const caller = res.locals.caller;
  const { decision, repo } = await resolveAccess(ctx.db, caller, ref, 'view');
  if (!decision.allow || !repo || caller.kind !== 'user') {
    notFoundPage(req, res);
    return true;
  }
  const card = await readCard(ctx.cfg.dataDir, repo);
  const answers = card.form ? answersFrom(card.form, req.body as Record<string, unknown>) : {};
  try {
    await submitAccessRequest(ctx, repo, caller.user, answers);
  } catch (err) {
    if (!(err instanceof HubgateError) || err.status >= 500) throw err;
    await showRepoPage(ctx, req, res, ref, { status: err.status, error: err.message, values: answers });
    return true;
  }
  redirectTo(res, `/${repoIdOf(repo)}`);
  return true;
}
