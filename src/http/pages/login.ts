import express, { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { findAccount, passwordHashOf } from '../../db/accounts.js';
import type { AppContext } from '../context.js';
import { declaredLengthAtMost } from '../request-body.js';
import { hashPassword, verifyPassword } from '../../identity/passwords.js';
import { html, notice } from './html.js';
import { csrfRefused, redirectTo, renderPage } from './respond.js';
import { checkCsrf, endSession, loginCsrfMatches, loginCsrfToken, startSession } from './session.js';

// Sign in with a username and password (set by `hubgate user create --password-stdin`), sign out.

export const formBody = declaredLengthAtMost(64 * 1024, express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 200 }), 'send the form as the page does');

const loginForm = z.object({
  username: z.string().max(200),
  password: z.string().max(1024),
  csrf: z.string().max(200),
  next: z.string().max(2000).optional(),
});

/** `next` only when it is a path on this server: never another origin (`//host`, `/\host`, `https:`). */
export function localPath(next: unknown): string | null {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return null;
  return /^[\x21-\x7e]*$/.test(next) ? next : null;
}

const WRONG = 'Incorrect username or password.';

/** Verified against when the user does not exist, so a missing user takes as long as a wrong password. */
let decoyHash: Promise<string> | undefined;

function loginPage(ctx: AppContext, req: Request, res: Response, status: number, opts: { username?: string; next?: string | null; error?: string }): void {
  const csrf = loginCsrfToken(ctx, req, res);
  const next = opts.next ?? null;
  renderPage(
    req,
    res,
    status,
    'Sign in',
    html`<h1>Sign in to hubgate</h1>
${opts.error ? notice('error', opts.error) : null}
<form method="post" action="/login" class="stack">
  <input type="hidden" name="csrf" value="${csrf}">
  ${next ? html`<input type="hidden" name="next" value="${next}">` : null}
  <label>Username <input type="text" name="username" value="${opts.username ?? ''}" autocomplete="username" required autofocus></label>
  <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in</button>
</form>
<p class="muted">The password is for these pages only; git, Git LFS and the API take an access token.</p>`,
  );
}

export function loginRoutes(ctx: AppContext): Router {
  const router = Router();

  router.get('/login', (req, res) => {
    res.locals.route = 'page-login';
    loginPage(ctx, req, res, 200, { next: localPath(req.query.next) });
  });

  router.post('/login', formBody, async (req, res) => {
    res.locals.route = 'page-login';
    if (!loginCsrfMatches(req)) return csrfRefused(req, res);
    const parsed = loginForm.safeParse(req.body);
    if (!parsed.success) return loginPage(ctx, req, res, 400, { error: 'Fill in your username and password.' });
    const { username, password, next } = parsed.data;
    const account = username ? await findAccount(ctx.db, username) : undefined;
    const stored = account?.kind === 'user' ? await passwordHashOf(ctx.db, account.id) : null;
    const ok = stored ? await verifyPassword(password, stored) : await verifyPassword(password, await (decoyHash ??= hashPassword('decoy password')));
    if (!account || !stored || !ok) return loginPage(ctx, req, res, 401, { username, next: localPath(next), error: WRONG });
    await startSession(ctx, res, account.id);
    ctx.log.info({ user: account.name }, 'signed in');
    redirectTo(res, localPath(next) ?? '/');
  });

  router.post('/logout', formBody, async (req, res) => {
    res.locals.route = 'page-login';
    if (!checkCsrf(req, res)) return;
    await endSession(ctx, res);
    redirectTo(res, '/');
  });

  return router;
}
