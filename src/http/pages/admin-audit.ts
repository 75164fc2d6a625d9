import type { Request, RequestHandler, Response } from 'express';
import type { RepoRef } from '../../domain/names.js';
import type { AppContext } from '../context.js';
import { auditEntries, type AuditFilter, auditRepoRef, type AuditRow, detailsText } from '../../services/audit.js';
import { html, type Html, notice, shownTime } from './html.js';
import { renderPage } from './respond.js';

// /admin/audit: the audit log for site administrators, newest first, with the filters of
// `hubgate audit` as a GET form and pages of PAGE entries linked by entry ids (beforeId: older,
// afterId: newer).

export const AUDIT_PAGE = '/admin/audit';
const PAGE = 50;
const ENTRY_ID = /^[1-9][0-9]{0,15}$/;

interface Query {
  repo: string;
  type: string;
  user: string;
  since: string;
  beforeId?: number;
  afterId?: number;
}

const one = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

function queryOf(req: Request): Query {
  const q = req.query as Record<string, unknown>;
  const id = (v: unknown) => (ENTRY_ID.test(one(v)) ? Number(one(v)) : undefined);
  return { repo: one(q.repo), type: one(q.type), user: one(q.user), since: one(q.since), beforeId: id(q.beforeId), afterId: id(q.afterId) };
}

/** The filter the form asks for; a message saying what to fix when it cannot be read. */
function filterOf(q: Query): AuditFilter | string {
  let repo: RepoRef | undefined;
  try {
    if (q.repo) repo = auditRepoRef(q.repo, ['model', 'dataset', 'space'].includes(q.type) ? q.type : undefined);
  } catch (err) {
    return (err as Error).message;
  }
  const since = q.since ? new Date(q.since) : undefined;
  if (since && Number.isNaN(since.getTime())) return 'since must be a date, e.g. 2026-11-30 or 2026-11-30T08:00:00Z';
  return { repo, user: q.user || undefined, since };
}

/** This page with the same filters and `cursor`. */
function pageLink(q: Query, cursor: Record<string, number>): string {
  const params = new URLSearchParams();
  for (const key of ['repo', 'type', 'user', 'since'] as const) if (q[key]) params.set(key, q[key]);
  for (const [key, value] of Object.entries(cursor)) params.set(key, String(value));
  return `${AUDIT_PAGE}?${params}`;
}

function entryRow(e: AuditRow): Html {
  return html`<tr data-entry="${e.id}"><td>${shownTime(e.at)}</td><td>${e.actor ?? html`<span class="muted">-</span>`}</td><td>${e.action}</td><td>${e.repo ?? ''}</td><td>${e.target ?? ''}</td><td>${detailsText(e.details)}</td></tr>`;
}

function filterForm(q: Query): Html {
  const type = ['model', 'dataset', 'space'].includes(q.type) ? q.type : '';
  const option = (value: string, label: string) => html`<option value="${value}"${type === value ? html` selected` : null}>${label}</option>`;
  return html`<form method="get" action="${AUDIT_PAGE}" class="stack">
<label>Repo <input type="text" name="repo" value="${q.repo}" placeholder="NAMESPACE/NAME or datasets/NAMESPACE/NAME"></label>
<label>Repo type <select name="type">${option('', 'as written (model)')}${option('model', 'model')}${option('dataset', 'dataset')}${option('space', 'space')}</select></label>
<label>User (acting or acted on) <input type="text" name="user" value="${q.user}"></label>
<label>Since <input type="text" name="since" value="${q.since}" placeholder="2026-11-30 or 2026-11-30T08:00:00Z"></label>
<button type="submit">Show</button>
</form>`;
}

/** GET /admin/audit, behind siteAdminPage. */
export function auditPage(ctx: AppContext): RequestHandler {
  return async (req: Request, res: Response) => {
    const q = queryOf(req);
    const filter = filterOf(q);
    if (typeof filter === 'string') {
      return renderPage(req, res, 400, 'Audit log', html`<h1>Audit log</h1>${notice('error', `Invalid filter: ${filter}`)}${filterForm(q)}`);
    }
    const cursor = q.afterId !== undefined ? { afterId: q.afterId } : q.beforeId !== undefined ? { beforeId: q.beforeId } : {};
    // One more than shown tells whether there is a further page that way.
    const fetched = await auditEntries(ctx.db, { ...filter, ...cursor, limit: PAGE + 1 });
    const more = fetched.length > PAGE;
    const entries = q.afterId !== undefined ? fetched.slice(fetched.length - Math.min(fetched.length, PAGE)) : fetched.slice(0, PAGE);
    const first = entries.at(0);
    const last = entries.at(-1);
    const newer = first && (q.afterId !== undefined ? more : (await auditEntries(ctx.db, { ...filter, afterId: first.id, limit: 1 })).length > 0);
    const older = last && (q.afterId !== undefined ? (await auditEntries(ctx.db, { ...filter, beforeId: last.id, limit: 1 })).length > 0 : more);
    const nav = html`<p class="pager">${newer ? html`<a href="${pageLink(q, { afterId: first.id })}" rel="prev">Newer</a>` : null} ${older ? html`<a href="${pageLink(q, { beforeId: last.id })}" rel="next">Older</a>` : null}</p>`;
    const body = html`<h1>Audit log</h1>
<p class="muted">Who did what, newest first: tokens, users, organizations, repos and their settings, access requests, pushes and API commits. Entries are never changed or removed. The same list is printed by <code>hubgate audit</code>.</p>
${filterForm(q)}
${entries.length === 0 ? html`<p class="muted">No entries${filter.repo || filter.user || filter.since ? ' match these filters' : ''}.</p>` : html`<table class="audit"><thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Repo</th><th>Target</th><th>Details</th></tr></thead>
<tbody>${entries.map(entryRow)}</tbody></table>`}
${nav}`;
    renderPage(req, res, 200, 'Audit log', body);
  };
}
