import type { Request, RequestHandler, Response } from 'express';
import { HubgateError } from '../../domain/errors.js';
import { printable } from '../../domain/names.js';
import { pathProblem } from '../../domain/paths.js';
import { textProblem } from '../../domain/text.js';
import { repoDir } from '../../git/repo-dirs.js';
import { branchProblem, commitHeldFiles, type HeldFile, type ServerLfs } from '../../services/commits.js';
import { tmpRoot } from '../../util/scratch.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { CsrfRefused, type FormLimits, receiveForm, type ReceivedForm } from '../multipart-form.js';
import { baseUrlOf } from '../urls.js';
import { csrfField, html, type Html } from './html.js';
import { csrfRefused, errorPage } from './respond.js';
import { signedInUser, tokensMatch } from './session.js';

// What the pages that commit files from the browser share (file-edit.ts: a new file, deleting
// one; file-upload.ts: uploads): where in the repo the page is (branch and folder or file), the
// commit message fields, the multipart form reader with its CSRF check, and the commit itself,
// made by the commit service as the API's commits are.

/** `{rev}` and `{path}` of /{repo}/{new|upload|delete}/{rev}/{path}, decoded. */
export interface FilePlace {
  rev: string;
  path: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** Set by the route's parse step of the pages that commit files. */
      filePlace?: FilePlace;
    }
  }
}

export function placeOf(res: Response): FilePlace {
  const place = res.locals.filePlace;
  if (!place) throw new Error('placeOf: the route has no file place');
  return place;
}

/**
 * Reads `/{rev}[/{path}]` (what follows the page's name); null when it is not a usable place:
 * a branch name is one segment (a branch with a slash is sent percent-encoded, `a%2Fb`).
 */
export function parsePlace(rest: string): FilePlace | { problem: string } {
  const m = /^\/([^/]+)(?:\/(.*))?$/.exec(rest);
  if (!m) return { problem: 'name a branch after the page: /{repo}/new/{branch}/{folder}' };
  let rev: string;
  let p: string;
  try {
    rev = decodeURIComponent(m[1]);
    p = (m[2] ?? '').split('/').map(decodeURIComponent).join('/').replace(/\/+$/, '');
  } catch {
    return { problem: 'invalid address: bad percent-encoding' };
  }
  const branch = rev.startsWith('refs/heads/') ? rev.slice('refs/heads/'.length) : rev;
  const problem = branchProblem(branch) ?? (p ? pathProblem(p) : null);
  if (problem) return { problem };
  return { rev: branch, path: p };
}

/** A URL path of the repo's page `kind` at `rev` and `p`, each segment encoded. */
export function pageUrl(repoId: string, kind: string, rev: string, p = ''): string {
  const segments = [rev, ...(p ? p.split('/') : [])].map(encodeURIComponent);
  return `/${repoId}/${kind}/${segments.join('/')}`;
}

/** The summary and description fields, as on the Hub's commit box. */
export function commitFields(placeholder: string, summary = '', description = ''): Html {
  return html`<fieldset><legend>Commit changes</legend>
<label>Summary <input type="text" name="summary" maxlength="1000" value="${summary}" placeholder="${placeholder}"></label>
<label>Extended description <textarea name="description" rows="3" maxlength="100000" placeholder="Add an extended description...">${description}</textarea></label>
<p class="muted">The commit goes straight to the branch.</p>
</fieldset>`;
}

/** The form start of a multipart page form: its CSRF field first, so the server checks it before reading any file. */
export function multipartFormStart(action: string, csrf: string | null): Html {
  return html`<form method="post" action="${action}" enctype="multipart/form-data">${csrfField(csrf)}`;
}

/** The commit header from the form: a summary (`fallback` when left empty) and a description, as the API takes them. */
export function commitHeader(fields: Map<string, string>, fallback: string): { summary: string; description: string } {
  const summary = (fields.get('summary') ?? '').trim() || fallback;
  const description = (fields.get('description') ?? '').replace(/\r\n/g, '\n').trim();
  const problem =
    textProblem('the summary', summary, { max: 1000, multiline: false }) ?? textProblem('the description', description, { max: 100_000, multiline: true, optional: true });
  if (problem) throw new HubgateError('invalid', problem);
  return { summary, description };
}

/** Route step for multipart posts: a signed-in session (its CSRF token is checked as the body is read); others get the refusal page. */
export const sessionForUpload: RequestHandler = (req, res, next) => {
  if (res.locals.caller.kind !== 'user' || !res.locals.session) return csrfRefused(req, res);
  next();
};

/**
 * Reads the page's multipart form (CSRF first), then runs `use` with it; the temporary files are
 * removed afterwards whatever happens. A refused CSRF is the refusal page; the connection is then closed.
 */
export async function withForm(ctx: AppContext, req: Request, res: Response, limits: Partial<FormLimits>, use: (form: ReceivedForm) => Promise<void>): Promise<void> {
  const token = res.locals.session?.csrfToken ?? '';
  let form: ReceivedForm;
  try {
    form = await receiveForm(
      req,
      tmpRoot(ctx.cfg.dataDir),
      { maxBytes: ctx.cfg.webUploadMaxBytes, maxFiles: ctx.cfg.webUploadMaxFiles, maxFieldBytes: 64 * 1024, ...limits },
      (given) => tokensMatch(token, given),
    );
  } catch (err) {
    // A body refused before it was read (declared too large) is not drained: the connection goes.
    // One refused while read is drained (multipart-form.ts), so the browser still gets the page.
    if (!req.complete && !req.readableFlowing) res.set('Connection', 'close');
    if (err instanceof CsrfRefused) return csrfRefused(req, res);
    throw err;
  }
  try {
    await use(form);
  } finally {
    await form.dispose();
  }
}

/** Commits files and deletions to the page's branch as the signed-in user; the commit id. */
export async function commitFromPage(
  ctx: AppContext,
  lfs: ServerLfs,
  req: Request,
  res: Response,
  change: { files: HeldFile[]; deletes: string[]; header: { summary: string; description: string } },
): Promise<string> {
  const repo = authorizedRepo(res);
  const user = signedInUser(res);
  const { rev } = placeOf(res);
  const result = await commitHeldFiles(
    { db: ctx.db, dataDir: ctx.cfg.dataDir, maxFileSize: ctx.cfg.maxFileSize, uploads: { confirmPending: async () => false }, lfs },
    repo.row,
    {
      branch: rev,
      files: change.files,
      deletes: change.deletes,
      header: change.header,
      author: { name: user.name, email: user.email ?? `${user.name}@hubgate` },
      user: user.name,
      where: { repoId: repo.repoId, baseUrl: baseUrlOf(ctx.cfg, req) },
    },
  );
  ctx.maintenance.schedule(repoDir(ctx.cfg.dataDir, repo.row));
  req.log.info({ repo: repo.repoId, branch: rev, commit: result.oid, lfs: result.lfsPaths.length }, 'commit from a page');
  if (result.auditError) req.log.error({ repo: repo.repoId, commit: result.oid, err: result.auditError }, 'the commit is not in the audit log');
  return result.oid;
}

/** A refusal of the commit shown on its own page (the form's files are gone by then). */
export function commitRefused(req: Request, res: Response, err: unknown): boolean {
  if (!(err instanceof HubgateError) || err.status >= 500) return false;
  errorPage(req, res, err.status, 'Commit refused', err.message);
  return true;
}

/** A file's path in the folder `dir`, checked. */
export function pathIn(dir: string, name: string): string {
  const p = dir ? `${dir}/${name}` : name;
  const problem = pathProblem(p);
  if (problem) throw new HubgateError('invalid', `"${printable(p)}": ${problem}`);
  return p;
}
