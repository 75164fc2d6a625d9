import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { HubgateError } from '../../domain/errors.js';
import { nameProblem } from '../../domain/names.js';
import type { MemberRole } from '../../domain/types.js';
import { changeRole, orgMembers, removeMember, setMember } from '../../services/orgs.js';
import { authorizedOrg } from '../authorize.js';
import type { AppContext } from '../context.js';
import { csrfField, html, type Html, notice, shownTime } from './html.js';
import { errorPage, redirectTo, renderPage } from './respond.js';
import { signedInUser } from './session.js';

// /organizations/{org}/settings: an organization's members with their roles, for its admins
// (behind the org guard's `admin`; anyone else gets the 404 page): add a member with a role,
// change a role, remove a member. The last admin can be neither demoted nor removed.

const ROLES: readonly MemberRole[] = ['read', 'write', 'admin'];
const role = z.enum(['read', 'write', 'admin'], { message: 'choose read, write or admin' });
const addForm = z.object({ user: z.string().trim().min(1, 'enter a username').max(96), role });
const roleForm = z.object({ user: z.string().min(1).max(96), role });
const removeForm = z.object({ user: z.string().min(1).max(96) });

const DONE: Record<string, string> = {
  added: 'Member added.',
  changed: 'Role changed.',
  removed: 'Member removed: their access ends with their next request.',
};

/** `/organizations/{org}/settings` and the paths its forms post to. */
export const orgSettingsPath = (org: string): string => `/organizations/${encodeURIComponent(org)}/settings`;

/** The route step that takes the org from the path into res.locals.orgName; a bad name is the 400 page. */
export const pageOrg: RequestHandler = (req, res, next) => {
  const name = String(req.params.org);
  const problem = nameProblem('organization', name);
  if (problem) return errorPage(req, res, 400, 'Invalid address', problem);
  res.locals.orgName = name;
  next();
};

function roleSelect(current: MemberRole | null, label: string): Html {
  return html`<select name="role" aria-label="${label}">${ROLES.map((r) => html`<option value="${r}"${r === current ? html` selected` : null}>${r}</option>`)}</select>`;
}

async function show(ctx: AppContext, req: Request, res: Response, problem?: { status: number; error: string }): Promise<void> {
  const org = authorizedOrg(res).row;
  const csrf = res.locals.session?.csrfToken ?? null;
  const members = await orgMembers(ctx.db, org.name);
  const base = orgSettingsPath(org.name);
  const done = typeof req.query.done === 'string' ? DONE[req.query.done] : undefined;
  const rows = members.map(
    (m) => html`<tr data-user="${m.name}">
<td><strong>${m.name}</strong>${m.fullname ? html`<br>${m.fullname}` : null}</td><td>${shownTime(m.since)}</td>
<td><form method="post" action="${base}/members/role" class="inline">${csrfField(csrf)}<input type="hidden" name="user" value="${m.name}">${roleSelect(m.role, `Role of ${m.name}`)} <button type="submit" class="secondary">Change role</button></form></td>
<td><form method="post" action="${base}/members/remove" class="inline">${csrfField(csrf)}<input type="hidden" name="user" value="${m.name}"><button type="submit" class="danger">Remove</button></form></td></tr>`,
  );
  const body = html`<h1>Settings of ${org.name}</h1>
<p><a href="/${org.name}">← ${org.name}'s page and repos</a></p>
${problem ? notice('error', problem.error) : done ? notice('ok', done) : null}
<h2>Members (${members.length})</h2>
<p class="muted">read: clone and download the organization's repos; write: also push and create repos; admin: also manage repos and members. An organization keeps at least one admin.</p>
<table class="members"><thead><tr><th>User</th><th>Member since</th><th>Role</th><th></th></tr></thead><tbody>${rows}</tbody></table>
<h2>Add a member</h2>
<form method="post" action="${base}/members" class="stack">
${csrfField(csrf)}
<label>Username <input type="text" name="user" maxlength="96" required></label>
<label>Role ${roleSelect('read', 'Role')}</label>
<button type="submit">Add member</button>
</form>`;
  renderPage(req, res, problem?.status ?? 200, `Settings · ${org.name}`, body);
}

/** Runs a change; a refusal (unknown user, last admin, bad form) re-renders the page with its message. */
async function change(ctx: AppContext, req: Request, res: Response, run: () => Promise<string>): Promise<void> {
  let done: string;
  try {
    done = await run();
  } catch (err) {
    if (!(err instanceof HubgateError) || err.status >= 500) throw err;
    return show(ctx, req, res, { status: err.status, error: err.message });
  }
  redirectTo(res, `${orgSettingsPath(authorizedOrg(res).row.name)}?done=${done}`);
}

function parsed<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const form = schema.safeParse(body);
  if (!form.success) {
    const issue = form.error.issues[0];
    throw new HubgateError('invalid', `invalid form: ${issue.path.join('.') || 'form'}: ${issue.message}`);
  }
  return form.data;
}

/** The org settings page's handlers, behind orgGuard('admin') (and the session's CSRF check for posts). */
export function orgSettingsPage(ctx: AppContext): { show: RequestHandler; add: RequestHandler; setRole: RequestHandler; remove: RequestHandler } {
  const org = (res: Response) => authorizedOrg(res).row.name;
  return {
    show: (req, res) => show(ctx, req, res),
    add: (req, res) =>
      change(ctx, req, res, async () => {
        const form = parsed(addForm, req.body);
        const outcome = await setMember(ctx.db, org(res), form.user, form.role, signedInUser(res).name);
        return outcome === 'added' ? 'added' : 'changed';
      }),
    setRole: (req, res) =>
      change(ctx, req, res, async () => {
        const form = parsed(roleForm, req.body);
        await changeRole(ctx.db, org(res), form.user, form.role, signedInUser(res).name);
        return 'changed';
      }),
    remove: (req, res) =>
      change(ctx, req, res, async () => {
        const form = parsed(removeForm, req.body);
        await removeMember(ctx.db, org(res), form.user, signedInUser(res).name);
        return 'removed';
      }),
  };
}
