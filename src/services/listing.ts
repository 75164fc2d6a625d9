import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { addDownloads, type ListedRepo, type ListQuery, listingFieldsOf, listRepoPage, type RepoListingFields, reposWithoutCard, saveRepoCard, sortValueOf, type Viewer } from '../db/listing.js';
import { cardListing } from '../domain/card-tags.js';
import { HubgateError } from '../domain/errors.js';
import { REPO_TYPES, type RepoRef } from '../domain/names.js';
import { readCard } from '../gating/card.js';
import { closeReaders, hasReader, resolveCommit } from '../git/content.js';
import { gitEnv } from '../git/env.js';
import { repoDir } from '../git/repo-dirs.js';
import { commitDate } from '../git/tree.js';
import type { Caller } from '../identity/identify.js';

// Listings and search of repos, the card fields they show, and the download counter.
//
// Listings never open git: what they show of a repo's card (tags, pipeline_tag, library_name,
// cardData, the head's date) is kept in the database, keyed by the commit of the default branch
// it was read from. It is read again when that branch moves: after a push, after an API commit,
// at creation; repo info (which resolves the head anyway) reads it again when it finds the stored
// commit behind; and repos never read (older data directories) are read at start, in batches.
// Any process may refresh any repo: a refresh that finds the branch moved while it read repeats.

export type { ListedRepo, ListQuery, RepoListingFields, Viewer };
export type { ListSort } from '../db/listing.js';

/** Cards larger than this (as JSON) are not kept for `cardData`; their tags still are. */
const MAX_CARD_JSON = 256 * 1024;
/** Refresh attempts while the branch keeps moving under it. */
const REFRESH_ATTEMPTS = 3;

/** Who lists: anonymous callers see public repos, users also the private ones of their own and of their organizations. */
export function viewerOf(caller: Caller): Viewer {
  if (caller.kind === 'invalid') throw new HubgateError('unauthenticated', 'Invalid credentials in Authorization header');
  return caller.kind === 'user' ? { userId: caller.user.id } : null;
}

/** One page of a listing, and the cursor of the next one when the page is full. */
export async function listReposPage(db: Db, q: ListQuery): Promise<{ repos: ListedRepo[]; next: { value: string | number; id: number } | null }> {
  const repos = await listRepoPage(db, q);
  const last = repos.at(-1);
  return { repos, next: repos.length === q.limit && last ? { value: sortValueOf(last, q.sort), id: last.id } : null };
}

/**
 * The most recently changed repos of every type that the viewer may see, newest first (the home
 * page); only those of `authors` (users or organizations) when given.
 */
export async function recentRepos(db: Db, viewer: Viewer, opts: { authors?: string[]; limit: number }): Promise<ListedRepo[]> {
  const authors: (string | undefined)[] = opts.authors ?? [undefined];
  const pages = await Promise.all(
    REPO_TYPES.flatMap((type) =>
      authors.map((author) => listRepoPage(db, { type, viewer, search: [], tags: [], author, sort: 'lastModified', descending: true, limit: opts.limit })),
    ),
  );
  return pages
    .flat()
    .sort((a, b) => (a.lastModified < b.lastModified ? 1 : a.lastModified > b.lastModified ? -1 : b.id - a.id))
    .slice(0, opts.limit);
}

/** The listing fields of one repo (repo info shows the same tags and counter as listings). */
export function listingFields(db: Db, repoId: number): Promise<RepoListingFields | undefined> {
  return listingFieldsOf(db, repoId);
}

/**
 * Reads the repo's card at its default branch's head and stores what listings show of it. Never
 * throws: the listing is a copy, and a failed refresh is retried by the next push, commit, info
 * request or start.
 */
export async function refreshListing(db: Db, dataDir: string, repo: RepoRef & { id: number }, log?: Pick<Logger, 'warn'>): Promise<void> {
  const dir = repoDir(dataDir, repo);
  const env = gitEnv(dataDir);
  // A push or a commit refreshes its repo's listing: that alone does not keep a git reader of
  // the repo running (one per pushed repo); a reader requests already use stays warm.
  const warm = hasReader(dir);
  try {
    for (let attempt = 1; attempt <= REFRESH_ATTEMPTS; attempt++) {
      const sha = await resolveCommit(dir, env, 'HEAD');
      const card = sha ? await readCard(dataDir, repo, sha) : null;
      const listing = cardListing(repo.type, card?.metadata ?? null);
      const cardJson = card?.metadata ? JSON.stringify(card.metadata) : null;
      await saveRepoCard(db, repo.id, {
        sha,
        lastModified: sha ? await commitDate(dir, env, sha) : null,
        pipelineTag: listing.pipelineTag,
        libraryName: listing.libraryName,
        tags: listing.tags,
        cardData: cardJson && cardJson.length <= MAX_CARD_JSON ? card!.metadata : null,
      });
      // Another process may have stored an older head after this one read it: read again until it holds still.
      if ((await resolveCommit(dir, env, 'HEAD')) === sha) return;
    }
  } catch (err) {
    log?.warn({ err, repo: `${repo.type}:${repo.namespace}/${repo.name}` }, 'reading the card for listings failed');
  } finally {
    if (!warm) closeReaders(dir);
  }
}

/** Refreshes the listing when the head repo info resolved is not the one the listing was read from. */
export async function refreshListingIfBehind(db: Db, dataDir: string, repo: RepoRef & { id: number }, head: string | null, stored: RepoListingFields | undefined, log?: Pick<Logger, 'warn'>): Promise<void> {
  if (stored && stored.sha === head) return;
  await refreshListing(db, dataDir, repo, log);
}

/**
 * Reads the cards of repos that have none yet (a data directory from before listings), `batch`
 * at a time, until none is left; returns how many. Started in the background at start: listings
 * show such repos meanwhile, with no tags and their creation date.
 */
export async function fillMissingListings(db: Db, dataDir: string, log: Pick<Logger, 'warn'>, batch = 100): Promise<number> {
  let done = 0;
  let after = 0;
  for (;;) {
    const repos = await reposWithoutCard(db, batch, after);
    if (repos.length === 0) return done;
    for (const repo of repos) await refreshListing(db, dataDir, repo, log);
    done += repos.length;
    after = repos.at(-1)!.id;
  }
}

/**
 * Downloads per repo, counted in memory and added to the database every `intervalMs` (and on
 * flush() and stop()): a counter may lose the last interval's counts in a crash, and the
 * database is not written once per download. Increments add up across processes.
 */
export interface DownloadCounter {
  count(repoId: number, n?: number): void;
  /** Counted here and not written yet. */
  pending(repoId: number): number;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export function createDownloadCounter(db: Db, log: Pick<Logger, 'warn'>, intervalMs = 2000): DownloadCounter {
  let counts = new Map<number, number>();
  let writing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    if (counts.size === 0) return writing;
    const batch = counts;
    counts = new Map();
    writing = writing
      .then(() => addDownloads(db, batch))
      .catch((err) => {
        // Kept for the next flush: a locked or full database loses no counts.
        for (const [id, n] of batch) counts.set(id, (counts.get(id) ?? 0) + n);
        log.warn({ err }, 'writing download counts failed; retrying at the next flush');
      });
    return writing;
  };
  const timer = setInterval(() => void flush(), intervalMs);
  timer.unref();
  return {
    count(repoId, n = 1) {
      if (n > 0) counts.set(repoId, (counts.get(repoId) ?? 0) + n);
    },
    pending: (repoId) => counts.get(repoId) ?? 0,
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}
