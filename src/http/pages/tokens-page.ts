import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { HubgateError } from '../../domain/errors.js';
import type { TokenInfo, User } from '../../domain/types.js';
import type { AppContext } from '../context.js';
import { createToken, revoke, rotateToken, tokensOfUser } from '../../services/tokens.js';
import { csrfField, html, type Html, notice, shownTime } from './html.js';
import { errorPage, redirectTo, renderPage } from './respond.js';
import { signedInUser } from './session.js';

// /settings/tokens: the signed-in user's access tokens. A new token's secret is shown once, on
// the answer to the POST that created it (never cached, never shown again); so is the new secret
// of a refreshed token (same token, same name and role; the old secret stops working at once).

const createForm = z.object({
  name: z.string().trim().min(1, 'give the token a name').max(100, 'use at most 100 characters'),
  role: z.enum(['read', 'write'], { message: 'choose read or write' }),
});
const TOKEN_ID = /^[1-9][0-9]{0,15}$/;

/** Where a caller who is not signed in is sent: the sign-in page, then back here. */
export const TOKENS_PAGE = '/settings/tokens';

function tokenRow(t: TokenInfo, csrf: string | null): Html {
  return html`<tr data-token="${t.id}">
<td>${t.name}</td><td>${t.role}</td><td>${shownTime(t.createdAt)}</td><td>${t.lastUsedAt ? shownTime(t.lastUsedAt) : html`<span class="muted">never</span>`}</td>
<td>${t.revokedAt ? `revoked ${shownTime(t.revokedAt)}` : 'active'}</td>
<td>${t.revokedAt ? null : html`<form method="post" action="/settings/tokens/${t.id}/refresh" class="inline">${csrfField(csrf)}<button type="submit" class="secondary">Refresh</button></form>
<form method="post" action="/settings/tokens/${t.id}/revoke" class="inline">${csrfField(csrf)}<button type="submit" class="danger">Revoke</button></form>`}</td></tr>`;
}

async function showTokens(
  ctx: AppContext,
  req: Request,
  res: Response,
  user: User,
  opts: { status?: number; created?: { secret: string; name: string; refreshed?: boolean }; error?: string; revoked?: boolean; values?: { name?: string; role?: string } } = {},
): Promise<void> {
  const csrf = res.locals.session?.csrfToken ?? null;
  const tokens = await tokensOfUser(ctx.db, user.id);
  const role = opts.values?.role === 'write' ? 'write' : 'read';
  const body = html`<h1>Access tokens</h1>
<p class="muted">Tokens are the password for git and Git LFS (any username) and the Bearer token of the API. A read token can clone and download; a write token can also push and manage repos.</p>
${opts.created ? html`<div class="notice ok" role="status"><p>${opts.created.refreshed ? html`The new secret of your token <strong>${opts.created.name}</strong>: the old one no longer works.` : html`Your new token <strong>${opts.created.name}</strong>.`} Copy it now: it will not be shown again.</p><p class="secret" id="new-token">${opts.created.secret}</p></div>` : null}
${opts.revoked ? notice('ok', 'Token revoked: it no longer works anywhere.') : null}
${opts.error ? notice('error', opts.error) : null}
<h2>New token</h2>
<form method="post" action="/settings/tokens" class="stack">
${csrfField(csrf)}
<label>Name <input type="text" name="name" maxlength="100" value="${opts.values?.name ?? ''}" required></label>
<fieldset><legend>Role</legend>
<label class="check"><input type="radio" name="role" value="read"${role === 'read' ? html` checked` : null}> read</label>
<label class="check"><input type="radio" name="role" value="write"${role === 'write' ? html` checked` : null}> write</label>
</fieldset>
<button type="submit">Create token</button>
</form>
<h2>Your tokens</h2>
${tokens.length === 0 ? html`<p class="muted">You have no tokens yet.</p>` : html`<table class="tokens"><thead><tr><th>Name</th><th>Role</th><th>Created</th><th>Last used</th><th>Status</th><th></th></tr></thead>
<tbody>${tokens.map((t) => tokenRow(t, csrf))}</tbody></table>`}`;
  renderPage(req, res, opts.status ?? 200, 'Access tokens', body);
}

/** The tokens page's handlers, behind a signed-in session (src/http/pages/routes.ts). */
export function tokensPage(ctx: AppContext): { show: RequestHandler; create: RequestHandler; revoke: RequestHandler<{ id: string }>; refresh: RequestHandler<{ id: string }> } {
  return {
    show: async (req, res) => {
      await showTokens(ctx, req, res, signedInUser(res), { revoked: req.query.done === 'revoked' });
    },

    create: async (req, res) => {
      const user = signedInUser(res);
      const form = createForm.safeParse(req.body);
      const values = req.body as { name?: string; role?: string };
      if (!form.success) {
        const issue = form.error.issues[0];
        return showTokens(ctx, req, res, user, { status: 400, error: `Invalid token: ${issue.path.join('.')}: ${issue.message}`, values });
      }
      const { secret, info } = await createToken(ctx.db, user.name, form.data.role, form.data.name, user.name);
      await showTokens(ctx, req, res, user, { status: 201, created: { secret, name: info.name } });
    },

    revoke: async (req, res) => {
      const user = signedInUser(res);
      const id = TOKEN_ID.test(req.params.id) ? Number(req.params.id) : null;
      // Only the user's own live tokens: someone else's token id is "not found", as a missing one.
      const token = id === null ? undefined : (await tokensOfUser(ctx.db, user.id)).find((t) => t.id === id && !t.revokedAt);
      if (!token) return errorPage(req, res, 404, 'Token not found', 'You have no live token with this id: it may already be revoked. Go back to your access tokens.');
      await revoke(ctx.db, token.id, user.name);
      redirectTo(res, `${TOKENS_PAGE}?done=revoked`);
    },

    /** A new secret for the same token, shown once on this answer (as a new token's). */
    refresh: async (req, res) => {
      const user = signedInUser(res);
      const id = TOKEN_ID.test(req.params.id) ? Number(req.params.id) : null;
      if (id === null) return errorPage(req, res, 404, 'Token not found', 'You have no live token with this id: it may be revoked. Go back to your access tokens.');
      let rotated: { secret: string; info: TokenInfo };
      try {
        rotated = await rotateToken(ctx.db, user.name, id, user.name);
      } catch (err) {
        if (err instanceof HubgateError && err.status === 404) return errorPage(req, res, 404, 'Token not found', 'You have no live token with this id: it may be revoked. Go back to your access tokens.');
        throw err;
      }
      await showTokens(ctx, req, res, user, { created: { secret: rotated.secret, name: rotated.info.name, refreshed: true } });
    },
  };
}
