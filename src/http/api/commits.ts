import type { RequestHandler } from 'express';
import { z } from 'zod';
import { badRequest } from '../../domain/errors.js';
import { TYPE_PLURAL } from '../../domain/names.js';
import { filePathProblem, revisionProblem } from '../../domain/revisions.js';
import { commitHistory, type HistoryCommit } from '../../services/history.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { baseUrlOf } from '../urls.js';
import { parseBody } from './body.js';

// GET /api/{models|datasets|spaces}/{ns}/{name}/commits/{rev}: the history of a branch, tag or
// commit, newest first, as list_repo_commits and @huggingface/hub's listCommits / countCommits
// read it: `[{id, title, message, date, authors: [{user}]}]`, `limit` per page (`p` the page,
// from 0), the next page in `Link: <...>; rel="next"`, the total in X-Total-Count (countCommits
// asks for one commit and reads only that header). `path` keeps the commits that changed a file
// or folder; `expand[]=formatted` adds `formatted: {title, message}` as HTML (formatted=True).
// Access: 'read' (the route table): the history describes the files, so gated rules apply.

/** Commits per page unless `limit` says otherwise. */
export const COMMITS_PAGE_SIZE = 50;
/** The most a page may hold (@huggingface/hub's listCommits allows a batchSize up to 1000). */
export const MAX_COMMITS_PAGE_SIZE = 1000;

const commitsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_COMMITS_PAGE_SIZE).optional(),
  p: z.coerce.number().int().min(0).max(10_000_000).optional(),
  path: z.string().max(4096).optional(),
});

interface CommitsRequest {
  revision: string;
  limit: number;
  page: number;
  path?: string;
  formatted: boolean;
}

/** The last value of a query parameter given more than once. */
function lastOf(value: unknown): unknown {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

/** Checks the revision and query of a commits listing before the repo is looked at. */
export const commitsRequest: RequestHandler = (req, res, next) => {
  const param = req.params.rev as string | string[];
  // A branch with '/' arrives as %2F (huggingface_hub quotes it), or as segments (@huggingface/hub does not).
  const revision = Array.isArray(param) ? param.join('/') : param;
  const problem = revisionProblem(revision);
  if (problem) throw badRequest(problem);
  const query = parseBody(commitsQuery, { limit: lastOf(req.query.limit), p: lastOf(req.query.p), path: lastOf(req.query.path) }, 'query');
  const path = query.path?.replace(/\/+$/, '') || undefined;
  const pathProblem = path ? filePathProblem(path) : null;
  if (pathProblem) throw badRequest(pathProblem);
  const expand = ([] as unknown[]).concat(req.query['expand[]'] ?? [], req.query.expand ?? []);
  const request: CommitsRequest = { revision, limit: query.limit ?? COMMITS_PAGE_SIZE, page: query.p ?? 0, path, formatted: expand.includes('formatted') };
  res.locals.commitsRequest = request;
  next();
};

/** Text as HTML: escaped, line breaks kept. */
function asHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`).replace(/\n/g, '<br>');
}

function commitJson(c: HistoryCommit, formatted: boolean) {
  return { ...c, ...(formatted ? { formatted: { title: asHtml(c.title), message: asHtml(c.message) } } : {}) };
}

/** GET .../commits/{rev}, after commitsRequest and the route's guard. */
export function commitsHandler(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { revision, limit, page, path, formatted } = res.locals.commitsRequest as CommitsRequest;
    const { row: repo } = authorizedRepo(res);
    const skip = page * limit;
    const { head, total, commits } = await commitHistory(ctx.db, ctx.cfg.dataDir, repo, revision, { skip, limit, path });
    if (skip + commits.length < total && commits.length > 0) {
      // The next pages list from the same commit, even if the branch moves meanwhile.
      const url = new URL(`${baseUrlOf(ctx.cfg, req)}/api/${TYPE_PLURAL[repo.type]}/${repo.namespace}/${repo.name}/commits/${head}`);
      url.searchParams.set('limit', String(limit));
      url.searchParams.set('p', String(page + 1));
      if (path) url.searchParams.set('path', path);
      if (formatted) url.searchParams.set('expand[]', 'formatted');
      res.set('Link', `<${url.href}>; rel="next"`);
    }
    res.set({ 'X-Total-Count': String(total), 'X-Repo-Commit': head }).json(commits.map((c) => commitJson(c, formatted)));
  };
}
