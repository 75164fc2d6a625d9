import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { RepoWithOwner } from '../../db/repos.js';
import { HubgateError } from '../../domain/errors.js';
import { repoIdOf } from '../../domain/names.js';
import type { AccessRequest, AccessStatus } from '../../domain/types.js';
import { allAccessRequests, grantAccess, handleAccessRequest, MAX_REJECTION_REASON } from '../../services/access-requests.js';
import { currentRepo, deleteRepo, NOTIFY_EMAIL, setVisibility, updateSettings } from '../../services/repos.js';
import { authorizedRepo } from '../authorize.js';
import { defaultBranchOf, repoHeader } from './repo-header.js';
import type { AppContext } from '../context.js';
import { csrfField, html, type Html, notice, shownTime } from './html.js';
import { redirectTo, renderPage, setPageHeaders } from './respond.js';
import { signedInUser } from './session.js';

// The author's settings page of a repo: gate mode and notifications, the access requests in
// their three lists with Accept / Reject / Cancel, "Add access", and the access report.
// Everything here is behind guard('write') (src/http/pages/routes.ts); others get the 404 page.
// Visibility and deletion are behind guard('admin') (the owner, an organization's admins): their
// forms are shown only to those the policy allows (res.locals.repo.may.admin).

const settingsForm = z.object({
  gated: z.enum(['off', 'auto', 'manual'], { message: 'choose off, automatic or manual approval' }),
  notify_email: z.union([z.literal(''), NOTIFY_EMAIL]),
  notify_frequency: z.enum(['instant', 'daily'], { message: 'choose instant or daily notifications' }),
});
const handleForm = z.object({
  user: z.string().min(1, 'name the user').max(96),
  status: z.enum(['accepted', 'rejected', 'pending']),
  reason: z.string().max(10_000).optional(),
});
const grantForm = z.object({ user: z.string().trim().min(1, 'enter a username').max(96) });
const visibilityForm = z.object({ visibility: z.enum(['public', 'private'], { message: 'choose public or private' }) });
const deleteForm = z.object({ confirm: z.string().max(300).default('') });

/** After a change, the settings page says what happened: fixed messages only, nothing echoed from the URL. */
const DONE: Record<string, string> = {
  saved: 'Settings saved.',
  accepted: 'Request accepted: the user can now download the files.',
  rejected: 'Request rejected.',
  pending: 'Request moved back to pending.',
  granted: 'Access granted.',
  public: 'The repo is public now: anyone can see it.',
  private: 'The repo is private now: only its owner (or its organization\'s members) can see it.',
};

interface Problem {
  status: number;
  error: string;
}

/** The first problem zod found, as a sentence. */
function formProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue.path.join('.') || 'form'}: ${issue.message}`;
}

function fieldsList(fields: Record<string, string | boolean>): Html {
  const entries = Object.entries(fields);
  if (entries.length === 0) return html`<span class="muted">none</span>`;
  return html`<dl class="fields">${entries.map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'boolean' ? (v ? 'yes' : 'no') : v}</dd>`)}</dl>`;
}

function actionForm(action: string, csrf: string | null, user: string, status: AccessStatus, label: string, kind = ''): Html {
  return html`<form method="post" action="${action}" class="inline">${csrfField(csrf)}<input type="hidden" name="user" value="${user}"><input type="hidden" name="status" value="${status}"><button type="submit" class="${kind}">${label}</button></form>`;
}

function rejectForm(action: string, csrf: string | null, user: string): Html {
  return html`<form method="post" action="${action}" class="inline reject">${csrfField(csrf)}<input type="hidden" name="user" value="${user}"><input type="hidden" name="status" value="rejected">
<input type="text" name="reason" maxlength="${MAX_REJECTION_REASON}" placeholder="Reason (optional, shown to the user)" aria-label="Rejection reason for ${user}">
<button type="submit" class="danger">Reject</button></form>`;
}

function requestList(status: AccessStatus, requests: AccessRequest[], action: string, csrf: string | null): Html {
  const title = { pending: 'Pending', accepted: 'Accepted', rejected: 'Rejected' }[status];
  if (requests.length === 0) return html`<h3>${title}</h3><p class="muted">No ${status} requests.</p>`;
  const rows = requests.map((r) => {
    const buttons =
      status === 'pending'
        ? html`${actionForm(action, csrf, r.user.name, 'accepted', 'Accept')} ${rejectForm(action, csrf, r.user.name)}`
        : status === 'accepted'
          ? html`${rejectForm(action, csrf, r.user.name)} ${actionForm(action, csrf, r.user.name, 'pending', 'Cancel', 'secondary')}`
          : html`${actionForm(action, csrf, r.user.name, 'accepted', 'Accept')} ${actionForm(action, csrf, r.user.name, 'pending', 'Cancel', 'secondary')}`;
    return html`<tr data-user="${r.user.name}">
<td><strong>${r.user.name}</strong>${r.user.fullname ? html`<br>${r.user.fullname}` : null}${r.user.email ? html`<br><span class="muted">${r.user.email}</span>` : null}</td>
<td>${shownTime(r.createdAt)}</td>
<td>${fieldsList(r.fields)}${r.rejectionReason ? html`<p class="muted">Reason: ${r.rejectionReason}</p>` : null}</td>
<td>${buttons}</td></tr>`;
  });
  return html`<h3>${title} (${requests.length})</h3>
<table class="requests ${status}"><thead><tr><th>User</th><th>Asked</th><th>Answers</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

async function showSettings(ctx: AppContext, req: Request, res: Response, repo: RepoWithOwner, problem?: Problem): Promise<void> {
  const id = repoIdOf(repo);
  const csrf = res.locals.session?.csrfToken ?? null;
  const requests = await allAccessRequests(ctx.db, repo);
  const byStatus = (s: AccessStatus) => requests.filter((r) => r.status === s);
  const done = typeof req.query.done === 'string' ? DONE[req.query.done] : undefined;
  const radio = (name: string, value: string, label: string, checked: boolean) =>
    html`<label class="check"><input type="radio" name="${name}" value="${value}"${checked ? html` checked` : null}> ${label}</label>`;
  const authorized = authorizedRepo(res);
  const body = html`${repoHeader(authorized, 'settings', await defaultBranchOf(ctx, authorized))}
${problem ? notice('error', problem.error) : done ? notice('ok', done) : null}
<h2>Access requests (gating)</h2>
<form method="post" action="/${id}/settings" class="stack">
${csrfField(csrf)}
<fieldset><legend>Gate</legend>
${radio('gated', 'off', 'Off: anyone who can see the repo can download its files', !repo.gated)}
${radio('gated', 'auto', 'Automatic approval: access is granted when a user asks', repo.gated === 'auto')}
${radio('gated', 'manual', 'Manual approval: you review each request', repo.gated === 'manual')}
</fieldset>
<fieldset><legend>Notifications of new pending requests</legend>
<label>Email (empty: ${repo.ownerKind === 'org' ? "the organization's first five admins" : "the owner's email"})
<input type="email" name="notify_email" value="${repo.notifyEmail ?? ''}" maxlength="254"></label>
${radio('notify_frequency', 'instant', 'At once', repo.notifyFrequency === 'instant')}
${radio('notify_frequency', 'daily', 'Daily digest', repo.notifyFrequency === 'daily')}
</fieldset>
<button type="submit">Save settings</button>
</form>
<h2>Review access requests</h2>
${repo.gated ? null : notice('info', 'Gating is off: turn it on above to accept, reject or grant access.')}
${(['pending', 'accepted', 'rejected'] as const).map((s) => requestList(s, byStatus(s), `/${id}/settings/requests`, csrf))}
<h3>Add access</h3>
<form method="post" action="/${id}/settings/grant" class="stack">
${csrfField(csrf)}
<label>Username <input type="text" name="user" maxlength="96" required></label>
<button type="submit">Grant access</button>
</form>
<h3>Access report</h3>
<p><a href="/${id}/settings/access-report.json" download>Download user access report</a> (JSON: user, fullname, status, email, time, fields)</p>
${res.locals.repo?.may.admin ? adminSections(repo, csrf) : null}`;
  renderPage(req, res, problem?.status ?? 200, `Settings · ${id}`, body);
}

/** Visibility and deletion: for the repo's admins only. */
function adminSections(repo: RepoWithOwner, csrf: string | null): Html {
  const id = repoIdOf(repo);
  const fullName = `${repo.namespace}/${repo.name}`;
  return html`<h2>Visibility</h2>
<p>This repo is <strong>${repo.private ? 'private' : 'public'}</strong>: ${repo.private ? "only its owner (or its organization's members) can see it." : 'anyone can see it.'}</p>
<form method="post" action="/${id}/settings/visibility" class="stack">
${csrfField(csrf)}
<input type="hidden" name="visibility" value="${repo.private ? 'public' : 'private'}">
<button type="submit" class="secondary">Make ${repo.private ? 'public' : 'private'}</button>
</form>
<h2>Delete this repo</h2>
<p>Deleting removes the repo, its files and its history. This cannot be undone.</p>
<form method="post" action="/${id}/settings/delete" class="stack">
${csrfField(csrf)}
<label>Type <strong>${fullName}</strong> to confirm <input type="text" name="confirm" maxlength="300" autocomplete="off" required></label>
<button type="submit" class="danger">Delete this repo</button>
</form>`;
}

/** Runs a change; a refusal (bad input, forbidden transition) re-renders the page with its message and status. */
async function change(ctx: AppContext, req: Request, res: Response, repo: RepoWithOwner, done: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (!(err instanceof HubgateError) || err.status >= 500) throw err;
    // The repo may have changed (settings): show it as it is now.
    const now = (await currentRepo(ctx.db, repo)) ?? repo;
    return showSettings(ctx, req, res, now, { status: err.status, error: err.message });
  }
  redirectTo(res, `/${repoIdOf(repo)}/settings?done=${done}`);
}

const invalid = (message: string) => new HubgateError('invalid', message);

/** The settings page's handlers, each behind guard('write') (and the session's CSRF check for posts). */
export function repoSettingsPage(ctx: AppContext): {
  show: RequestHandler;
  save: RequestHandler;
  moveRequest: RequestHandler;
  grant: RequestHandler;
  accessReport: RequestHandler;
  visibility: RequestHandler;
  remove: RequestHandler;
} {
  return {
    show: (req, res) => showSettings(ctx, req, res, authorizedRepo(res).row),

    save: async (req, res) => {
      const repo = authorizedRepo(res).row;
      await change(ctx, req, res, repo, 'saved', async () => {
        const form = settingsForm.safeParse(req.body);
        if (!form.success) throw invalid(`invalid settings: ${formProblem(form.error)}`);
        await updateSettings(ctx.db, repo, {
          gated: form.data.gated === 'off' ? false : form.data.gated,
          notifyEmail: form.data.notify_email || null,
          notifyFrequency: form.data.notify_frequency,
        }, signedInUser(res).name);
      });
    },

    moveRequest: async (req, res) => {
      const repo = authorizedRepo(res).row;
      const form = handleForm.safeParse(req.body);
      await change(ctx, req, res, repo, form.success ? form.data.status : 'saved', async () => {
        if (!form.success) throw invalid(`invalid request change: ${formProblem(form.error)}`);
        const reason = form.data.status === 'rejected' && form.data.reason?.trim() ? form.data.reason.trim() : null;
        await handleAccessRequest(ctx.db, ctx.notifier, repo, form.data.user, form.data.status, reason, signedInUser(res).name);
      });
    },

    grant: async (req, res) => {
      const repo = authorizedRepo(res).row;
      await change(ctx, req, res, repo, 'granted', async () => {
        const form = grantForm.safeParse(req.body);
        if (!form.success) throw invalid(`invalid grant: ${formProblem(form.error)}`);
        await grantAccess(ctx.db, ctx.notifier, repo, form.data.user, signedInUser(res).name);
      });
    },

    /** Behind guard('admin'). */
    visibility: async (req, res) => {
      const repo = authorizedRepo(res).row;
      const form = visibilityForm.safeParse(req.body);
      await change(ctx, req, res, repo, form.success ? form.data.visibility : 'saved', async () => {
        if (!form.success) throw invalid(`invalid visibility: ${formProblem(form.error)}`);
        await setVisibility(ctx.db, repo, form.data.visibility === 'private', signedInUser(res).name);
      });
    },

    /** Behind guard('admin'): the repo's full name typed into the form confirms it; then the home page. */
    remove: async (req, res) => {
      const repo = authorizedRepo(res).row;
      const fullName = `${repo.namespace}/${repo.name}`;
      const form = deleteForm.safeParse(req.body);
      const typed = form.success ? form.data.confirm.trim() : '';
      if (typed !== fullName) {
        return showSettings(ctx, req, res, repo, { status: 400, error: `Nothing was deleted: type ${fullName} exactly to confirm the deletion.` });
      }
      await deleteRepo(ctx.db, ctx.cfg.dataDir, repo, signedInUser(res).name);
      redirectTo(res, '/');
    },

    accessReport: async (_req, res) => {
      const repo = authorizedRepo(res).row;
      const report = (await allAccessRequests(ctx.db, repo)).map((r) => ({
        user: r.user.name,
        fullname: r.user.fullname,
        status: r.status,
        email: r.user.email,
        time: r.createdAt,
        fields: r.fields,
      }));
      setPageHeaders(res);
      res.set('Content-Disposition', `attachment; filename="${repo.namespace}-${repo.name}-access-report.json"`);
      res.type('json').send(`${JSON.stringify(report, null, 2)}\n`);
    },
  };
}
