import type { RequestHandler } from 'express';
import { HubgateError } from '../../domain/errors.js';
import { submitAccessRequest } from '../../services/access-requests.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { answersFrom } from './gate-form.js';
import { readCard } from './gate.js';
import { showRepoPage } from './repo-page.js';
import { redirectTo } from './respond.js';
import { signedInUser } from './session.js';

// The browser's form of POST /{prefix}{ns}/{name}/ask-access (the JSON form, with a Bearer
// token, is served by the gating API). The request is validated and recorded by the
// access-requests service; a refusal shows the form again with the message and the user's answers.

/** The form post, behind the session's CSRF check and guard('view'). */
export function askAccessFromPage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { row: repo, repoId } = authorizedRepo(res);
    const card = await readCard(ctx.cfg.dataDir, repo);
    const answers = card.form ? answersFrom(card.form, req.body as Record<string, unknown>) : {};
    try {
      await submitAccessRequest(ctx, repo, signedInUser(res), answers);
    } catch (err) {
      if (!(err instanceof HubgateError) || err.status >= 500) throw err;
      return showRepoPage(ctx, req, res, { status: err.status, error: err.message, values: answers });
    }
    redirectTo(res, `/${repoId}`);
  };
}
