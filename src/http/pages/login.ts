import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { verifyLogin } from '../../services/accounts.js';
import { html, notice } from './html.js';
import { csrfRefused, redirectTo, renderPage } from './respond.js';
import { endSession, loginCsrfMatches, loginCsrfToken, startSession } from './session.js';

// Sign in with a username and password (set by `hubgate user create --password-stdin`), sign out.

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

/** Sign-in and sign-out handlers (src/http/pages/routes.ts). */
export function loginPages(ctx: AppContext): { form: RequestHandler; signIn: RequestHandler; signOut: RequestHandler } {
  return {
    form: (req, res) => {
      loginPage(ctx, req, res, 200, { next: localPath(req.query.next) });
    },

    // Before sign-in there is no session: the form's token is checked against its own cookie here.
    signIn: async (req, res) => {
      if (!loginCsrfMatches(req)) return csrfRefused(req, res);
      const parsed = loginForm.safeParse(req.body);
      if (!parsed.success) return loginPage(ctx, req, res, 400, { error: 'Fill in your username and password.' });
      const { username, password, next } = parsed.data;
      const user = await verifyLogin(ctx.db, username, password);
      if (!user) return loginPage(ctx, req, res, 401, { username, next: localPath(next), error: WRONG });
      await startSession(ctx, res, user.id);
      ctx.log.info({ user: user.name }, 'signed in');
      redirectTo(res, localPath(next) ?? '/');
    },

    signOut: async (_req, res) => {
      await endSession(ctx, res);
      redirectTo(res, '/');
    },
  };
}
