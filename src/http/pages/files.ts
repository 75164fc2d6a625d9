import path from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
import { MAX_POINTER_SIZE, MIN_POINTER_SIZE, parsePointer } from '../../../lfs/pointer.js';
import type { Answer } from '../../access/answer.js';
import { printable, repoIdOf } from '../../domain/names.js';
import { pathProblem } from '../../domain/paths.js';
import { revisionProblem } from '../../domain/revisions.js';
import { objectInfo, readBlob, resolveCommit } from '../../git/content.js';
import { gitEnv } from '../../git/env.js';
import { repoDir } from '../../git/repo-dirs.js';
import { type LastCommit, lastCommitsIn, lfsDetailsOfAll, listFolderPage } from '../../git/tree.js';
import { type RepoRefs, repoRefs } from '../../services/history.js';
import { type AuthorizedRepo, authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { html, type Html, notice, shownTime } from './html.js';
import { defaultBranchOf, pathSegments, repoHeader, revSegment } from './repo-header.js';
import { errorPage, notFoundPage, renderPage } from './respond.js';

// The Files tab: /{repo}/tree/{rev}[/{path}] lists a folder (sizes, LFS badge, last commit per
// entry, a page of PAGE_SIZE entries at a time), /{repo}/blob/{rev}/{path} shows a file (text
// with line numbers, images through the resolve URL, LFS files with their size and sha256).
// The revision is one path segment, a branch with '/' percent-encoded (feature%2Fx), as in the
// resolve URLs. Behind guard('read'): a gated repo's files only after access.

/** Entries a tree page lists. */
export const PAGE_SIZE = 1000;
/** Last commits are looked up for folders of at most this many entries (one git log walk, stopped once all are found). */
export const LAST_COMMIT_ENTRIES = 1000;
/** The walk for last commits reads at most this many commits of the folder's history. */
const LAST_COMMIT_WALK = 2000;
/** Text files up to this size are shown; larger ones are offered as a download. */
export const MAX_SHOWN_BYTES = 1024 * 1024;
/** Lines shown of a text file; the rest is in the download. */
export const MAX_SHOWN_LINES = 20_000;
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.gif', '.webp', '.bmp', '.ico', '.avif']);
/** LFS images up to this size are shown on their blob page (from the store: S3's own origin, or hubgate's); larger ones only link. */
const MAX_SHOWN_LFS_IMAGE_BYTES = 20 * 1024 * 1024;

/** The revision and path of a tree or blob URL: `/{rev}` or `/{rev}/{path}` after /tree or /blob. */
export interface FilesTarget {
  revision: string;
  path: string;
}

/** Parses `rest` (what follows /tree or /blob) as the resolve URLs do; a string says what is wrong. */
export function parseFilesTarget(rest: string, needsPath: boolean): FilesTarget | string {
  const m = /^\/([^/]+)(?:\/(.*))?$/.exec(rest);
  if (!m) return 'give a revision: /{repo}/tree/{revision}/{path}';
  let revision: string;
  let filePath: string;
  try {
    revision = decodeURIComponent(m[1]);
    filePath = (m[2] ?? '').replace(/\/$/, '').split('/').map(decodeURIComponent).join('/');
  } catch {
    return 'bad percent-encoding in the address';
  }
  if (needsPath && !filePath) return 'give a file path: /{repo}/blob/{revision}/{path}';
  return revisionProblem(revision) ?? (filePath ? pathProblem(filePath, { existing: true }) : null) ?? { revision, path: filePath };
}

/** How the Files pages answer a denial: a gated repo says access is needed and links to its card; anything else is the 404 page. */
export function filesDenial(req: Request, res: Response, answer: Answer): void {
  if (answer.errorCode !== 'GatedRepo') return notFoundPage(req, res);
  const id = repoIdOf(res.locals.repoRef!);
  renderPage(req, res, answer.status, 'Access needed', html`<h1>Access needed</h1>
${notice('error', 'This repo is gated: its files are shown only to users whose access request was accepted.')}
<p><a href="/${id}">Go to the repo card to ask for access</a>.</p>`);
}

// Last commits by repo, commit and folder: the same page asked again costs nothing.
const LAST_COMMIT_CACHE = 256;
const lastCommitCache = new Map<string, Promise<Map<string, LastCommit>>>();

function cachedLastCommits(dir: string, env: NodeJS.ProcessEnv, commit: string, base: string, names: string[], page: number): Promise<Map<string, LastCommit>> {
  const key = `${dir}\n${commit}\n${base}\n${page}`;
  const hit = lastCommitCache.get(key);
  if (hit) return hit;
  const loading = lastCommitsIn(dir, env, commit, base, names, LAST_COMMIT_WALK);
  lastCommitCache.set(key, loading);
  loading.catch(() => lastCommitCache.delete(key));
  if (lastCommitCache.size > LAST_COMMIT_CACHE) lastCommitCache.delete(lastCommitCache.keys().next().value!);
  return loading;
}

/** Sizes as the Hub shows them (decimal units). */
export function shownSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} Bytes`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1).replace(/\.0$/, '') : Math.round(value)} ${units[unit]}`;
}

/** Repo name / folder / folder / file, each a link to its folder. */
function breadcrumbs(repoId: string, rev: string, filePath: string): Html {
  const parts = filePath ? filePath.split('/') : [];
  const crumbs = parts.map((part, i) => {
    const sub = parts.slice(0, i + 1).join('/');
    return i === parts.length - 1 ? html` / <strong>${part}</strong>` : html` / <a href="/${repoId}/tree/${rev}/${pathSegments(sub)}">${part}</a>`;
  });
  return html`<p class="crumbs"><a href="/${repoId}/tree/${rev}">${repoId.split('/').slice(-1)[0]}</a>${crumbs}</p>`;
}

/** The branch/tag switcher: links to the same place at each branch and tag (no script: a details list). */
function refSwitcher(refs: RepoRefs, repo: AuthorizedRepo, kind: 'tree' | 'blob', revision: string, filePath: string): Html {
  const link = (name: string) =>
    html`<li><a href="/${repo.repoId}/${kind}/${revSegment(name)}${filePath ? `/${pathSegments(filePath)}` : ''}"${name === revision ? html` aria-current="true"` : null}>${name}</a></li>`;
  return html`<details class="refs"><summary>${refs.branches.some((b) => b.name === revision) ? 'Branch' : refs.tags.some((t) => t.name === revision) ? 'Tag' : 'Revision'}: <code>${revision}</code></summary>
<div class="refs-list"><p class="muted">Branches</p><ul>${refs.branches.map((b) => link(b.name))}</ul>
${refs.tags.length ? html`<p class="muted">Tags</p><ul>${refs.tags.map((t) => link(t.name))}</ul>` : null}</div></details>`;
}

type Located = { commit: string; dir: string; env: NodeJS.ProcessEnv; defaultBranch: string } | null;

/** The repo's branches and tags (for the switcher), asked for at once so git lists them while the page's other reads run. */
function refsOf(ctx: AppContext, repo: AuthorizedRepo): Promise<RepoRefs> {
  const refs = repoRefs(ctx.cfg.dataDir, repo.row, false);
  refs.catch(() => {}); // awaited by the page; a page that ends earlier (404) leaves it
  return refs;
}

/** The commit the revision names, else the 404 page saying so. */
async function locate(ctx: AppContext, req: Request, res: Response, repo: AuthorizedRepo, target: FilesTarget): Promise<Located> {
  const dir = repoDir(ctx.cfg.dataDir, repo.ref);
  const env = gitEnv(ctx.cfg.dataDir);
  const [commit, defaultBranch] = await Promise.all([resolveCommit(dir, env, target.revision), defaultBranchOf(ctx, repo)]);
  if (!commit) {
    errorPage(req, res, 404, 'Revision not found', `${printable(target.revision)} is not a branch, tag or commit of ${repo.repoId}.`);
    return null;
  }
  return { commit, dir, env, defaultBranch };
}

/** The parsed target of the URL (res.locals.filesTarget). */
function targetOf(res: Response): FilesTarget {
  return res.locals.filesTarget as FilesTarget;
}

/**
 * What both file pages start from: the guarded repo, the URL's target, the commit it names
 * (answered already, and undefined, when the revision is unknown), and the repo's refs for the
 * switcher, read meanwhile.
 */
async function openTarget(ctx: AppContext, req: Request, res: Response) {
  const repo = authorizedRepo(res);
  const target = targetOf(res);
  const refs = refsOf(ctx, repo);
  const found = await locate(ctx, req, res, repo, target);
  return found && { repo, target, refs, ...found };
}

function notAtRevision(req: Request, res: Response, target: FilesTarget): void {
  errorPage(req, res, 404, 'Not found', `${printable(target.path)} does not exist at ${printable(target.revision)}.`);
}

export function filesPages(ctx: AppContext): { tree: RequestHandler; blob: RequestHandler } {
  /** GET /{repo}/tree/{rev}[/{path}] */
  const tree: RequestHandler = async (req, res) => {
    const opened = await openTarget(ctx, req, res);
    if (!opened) return;
    const { repo, target, refs, commit, dir, env, defaultBranch } = opened;
    let treeOid = commit;
    if (target.path) {
      const object = await objectInfo(dir, env, `${commit}:${target.path}`);
      if (!object) return notAtRevision(req, res, target);
      if (object.type === 'blob') return void res.redirect(302, `/${repo.repoId}/blob/${revSegment(target.revision)}/${pathSegments(target.path)}`);
      treeOid = object.oid;
    }
    const pageNumber = Math.max(1, Math.min(1_000_000, Number.parseInt(String(req.query.page ?? '1'), 10) || 1));
    const offset = (pageNumber - 1) * PAGE_SIZE;
    const { entries, more } = await listFolderPage(dir, env, treeOid, target.path, offset, PAGE_SIZE);
    // Folders first, then files, each by name (git lists them by name).
    entries.sort((a, b) => (a.type === b.type ? 0 : a.type === 'directory' ? -1 : 1));
    const names = entries.map((e) => path.posix.basename(e.path));
    const withCommits = pageNumber === 1 && !more;
    const [lfs, lastCommits] = await Promise.all([
      lfsDetailsOfAll(dir, env, entries),
      withCommits && entries.length <= LAST_COMMIT_ENTRIES ? cachedLastCommits(dir, env, commit, target.path, names, pageNumber) : Promise.resolve(null),
    ]);
    const rev = revSegment(target.revision);
    const rows = entries.map((e, i) => {
      const name = names[i];
      const href = `/${repo.repoId}/${e.type === 'directory' ? 'tree' : 'blob'}/${rev}/${pathSegments(e.path)}`;
      const last = lastCommits?.get(name);
      const size = e.type === 'directory' ? '' : shownSize(lfs[i]?.size ?? e.blobSize);
      return html`<tr><td class="name"><a href="${href}">${e.type === 'directory' ? html`<span class="dir">${name}/</span>` : name}</a>${lfs[i] ? html`<span class="badge lfs">LFS</span>` : null}</td>
<td class="size" title="${e.type === 'directory' ? '' : `${lfs[i]?.size ?? e.blobSize} bytes`}">${size}</td>
<td class="last">${last ? html`<a href="/${repo.repoId}/commit/${last.id}">${last.title}</a> <span class="muted">${shownTime(last.date)}</span>` : null}</td></tr>`;
    });
    const here = `/${repo.repoId}/tree/${rev}${target.path ? `/${pathSegments(target.path)}` : ''}`;
    const pager = html`<p class="pager">${pageNumber > 1 ? html`<a rel="prev" href="${here}?page=${pageNumber - 1}">Previous</a>` : null}
${more ? html`<a rel="next" href="${here}?page=${pageNumber + 1}">Next ${PAGE_SIZE} entries</a>` : null}</p>`;
    const folder = target.path ? `/${pathSegments(target.path)}` : '';
    // Adding files goes straight to a branch (the pages refuse tags and commits with a message).
    const actions = html`<p class="actions"><a href="/${repo.repoId}/commits/${rev}${folder}">History</a>${repo.may.write ? html` · <a href="/${repo.repoId}/new/${rev}${folder}">Add file</a> · <a href="/${repo.repoId}/upload/${rev}${folder}">Upload files</a>` : null}</p>`;
    const body = html`${repoHeader(repo, 'files', defaultBranch)}
${refSwitcher(await refs, repo, 'tree', target.revision, target.path)}
${breadcrumbs(repo.repoId, rev, target.path)}
${actions}
${entries.length === 0 && pageNumber === 1 ? html`<p class="muted">This folder is empty.</p>` : html`<table class="files"><thead><tr><th>Name</th><th>Size</th><th>Last commit</th></tr></thead><tbody>${rows}</tbody></table>`}
${withCommits ? null : html`<p class="muted">Last commits are shown for folders of up to ${LAST_COMMIT_ENTRIES} entries.</p>`}
${pager}`;
    renderPage(req, res, 200, `${repo.repoId} at ${target.revision}${target.path ? `: ${target.path}` : ''}`, body);
  };

  /** GET /{repo}/blob/{rev}/{path} */
  const blob: RequestHandler = async (req, res) => {
    const opened = await openTarget(ctx, req, res);
    if (!opened) return;
    const { repo, target, refs, commit, dir, env, defaultBranch } = opened;
    const info = await objectInfo(dir, env, `${commit}:${target.path}`);
    const rev = revSegment(target.revision);
    if (!info) return notAtRevision(req, res, target);
    if (info.type === 'tree') return void res.redirect(302, `/${repo.repoId}/tree/${rev}/${pathSegments(target.path)}`);
    const download = `/${repo.repoId}/resolve/${rev}/${pathSegments(target.path)}`;
    const raw = `/${repo.repoId}/raw/${rev}/${pathSegments(target.path)}`;
    const small = info.size <= MAX_SHOWN_BYTES ? await readBlob(dir, env, info.oid, MAX_SHOWN_BYTES) : null;
    const pointer = small && info.size >= MIN_POINTER_SIZE && info.size <= MAX_POINTER_SIZE ? parsePointer(small.toString('utf8')) : null;
    const ext = path.posix.extname(target.path).toLowerCase();
    const downloadButton = html`<p><a class="button" href="${download}?download=true">Download</a></p>`;
    let content: Html;
    if (pointer) {
      content = html`<p><span class="badge lfs">LFS</span> This file is stored with Git LFS.</p>
<dl class="fields"><dt>Size</dt><dd>${shownSize(pointer.size)} (${pointer.size} bytes)</dd><dt>SHA256</dt><dd><code>${pointer.oid}</code></dd></dl>
${IMAGE_EXTENSIONS.has(ext) && pointer.size <= MAX_SHOWN_LFS_IMAGE_BYTES ? html`<p><img class="shown" src="${download}" alt="${path.posix.basename(target.path)}"></p>` : null}
${downloadButton}<p class="muted"><a href="${raw}">Pointer file</a></p>`;
    } else if (IMAGE_EXTENSIONS.has(ext)) {
      content = html`<p class="muted">${shownSize(info.size)}</p><p><img class="shown" src="${download}" alt="${path.posix.basename(target.path)}"></p>${downloadButton}`;
    } else if (!small) {
      content = html`<p class="muted">${shownSize(info.size)}: too large to show here.</p>${downloadButton}`;
    } else if (small.subarray(0, 8000).includes(0)) {
      content = html`<p class="muted">${shownSize(info.size)}: binary file, not shown.</p>${downloadButton}`;
    } else {
      // HTML, SVG and everything else are shown as escaped text, never rendered.
      const lines = small.toString('utf8').replace(/\n$/, '').split('\n');
      const numbered = lines.slice(0, MAX_SHOWN_LINES).map((line, i) => html`<tr id="L${i + 1}"><td class="ln"><a href="#L${i + 1}">${i + 1}</a></td><td class="src">${line}</td></tr>`);
      content = html`<p class="muted">${shownSize(info.size)} · ${lines.length} lines · <a href="${raw}">raw</a> · <a href="${download}?download=true">download</a></p>
<div class="code"><table class="code"><tbody>${numbered}</tbody></table></div>
${lines.length > MAX_SHOWN_LINES ? html`<p class="muted">The first ${MAX_SHOWN_LINES} lines are shown: <a href="${download}?download=true">download</a> the file for the rest.</p>` : null}`;
    }
    const actions = html`<p class="actions"><a href="/${repo.repoId}/commits/${rev}/${pathSegments(target.path)}">History</a>${repo.may.write ? html` · <a href="/${repo.repoId}/delete/${rev}/${pathSegments(target.path)}">Delete</a>` : null}</p>`;
    const body = html`${repoHeader(repo, 'files', defaultBranch)}
${refSwitcher(await refs, repo, 'blob', target.revision, target.path)}
${breadcrumbs(repo.repoId, rev, target.path)}
${actions}
${content}`;
    renderPage(req, res, 200, `${repo.repoId}: ${target.path}`, body);
  };

  return { tree, blob };
}
