import type { RequestHandler } from 'express';
import { checkNamespace } from '../../domain/names.js';
import { accountNamed } from '../../services/accounts.js';
import { recentRepos, viewerOf } from '../../services/listing.js';
import { orgMembers } from '../../services/orgs.js';
import { orgGuard } from '../authorize.js';
import type { AppContext } from '../context.js';
import { html } from './html.js';
import { repoList } from './repo-list.js';
import { notFoundPage, renderPage } from './respond.js';

// /{name}: a user's or an organization's profile: its full name and the repos the viewer may see
// (the listing service decides: public ones, and private ones to the owner and the org's
// members). An organization's members are listed to its members only; its admins get a link to
// its settings. Tried after every fixed page; reserved names are never an account's.

const PROFILE_REPOS = 100;

/** Route step: the path's name, when it may be an account's, for the org guard after it. */
export const profileName: RequestHandler<{ name: string }> = (req, res, next) => {
  try {
    checkNamespace(req.params.name);
  } catch {
    return next('route');
  }
  res.locals.orgName = req.params.name;
  next();
};

/** Route step: the org guard for `view`, whose refusal only means "show no members" (res.locals.org stays unset). */
export function membersMayView(ctx: AppContext): RequestHandler {
  return (req, res, next) => orgGuard(ctx, () => next())('view')(req, res, next);
}

export function accountPage(ctx: AppContext): RequestHandler<{ name: string }> {
  return async (req, res) => {
    const account = await accountNamed(ctx.db, req.params.name);
    if (!account) return notFoundPage(req, res);
    const repos = await recentRepos(ctx.db, viewerOf(res.locals.caller), { authors: [account.name], limit: PROFILE_REPOS });
    const org = account.kind === 'org' ? res.locals.org : undefined;
    const members = org ? await orgMembers(ctx.db, account.name) : null;
    renderPage(
      req,
      res,
      200,
      account.name,
      html`<h1>${account.fullname || account.name}${account.fullname && account.fullname !== account.name ? html` <span class="muted">${account.name}</span>` : null}${account.kind === 'org' ? html`<span class="badge">organization</span>` : null}</h1>
${org?.may.admin ? html`<p><a href="/organizations/${account.name}/settings">Organization settings</a></p>` : null}
<h2>Repos</h2>
${repoList(repos, 'No repos to show.')}
${members ? html`<h2>Members</h2><ul class="members">${members.map((m) => html`<li data-member="${m.name}"><a href="/${m.name}">${m.fullname || m.name}</a> <span class="badge">${m.role}</span></li>`)}</ul>` : null}`,
    );
  };
}
