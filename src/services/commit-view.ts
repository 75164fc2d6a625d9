import type { Readable } from 'node:stream';
import { MAX_POINTER_SIZE, MIN_POINTER_SIZE, parsePointer, type Pointer } from '../../lfs/pointer.js';
import type { Db } from '../db/index.js';
import type { RepoWithOwner } from '../db/repos.js';
import { HubgateError } from '../domain/errors.js';
import { printable, repoIdOf } from '../domain/names.js';
import { objectInfo, readBlob, resolveCommit } from '../git/content.js';
import { type DiffBudget, type FileDiff, readCommitDiff, streamCommitPatch, ZERO_OID } from '../git/diff.js';
import { gitEnv } from '../git/env.js';
import { readCommit } from '../git/history.js';
import { repoDir } from '../git/repo-dirs.js';
import { authorsOf } from './history.js';

// One commit as the commit page shows it: message, author, date, parents and its changes as git
// diff-tree computes them, each file a text diff, a binary file's sizes or, for a Git LFS pointer,
// the sizes and id of the object it points to (rather than the pointer's text).

/** The page shows at most this much of a diff; the rest is in the raw .diff. */
export const COMMIT_DIFF_BUDGET: DiffBudget = { maxLines: 6000, maxBytes: 1024 * 1024 };

export interface CommitHeader {
  id: string;
  title: string;
  message: string;
  /** ISO 8601 UTC (the committer date, as the history lists). */
  date: string;
  /** The hubgate user the author maps to, else the author's name in the commit. */
  author: string;
  parents: string[];
}

/** How a file's change is shown. */
export type FileChange = FileDiff &
  (
    | { shown: 'text' }
    | { shown: 'binary'; oldSize: number | null; newSize: number | null }
    | { shown: 'lfs'; oldObject: Pointer | null; newObject: Pointer | null }
  );

export interface CommitView {
  commit: CommitHeader;
  files: FileChange[];
  /** Some files or lines are left out: the raw diff has them all. */
  truncated: boolean;
}

/** The commit `revision` (a commit id, or a branch or tag) names, else 404 RevisionNotFound. */
async function commitOf(dir: string, env: NodeJS.ProcessEnv, repo: RepoWithOwner, revision: string): Promise<string> {
  const oid = await resolveCommit(dir, env, revision);
  if (!oid) throw new HubgateError('not-found', `Invalid rev id: ${printable(revision)} is not a commit of ${repoIdOf(repo)}`, 'RevisionNotFound');
  return oid;
}

const POINTER_LINE = /^version https?:\/\/(git-lfs\.github\.com|hawser\.github\.com|git-media\.io)\//;

/** The pointer a blob holds, or null (also for no blob: an added or deleted side). */
async function pointerOf(dir: string, env: NodeJS.ProcessEnv, oid: string): Promise<Pointer | null> {
  if (ZERO_OID.test(oid)) return null;
  const content = await readBlob(dir, env, oid, MAX_POINTER_SIZE);
  return content && content.length >= MIN_POINTER_SIZE ? parsePointer(content) : null;
}

async function sizeOf(dir: string, env: NodeJS.ProcessEnv, oid: string): Promise<number | null> {
  if (ZERO_OID.test(oid)) return null;
  return (await objectInfo(dir, env, oid))?.size ?? null;
}

/** How `file` is shown: only a text diff that holds a pointer's version line is read as a possible pointer. */
async function changeOf(dir: string, env: NodeJS.ProcessEnv, file: FileDiff): Promise<FileChange> {
  if (file.binary) {
    const [oldSize, newSize] = await Promise.all([sizeOf(dir, env, file.oldOid), sizeOf(dir, env, file.newOid)]);
    return { ...file, shown: 'binary', oldSize, newSize };
  }
  const mayBePointer = file.hunks.some((h) => h.lines.some((l) => POINTER_LINE.test(l.text)));
  if (mayBePointer) {
    const [oldObject, newObject] = await Promise.all([pointerOf(dir, env, file.oldOid), pointerOf(dir, env, file.newOid)]);
    if (oldObject || newObject) return { ...file, shown: 'lfs', oldObject, newObject };
  }
  return { ...file, shown: 'text' };
}

/** The commit `revision` names in the repo, with its changes up to COMMIT_DIFF_BUDGET. */
export async function commitView(db: Db, dataDir: string, repo: RepoWithOwner, revision: string): Promise<CommitView> {
  const dir = repoDir(dataDir, repo);
  const env = gitEnv(dataDir);
  const oid = await commitOf(dir, env, repo, revision);
  const record = await readCommit(dir, env, oid);
  const [[author], diff] = await Promise.all([authorsOf(db, [record]), readCommitDiff(dir, env, oid, record.parents.length > 1 ? record.parents[0] : null, COMMIT_DIFF_BUDGET)]);
  const files = await Promise.all(diff.files.map((f) => changeOf(dir, env, f)));
  return {
    commit: { id: record.id, title: record.title, message: record.message, date: record.date, author, parents: record.parents },
    files,
    truncated: diff.truncated,
  };
}

/** The patch of the commit `revision` names, as git diff-tree writes it, streamed; `stop()` ends git (a client gone). */
export async function commitPatch(dataDir: string, repo: RepoWithOwner, revision: string): Promise<{ commit: string; stdout: Readable; stop: () => void; done: Promise<void> }> {
  const dir = repoDir(dataDir, repo);
  const env = gitEnv(dataDir);
  const oid = await commitOf(dir, env, repo, revision);
  const { parents } = await readCommit(dir, env, oid);
  return { commit: oid, ...streamCommitPatch(dir, env, oid, parents.length > 1 ? parents[0] : null) };
}
