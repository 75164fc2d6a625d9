import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { HubgateError } from '../../domain/errors.js';
import type { User } from '../../domain/types.js';
import { changeOwnPassword, updateOwnProfile } from '../../services/users.js';
import type { AppContext } from '../context.js';
import { csrfField, html, notice } from './html.js';
import { redirectTo, renderPage } from './respond.js';
import { signedInUser } from './session.js';

// /settings/profile: the signed-in user's full name and email, and their web password (given the
// current one; the other sessions of theirs end, this one stays).

export const PROFILE_PAGE = '/settings/profile';

const profileForm = z.object({ fullname: z.string().max(200).default(''), email: z.string().trim().max(254).default('') });
const passwordForm = z.object({ current: z.string().max(1024).default(''), password: z.string().max(1024).default(''), confirm: z.string().max(1024).default('') });

const DONE: Record<string, string> = {
  profile: 'Profile saved.',
  password: 'Password changed: your other sessions were signed out.',
};

function showProfile(req: Request, res: Response, user: User, opts: { status?: number; error?: string; done?: string; values?: { fullname?: string; email?: string } } = {}): void {
  const csrf = res.locals.session?.csrfToken ?? null;
  const values = { fullname: opts.values?.fullname ?? user.fullname, email: opts.values?.email ?? user.email ?? '' };
  renderPage(
    req,
    res,
    opts.status ?? 200,
    'Profile',
    html`<h1>Your profile</h1>
${opts.done && DONE[opts.done] ? notice('ok', DONE[opts.done]) : null}
${opts.error ? notice('error', opts.error) : null}
<form method="post" action="${PROFILE_PAGE}" class="stack">
${csrfField(csrf)}
<label>Username <input type="text" value="${user.name}" disabled></label>
<label>Full name <input type="text" name="fullname" maxlength="200" value="${values.fullname}" autocomplete="name"></label>
<label>Email <input type="email" name="email" maxlength="254" value="${values.email}" autocomplete="email"></label>
<button type="submit">Save profile</button>
</form>
<h2>Password</h2>
<form method="post" action="${PROFILE_PAGE}/password" class="stack">
${csrfField(csrf)}
<label>Current password <input type="password" name="current" autocomplete="current-password" required></label>
<label>New password (at least 8 characters) <input type="password" name="password" autocomplete="new-password" minlength="8" required></label>
<label>New password again <input type="password" name="confirm" autocomplete="new-password" minlength="8" required></label>
<button type="submit">Change password</button>
</form>
<p class="muted">The password is for these pages only; changing it signs you out everywhere else. Git, Git LFS and the API take <a href="/settings/tokens">access tokens</a>.</p>`,
  );
}

/** The profile page's handlers, behind a signed-in session (src/http/pages/routes.ts). */
export function profilePage(ctx: AppContext): Record<'show' | 'save' | 'password', RequestHandler> {
  /** A refusal (a bad email, a wrong current password) is shown on the page with its reason. */
  const refused = (req: Request, res: Response, err: unknown, values?: { fullname?: string; email?: string }): void => {
    if (err instanceof HubgateError && err.status < 500) return showProfile(req, res, signedInUser(res), { status: err.status, error: err.message, values });
    throw err;
  };
  return {
    show: (req, res) => showProfile(req, res, signedInUser(res), { done: typeof req.query.done === 'string' ? req.query.done : undefined }),
    save: async (req, res) => {
      const form = profileForm.safeParse(req.body);
      if (!form.success) return showProfile(req, res, signedInUser(res), { status: 400, error: 'Fill in the form as the page shows it.' });
      try {
        await updateOwnProfile(ctx.db, signedInUser(res), { fullname: form.data.fullname, email: form.data.email });
      } catch (err) {
        return refused(req, res, err, form.data);
      }
      redirectTo(res, `${PROFILE_PAGE}?done=profile`);
    },
    password: async (req, res) => {
      const form = passwordForm.safeParse(req.body);
      if (!form.success) return showProfile(req, res, signedInUser(res), { status: 400, error: 'Fill in the form as the page shows it.' });
      const { current, password, confirm } = form.data;
      if (password !== confirm) return showProfile(req, res, signedInUser(res), { status: 400, error: 'The two new passwords differ: type the same one twice.' });
      try {
        await changeOwnPassword(ctx.db, signedInUser(res), current, password, res.locals.session!.idSha256);
      } catch (err) {
        return refused(req, res, err);
      }
      redirectTo(res, `${PROFILE_PAGE}?done=password`);
    },
  };
}
