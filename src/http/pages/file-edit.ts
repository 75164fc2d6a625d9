import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
import { HubgateError } from '../../domain/errors.js';
import { resolveCommit } from '../../git/content.js';
import { gitEnv } from '../../git/env.js';
import { repoDir } from '../../git/repo-dirs.js';
import type { ServerLfs } from '../../services/commits.js';
import { scratchDir, tmpRoot } from '../../util/scratch.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { commitFields, commitFromPage, commitHeader, multipartFormStart, pageUrl, pathIn, placeOf, withForm } from './file-commit.js';
import { csrfField, html, type Html, notice } from './html.js';
import { errorPage, notFoundPage, redirectTo, renderPage } from './respond.js';

// Creating a file in the browser (/{repo}/new/{branch}/{folder}: a name, an editor, a commit
// message) and deleting one (/{repo}/delete/{branch}/{path}: a confirmation with the message),
// each one commit straight to the branch through the commit service (src/services/commits.ts).
// Behind guard('write') (src/http/pages/routes.ts). No script: plain forms.

interface Draft {
  filename: string;
  content: string;
  summary: string;
  description: string;
}

async function branchExists(ctx: AppContext, res: Response, branch: string): Promise<boolean> {
  return (await resolveCommit(repoDir(ctx.cfg.dataDir, authorizedRepo(res).row), gitEnv(ctx.cfg.dataDir), `refs/heads/${branch}`)) !== null;
}

function newFileForm(req: Request, res: Response, status: number, draft: Draft, error?: string): void {
  const repo = authorizedRepo(res);
  const { rev, path: dir } = placeOf(res);
  const body: Html = html`<h1>New file in <a href="/${repo.repoId}">${repo.repoId}</a></h1>
<p class="muted">On branch <strong>${rev}</strong>${dir ? html`, in <strong>${dir}/</strong>` : null}.</p>
${error ? notice('error', error) : null}
${multipartFormStart(pageUrl(repo.repoId, 'new', rev, dir), res.locals.session?.csrfToken ?? null)}
<label>File name <input type="text" name="filename" required maxlength="1000" value="${draft.filename}" placeholder="Name your file"></label>
<label>Content <textarea name="content" rows="20" class="code" spellcheck="false">${draft.content}</textarea></label>
${commitFields(draft.filename ? `Create ${draft.filename}` : 'Create new file', draft.summary, draft.description)}
<button type="submit">Commit new file to ${rev}</button>
</form>`;
  renderPage(req, res, status, `New file · ${repo.repoId}`, body);
}

function deleteForm(req: Request, res: Response, status: number, error?: string): void {
  const repo = authorizedRepo(res);
  const { rev, path: p } = placeOf(res);
  const body = html`<h1>Delete <code>${p}</code></h1>
<p>From <a href="/${repo.repoId}">${repo.repoId}</a>, branch <strong>${rev}</strong>. The file stays in the history; the new commit removes it from the branch.</p>
${error ? notice('error', error) : null}
<form method="post" action="${pageUrl(repo.repoId, 'delete', rev, p)}">${csrfField(res.locals.session?.csrfToken ?? null)}
${commitFields(`Delete ${p}`)}
<button type="submit" class="danger">Commit deletion to ${rev}</button>
</form>`;
  renderPage(req, res, status, `Delete ${p} · ${repo.repoId}`, body);
}

export function fileEditPages(ctx: AppContext, lfs: ServerLfs): { showNew: RequestHandler; createFile: RequestHandler; showDelete: RequestHandler; deleteFile: RequestHandler } {
  const showNew: RequestHandler = async (req, res) => {
    const { rev, path: dir } = placeOf(res);
    if (!(await branchExists(ctx, res, rev))) return notFoundPage(req, res);
    newFileForm(req, res, 200, { filename: dir ? `${dir}/` : '', content: '', summary: '', description: '' });
  };

  const createFile: RequestHandler = async (req, res) => {
    const repo = authorizedRepo(res);
    const { rev } = placeOf(res);
    // The content is a form field: as large as a file git itself keeps (larger ones belong in LFS: upload them).
    await withForm(ctx, req, res, { maxFiles: 0, maxFieldBytes: ctx.cfg.maxFileSize }, async (form) => {
      const draft: Draft = {
        filename: (form.fields.get('filename') ?? '').trim().replace(/^\/+/, ''),
        // Browsers send a textarea's lines with CRLF; files in repos use LF.
        content: (form.fields.get('content') ?? '').replace(/\r\n/g, '\n'),
        summary: form.fields.get('summary') ?? '',
        description: form.fields.get('description') ?? '',
      };
      const tmp = await scratchDir(tmpRoot(ctx.cfg.dataDir), 'web-file');
      try {
        if (!draft.filename) throw new HubgateError('invalid', 'name the file');
        const p = pathIn('', draft.filename);
        const bytes = Buffer.from(draft.content, 'utf8');
        const file = path.join(tmp, 'content');
        await fsp.writeFile(file, bytes);
        const header = commitHeader(form.fields, `Create ${p}`);
        await commitFromPage(ctx, lfs, req, res, {
          files: [{ path: p, file, size: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), sample: bytes.subarray(0, 512) }],
          deletes: [],
          header,
        });
        redirectTo(res, pageUrl(repo.repoId, 'blob', rev, p));
      } catch (err) {
        // Refused (a bad name, push policy, a conflict): the form again, with what was written.
        if (err instanceof HubgateError && err.status < 500) return newFileForm(req, res, err.status, draft, err.message);
        throw err;
      } finally {
        await fsp.rm(tmp, { recursive: true, force: true });
      }
    });
  };

  const showDelete: RequestHandler = async (req, res) => {
    const { rev, path: p } = placeOf(res);
    if (!p) return errorPage(req, res, 400, 'Nothing to delete', 'Name the file to delete after the branch: /{repo}/delete/{branch}/{path}');
    if (!(await branchExists(ctx, res, rev))) return notFoundPage(req, res);
    deleteForm(req, res, 200);
  };

  const deleteFile: RequestHandler = async (req, res) => {
    const repo = authorizedRepo(res);
    const { rev, path: p } = placeOf(res);
    if (!p) return errorPage(req, res, 400, 'Nothing to delete', 'Name the file to delete after the branch: /{repo}/delete/{branch}/{path}');
    const fields = new Map(Object.entries((req.body ?? {}) as Record<string, unknown>).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v] as [string, string]] : [])));
    try {
      const header = commitHeader(fields, `Delete ${p}`);
      await commitFromPage(ctx, lfs, req, res, { files: [], deletes: [p], header });
    } catch (err) {
      if (err instanceof HubgateError && err.status < 500) return deleteForm(req, res, err.status, err.message);
      throw err;
    }
    const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
    redirectTo(res, pageUrl(repo.repoId, 'tree', rev, parent));
  };

  return { showNew, createFile, showDelete, deleteFile };
}
