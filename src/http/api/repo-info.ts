import express, { type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { RepoWithOwner } from '../../db/repos.js';
import { badRequest } from '../../domain/errors.js';
import { type RepoRef, TYPE_PLURAL, printable, repoIdOf } from '../../domain/names.js';
import { filePathProblem, revisionProblem } from '../../domain/revisions.js';
import { readCard } from '../../gating/card.js';
import { objectInfo, resolveCommit } from '../../git/content.js';
import { gitEnv } from '../../git/env.js';
import { repoDir } from '../../git/repo-dirs.js';
import { commitDate, type LastCommit, type LfsDetails, lastCommitOf, lfsDetailsOfAll, listTree, listTreePage, type TreeEntry } from '../../git/tree.js';
import type { AppContext } from '../context.js';
import { declaredLengthAtMost } from '../request-body.js';
import { listingFields, refreshListingIfBehind } from '../../services/listing.js';
import { xetHashesOf } from '../../services/xet-hashes.js';
import { authorizedRepo } from '../authorize.js';
import { parseBody } from './body.js';
import { apiError, revisionNotFound } from './respond.js';
import { baseUrlOf } from '../urls.js';

// GET /api/{models|datasets|spaces}/{ns}/{name}[/revision/{rev}]: repo info as model_info /
// dataset_info / space_info and @huggingface/hub's modelInfo read it (hf-wire.md §5),
// GET .../tree/{rev}[/{path}]: the listing list_repo_tree / listFiles page through (§3.3), and
// POST .../paths-info/{rev}: the same entries for given paths (get_paths_info, pathsInfo).
//
// Access: the info is metadata ('view': visible on gated repos, file names included, as on the
// Hub); `?blobs=true` (files_metadata=True: sizes, blob ids, LFS sha256), tree listings and
// paths-info describe the files' contents, so they need 'read', which a gated repo grants only
// to accepted users (design §3).

const PLURALS = new Set(Object.values(TYPE_PLURAL));
/** Tree entries per page unless `limit` asks for fewer (the Hub's page size without `expand`). */
export const TREE_PAGE_SIZE = 1000;

/** With `expand` (each entry's last commit: one `git log` per entry), pages are smaller, as on the Hub. */
export const EXPANDED_PAGE_SIZE = 50;
/** Paths one paths-info request may ask about (@huggingface/hub sends 100 at a time). */
export const MAX_PATHS_INFO = 1000;

const treeQuery = z.object({
  limit: z.coerce.number().int().min(1).max(TREE_PAGE_SIZE).optional(),
  cursor: z.string().regex(/^\d{1,9}$/, 'use the cursor of the Link header').optional(),
});

const BOOL = z.union([z.boolean(), z.enum(['true', 'True', '1', 'false', 'False', '0']).transform((v) => v === 'true' || v === 'True' || v === '1')]);
// huggingface_hub sends a form (paths=a&paths=b&expand=True), @huggingface/hub JSON.
const pathsInfoBody = z.object({
  paths: z
    .union([z.string(), z.array(z.string())])
    .transform((p) => ([] as string[]).concat(p))
    .pipe(z.array(z.string().min(1).max(4096)).min(1).max(MAX_PATHS_INFO)),
  expand: BOOL.optional(),
});
/** Forms as huggingface_hub's get_paths_info sends them; JSON bodies go on to jsonBody. */
export const pathsInfoFormBody = declaredLengthAtMost(1024 * 1024, express.urlencoded({ extended: false, limit: '1mb', parameterLimit: MAX_PATHS_INFO + 10 }), 'ask for fewer paths at a time');

/** A boolean query parameter as requests (True), httpx (true) or a person (1) spell it. */
function flag(value: unknown): boolean {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  return last === 'true' || last === 'True' || last === '1';
}

/** The revision of the URL (its segments, when a client left '/' unencoded), checked before git sees it. */
function revisionOf(param: string | string[]): string {
  const revision = Array.isArray(param) ? param.join('/') : param;
  const problem = revisionProblem(revision);
  if (problem) throw badRequest(problem);
  return revision;
}

function siblingJson(entry: TreeEntry, lfs: LfsDetails | null, withBlobs: boolean) {
  if (!withBlobs) return { rfilename: entry.path };
  return {
    rfilename: entry.path,
    size: lfs ? lfs.size : entry.blobSize,
    blobId: entry.oid,
    ...(lfs ? { lfs: { sha256: lfs.oid, size: lfs.size, pointerSize: lfs.pointerSize } } : {}),
  };
}

/**
 * A tree or paths-info entry as list_repo_tree / get_paths_info (RepoFile, RepoFolder) and listFiles
 * read it; `xetHash` (RepoFile.xet_hash) for an LFS file Xet clients can read through Xet, as on the Hub.
 */
function treeEntryJson(entry: TreeEntry, lfs: LfsDetails | null, lastCommit?: LastCommit | null, xetHash?: string) {
  const commit = lastCommit ? { lastCommit } : {};
  if (entry.type === 'directory') return { type: 'directory', oid: entry.oid, size: 0, path: entry.path, ...commit };
  return {
    type: 'file',
    oid: entry.oid,
    size: lfs ? lfs.size : entry.blobSize,
    path: entry.path,
    ...(lfs ? { lfs: { oid: lfs.oid, size: lfs.size, pointerSize: lfs.pointerSize } } : {}),
    ...(xetHash ? { xetHash } : {}),
    ...commit,
  };
}

/** Each entry's last commit, when `expand` asked for it. */
function lastCommitsOf(dir: string, env: NodeJS.ProcessEnv, sha: string, entries: TreeEntry[], expand: boolean): Promise<(LastCommit | null)[]> {
  return expand ? Promise.all(entries.map((e) => lastCommitOf(dir, env, sha, e.path))) : Promise.resolve(entries.map(() => null));
}

/** The README front matter at `sha` (cardData); the default branch's card is cached by src/gating/card.ts. */
async function cardDataAt(ctx: AppContext, repo: RepoWithOwner, sha: string): Promise<Record<string, unknown> | null> {
  // Through the card cache: parsing a large front matter again on every request would cost CPU to anyone.
  return (await readCard(ctx.cfg.dataDir, repo, sha)).metadata;
}

/** Only models, datasets and spaces have info, trees and paths: anything else in that place is no route of the API. */
export const knownRepoType: RequestHandler = (req, res, next) => (PLURALS.has(String(req.params.plural)) ? next() : next('route'));

/** The revision of .../revision/{rev}, checked before anything else about the request. */
export const infoRevision: RequestHandler = (req, _res, next) => {
  revisionOf(req.params.rev);
  next();
};

/** Repo info is metadata ('view'); with `?blobs=true` it describes the files' contents ('read'). */
export const infoAction = (req: Request): 'view' | 'read' => (flag(req.query.blobs) ? 'read' : 'view');

interface TreeRequest {
  revision: string;
  path: string;
  recursive: boolean;
  expand: boolean;
  limit: number;
  pageSize: number;
  offset: number;
}

interface PathsInfoRequest {
  revision: string;
  paths: string[];
  expand: boolean;
}

/** Checks a tree listing's revision, folder and query before the repo is looked at. */
export const treeRequest: RequestHandler = (req, res, next) => {
  const revision = revisionOf(req.params.rev as string);
  const segments = (req.params as { path?: string[] }).path ?? [];
  // A trailing '/' (tree/main/dir/) names the same folder.
  const path = (segments.at(-1) === '' ? segments.slice(0, -1) : segments).join('/');
  const pathProblem = path ? filePathProblem(path) : null;
  if (pathProblem) throw badRequest(pathProblem.replace('file path', 'folder path'));
  const query = parseBody(treeQuery, req.query, 'query');
  const recursive = flag(req.query.recursive);
  const expand = flag(req.query.expand);
  const pageSize = expand ? EXPANDED_PAGE_SIZE : TREE_PAGE_SIZE;
  const limit = Math.min(query.limit ?? pageSize, pageSize);
  const tree: TreeRequest = { revision, path, recursive, expand, limit, pageSize, offset: Number(query.cursor ?? 0) };
  res.locals.treeRequest = tree;
  next();
};

/** Checks a paths-info request's revision and paths before the repo is looked at. */
export const pathsInfoRequest: RequestHandler = (req, res, next) => {
  const revision = revisionOf(req.params.rev as string);
  const body = parseBody(pathsInfoBody, req.body, 'paths-info request');
  const paths = [...new Set(body.paths.map((p) => p.replace(/\/+$/, '')))];
  for (const p of paths) {
    const problem = p ? filePathProblem(p) : 'an empty path: give paths inside the repository';
    if (problem) throw badRequest(problem);
  }
  const expand = body.expand ?? false;
  if (expand && paths.length > 100) throw badRequest('with expand, ask about at most 100 paths per request');
  const request: PathsInfoRequest = { revision, paths, expand };
  res.locals.pathsInfoRequest = request;
  next();
};

export interface RepoInfoHandlers {
  info: RequestHandler;
  tree: RequestHandler;
  pathsInfo: RequestHandler;
}

/** The handlers of repo info, tree listings and paths-info, behind the route table's guard. */
export function repoInfoHandlers(ctx: AppContext): RepoInfoHandlers {
  const env = gitEnv(ctx.cfg.dataDir);

  /** The allowed repo: as the caller spelled it (for messages), its row, its directory. */
  function allowed(res: Response): { ref: RepoRef; repo: RepoWithOwner; dir: string } {
    const { requested, row } = authorizedRepo(res);
    return { ref: requested, repo: row, dir: repoDir(ctx.cfg.dataDir, row) };
  }

  const info: RequestHandler = async (req, res) => {
    // Without a revision: the default branch, which a repo emptied by a push may not have.
    const revision = req.params.rev === undefined ? null : revisionOf(req.params.rev);
    const withBlobs = flag(req.query.blobs);
    const { ref, repo, dir } = allowed(res);
    const sha = await resolveCommit(dir, env, revision ?? 'HEAD');
    if (!sha && revision !== null) return revisionNotFound(res, repoIdOf(ref), revision);
    // As on the Hub, `expand` selects fields: the file list (one ls-tree of the whole repo) only when asked for.
    // `expand[]=likes` is how @huggingface/hub's repoExists spells it.
    const expandParam = req.query.expand ?? req.query['expand[]'];
    const expand = expandParam === undefined ? null : ([] as unknown[]).concat(expandParam);
    const withSiblings = expand === null || expand.includes('siblings');
    const files = sha && withSiblings ? await listTree(dir, env, sha, { base: '', recursive: true, directories: false }) : [];
    const lfs = withBlobs ? await lfsDetailsOfAll(dir, env, files) : files.map(() => null);
    const id = `${repo.namespace}/${repo.name}`;
    const cardData = sha ? await cardDataAt(ctx, repo, sha) : null;
    // The counter and tags listings show; a listing read from an older head is read again (default branch only).
    const listed = await listingFields(ctx.db, repo.id);
    if (revision === null) void refreshListingIfBehind(ctx.db, ctx.cfg.dataDir, repo, sha, listed, ctx.log);
    res.json({
      _id: String(repo.id),
      id,
      ...(repo.type === 'model' ? { modelId: id } : {}),
      author: repo.namespace,
      ...(sha ? { sha } : {}),
      lastModified: sha ? await commitDate(dir, env, sha) : repo.createdAt,
      createdAt: repo.createdAt,
      private: repo.private,
      gated: repo.gated,
      disabled: false,
      downloads: (listed?.downloads ?? 0) + ctx.downloads.pending(repo.id),
      likes: 0,
      tags: listed?.tags ?? [],
      ...(repo.type === 'model' && listed?.pipelineTag ? { pipeline_tag: listed.pipelineTag } : {}),
      ...(repo.type === 'model' && listed?.libraryName ? { library_name: listed.libraryName } : {}),
      // With Xet storage on (HUBGATE_XET), Xet clients upload through the CAS; off: through LFS.
      xetEnabled: ctx.cfg.xet,
      ...(cardData ? { cardData } : {}),
      ...(withSiblings ? { siblings: files.map((f, i) => siblingJson(f, lfs[i], withBlobs)) } : {}),
    });
  };

  /** GET .../tree/{rev}[/{path}], after treeRequest. */
  const tree: RequestHandler = async (req, res) => {
    const { revision, path, recursive, expand, limit, pageSize, offset } = res.locals.treeRequest as TreeRequest;
    const { ref, repo, dir } = allowed(res);
    const sha = await resolveCommit(dir, env, revision);
    if (!sha) return revisionNotFound(res, repoIdOf(ref), revision);
    let treeOid = sha;
    if (path) {
      const object = await objectInfo(dir, env, `${sha}:${path}`);
      if (!object || object.type !== 'tree') {
        const why = object ? 'is a file, not a folder: download it from /resolve' : `does not exist at ${printable(revision)}`;
        return apiError(res, 404, `Entry not found: "${printable(path)}" ${why} in ${repoIdOf(ref)}`, { code: 'EntryNotFound', headers: { 'X-Repo-Commit': sha } });
      }
      treeOid = object.oid;
    }

    const { entries: page, more } = await listTreePage(dir, env, treeOid, { base: path, recursive, directories: true }, offset, limit);
    const [lfs, commits] = await Promise.all([lfsDetailsOfAll(dir, env, page), lastCommitsOf(dir, env, sha, page, expand)]);
    const xet = await xetHashesOf(ctx.db, ctx.cfg.xet, repo.id, lfs.flatMap((l) => (l ? [l.oid] : [])));
    if (more) {
      // The next pages list the same commit, even if the branch moves meanwhile.
      const encodedPath = path ? `/${path.split('/').map(encodeURIComponent).join('/')}` : '';
      const url = new URL(`${baseUrlOf(ctx.cfg, req)}/api/${TYPE_PLURAL[repo.type]}/${repo.namespace}/${repo.name}/tree/${sha}${encodedPath}`);
      url.searchParams.set('recursive', String(recursive));
      url.searchParams.set('expand', String(expand));
      if (limit !== pageSize) url.searchParams.set('limit', String(limit));
      url.searchParams.set('cursor', String(offset + limit));
      res.set('Link', `<${url.href}>; rel="next"`);
    }
    res.set('X-Repo-Commit', sha).json(page.map((e, i) => treeEntryJson(e, lfs[i], commits[i], lfs[i] ? xet.get(lfs[i].oid) : undefined)));
  };

  /** POST .../paths-info/{rev}, after pathsInfoRequest: the entries of the given paths that exist (get_paths_info, @huggingface/hub pathsInfo). */
  const pathsInfo: RequestHandler = async (_req, res) => {
    const { revision, paths, expand } = res.locals.pathsInfoRequest as PathsInfoRequest;
    const { ref, repo, dir } = allowed(res);
    const sha = await resolveCommit(dir, env, revision);
    if (!sha) return revisionNotFound(res, repoIdOf(ref), revision);
    const objects = await Promise.all(paths.map((p) => objectInfo(dir, env, `${sha}:${p}`)));
    const entries: TreeEntry[] = [];
    objects.forEach((o, i) => {
      if (o?.type === 'tree') entries.push({ type: 'directory', oid: o.oid, path: paths[i], blobSize: 0, symlink: false });
      else if (o?.type === 'blob') entries.push({ type: 'file', oid: o.oid, path: paths[i], blobSize: o.size, symlink: false });
    });
    const [lfs, commits] = await Promise.all([lfsDetailsOfAll(dir, env, entries), lastCommitsOf(dir, env, sha, entries, expand)]);
    const xet = await xetHashesOf(ctx.db, ctx.cfg.xet, repo.id, lfs.flatMap((l) => (l ? [l.oid] : [])));
    res.set('X-Repo-Commit', sha).json(entries.map((e, i) => treeEntryJson(e, lfs[i], commits[i], lfs[i] ? xet.get(lfs[i].oid) : undefined)));
  };

  return { info, tree, pathsInfo };
}
