import type { Db } from '../db/index.js';
import type { RepoWithOwner } from '../db/repos.js';
import { badRequest, conflict, HubgateError } from '../domain/errors.js';
import { printable, repoIdOf } from '../domain/names.js';
import { branchProblem, refNameProblem, revisionProblem, tagProblem } from '../domain/revisions.js';
import { checkText } from '../domain/text.js';
import { resolveCommit } from '../git/content.js';
import { gitEnv } from '../git/env.js';
import { createRef, defaultBranchName, deleteRef, refTarget, writeEmptyCommit, writeTagObject } from '../git/ref-updates.js';
import { repoDir } from '../git/repo-dirs.js';
import { type Identity, moveBranch } from '../git/write-commit.js';
import { type AuditEvent, recordAuditAfter } from './audit.js';

// Branches and tags made and removed through the Hub API (create_branch, delete_branch,
// create_tag, delete_tag; createBranch, deleteBranch). Names follow git's rules
// (src/domain/revisions.ts); each ref changes atomically from the value it was read at
// (src/git/ref-updates.ts), so a race with a push or a commit is a 409, never a lost update.
// A new ref adds no content to check (an empty branch's commit has no files): no push policy.

export interface RefDeps {
  db: Db;
  dataDir: string;
}

/** A branch or tag as the refs listing shows it. */
export interface RefInfo {
  name: string;
  ref: string;
  targetCommit: string;
}

/** What a ref change did; `auditError` when its audit entry could not be written (the change stands). */
export type RefChange = RefInfo & { auditError?: Error };

/** The longest tag message taken. */
export const MAX_TAG_MESSAGE = 100_000;

/** The person a ref change is made by: the acting user's name and an email for git objects. */
export interface Actor extends Identity {
  user: string;
}

function invalidIf(problem: string | null): void {
  if (problem) throw badRequest(problem);
}

function clashMessage(kind: 'branch' | 'tag', name: string, clash: string): string {
  const other = clash.replace(/^refs\/(heads|tags)\//, '');
  return `${kind} "${printable(name)}" cannot be created next to ${kind} "${printable(other)}": one would be a folder of the other (git stores refs as files); choose another name, or delete "${printable(other)}" first`;
}

/**
 * Creates `branch` at `startingPoint` (a branch, tag or commit; by default the default branch's
 * head), or at a new commit with no files when `empty`. 409 when it exists, unless `overwrite`:
 * then it is moved there (left as it is when neither a starting point nor `empty` is given).
 */
export async function createBranch(
  deps: RefDeps,
  repo: RepoWithOwner,
  branch: string,
  opts: { startingPoint?: string; empty?: boolean; overwrite?: boolean },
  actor: Actor,
): Promise<RefChange> {
  invalidIf(branchProblem(branch));
  if (opts.startingPoint !== undefined && opts.empty) throw badRequest('give either startingPoint or emptyBranch, not both');
  const startProblem = opts.startingPoint === undefined ? null : revisionProblem(opts.startingPoint);
  if (startProblem) throw badRequest(`startingPoint: ${startProblem}`);
  const dir = repoDir(deps.dataDir, repo);
  const env = gitEnv(deps.dataDir);
  const ref = `refs/heads/${branch}`;
  const repoId = repoIdOf(repo);

  const existing = await refTarget(dir, env, ref);
  if (existing && !opts.overwrite) {
    throw conflict(`branch "${printable(branch)}" already exists in ${repoId} (at ${existing}): choose another name, or delete it first`);
  }
  if (existing && opts.startingPoint === undefined && !opts.empty) return { name: branch, ref, targetCommit: existing };

  let target: string;
  if (opts.empty) {
    target = await writeEmptyCommit(dir, env, `Create empty branch ${branch}\n`, actor);
  } else if (opts.startingPoint !== undefined) {
    const commit = await resolveCommit(dir, env, opts.startingPoint);
    if (!commit) throw new HubgateError('not-found', `Invalid rev id: startingPoint "${printable(opts.startingPoint)}" is not a branch, tag or commit of ${repoId}`, 'RevisionNotFound');
    target = commit;
  } else {
    const commit = await resolveCommit(dir, env, 'HEAD');
    if (!commit) throw new HubgateError('not-found', `${repoId} has no default branch to start from: give startingPoint (a branch, tag or commit)`, 'RevisionNotFound');
    target = commit;
  }

  if (existing) {
    if (!(await moveBranch(dir, env, branch, target, existing))) throw conflict(`branch "${printable(branch)}" moved while it was being overwritten: send the request again`);
  } else {
    const created = await createRef(dir, env, ref, target);
    if (created === 'exists') throw conflict(`branch "${printable(branch)}" already exists in ${repoId}: choose another name, or delete it first`);
    if (typeof created === 'object') throw conflict(clashMessage('branch', branch, created.clash));
  }
  const details: AuditEvent['details'] = { branch, commit: target, from: opts.empty ? 'empty' : (opts.startingPoint ?? 'default branch') };
  if (existing) details.old = existing;
  const auditError = await recordAuditAfter(deps.db, { actor: actor.user, action: 'branch.create', repo, details });
  return { name: branch, ref, targetCommit: target, auditError };
}

/** Deletes `branch`; never the default branch (403); 404 RevisionNotFound when there is none. */
export async function deleteBranch(deps: RefDeps, repo: RepoWithOwner, branch: string, actor: { user: string }): Promise<RefChange> {
  invalidIf(refNameProblem(branch, 'branch', { existing: true }));
  const dir = repoDir(deps.dataDir, repo);
  const env = gitEnv(deps.dataDir);
  const ref = `refs/heads/${branch}`;
  const repoId = repoIdOf(repo);
  if ((await defaultBranchName(dir, env)) === branch) {
    throw new HubgateError('forbidden', `"${printable(branch)}" is the default branch of ${repoId}: it cannot be deleted`);
  }
  const current = await refTarget(dir, env, ref);
  if (!current) throw new HubgateError('not-found', `Invalid rev id: ${repoId} has no branch "${printable(branch)}"`, 'RevisionNotFound');
  if (!(await deleteRef(dir, env, ref, current))) throw conflict(`branch "${printable(branch)}" moved while it was being deleted: look at it again, then send the request again`);
  const auditError = await recordAuditAfter(deps.db, { actor: actor.user, action: 'branch.delete', repo, details: { branch, commit: current } });
  return { name: branch, ref, targetCommit: current, auditError };
}

/**
 * Tags the commit `revision` names (a branch, tag or commit id) as `tag`: an annotated tag, by
 * `actor`, when a message is given, else a lightweight one. 409 when the tag exists.
 */
export async function createTag(deps: RefDeps, repo: RepoWithOwner, revision: string, opts: { tag: string; message?: string }, actor: Actor): Promise<RefChange> {
  invalidIf(tagProblem(opts.tag));
  invalidIf(revisionProblem(revision));
  const message = opts.message === undefined ? '' : checkText('the tag message', opts.message, { max: MAX_TAG_MESSAGE, multiline: true, optional: true });
  const dir = repoDir(deps.dataDir, repo);
  const env = gitEnv(deps.dataDir);
  const ref = `refs/tags/${opts.tag}`;
  const repoId = repoIdOf(repo);

  const commit = await resolveCommit(dir, env, revision);
  if (!commit) throw new HubgateError('not-found', `Invalid rev id: ${printable(revision)} is not a branch, tag or commit of ${repoId}`, 'RevisionNotFound');
  const tagExists = () => conflict(`tag "${printable(opts.tag)}" already exists in ${repoId}: choose another name, or delete it first`);
  if (await refTarget(dir, env, ref)) throw tagExists();
  const annotated = message.trim() !== '';
  const target = annotated ? await writeTagObject(dir, env, { commit, name: opts.tag, tagger: actor, message }) : commit;
  const created = await createRef(dir, env, ref, target);
  if (created === 'exists') throw tagExists();
  if (typeof created === 'object') throw conflict(clashMessage('tag', opts.tag, created.clash));
  const details: AuditEvent['details'] = { tag: opts.tag, commit, annotated };
  if (annotated) details.object = target;
  const auditError = await recordAuditAfter(deps.db, { actor: actor.user, action: 'tag.create', repo, details });
  return { name: opts.tag, ref, targetCommit: commit, auditError };
}

/** Deletes `tag`; 404 RevisionNotFound when there is none. */
export async function deleteTag(deps: RefDeps, repo: RepoWithOwner, tag: string, actor: { user: string }): Promise<RefChange> {
  invalidIf(refNameProblem(tag, 'tag', { existing: true }));
  const dir = repoDir(deps.dataDir, repo);
  const env = gitEnv(deps.dataDir);
  const ref = `refs/tags/${tag}`;
  const current = await refTarget(dir, env, ref);
  if (!current) throw new HubgateError('not-found', `Invalid rev id: ${repoIdOf(repo)} has no tag "${printable(tag)}"`, 'RevisionNotFound');
  if (!(await deleteRef(dir, env, ref, current))) throw conflict(`tag "${printable(tag)}" changed while it was being deleted: look at it again, then send the request again`);
  const commit = (await resolveCommit(dir, env, current)) ?? current;
  const auditError = await recordAuditAfter(deps.db, { actor: actor.user, action: 'tag.delete', repo, details: { tag, object: current } });
  return { name: tag, ref, targetCommit: commit, auditError };
}
