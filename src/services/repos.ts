import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { findAccount } from '../db/accounts.js';
import { type Db, isUniqueViolation } from '../db/index.js';
import { deleteRepoRow, findRepo, insertRepo, listRepoRows, markRepoReady, moveRepoRow, removeRedirect, removeRepoRow, type RepoWithOwner, unfinishedRepos, updateRepoSettings } from '../db/repos.js';
import { badRequest, conflict, HubgateError, notFound } from '../domain/errors.js';
import { ServiceUnavailable } from '../domain/faults.js';
import { checkName, checkNamespace, type RepoRef, type RepoType, repoIdOf } from '../domain/names.js';
import type { GatedMode, NotifyFrequency } from '../domain/types.js';
import { closeReaders } from '../git/content.js';
import { gitEnv } from '../git/env.js';
import { defaultGitattributes } from '../git/default-gitattributes.js';
import { type HeldLock, takeMaintenanceLock } from '../git/maintenance-lock.js';
import { initBareRepo, repoDir } from '../git/repo-dirs.js';
import { newReposRoot, scratchDir } from '../util/scratch.js';
import { auditRepoName, gateName, recordAudit } from './audit.js';
import { refreshListing } from './listing.js';

/**
 * Creates a repo, whole or not at all: the bare repo with the Hub's default .gitattributes as its
 * first commit is built in scratch space (DATA/repos/.tmp), then the row is inserted (the name is
 * claimed there, once), then the directory is renamed into place. Whatever fails (a full or
 * read-only disk, a name taken meanwhile) undoes what came before, so a retry starts clean.
 */
export async function createRepo(
  db: Db,
  dataDir: string,
  r: RepoRef & { private: boolean; gated: GatedMode },
  actor: string | null,
): Promise<RepoWithOwner> {
  checkNamespace(r.namespace);
  checkName('repo name', r.name);
  const owner = await findAccount(db, r.namespace);
  if (!owner) throw notFound(`no user or organization named "${r.namespace}": create it first with \`hubgate user create\` or \`hubgate org create\``);
  // Taken already: said at once, before building anything (a race is still caught by the row's uniqueness).
  if (await findRepo(db, r.type, owner.name, r.name)) throw conflict(`${repoIdOf(r)} already exists`);
  const scratch = await scratchDir(newReposRoot(dataDir), 'repo');
  try {
    const built = path.join(scratch, 'repo.git');
    await initBareRepo(built, gitEnv(dataDir), defaultGitattributes(r.type));
    let id: number;
    try {
      id = await insertRepo(db, { type: r.type, ownerId: owner.id, name: r.name, private: r.private, gated: r.gated });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`${repoIdOf(r)} already exists`);
      throw err;
    }
    const dir = repoDir(dataDir, { ...r, namespace: owner.name });
    try {
      await moveIntoPlace(dataDir, built, dir);
    } catch (err) {
      await deleteRepoRow(db, id);
      throw err;
    }
    // Visible only now that its directory is in place. Its row gone meanwhile means a starting
    // server took this creation for one a crash cut short: the directory goes too, and the caller retries.
    if (!(await markRepoReady(db, id))) {
      await removeToTrash(dataDir, dir, 'unfinished');
      throw new ServiceUnavailable(`creating ${repoIdOf(r)} was interrupted by a server restart: nothing was kept; create it again`, 1);
    }
    // The name no longer leads to a repo moved away from it: it is this one's now.
    await removeRedirect(db, { type: r.type, namespace: owner.name, name: r.name });
  } finally {
    await fs.rm(scratch, { recursive: true, force: true, maxRetries: 3 });
  }
  const created = (await findRepo(db, r.type, owner.name, r.name))!;
  // Leaves no git reader running (a command-line process must not wait for one to idle out).
  await refreshListing(db, dataDir, created);
  await recordAudit(db, { actor, action: 'repo.create', repo: created, details: { visibility: visibilityName(created.private), gate: gateName(created.gated) } });
  return created;
}

const visibilityName = (isPrivate: boolean): string => (isPrivate ? 'private' : 'public');

/**
 * Removes repos whose creation a crash cut short between claiming the name and putting the
 * directory in place (rows begun before `before`, never made ready): the row, and a directory if
 * one got there. Returns how many. Run at start (before: the process's start) and periodically.
 */
export async function releaseUnfinishedRepos(db: Db, dataDir: string, before: Date): Promise<number> {
  const rows = await unfinishedRepos(db, before.toISOString());
  for (const row of rows) {
    await deleteRepoRow(db, row.id);
    await removeToTrash(dataDir, repoDir(dataDir, row), 'unfinished');
  }
  return rows.length;
}

/**
 * Renames a newly built repo to `dir`. A directory already there belongs to no repo (the caller
 * holds the name's row): one left by a deletion in progress or a crash, moved aside to the trash.
 */
async function moveIntoPlace(dataDir: string, built: string, dir: string): Promise<void> {
  await fs.mkdir(path.dirname(dir), { recursive: true });
  try {
    await fs.rename(built, dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    await removeToTrash(dataDir, dir, 'stray');
    await fs.rename(built, dir);
  }
}

/**
 * Renames `dir` into DATA/trash (atomic, so its name is free at once), then removes it from
 * there; where it cannot be moved aside it is removed in place. Nothing there is fine too.
 */
async function removeToTrash(dataDir: string, dir: string, label: string): Promise<void> {
  const trash = path.join(dataDir, 'trash', `${label}-${randomUUID()}`);
  try {
    await fs.mkdir(path.dirname(trash), { recursive: true });
    await fs.rename(dir, trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
    return;
  }
  // A background repack may still be writing into it: retry instead of leaving half a tree.
  await fs.rm(trash, { recursive: true, force: true, maxRetries: 3 });
}

/** The repo the reference names (in any spelling of its names); not-found when there is none. */
export async function requireRepo(db: Db, ref: RepoRef): Promise<RepoWithOwner> {
  const repo = await findRepo(db, ref.type, ref.namespace, ref.name);
  if (!repo) throw notFound(`no ${ref.type} repo ${repoIdOf(ref)}`);
  return repo;
}

/** The repo's row as it is now (settings may have changed since `repo` was read); undefined once deleted. */
export async function currentRepo(db: Db, repo: RepoRef): Promise<RepoWithOwner | undefined> {
  return findRepo(db, repo.type, repo.namespace, repo.name);
}

/** A repo's settings: what the settings page, the API's PUT .../settings and `hubgate repo gate` change. */
export interface SettingsChange {
  private?: boolean;
  gated?: GatedMode;
  /** null: notify the owner, or an org's first admins. */
  notifyEmail?: string | null;
  notifyFrequency?: NotifyFrequency;
}

/** Notification addresses, as every front end accepts them (the pages' form and the API say the same). */
export const NOTIFY_EMAIL = z.email({ message: 'use an email address such as name@example.com' }).max(254);

const GATED_MODES: readonly GatedMode[] = [false, 'auto', 'manual'];
const FREQUENCIES: readonly NotifyFrequency[] = ['instant', 'daily'];

/**
 * Changes the given settings of a repo (fields left undefined keep their value) and returns the
 * repo as it is now. The one writer of settings: front ends parse their own form of the change.
 */
export async function updateSettings(db: Db, repo: RepoWithOwner, changes: SettingsChange, actor: string | null): Promise<RepoWithOwner> {
  const invalid = (message: string) => new HubgateError('invalid', `invalid settings: ${message}`);
  if (changes.gated !== undefined && !GATED_MODES.includes(changes.gated)) throw invalid('gated must be false, "auto" or "manual"');
  if (changes.private !== undefined && typeof changes.private !== 'boolean') throw invalid('private must be true or false');
  if (changes.notifyFrequency !== undefined && !FREQUENCIES.includes(changes.notifyFrequency)) throw invalid('the notification frequency must be "instant" or "daily"');
  if (changes.notifyEmail != null && !NOTIFY_EMAIL.safeParse(changes.notifyEmail).success) throw invalid('the notification email must be an email address such as name@example.com');
  await updateRepoSettings(db, repo.id, changes);
  const updated = await currentRepo(db, repo);
  if (!updated) throw notFound(`${repoIdOf(repo)} was deleted meanwhile`);
  // One entry per kind of change, old -> new; a setting sent with its current value records nothing.
  const changed = (action: 'repo.visibility' | 'repo.gate' | 'repo.settings', old: string | null, now: string | null, setting?: string) =>
    old === now ? undefined : recordAudit(db, { actor, action, repo: updated, details: { ...(setting ? { setting } : {}), old, new: now } });
  await changed('repo.visibility', visibilityName(repo.private), visibilityName(updated.private));
  await changed('repo.gate', gateName(repo.gated), gateName(updated.gated));
  await changed('repo.settings', repo.notifyEmail, updated.notifyEmail, 'notifyEmail');
  await changed('repo.settings', repo.notifyFrequency, updated.notifyFrequency, 'notifyFrequency');
  return updated;
}

/**
 * Deletes a repo: first its row (one statement; access requests, LFS links, locks and uploads
 * cascade), so from that moment every route answers 404; then its directory is renamed into
 * DATA/trash (atomic, so a repo of the same name can be created at once) and removed from there.
 * LFS objects stay in the store: they are content-addressed and other repos may link them.
 * False when the repo was already deleted.
 */
export async function deleteRepo(db: Db, dataDir: string, repo: RepoWithOwner, actor: string | null): Promise<boolean> {
  const dir = repoDir(dataDir, repo);
  if (!(await removeRepoRow(db, repo.id))) return false;
  await recordAudit(db, { actor, action: 'repo.delete', repo });
  closeReaders(dir);
  await removeToTrash(dataDir, dir, String(repo.id));
  return true;
}

/** Repos by type, namespace and name; only those of `namespace` and/or `type` when given (not-found for an unknown namespace). */
export async function listRepos(db: Db, filter: { namespace?: string; type?: RepoType } = {}): Promise<RepoWithOwner[]> {
  if (filter.namespace !== undefined && !(await findAccount(db, filter.namespace))) throw notFound(`no user or organization named "${filter.namespace}"`);
  return listRepoRows(db, filter);
}

/** Makes a repo private or public (updateSettings records repo.visibility); returns the repo as it is now. */
export function setVisibility(db: Db, repo: RepoWithOwner, isPrivate: boolean, actor: string | null): Promise<RepoWithOwner> {
  return updateSettings(db, repo, { private: isPrivate }, actor);
}

/** How long a move waits for a running maintenance (repack) of the repo to finish. */
const MOVE_WAITS_FOR_MAINTENANCE_MS = 10_000;

async function takeLockWaiting(dir: string, ms: number): Promise<HeldLock | null> {
  for (const deadline = Date.now() + ms; ; ) {
    const lock = await takeMaintenanceLock(dir);
    if (lock) return lock;
    if (Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Renames a repo, or moves it to another namespace (a transfer), keeping its id and so its
 * access requests, LFS objects and locks; repo.move in the audit log. The row and the directory
 * change together: the row is updated in a transaction that renames the directory before it
 * commits, and the rename is undone when the commit fails. The repo's maintenance lock is held
 * meanwhile (a repack never runs in a directory being moved), and the warm readers of both
 * directories are stopped, so nothing keyed by the old directory serves a repo created there later.
 * The target must not exist; a repo keeps its type. The old name redirects to the repo until a
 * repo is created or moved there.
 */
export async function moveRepo(db: Db, dataDir: string, from: RepoRef, to: RepoRef, actor: string | null): Promise<RepoWithOwner> {
  checkNamespace(to.namespace);
  checkName('repo name', to.name);
  if (from.type !== to.type) throw badRequest(`a repo keeps its type: ${repoIdOf(from)} is a ${from.type} repo, so move it to another ${from.type} name`);
  const repo = await requireRepo(db, from);
  const owner = await findAccount(db, to.namespace);
  if (!owner) throw notFound(`no user or organization named "${to.namespace}": create it first with \`hubgate user create\` or \`hubgate org create\``);
  const target: RepoRef = { type: repo.type, namespace: owner.name, name: to.name };
  if (owner.id === repo.ownerId && to.name === repo.name) return repo;
  const taken = await findRepo(db, target.type, target.namespace, target.name);
  if (taken && taken.id !== repo.id) throw conflict(`${repoIdOf(target)} already exists: choose another name, or delete that repo first`);

  const fromDir = repoDir(dataDir, repo);
  const toDir = repoDir(dataDir, target);
  const lock = await takeLockWaiting(fromDir, MOVE_WAITS_FOR_MAINTENANCE_MS);
  if (!lock) {
    throw new HubgateError('unavailable', `${repoIdOf(repo)} is being repacked: try the move again in a minute`);
  }
  let moved = false;
  let done: boolean;
  try {
    const move = { from: { type: repo.type, namespace: repo.namespace, name: repo.name }, to: { ...target, ownerId: owner.id } };
    done = await moveRepoRow(db, repo.id, move, async () => {
      await moveIntoPlace(dataDir, fromDir, toDir);
      moved = true;
    });
  } catch (err) {
    if (moved) await fs.rename(toDir, fromDir);
    await lock.release(fromDir);
    if (isUniqueViolation(err)) throw conflict(`${repoIdOf(target)} already exists: choose another name, or delete that repo first`);
    throw err;
  } finally {
    closeReaders(fromDir);
    closeReaders(toDir);
  }
  await lock.release(done ? toDir : fromDir);
  if (!done) throw notFound(`${repoIdOf(repo)} was deleted meanwhile`);
  // The old namespace's folder, once it holds no repo of this type (rmdir refuses a folder that is not empty).
  await fs.rmdir(path.dirname(fromDir)).catch(() => {});
  const now = (await findRepo(db, target.type, target.namespace, target.name))!;
  await recordAudit(db, { actor, action: 'repo.move', repo: now, details: { from: auditRepoName(repo), to: auditRepoName(now) } });
  return now;
}

