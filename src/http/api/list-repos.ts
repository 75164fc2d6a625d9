import type { Request, RequestHandler, Response } from 'express';
import { BASIC_CHALLENGE, INVALID_CREDENTIALS } from '../../access/answer.js';
import { badRequest } from '../../domain/errors.js';
import { printable, type RepoType, TYPE_PLURAL } from '../../domain/names.js';
import { gitEnv } from '../../git/env.js';
import { repoDir } from '../../git/repo-dirs.js';
import { listTree } from '../../git/tree.js';
import { type ListedRepo, type ListQuery, type ListSort, listReposPage, viewerOf } from '../../services/listing.js';
import type { AppContext } from '../context.js';
import { baseUrlOf } from '../urls.js';
import { apiError } from './respond.js';

// GET /api/models, /api/datasets, /api/spaces: listings and search as huggingface_hub's
// list_models / list_datasets / list_spaces and @huggingface/hub's listModels / listDatasets /
// listSpaces ask for them. Each caller sees exactly the repos it may view (private ones of its
// own and of its organizations; gated ones listed), answered from the database alone
// (src/services/listing.ts), in pages linked by `Link: <...>; rel="next"`.

/** Items per page without `limit`, and at most with one (larger limits are served in pages of this size). */
export const LIST_PAGE_SIZE = 1000;
/** Pages that list files (`full`, `expand=siblings`) read each repo's tree: they are smaller. */
export const SIBLINGS_PAGE_SIZE = 100;
/** Search terms and filters a request may give, and their length. */
const MAX_TERMS = 20;
const MAX_TERM_LENGTH = 200;

const SORTS: Record<string, ListSort> = {
  lastModified: 'lastModified',
  last_modified: 'lastModified',
  createdAt: 'createdAt',
  created_at: 'createdAt',
  id: 'id',
  modelId: 'id',
  downloads: 'downloads',
  // hubgate keeps no likes or trends: likes are all 0 (the order is then the repos' age, newest first), trends are downloads.
  likes: 'likes',
  trendingScore: 'downloads',
  trending_score: 'downloads',
};

/** The query's values of `name` (and `name[]`), repeated or not, as strings. */
function values(req: Request, name: string): string[] {
  const raw = [req.query[name], req.query[`${name}[]`]].flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
  return raw.map((v) => (typeof v === 'string' ? v : ''));
}

function last(req: Request, name: string): string | undefined {
  return values(req, name).at(-1);
}

function flag(req: Request, name: string): boolean {
  const v = last(req, name);
  return v === 'true' || v === 'True' || v === '1';
}

function terms(req: Request, name: string): string[] {
  const list = values(req, name).filter((v) => v !== '');
  if (list.length > MAX_TERMS) throw badRequest(`at most ${MAX_TERMS} ${name} values per request`);
  for (const v of list) if (v.length > MAX_TERM_LENGTH) throw badRequest(`a ${name} value has at most ${MAX_TERM_LENGTH} characters`);
  return list;
}

interface Cursor {
  value: string | number;
  id: number;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.value, c.id])).toString('base64url');
}

function decodeCursor(text: string, sort: ListSort): Cursor {
  const invalid = () => badRequest('invalid cursor: follow the Link header of the previous page (with the same sort)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || !Number.isSafeInteger(parsed[1])) throw invalid();
  const numeric = sort === 'downloads';
  if (numeric ? !Number.isSafeInteger(parsed[0]) : typeof parsed[0] !== 'string' || parsed[0].length > 300) throw invalid();
  return { value: parsed[0] as string | number, id: parsed[1] as number };
}

interface ListRequest {
  query: ListQuery;
  /** Fields to answer (`expand`); null: the default set. */
  expand: Set<string> | null;
  full: boolean;
  cardData: boolean;
}

function listRequest(req: Request, res: Response, type: RepoType): ListRequest {
  const viewer = viewerOf(res.locals.caller);
  const sortName = last(req, 'sort') || 'lastModified';
  const sort = SORTS[sortName];
  if (!sort) throw badRequest(`unknown sort "${printable(sortName).slice(0, 40)}": use lastModified, createdAt, id, downloads, likes or trendingScore`);
  const directionText = last(req, 'direction') ?? '-1';
  if (directionText !== '-1' && directionText !== '1') throw badRequest('direction is -1 (descending, the default) or 1 (ascending)');
  const limitText = last(req, 'limit');
  const limit = limitText === undefined || limitText === '' ? LIST_PAGE_SIZE : Number(limitText);
  if (!Number.isSafeInteger(limit) || limit < 1) throw badRequest('limit is a positive integer');
  const expandList = terms(req, 'expand');
  const expand = expandList.length > 0 ? new Set(expandList) : null;
  const full = flag(req, 'full');
  const withSiblings = expand ? expand.has('siblings') : full;
  const pageSize = withSiblings ? SIBLINGS_PAGE_SIZE : LIST_PAGE_SIZE;
  const tags = terms(req, 'filter');
  // @huggingface/hub's listModels sends the task as its own parameter; it is one of the repo's tags.
  const pipeline = last(req, 'pipeline_tag');
  if (pipeline) tags.push(pipeline);
  const gatedText = last(req, 'gated');
  const gated = gatedText === undefined ? undefined : gatedText === 'true' || gatedText === 'True' ? true : gatedText === 'false' || gatedText === 'False' ? false : undefined;
  const author = last(req, 'author') || undefined;
  const cursorText = last(req, 'cursor');
  const query: ListQuery = {
    type,
    viewer,
    search: terms(req, 'search'),
    ...(author ? { author } : {}),
    tags,
    ...(gated !== undefined ? { gated } : {}),
    sort,
    descending: directionText === '-1',
    limit: Math.min(limit, pageSize),
    ...(cursorText ? { after: decodeCursor(cursorText, sort) } : {}),
  };
  return { query, expand, full, cardData: flag(req, 'cardData') || full };
}

/** The Hub's fields of a listed repo; with `expand`, only `_id`, `id` and the fields asked for. */
function itemJson(r: ListedRepo, lr: ListRequest, siblings: string[] | null): Record<string, unknown> {
  const id = `${r.namespace}/${r.name}`;
  const fields: Record<string, () => unknown> = {
    author: () => r.namespace,
    private: () => r.private,
    gated: () => r.gated,
    disabled: () => false,
    lastModified: () => r.lastModified,
    createdAt: () => r.createdAt,
    downloads: () => r.downloads,
    downloadsAllTime: () => r.downloads,
    likes: () => 0,
    trendingScore: () => 0,
    tags: () => r.tags,
    sha: () => r.sha ?? undefined,
    cardData: () => r.cardData ?? undefined,
    siblings: () => siblings?.map((rfilename) => ({ rfilename })),
    ...(r.type === 'model' ? { pipeline_tag: () => r.pipelineTag ?? undefined, library_name: () => r.libraryName ?? undefined } : {}),
    ...(r.type === 'space' ? { sdk: () => (typeof r.cardData?.sdk === 'string' ? r.cardData.sdk : undefined) } : {}),
  };
  const wanted = lr.expand
    ? [...lr.expand]
    : [
        'author', 'private', 'gated', 'disabled', 'lastModified', 'createdAt', 'downloads', 'likes', 'tags', 'pipeline_tag', 'library_name', 'sdk',
        ...(lr.full ? ['sha', 'siblings'] : []),
        ...(lr.cardData ? ['cardData'] : []),
      ];
  const item: Record<string, unknown> = { _id: String(r.id), id, ...(r.type === 'model' && !lr.expand ? { modelId: id } : {}) };
  // Fields hubgate does not keep (config, safetensors, ...) are left out, as the Hub leaves out what a repo lacks.
  for (const name of wanted) {
    const value = fields[name]?.();
    if (value !== undefined) item[name] = value;
  }
  return item;
}

/** The files of each listed repo at its listed commit, for `full` / `expand=siblings` (a few git reads at a time). */
async function siblingsOf(ctx: AppContext, repos: ListedRepo[]): Promise<(string[] | null)[]> {
  const env = gitEnv(ctx.cfg.dataDir);
  const out: (string[] | null)[] = repos.map(() => null);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < repos.length; i = next++) {
      const r = repos[i];
      if (!r.sha) {
        out[i] = [];
        continue;
      }
      try {
        const files = await listTree(repoDir(ctx.cfg.dataDir, r), env, r.sha, { base: '', recursive: true, directories: false });
        out[i] = files.map((f) => f.path);
      } catch (err) {
        ctx.log.warn({ err, repo: `${r.namespace}/${r.name}` }, 'listing files for a repo listing failed');
        out[i] = [];
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, repos.length) }, worker));
  return out;
}

/** The next page's URL: this request's own query with the cursor of its last item. */
function nextUrl(ctx: AppContext, req: Request, type: RepoType, cursor: Cursor): string {
  const url = new URL(`${baseUrlOf(ctx.cfg, req)}/api/${TYPE_PLURAL[type]}`);
  const original = new URL(req.originalUrl, 'http://x');
  for (const [k, v] of original.searchParams) if (k !== 'cursor') url.searchParams.append(k, v);
  url.searchParams.set('cursor', encodeCursor(cursor));
  return url.href;
}

/** GET /api/{models|datasets|spaces}: anyone (anonymous callers see public repos); bad credentials get 401. */
export function listReposHandler(ctx: AppContext, type: RepoType): RequestHandler {
  return async (req, res) => {
    if (res.locals.caller.kind === 'invalid') return apiError(res, 401, INVALID_CREDENTIALS, { headers: { 'WWW-Authenticate': BASIC_CHALLENGE } });
    const lr = listRequest(req, res, type);
    // Counts of this process not written yet would make a downloads order lag behind its own answers.
    if (lr.query.sort === 'downloads') await ctx.downloads.flush();
    const { repos, next } = await listReposPage(ctx.db, lr.query);
    const withSiblings = lr.expand ? lr.expand.has('siblings') : lr.full;
    const siblings = withSiblings ? await siblingsOf(ctx, repos) : repos.map(() => null);
    if (next) res.set('Link', `<${nextUrl(ctx, req, type, next)}>; rel="next"`);
    res.json(repos.map((r, i) => itemJson(r, lr, siblings[i])));
  };
}
