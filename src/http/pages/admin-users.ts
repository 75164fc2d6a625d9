import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { HubgateError } from '../../domain/errors.js';
import { deleteUser, disableUser, enableUser, listUsers, type UserListing } from '../../services/users.js';
import type { AppContext } from '../context.js';
import { csrfField, html, type Html, notice, shownTime } from './html.js';
import { redirectTo, renderPage } from './respond.js';
import { signedInUser } from './session.js';

// /admin/users: the site admin's list of users with Disable, Enable and Delete (the same services
// as `hubgate user ...`). Behind the `siteAdmin` step (src/http/authorize.ts): anyone else gets the 404 page.

export const ADMIN_USERS_PAGE = '/admin/users';

const deleteForm = z.object({ repos: z.enum(['keep', 'transfer', 'delete']).default('keep'), transferTo: z.string().trim().max(200).default('') });

const DONE: Record<string, string> = {
  disabled: 'User disabled: their tokens, sessions and download links no longer work.',
  enabled: 'User enabled: their tokens work again; they sign in again on the pages.',
  deleted: 'User deleted.',
};

function userRow(u: UserListing, csrf: string | null, self: string): Html {
  const action = (what: string, label: string, cls = 'secondary') =>
    html`<form method="post" action="${ADMIN_USERS_PAGE}/${encodeURIComponent(u.name)}/${what}" class="inline">${csrfField(csrf)}<button type="submit" class="${cls}">${label}</button></form>`;
  const isSelf = u.name === self;
  return html`<tr data-user="${u.name}">
<td>${u.name}${u.isAdmin ? html`<span class="badge">admin</span>` : null}</td><td>${u.email ?? ''}</td><td>${u.fullname}</td>
<td>${u.disabledAt ? `disabled ${shownTime(u.disabledAt)}` : 'active'}</td><td>${shownTime(u.createdAt)}</td>
<td>${isSelf ? html`<span class="muted">you</span>` : html`${u.disabledAt ? action('enable', 'Enable') : action('disable', 'Disable')}
<form method="post" action="${ADMIN_USERS_PAGE}/${encodeURIComponent(u.name)}/delete" class="inline">${csrfField(csrf)}
<select name="repos" aria-label="their repos"><option value="keep">delete only if they own no repos</option><option value="transfer">move their repos to…</option><option value="delete">delete their repos too</option></select>
<input type="text" name="transferTo" placeholder="user or org" aria-label="move their repos to" maxlength="96">
<button type="submit" class="danger">Delete</button></form>`}</td></tr>`;
}

async function showUsers(ctx: AppContext, req: Request, res: Response, opts: { status?: number; error?: string; done?: string } = {}): Promise<void> {
  const csrf = res.locals.session?.csrfToken ?? null;
  const self = signedInUser(res).name;
  const users = await listUsers(ctx.db);
  const body = html`<h1>Users</h1>
<p class="muted">Disabling a user stops every token, session and download link of theirs at once; their repos keep serving others. Deleting a user who owns repos needs their repos moved or deleted.</p>
${opts.done && DONE[opts.done] ? notice('ok', DONE[opts.done]) : null}
${opts.error ? notice('error', opts.error) : null}
<table class="users"><thead><tr><th>Name</th><th>Email</th><th>Full name</th><th>Status</th><th>Created</th><th></th></tr></thead>
<tbody>${users.map((u) => userRow(u, csrf, self))}</tbody></table>`;
  renderPage(req, res, opts.status ?? 200, 'Users', body);
}

/** The users page's handlers, behind siteAdmin (src/http/pages/routes.ts). */
export function adminUsersPage(ctx: AppContext): Record<'show' | 'disable' | 'enable' | 'remove', RequestHandler<{ name: string }>> {
  /** Runs a change; a refusal (deleting a user who owns repos, ...) is shown on the list with its reason. */
  const change = (fn: (req: Request<{ name: string }>, actor: string) => Promise<unknown>, done: string): RequestHandler<{ name: string }> => async (req, res) => {
    try {
      await fn(req, signedInUser(res).name);
    } catch (err) {
      if (err instanceof HubgateError && err.status < 500) return showUsers(ctx, req, res, { status: err.status, error: err.message });
      throw err;
    }
    redirectTo(res, `${ADMIN_USERS_PAGE}?done=${done}`);
  };
  return {
    show: (req, res) => showUsers(ctx, req, res, { done: typeof req.query.done === 'string' ? req.query.done : undefined }),
    disable: change((req, actor) => disableUser(ctx.db, req.params.name, actor), 'disabled'),
    enable: change((req, actor) => enableUser(ctx.db, req.params.name, actor), 'enabled'),
    remove: change(async (req, actor) => {
      const form = deleteForm.safeParse(req.body);
      if (!form.success) throw new HubgateError('invalid', 'choose what happens to their repos');
      const { repos, transferTo } = form.data;
      if (repos === 'transfer' && !transferTo) throw new HubgateError('invalid', 'give the user or organization to move their repos to');
      return deleteUser(ctx.db, ctx.cfg.dataDir, req.params.name, { transferTo: repos === 'transfer' ? transferTo : undefined, deleteRepos: repos === 'delete' }, actor);
    }, 'deleted'),
  };
}
