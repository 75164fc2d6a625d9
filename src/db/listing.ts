import { type Expression, type SqlBool, sql } from 'kysely';
import type { RepoType } from '../domain/names.js';
import type { GatedMode } from '../domain/types.js';
import { type Db, isPostgres, now } from './index.js';

// Listings and search of repos (GET /api/models, /api/datasets, /api/spaces), answered from the
// database alone: repos.full_id / last_modified / downloads (kept by 0009_listing's triggers, the
// card refresh and the download counter), repo_cards, repo_tags and a trigram index of ids: SQLite's
// FTS5 table repo_search, PostgreSQL's pg_trgm index on lower(full_id) (0011_listing).

/** Who is listing: the visibility rule below is decide(view)'s (src/access/policy.ts), in SQL. */
export type Viewer = { userId: number } | null;

export type ListSort = 'lastModified' | 'createdAt' | 'id' | 'downloads' | 'likes';

export interface ListQuery {
  type: RepoType;
  viewer: Viewer;
  /** Each must be a substring of `ns/name`, case-insensitively. */
  search: string[];
  author?: string;
  /** Each must be one of the repo's card tags (case-insensitively). */
  tags: string[];
  gated?: boolean;
  sort: ListSort;
  descending: boolean;
  limit: number;
  /** Continue after this row: its sort value and id (from the previous page's last row). */
  after?: { value: string | number; id: number };
}

export interface ListedRepo {
  id: number;
  type: RepoType;
  namespace: string;
  name: string;
  private: boolean;
  gated: GatedMode;
  createdAt: string;
  lastModified: string;
  downloads: number;
  sha: string | null;
  pipelineTag: string | null;
  libraryName: string | null;
  tags: string[];
  cardData: Record<string, unknown> | null;
}

/** Search terms shorter than a trigram cannot use the index: they are checked row by row. */
const TRIGRAM = 3;
/**
 * A search term, tag or author matching at most this many repos drives the query: its repos are
 * fetched by id and sorted. With none that narrow, the sort column's index is walked and each row
 * checked until the page is full (matches are dense then, so that ends soon).
 */
const NARROW = 5000;

/** The sort column of each sort (likes are all 0: the order is then the repos' age, as createdAt's). */
const SORT_COLUMN: Record<ListSort, string> = {
  lastModified: 'repos.last_modified',
  createdAt: 'repos.created_at',
  id: 'repos.full_id',
  downloads: 'repos.downloads',
  likes: 'repos.created_at',
};

/**
 * Who may see a repo in a listing: decide(facts, 'view') allows it exactly when the caller holds
 * at least read on it (gates never apply to view, and a read token still reads): a public repo
 * (anyone, anonymous included); a private one only to the owning user and the owning
 * organization's members (any role). Memberships exist only for organizations. Compared with
 * decide() over a matrix of callers and repos in test/unit/listing-visibility.test.ts.
 */
export function visibleTo(viewer: Viewer): Expression<SqlBool> {
  if (!viewer) return sql<SqlBool>`repos.private = 0`;
  return sql<SqlBool>`(repos.private = 0 or repos.owner_id = ${viewer.userId} or repos.owner_id in (select org_id from memberships where user_id = ${viewer.userId}))`;
}

/** A phrase for an FTS5 MATCH: the term as one quoted string (its quotes doubled). */
function phrase(term: string): string {
  return `"${term.replace(/"/g, '""')}"`;
}

/** `lower(full_id) LIKE '%term%'` for PostgreSQL (its trigram index answers it), the term's wildcards escaped. */
function pgContains(term: string): Expression<SqlBool> {
  return sql<SqlBool>`lower(repos.full_id::text) like ${`%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`}`;
}

/** The ids of the repos matching every narrow search term and tag of the query, or null when none is narrow. */
async function narrowIds(db: Db, terms: string[], tags: string[]): Promise<{ ids: number[]; denseTerms: string[] } | null> {
  let ids: Set<number> | null = null;
  const denseTerms: string[] = [];
  const narrow = (found: number[]) => {
    if (found.length > NARROW) return false;
    ids = ids === null ? new Set(found) : new Set(found.filter((id) => ids!.has(id)));
    return true;
  };
  for (const term of terms) {
    const rows = isPostgres(db)
      ? await sql<{ id: number }>`select id from repos where ${pgContains(term)} limit ${NARROW + 1}`.execute(db)
      : await sql<{ id: number }>`select rowid as id from repo_search where repo_search match ${phrase(term)} limit ${NARROW + 1}`.execute(db);
    if (!narrow(rows.rows.map((r) => r.id))) denseTerms.push(term);
  }
  for (const tag of tags) {
    // Counted on the index first: a common tag's ids are not worth fetching.
    const { n } = (await sql<{ n: number }>`select count(*) as n from (select 1 from repo_tags where tag = ${tag} limit ${NARROW + 1}) as found`.execute(db)).rows[0];
    if (n > NARROW) continue;
    const rows = await db.selectFrom('repo_tags').select('repo_id').where('tag', '=', tag).execute();
    narrow(rows.map((r) => r.repo_id));
  }
  return ids === null ? null : { ids: [...(ids as Set<number>)], denseTerms };
}

/** One page of the repos of `type` the viewer may see that match the query, in its order. */
export async function listRepoPage(db: Db, q: ListQuery): Promise<ListedRepo[]> {
  const column = sql.ref(SORT_COLUMN[q.sort]);
  const lowered = q.search.map((t) => t.toLowerCase());
  const indexed = lowered.filter((t) => [...t].length >= TRIGRAM);
  const narrowed = await narrowIds(db, indexed, q.tags);
  // Driven by a narrow set (or by the owner's repos), the sort column's index must not be walked: `+` keeps SQLite off it
  // (PostgreSQL's planner chooses by its statistics, and has no unary + on text).
  const pg = isPostgres(db);
  const driven = !pg && (narrowed !== null || q.author !== undefined);
  let query = db
    .selectFrom('repos')
    .innerJoin('accounts', 'accounts.id', 'repos.owner_id')
    .leftJoin('repo_cards', 'repo_cards.repo_id', 'repos.id')
    .select([
      'repos.id', 'repos.type', 'accounts.name as namespace', 'repos.name', 'repos.private', 'repos.gated', 'repos.created_at', 'repos.last_modified', 'repos.downloads',
      'repo_cards.sha', 'repo_cards.pipeline_tag', 'repo_cards.library_name', 'repo_cards.tags', 'repo_cards.card_data',
    ])
    .where(narrowed && !pg ? sql<SqlBool>`+repos.type = ${q.type}` : sql<SqlBool>`repos.type = ${q.type}`)
    .where('repos.ready', '=', 1)
    .where(visibleTo(q.viewer));
  if (narrowed) {
    // The ids as one parameter (a list of thousands would be as many parameters).
    query = query.where(pg ? sql<SqlBool>`repos.id = any(${narrowed.ids}::integer[])` : sql<SqlBool>`repos.id in (select value from json_each(${JSON.stringify(narrowed.ids)}))`);
  }
  if (q.author !== undefined) query = query.where(sql<SqlBool>`repos.owner_id = (select id from accounts where name = ${q.author})`);
  for (const term of lowered) {
    // Dense terms on a walk of the sort index: their (large) match list once; anything else row by row.
    if (pg) query = query.where(pgContains(term));
    else {
      query =
        !narrowed && indexed.includes(term)
          ? query.where(sql<SqlBool>`repos.id in (select rowid from repo_search where repo_search match ${phrase(term)})`)
          : query.where(sql<SqlBool>`instr(lower(repos.full_id), ${term}) > 0`);
    }
  }
  for (const tag of q.tags) query = query.where(sql<SqlBool>`exists (select 1 from repo_tags where repo_tags.tag = ${tag} and repo_tags.repo_id = repos.id)`);
  if (q.gated === true) query = query.where('repos.gated', 'is not', null);
  if (q.gated === false) query = query.where('repos.gated', 'is', null);
  if (q.after) {
    const { value, id } = q.after;
    query = query.where(q.descending ? sql<SqlBool>`(${column}, repos.id) < (${value}, ${id})` : sql<SqlBool>`(${column}, repos.id) > (${value}, ${id})`);
  }
  const direction = q.descending ? 'desc' : 'asc';
  const rows = await query
    .orderBy(driven ? sql`+${column}` : column, direction)
    .orderBy('repos.id', direction)
    .limit(q.limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    namespace: r.namespace,
    name: r.name,
    private: r.private === 1,
    gated: (r.gated ?? false) as GatedMode,
    createdAt: r.created_at,
    lastModified: r.last_modified ?? r.created_at,
    downloads: r.downloads,
    sha: r.sha ?? null,
    pipelineTag: r.pipeline_tag ?? null,
    libraryName: r.library_name ?? null,
    tags: r.tags ? (JSON.parse(r.tags) as string[]) : [],
    cardData: r.card_data ? (JSON.parse(r.card_data) as Record<string, unknown>) : null,
  }));
}

/** The value a row is sorted by, for the next page's cursor. */
export function sortValueOf(repo: ListedRepo, sort: ListSort): string | number {
  switch (sort) {
    case 'lastModified': return repo.lastModified;
    case 'createdAt': return repo.createdAt;
    case 'id': return `${repo.namespace}/${repo.name}`;
    case 'downloads': return repo.downloads;
    case 'likes': return repo.createdAt;
  }
}

export interface RepoListingFields {
  /** The commit the card was read from; undefined when it never was. */
  sha: string | null | undefined;
  downloads: number;
  pipelineTag: string | null;
  libraryName: string | null;
  tags: string[];
}

/** What the listing keeps of one repo (for its info answer); undefined when the repo is gone. */
export async function listingFieldsOf(db: Db, repoId: number): Promise<RepoListingFields | undefined> {
  const row = await db
    .selectFrom('repos')
    .leftJoin('repo_cards', 'repo_cards.repo_id', 'repos.id')
    .select(['repos.downloads', 'repo_cards.repo_id as card', 'repo_cards.sha', 'repo_cards.pipeline_tag', 'repo_cards.library_name', 'repo_cards.tags'])
    .where('repos.id', '=', repoId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    sha: row.card === null ? undefined : row.sha,
    downloads: row.downloads,
    pipelineTag: row.pipeline_tag ?? null,
    libraryName: row.library_name ?? null,
    tags: row.tags ? (JSON.parse(row.tags) as string[]) : [],
  };
}

export interface RepoCardRow {
  sha: string | null;
  /** The head commit's date; null: the repo has no commit (its creation date is kept). */
  lastModified: string | null;
  pipelineTag: string | null;
  libraryName: string | null;
  tags: string[];
  cardData: Record<string, unknown> | null;
}

/** Stores what the listing shows of a repo's card, with its tags and head date, in one transaction. */
export async function saveRepoCard(db: Db, repoId: number, card: RepoCardRow): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const exists = await tx.selectFrom('repos').select('id').where('id', '=', repoId).executeTakeFirst();
    if (!exists) return;
    if (card.lastModified) await tx.updateTable('repos').set({ last_modified: card.lastModified }).where('id', '=', repoId).execute();
    const values = {
      sha: card.sha,
      pipeline_tag: card.pipelineTag,
      library_name: card.libraryName,
      tags: JSON.stringify(card.tags),
      card_data: card.cardData ? JSON.stringify(card.cardData) : null,
      computed_at: now(),
    };
    await tx
      .insertInto('repo_cards')
      .values({ repo_id: repoId, ...values })
      .onConflict((oc) => oc.column('repo_id').doUpdateSet(values))
      .execute();
    await tx.deleteFrom('repo_tags').where('repo_id', '=', repoId).execute();
    if (card.tags.length > 0) await tx.insertInto('repo_tags').values(card.tags.map((tag) => ({ tag, repo_id: repoId }))).onConflict((oc) => oc.doNothing()).execute();
  });
}

/** Ready repos whose card was never read (created before listings existed, or a refresh that failed), oldest first. */
export async function reposWithoutCard(db: Db, limit: number, afterId = 0): Promise<{ id: number; type: RepoType; namespace: string; name: string }[]> {
  return db
    .selectFrom('repos')
    .innerJoin('accounts', 'accounts.id', 'repos.owner_id')
    .leftJoin('repo_cards', 'repo_cards.repo_id', 'repos.id')
    .select(['repos.id', 'repos.type', 'accounts.name as namespace', 'repos.name'])
    .where('repos.ready', '=', 1)
    .where('repo_cards.repo_id', 'is', null)
    .where('repos.id', '>', afterId)
    .orderBy('repos.id')
    .limit(limit)
    .execute();
}

/** Adds counted downloads to repos (one statement per repo, one transaction); repos gone meanwhile are skipped. */
export async function addDownloads(db: Db, counts: Map<number, number>): Promise<void> {
  if (counts.size === 0) return;
  await db.transaction().execute(async (tx) => {
    for (const [repoId, n] of counts) {
      await tx.updateTable('repos').set({ downloads: sql`downloads + ${n}` }).where('id', '=', repoId).execute();
    }
  });
}
