import type { Request, RequestHandler, Response } from 'express';
import { HubgateError } from '../../domain/errors.js';
import { type RepoType, TYPE_PLURAL } from '../../domain/names.js';
import { listReposPage, type ListSort, viewerOf } from '../../services/listing.js';
import type { AppContext } from '../context.js';
import { html } from './html.js';
import { repoList } from './repo-list.js';
import { errorPage, renderPage } from './respond.js';

// /models, /datasets, /spaces: search by name (q: words that must all be in `ns/name`), author,
// sort, one page at a time (a cursor, as the API's listing). Through the listing service with the
// caller as viewer: private repos only to those who may see them.

const SORTS: Record<string, { sort: ListSort; descending: boolean; label: string }> = {
  lastModified: { sort: 'lastModified', descending: true, label: 'Recently updated' },
  createdAt: { sort: 'createdAt', descending: true, label: 'Recently created' },
  downloads: { sort: 'downloads', descending: true, label: 'Most downloads' },
  id: { sort: 'id', descending: false, label: 'Name' },
};
const PAGE_SIZE = 30;
const MAX_PAGE_SIZE = 100;

const query = (req: Request, name: string): string => {
  const v = req.query[name];
  return typeof v === 'string' ? v : '';
};

function encodeCursor(value: string | number, id: number): string {
  return Buffer.from(JSON.stringify([value, id])).toString('base64url');
}

function decodeCursor(text: string, numeric: boolean): { value: string | number; id: number } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && Number.isSafeInteger(parsed[1]) && typeof parsed[0] === (numeric ? 'number' : 'string')) {
      return { value: parsed[0] as string | number, id: parsed[1] as number };
    }
  } catch {
    // refused below
  }
  throw new HubgateError('invalid', 'This page link is not valid (it belongs to another sort?): start again from the first page.');
}

export function searchPage(ctx: AppContext, type: RepoType): RequestHandler {
  const plural = TYPE_PLURAL[type];
  const title = plural[0].toUpperCase() + plural.slice(1);
  return async (req: Request, res: Response) => {
    const q = query(req, 'q').trim().slice(0, 200);
    const author = query(req, 'author').trim().slice(0, 96);
    const sortName = SORTS[query(req, 'sort')] ? query(req, 'sort') : 'lastModified';
    const { sort, descending } = SORTS[sortName];
    const limitText = query(req, 'limit');
    const limit = /^[1-9][0-9]{0,2}$/.test(limitText) ? Math.min(Number(limitText), MAX_PAGE_SIZE) : PAGE_SIZE;
    const cursor = query(req, 'cursor');
    let after;
    try {
      after = cursor ? decodeCursor(cursor, sort === 'downloads') : undefined;
    } catch (err) {
      return errorPage(req, res, 400, 'Invalid page', (err as Error).message);
    }
    const { repos, next } = await listReposPage(ctx.db, {
      type,
      viewer: viewerOf(res.locals.caller),
      search: q ? q.split(/\s+/).slice(0, 10) : [],
      author: author || undefined,
      tags: [],
      sort,
      descending,
      limit,
      after,
    });
    const link = (extra: Record<string, string>) => {
      const params = new URLSearchParams({ ...(q ? { q } : {}), ...(author ? { author } : {}), sort: sortName, ...(limitText && limit !== PAGE_SIZE ? { limit: String(limit) } : {}), ...extra });
      return `/${plural}?${params.toString()}`;
    };
    renderPage(
      req,
      res,
      200,
      title,
      html`<h1>${title}</h1>
<form method="get" action="/${plural}" class="search">
<label>Search <input type="search" name="q" value="${q}" maxlength="200"></label>
<label>Author <input type="text" name="author" value="${author}" maxlength="96"></label>
<label>Sort <select name="sort">${Object.entries(SORTS).map(([k, s]) => html`<option value="${k}"${k === sortName ? html` selected` : null}>${s.label}</option>`)}</select></label>
<button type="submit">Search</button>
</form>
${repoList(repos, cursor ? 'No more results.' : `No ${plural} found.`)}
<p class="pages">${cursor ? html`<a href="${link({})}">First page</a> ` : null}${next ? html`<a rel="next" href="${link({ cursor: encodeCursor(next.value, next.id) })}">Next page →</a>` : null}</p>`,
    );
  };
}
