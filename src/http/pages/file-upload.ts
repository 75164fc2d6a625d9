import type { Request, RequestHandler, Response } from 'express';
import { resolveCommit } from '../../git/content.js';
import { gitEnv } from '../../git/env.js';
import { repoDir } from '../../git/repo-dirs.js';
import type { HeldFile, ServerLfs } from '../../services/commits.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { commitFields, commitFromPage, commitHeader, commitRefused, multipartFormStart, pageUrl, pathIn, placeOf, withForm } from './file-commit.js';
import { html } from './html.js';
import { errorPage, notFoundPage, redirectTo, renderPage } from './respond.js';
import { UPLOAD_SCRIPT_ASSET } from './static-assets.js';

// Uploading files from the browser (/{repo}/upload/{branch}/{folder}): one or many files and a
// commit message, one commit straight to the branch. The body is streamed (src/http/multipart-form.ts):
// each file to a temporary file, hashed on the way; then each goes to Git LFS or to git as the
// commit API's preupload would decide (.gitattributes, HUBGATE_MAX_FILE_SIZE, binary), and the
// commit service makes the commit. Behind guard('write'). A plain form, which works without
// JavaScript; with it, upload-script.ts sends it and shows the upload's progress.

function uploadForm(req: Request, res: Response): void {
  const repo = authorizedRepo(res);
  const { rev, path: dir } = placeOf(res);
  const body = html`<h1>Upload files to <a href="/${repo.repoId}">${repo.repoId}</a></h1>
<p class="muted">On branch <strong>${rev}</strong>${dir ? html`, in <strong>${dir}/</strong>` : null}. Large files and the file types the repo's .gitattributes names go to Git LFS.</p>
${multipartFormStart(pageUrl(repo.repoId, 'upload', rev, dir), res.locals.session?.csrfToken ?? null)}
<label>Files <input type="file" name="files" multiple required></label>
${commitFields('Upload files')}
<button type="submit">Commit changes to ${rev}</button>
</form>
<script src="${UPLOAD_SCRIPT_ASSET.url}" defer></script>`;
  renderPage(req, res, 200, `Upload files · ${repo.repoId}`, body);
}

export function fileUploadPage(ctx: AppContext, lfs: ServerLfs): { show: RequestHandler; upload: RequestHandler } {
  const show: RequestHandler = async (req, res) => {
    const { rev } = placeOf(res);
    const exists = await resolveCommit(repoDir(ctx.cfg.dataDir, authorizedRepo(res).row), gitEnv(ctx.cfg.dataDir), `refs/heads/${rev}`);
    if (!exists) return notFoundPage(req, res);
    uploadForm(req, res);
  };

  const upload: RequestHandler = async (req, res) => {
    const repo = authorizedRepo(res);
    const { rev, path: dir } = placeOf(res);
    await withForm(ctx, req, res, {}, async (form) => {
      try {
        if (form.files.length === 0) return errorPage(req, res, 400, 'No files', 'Choose at least one file to upload, then commit.');
        const files: HeldFile[] = form.files.map((f) => ({ path: pathIn(dir, f.name), file: f.file, size: f.size, sha256: f.sha256, sample: f.sample }));
        const header = commitHeader(form.fields, files.length === 1 ? `Upload ${files[0].path}` : `Upload ${files.length} files`);
        await commitFromPage(ctx, lfs, req, res, { files, deletes: [], header });
      } catch (err) {
        if (commitRefused(req, res, err)) return;
        throw err;
      }
      redirectTo(res, pageUrl(repo.repoId, 'tree', rev, dir));
    });
  };

  return { show, upload };
}
