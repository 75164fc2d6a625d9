import { concurrencyLimit } from '../util/concurrency.js';
import { resolveCommit } from './content.js';
import { runGit } from './run.js';

// A repository's history and refs, read by git itself: one `git log` per page of commits (bounded
// by --max-count and --skip, so no history is held whole in memory), `git rev-list --count` for
// totals (fast with the commit-graph maintenance keeps), one `git for-each-ref` for the refs.

/** One commit of a history page, as git records it. */
export interface CommitRecord {
  id: string;
  /** The subject (the first paragraph, on one line). */
  title: string;
  /** The rest of the message (the body), without its trailing newline. */
  message: string;
  /** The committer date, ISO 8601 UTC such as 2024-05-01T12:00:00.000Z. */
  date: string;
  authorName: string;
  authorEmail: string;
}

// Fields of one commit, NUL-separated; with -z commits are NUL-terminated too (commit messages cannot hold a NUL).
const LOG_FIELDS = ['%H', '%an', '%ae', '%ct', '%s', '%b'];

/** `--literal-pathspecs`: a path is a path, never pathspec magic (`:(glob)`, `*`). */
function pathArgs(path: string | undefined): string[] {
  return path ? ['--', path] : [];
}

// With a path, git compares trees along the whole history: however many such listings callers
// ask for, only a few run at once server-wide (the others wait their turn).
const pathWalks = concurrencyLimit(4);

/** Runs a history walk: those with a path one of a few at a time. */
function walk(args: string[], path: string | undefined, dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const run = () => runGit(args, { env, cwd: dir });
  return path ? pathWalks(run) : run();
}

/**
 * The commits reachable from `commitOid` (a commit id), newest first as `git log` orders them,
 * skipping `skip` and returning at most `limit`; with `path`, only those that changed it
 * (a checked path: callers validate it).
 */
export async function listCommits(
  dir: string,
  env: NodeJS.ProcessEnv,
  commitOid: string,
  opts: { skip: number; limit: number; path?: string },
): Promise<CommitRecord[]> {
  const args = ['--literal-pathspecs', 'log', '-z', `--format=${LOG_FIELDS.join('%x00')}`, `--max-count=${opts.limit}`, `--skip=${opts.skip}`, '--end-of-options', commitOid, ...pathArgs(opts.path)];
  const out = await walk(args, opts.path, dir, env);
  const fields = out.split('\0');
  const commits: CommitRecord[] = [];
  for (let i = 0; i + LOG_FIELDS.length <= fields.length; i += LOG_FIELDS.length) {
    const [id, authorName, authorEmail, seconds, title, body] = fields.slice(i, i + LOG_FIELDS.length);
    if (!id) break;
    commits.push({ id, title, message: body.replace(/\n+$/, ''), date: new Date(Number(seconds) * 1000).toISOString(), authorName, authorEmail });
  }
  return commits;
}

/** How many commits are reachable from `commitOid` (with `path`: how many of them changed it). */
export async function countCommits(dir: string, env: NodeJS.ProcessEnv, commitOid: string, path?: string): Promise<number> {
  const out = await walk(['--literal-pathspecs', 'rev-list', '--count', '--end-of-options', commitOid, ...pathArgs(path)], path, dir, env);
  return Number(out.trim());
}

/** A ref and the commit it leads to (for an annotated tag, the tagged commit, not the tag object). */
export interface RefRecord {
  /** The full ref, such as refs/heads/main or refs/tags/v1.0. */
  ref: string;
  targetCommit: string;
}

/** The namespaces of refs listRefs reads (branches, tags, the Hub's converts and pull requests). */
export const LISTED_REF_PREFIXES = ['refs/heads/', 'refs/tags/', 'refs/convert/', 'refs/pr/'] as const;

/**
 * The repo's branches, tags, converts and pull request refs, sorted by name, in one
 * `git for-each-ref`. Refs that lead to no commit (a tag of a tree or a blob) are left out.
 */
export async function listRefs(dir: string, env: NodeJS.ProcessEnv): Promise<RefRecord[]> {
  const out = await runGit(['for-each-ref', '--format=%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)', ...LISTED_REF_PREFIXES], { env, cwd: dir });
  const refs: RefRecord[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [ref, type, oid, peeledType, peeled] = line.split('\0');
    if (type === 'commit') refs.push({ ref, targetCommit: oid });
    else if (type === 'tag' && peeledType === 'commit') refs.push({ ref, targetCommit: peeled });
    else if (type === 'tag' && peeledType === 'tag') {
      // A tag of a tag: peeled to its commit, if it leads to one (rare, so one lookup each).
      const commit = await resolveCommit(dir, env, oid);
      if (commit) refs.push({ ref, targetCommit: commit });
    }
  }
  return refs;
}

/** One commit with its parents (the commit page). */
export interface CommitDetails extends CommitRecord {
  parents: string[];
}

/** The commit `commitOid` (a commit id) names: its message, author, date and parents. */
export async function readCommit(dir: string, env: NodeJS.ProcessEnv, commitOid: string): Promise<CommitDetails> {
  const out = await runGit(['log', '-1', '-z', `--format=${[...LOG_FIELDS, '%P'].join('%x00')}`, '--end-of-options', commitOid], { env, cwd: dir });
  const [id, authorName, authorEmail, seconds, title, body, parents] = out.split('\0');
  return {
    id,
    title,
    message: body.replace(/\n+$/, ''),
    date: new Date(Number(seconds) * 1000).toISOString(),
    authorName,
    authorEmail,
    parents: parents ? parents.trim().split(' ').filter(Boolean) : [],
  };
}
