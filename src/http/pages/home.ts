import type { RequestHandler } from 'express';
import { organizationsOf } from '../../services/accounts.js';
import { recentRepos, viewerOf } from '../../services/listing.js';
import type { AppContext } from '../context.js';
import { html } from './html.js';
import { repoList } from './repo-list.js';
import { renderPage } from './respond.js';

// The home page. Signed in: the user's repos and their organizations' (private ones included),
// the most recently changed first, and their organizations. Signed out: recently changed public repos.

const HOME_REPOS = 30;

export function homePage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const caller = res.locals.caller;
    if (caller.kind !== 'user') {
      const repos = await recentRepos(ctx.db, null, { limit: HOME_REPOS });
      return renderPage(
        req,
        res,
        200,
        'Home',
        html`<h1>hubgate</h1>
<p>A self-hosted home for model and dataset repositories, speaking the Hugging Face Hub's interfaces.</p>
<p><a href="/login">Sign in</a> to see your repos, create new ones and manage your access tokens. Browse <a href="/models">models</a>, <a href="/datasets">datasets</a> and <a href="/spaces">spaces</a>.</p>
<h2>Recently updated</h2>
${repoList(repos, 'No public repos yet.')}`,
      );
    }
    const user = caller.user;
    const orgs = await organizationsOf(ctx.db, user.id);
    const repos = await recentRepos(ctx.db, viewerOf(caller), { authors: [user.name, ...orgs.map((o) => o.name)], limit: HOME_REPOS });
    renderPage(
      req,
      res,
      200,
      'Home',
      html`<h1>Welcome, ${user.fullname || user.name}</h1>
<p><a href="/new">New repository</a> · <a href="/${user.name}">Your profile</a> · Browse <a href="/models">models</a>, <a href="/datasets">datasets</a>, <a href="/spaces">spaces</a> · <a href="/settings/tokens">Access tokens</a></p>
<h2>Your repos</h2>
${repoList(repos, 'You have no repos yet: create one.')}
<h2>Your organizations</h2>
${orgs.length === 0 ? html`<p class="muted">You belong to no organization.</p>` : html`<ul class="orgs">${orgs.map((o) => html`<li><a href="/${o.name}">${o.fullname || o.name}</a> <span class="badge">${o.role}</span></li>`)}</ul>`}`,
    );
  };
}
