import { usersByNameOrEmail } from '../db/accounts.js';
import type { Db } from '../db/index.js';
import type { RepoWithOwner } from '../db/repos.js';
import { HubgateError } from '../domain/errors.js';
import { printable, repoIdOf } from '../domain/names.js';
import { resolveCommit } from '../git/content.js';
import { gitEnv } from '../git/env.js';
import { type CommitRecord, countCommits, LISTED_REF_PREFIXES, listCommits, listRefs } from '../git/history.js';
import { repoDir } from '../git/repo-dirs.js';

// A repo's history and refs, as the Hub API lists them (list_repo_commits / listCommits /
// countCommits, list_repo_refs): git reads them (src/git/history.ts); this names the people.

/** A commit as the Hub lists it. */
export interface HistoryCommit {
  id: string;
  title: string;
  message: string;
  /** ISO 8601 UTC. */
  date: string;
  /** Who wrote it: the hubgate user it maps to, else the author's name in the commit. */
  authors: { user: string }[];
}

export interface CommitPage {
  /** The commit the revision named: later pages list from it, even if a branch moves meanwhile. */
  head: string;
  /** How many commits the whole listing has (those touching `path`, when given). */
  total: number;
  commits: HistoryCommit[];
}

/** The commit `revision` names in the repo, else 404 RevisionNotFound. */
async function headOf(dir: string, env: NodeJS.ProcessEnv, repo: RepoWithOwner, revision: string): Promise<string> {
  const head = await resolveCommit(dir, env, revision);
  if (!head) throw new HubgateError('not-found', `Invalid rev id: ${printable(revision)} is not a branch, tag or commit of ${repoIdOf(repo)}`, 'RevisionNotFound');
  return head;
}

/**
 * One page of the history of `revision` (a branch, tag or commit id, already checked with
 * revisionProblem), newest first: `skip` commits skipped, at most `limit` returned; with `path`
 * (a checked path) only the commits that changed it. The total comes from `git rev-list --count`.
 */
export async function commitHistory(
  db: Db,
  dataDir: string,
  repo: RepoWithOwner,
  revision: string,
  opts: { skip: number; limit: number; path?: string },
): Promise<CommitPage> {
  const dir = repoDir(dataDir, repo);
  const env = gitEnv(dataDir);
  const head = await headOf(dir, env, repo, revision);
  const [total, records] = await Promise.all([countCommits(dir, env, head, opts.path), listCommits(dir, env, head, opts)]);
  const users = await authorsOf(db, records);
  return { head, total, commits: records.map((c, i) => ({ id: c.id, title: c.title, message: c.message, date: c.date, authors: [{ user: users[i] }] })) };
}

// Commits made through the API carry `{user}@hubgate` unless the user has an email (src/http/api/commit.ts).
const HUBGATE_EMAIL = /^([^@\s]+)@hubgate$/i;

/**
 * The name each commit's author goes by: the hubgate user whose `{name}@hubgate` address or
 * registered email (held by that user alone) the commit's author email is, else the author's
 * name as git recorded it. One query for the whole page.
 */
export async function authorsOf(db: Db, commits: CommitRecord[]): Promise<string[]> {
  const names = new Set<string>();
  const emails = new Set<string>();
  for (const c of commits) {
    const hubgate = HUBGATE_EMAIL.exec(c.authorEmail);
    if (hubgate) names.add(hubgate[1]);
    else if (c.authorEmail) emails.add(c.authorEmail);
  }
  const rows = await usersByNameOrEmail(db, [...names], [...emails]);
  const byName = new Map(rows.map((r) => [r.name.toLowerCase(), r.name]));
  const byEmail = new Map<string, string | null>();
  for (const r of rows) {
    if (!r.email) continue;
    const key = r.email.toLowerCase();
    // An email two users registered names neither.
    byEmail.set(key, byEmail.has(key) && byEmail.get(key) !== r.name ? null : r.name);
  }
  return commits.map((c) => {
    const hubgate = HUBGATE_EMAIL.exec(c.authorEmail);
    const user = hubgate ? byName.get(hubgate[1].toLowerCase()) : byEmail.get(c.authorEmail.toLowerCase());
    return user ?? (c.authorName || c.authorEmail);
  });
}

/** A ref as list_repo_refs reads it (GitRefInfo). */
export interface RefInfo {
  name: string;
  ref: string;
  targetCommit: string;
}

export interface RepoRefs {
  branches: RefInfo[];
  tags: RefInfo[];
  converts: RefInfo[];
  pullRequests: RefInfo[];
}

const KIND_OF_PREFIX: Record<(typeof LISTED_REF_PREFIXES)[number], keyof RepoRefs> = {
  'refs/heads/': 'branches',
  'refs/tags/': 'tags',
  'refs/convert/': 'converts',
  'refs/pr/': 'pullRequests',
};

/** The repo's branches, tags, converts and (with `includePrs`) pull request refs, each with the commit it leads to. */
export async function repoRefs(dataDir: string, repo: RepoWithOwner, includePrs: boolean): Promise<RepoRefs> {
  const refs: RepoRefs = { branches: [], tags: [], converts: [], pullRequests: [] };
  for (const r of await listRefs(repoDir(dataDir, repo), gitEnv(dataDir))) {
    const prefix = LISTED_REF_PREFIXES.find((p) => r.ref.startsWith(p));
    if (!prefix) continue;
    const kind = KIND_OF_PREFIX[prefix];
    if (kind === 'pullRequests' && !includePrs) continue;
    refs[kind].push({ name: r.ref.slice(prefix.length), ref: r.ref, targetCommit: r.targetCommit });
  }
  return refs;
}
