import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { RepoWithOwner } from '../../db/repos.js';
import { badRequest } from '../../domain/errors.js';
import { filePathProblem, revisionProblem } from '../../domain/revisions.js';
import { type CommitView, commitPatch, commitView, type FileChange } from '../../services/commit-view.js';
import { commitHistory } from '../../services/history.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { shownSize as filesShownSize } from './files.js';
import { html, type Html, notice, shownTime } from './html.js';
import { defaultBranchOf, pathSegments, repoHeader, revSegment } from './repo-header.js';
import { renderPage, setPageHeaders } from './respond.js';

// The History and Commit pages of a repo: `/{repo}/commits/{rev}[/{path}]` (a page of the
// history, newest first, optionally of one file or folder), `/{repo}/commit/{rev}` (message,
// author, date, parents and the diff git diff-tree computes, cut at a budget) and
// `/{repo}/commit/{rev}.diff` (the whole patch, streamed as text). A revision with '/' comes as
// one path segment with %2F, as in resolve URLs.

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The rest of a repo page's path after its section (`/commits/`, `/commit/`), still percent-encoded. */
      repoRest?: string;
      historyRequest?: HistoryRequest;
      commitRequest?: CommitRequest;
    }
  }
}

/** Commits per history page. */
export const HISTORY_PAGE_SIZE = 50;
/** The highest page number a history link may ask for. */
const MAX_PAGE = 1_000_000;

interface HistoryRequest {
  revision: string;
  path?: string;
  /** From 0. */
  page: number;
}

interface CommitRequest {
  revision: string;
  /** The raw .diff rather than the page. */
  raw: boolean;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest('invalid address: bad percent-encoding');
  }
}

/** `{rev}[/{path}]` of a history URL, decoded and checked before the repo is looked at. */
export const historyRequest: RequestHandler = (req, res, next) => {
  const rest = res.locals.repoRest ?? '';
  const slash = rest.indexOf('/');
  const revision = decodeSegment(slash < 0 ? rest : rest.slice(0, slash));
  const rawPath = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  const path = rawPath ? rawPath.split('/').map(decodeSegment).join('/') : undefined;
  const problem = revisionProblem(revision) ?? (path ? filePathProblem(path) : null);
  if (problem) throw badRequest(problem);
  const p = typeof req.query.p === 'string' && /^\d{1,7}$/.test(req.query.p) ? Math.min(Number(req.query.p), MAX_PAGE) : 0;
  res.locals.historyRequest = { revision, path, page: p };
  next();
};

/** `{rev}` or `{rev}.diff` of a commit URL, decoded and checked; anything with more segments is no page. */
export const commitRequest: RequestHandler = (_req, res, next) => {
  const rest = res.locals.repoRest ?? '';
  if (rest.includes('/')) return next('route');
  const raw = rest.endsWith('.diff');
  const revision = decodeSegment(raw ? rest.slice(0, -'.diff'.length) : rest);
  const problem = revisionProblem(revision);
  if (problem) throw badRequest(problem);
  res.locals.commitRequest = { revision, raw };
  next();
};


/** GET /{repo}/commits/{rev}[/{path}]: one page of the history. */
export function historyPage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const authorized = authorizedRepo(res);
    const { row: repo, repoId } = authorized;
    const { revision, path, page } = res.locals.historyRequest!;
    const skip = page * HISTORY_PAGE_SIZE;
    const { total, commits } = await commitHistory(ctx.db, ctx.cfg.dataDir, repo, revision, { skip, limit: HISTORY_PAGE_SIZE, path });
    const here = `/${repoId}/commits/${revSegment(revision)}${path ? `/${pathSegments(path)}` : ''}`;
    const pageLink = (p: number) => (p === 0 ? here : `${here}?p=${p}`);
    const newer = page > 0 ? html`<a rel="prev" href="${pageLink(Math.min(page - 1, Math.max(0, Math.ceil(total / HISTORY_PAGE_SIZE) - 1)))}">← Newer</a>` : null;
    const older = skip + commits.length < total ? html`<a rel="next" href="${pageLink(page + 1)}">Older →</a>` : null;
    const list = commits.map(
      (c) => html`<li class="commit"><a class="commit-title" href="/${repoId}/commit/${c.id}">${c.title || '(no message)'}</a>
<span class="muted"><span class="author">${c.authors[0]?.user}</span> committed on <time datetime="${c.date}">${shownTime(c.date)}</time></span>
<a class="sha" href="/${repoId}/commit/${c.id}"><code>${c.id.slice(0, 7)}</code></a></li>`,
    );
    const body = html`${repoHeader(authorized, 'history', await defaultBranchOf(ctx, authorized))}
<h2>History: ${total} ${total === 1 ? 'commit' : 'commits'}</h2>
<p class="muted">On <code>${revision}</code>${path ? html`, of <code>${path}</code> (<a href="/${repoId}/commits/${revSegment(revision)}">whole repo</a>)` : null}</p>
${commits.length ? html`<ul class="commits">${list}</ul>` : html`<p class="muted">No commits ${page > 0 ? 'on this page' : 'here'}.</p>`}
${newer || older ? html`<nav class="pager">${newer}${older}</nav>` : null}`;
    renderPage(req, res, 200, `History of ${repoId}`, body);
  };
}

/** Sizes as the Files tab shows them (decimal units, as the Hub), or a dash for a side without the file. */
function shownSize(bytes: number | null): string {
  return bytes === null ? '—' : filesShownSize(bytes);
}

const STATUS_WORD: Record<string, string> = { A: 'added', D: 'deleted', M: 'modified', R: 'renamed', C: 'copied', T: 'type changed' };

function fileTitle(f: FileChange): Html {
  const renamed = (f.status === 'R' || f.status === 'C') && f.oldPath !== f.newPath;
  return html`<span class="file-path">${renamed ? html`${f.oldPath} → ` : null}${f.newPath}</span> <span class="badge status-${f.status}">${STATUS_WORD[f.status] ?? f.status}${f.similarity !== undefined && f.similarity < 100 && renamed ? ` (${f.similarity}%)` : ''}</span>`;
}

function fileBody(f: FileChange): Html {
  if (f.shown === 'binary') return html`<p class="diff-note">Binary file, size ${shownSize(f.oldSize)} → ${shownSize(f.newSize)}</p>`;
  if (f.shown === 'lfs') {
    const object = f.newObject ?? f.oldObject;
    return html`<p class="diff-note">LFS file, size ${shownSize(f.oldObject?.size ?? null)} → ${shownSize(f.newObject?.size ?? null)}${object ? html` (sha256 <code>${object.oid}</code>)` : null}</p>`;
  }
  if (!f.hunks.length) {
    if (!f.complete) return html`<p class="diff-note muted">Not shown: the diff is too large for this page.</p>`;
    if (f.oldMode !== f.newMode && f.oldMode !== '000000' && f.newMode !== '000000') return html`<p class="diff-note muted">File mode ${f.oldMode} → ${f.newMode}</p>`;
    return html`<p class="diff-note muted">${f.status === 'R' ? 'Renamed without changes' : 'Empty file'}</p>`;
  }
  const rows: Html[] = [];
  for (const h of f.hunks) {
    rows.push(html`<tr class="hunk"><td class="ln"></td><td class="ln"></td><td>${h.header}</td></tr>`);
    let oldLine = h.oldStart;
    let newLine = h.newStart;
    for (const l of h.lines) {
      if (l.kind === '+') rows.push(html`<tr class="add"><td class="ln"></td><td class="ln">${newLine++}</td><td>+${l.text}</td></tr>`);
      else if (l.kind === '-') rows.push(html`<tr class="del"><td class="ln">${oldLine++}</td><td class="ln"></td><td>-${l.text}</td></tr>`);
      else if (l.kind === ' ') rows.push(html`<tr><td class="ln">${oldLine++}</td><td class="ln">${newLine++}</td><td> ${l.text}</td></tr>`);
      else rows.push(html`<tr class="nonl"><td class="ln"></td><td class="ln"></td><td>\\ ${l.text}</td></tr>`);
    }
  }
  return html`<table class="diff">${rows}</table>${f.complete ? null : html`<p class="diff-note muted">The rest of this file's diff is not shown.</p>`}`;
}

/** `1 file`, `2 files`. */
const counted = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function commitBody(header: Html, repoId: string, view: CommitView): Html {
  const c = view.commit;
  const raw = `/${repoId}/commit/${c.id}.diff`;
  const added = view.files.reduce((n, f) => n + (f.shown === 'text' ? f.hunks.reduce((k, h) => k + h.lines.filter((l) => l.kind === '+').length, 0) : 0), 0);
  const removed = view.files.reduce((n, f) => n + (f.shown === 'text' ? f.hunks.reduce((k, h) => k + h.lines.filter((l) => l.kind === '-').length, 0) : 0), 0);
  const files = view.files.map((f) => html`<section class="diff-file"><h3>${fileTitle(f)}</h3>${fileBody(f)}</section>`);
  return html`${header}
<h2 class="commit-title">${c.title || '(no message)'}</h2>
${c.message ? html`<pre class="commit-message">${c.message}</pre>` : null}
<dl class="fields commit-fields">
<dt>Author</dt><dd class="author">${c.author}</dd>
<dt>Date</dt><dd><time datetime="${c.date}">${shownTime(c.date)}</time></dd>
<dt>Commit</dt><dd><code>${c.id}</code></dd>
<dt>${c.parents.length === 1 ? 'Parent' : 'Parents'}</dt><dd>${c.parents.length ? c.parents.map((p, i) => html`${i ? ' ' : ''}<a class="parent" href="/${repoId}/commit/${p}"><code>${p.slice(0, 7)}</code></a>`) : html`<span class="muted">none (the first commit)</span>`}</dd>
</dl>
<p class="muted">${view.files.length}${view.truncated ? '+' : ''} ${view.files.length === 1 ? 'file' : 'files'} changed${view.truncated ? '' : `, ${counted(added, 'addition')}, ${counted(removed, 'deletion')}`}${c.parents.length > 1 ? html` (compared with the first parent)` : null} · <a class="raw-diff" href="${raw}">Raw diff</a> · <a href="/${repoId}/tree/${c.id}">Browse files</a></p>
${view.truncated ? notice('info', html`This diff is too large to show in full. <a href="${raw}">View the whole raw diff</a>.`) : null}
${files}`;
}

/** GET /{repo}/commit/{rev}: the commit page; GET /{repo}/commit/{rev}.diff: its patch as text. */
export function commitPage(ctx: AppContext): RequestHandler {
  return async (req, res, next: NextFunction) => {
    const authorized = authorizedRepo(res);
    const { row: repo, repoId } = authorized;
    const { revision, raw } = res.locals.commitRequest!;
    if (raw) return sendPatch(ctx, req, res, repo, revision, next);
    const view = await commitView(ctx.db, ctx.cfg.dataDir, repo, revision);
    const header = repoHeader(authorized, 'history', await defaultBranchOf(ctx, authorized));
    renderPage(req, res, 200, `${view.commit.title || view.commit.id.slice(0, 7)} · ${repoId}`, commitBody(header, repoId, view));
  };
}

/** The raw diff, streamed as git writes it; git is ended if the client goes away. */
async function sendPatch(ctx: AppContext, req: Request, res: Response, repo: RepoWithOwner, revision: string, next: NextFunction): Promise<void> {
  const patch = await commitPatch(ctx.cfg.dataDir, repo, revision);
  setPageHeaders(res);
  res.status(200).type('text/plain; charset=utf-8');
  res.set('Content-Disposition', `inline; filename="${patch.commit}.diff"`);
  res.on('close', patch.stop);
  patch.stdout.pipe(res);
  patch.done.catch((err) => {
    req.log.error({ err }, 'git diff-tree failed');
    if (!res.headersSent) next(err);
    else res.destroy();
  });
}
