import {
  deleteUserRow, disabledAtOf, findAccount, listUserAccounts, orgsOnlyAdministeredBy, passwordHashOf, setDisabledAt,
  setPasswordHash, updateUserFields, type UserListing,
} from '../db/accounts.js';
import type { Db } from '../db/index.js';
import { findRepo, removeRedirectsFrom, reposOwnedBy } from '../db/repos.js';
import { deleteOtherSessionsOfUser, deleteSessionsOfUser } from '../db/sessions.js';
import { badRequest, conflict, HubgateError, notFound } from '../domain/errors.js';
import { printable, type RepoRef, repoIdOf } from '../domain/names.js';
import { checkText } from '../domain/text.js';
import type { User } from '../domain/types.js';
import { hashPassword, verifyPassword } from '../identity/passwords.js';
import { checkPassword, EMAIL, requireAccount } from './accounts.js';
import { recordAudit } from './audit.js';
import { deleteRepo, moveRepo } from './repos.js';

// Site administration of users (`hubgate user ...`, /api/admin/users, /admin/users) and each
// user's own profile (/settings/profile). `actor` is the site admin acting (null from the CLI).
//
// A disabled user keeps their rows: repos (which go on serving others), memberships, tokens. What
// stops is the user: src/db/accounts.ts's findActiveUserById (tokens, sessions, download links)
// and passwordHashOf (sign-in) know no disabled user, so every token, session and link issued to
// them refuses at its next request. Their sessions are also ended, so enabling them again needs a
// new sign-in on the pages, while their tokens (never revoked) work again at once.

export type { UserListing };

/** Every user, by name, with when they were created and disabled. */
export function listUsers(db: Db): Promise<UserListing[]> {
  return listUserAccounts(db);
}

function refuseSelf(actor: string | null, user: { name: string }, what: string): void {
  if (actor !== null && actor.toLowerCase() === user.name.toLowerCase()) {
    throw new HubgateError('forbidden', `you cannot ${what} yourself: ask another site admin, or use \`hubgate user\` on the server`);
  }
}

/** Disables a user at once; false when they were disabled already. */
export async function disableUser(db: Db, name: string, actor: string | null): Promise<boolean> {
  const user = await requireAccount(db, name, 'user');
  refuseSelf(actor, user, 'disable');
  if (await disabledAtOf(db, user.id)) return false;
  await setDisabledAt(db, user.id, new Date().toISOString());
  await deleteSessionsOfUser(db, user.id);
  await recordAudit(db, { actor, action: 'user.disable', target: user.name });
  return true;
}

/** Enables a disabled user again (tokens work at once; pages need a new sign-in); false when they were not disabled. */
export async function enableUser(db: Db, name: string, actor: string | null): Promise<boolean> {
  const user = await requireAccount(db, name, 'user');
  if (!(await disabledAtOf(db, user.id))) return false;
  await setDisabledAt(db, user.id, null);
  await recordAudit(db, { actor, action: 'user.enable', target: user.name });
  return true;
}

export interface UserChanges {
  /** '' or null clears it. */
  email?: string | null;
  fullname?: string;
  isAdmin?: boolean;
}

function checkChanges(c: UserChanges): { email?: string | null; fullname?: string; isAdmin?: boolean } {
  const out: { email?: string | null; fullname?: string; isAdmin?: boolean } = {};
  if (c.email !== undefined) {
    const email = c.email === null || c.email === '' ? null : c.email;
    if (email !== null) {
      checkText('the email', email, { max: 254 });
      if (!EMAIL.test(email)) throw badRequest(`invalid email "${printable(email)}": use an address such as name@example.com`);
    }
    out.email = email;
  }
  if (c.fullname !== undefined) out.fullname = checkText('the full name', c.fullname, { max: 200 });
  if (c.isAdmin !== undefined) {
    if (typeof c.isAdmin !== 'boolean') throw badRequest('admin must be true or false');
    out.isAdmin = c.isAdmin;
  }
  return out;
}

/** Changes a user's email, full name or site admin flag (the fields given); returns the user as it is now. */
export async function setUser(db: Db, name: string, changes: UserChanges, actor: string | null): Promise<UserListing> {
  const user = await requireAccount(db, name, 'user');
  const checked = checkChanges(changes);
  if (checked.isAdmin === false) refuseSelf(actor, user, 'remove the site admin role of');
  await updateUserFields(db, user.id, checked);
  const details: Record<string, string | boolean | null> = {};
  if (checked.email !== undefined) details.email = checked.email;
  if (checked.fullname !== undefined) details.fullname = checked.fullname;
  if (checked.isAdmin !== undefined) details.admin = checked.isAdmin;
  if (Object.keys(details).length) await recordAudit(db, { actor, action: 'user.update', target: user.name, details });
  return (await listUserAccounts(db)).find((u) => u.id === user.id)!;
}

/** A user changes their own email and full name (/settings/profile). */
export async function updateOwnProfile(db: Db, user: User, changes: { email?: string | null; fullname?: string }): Promise<void> {
  await setUser(db, user.name, { email: changes.email, fullname: changes.fullname }, user.name);
}

/**
 * A user changes their own web password, giving the current one; every other session of theirs
 * ends (`keepSession`, the one they are using, stays), as `hubgate user password` ends them all.
 */
export async function changeOwnPassword(db: Db, user: User, current: string, next: string, keepSession: string): Promise<void> {
  const stored = await passwordHashOf(db, user.id);
  if (!stored || !(await verifyPassword(current, stored))) throw badRequest('the current password is not right: type the password you signed in with');
  checkPassword(next);
  await setPasswordHash(db, user.id, await hashPassword(next));
  await deleteOtherSessionsOfUser(db, user.id, keepSession);
  await recordAudit(db, { actor: user.name, action: 'user.password', target: user.name });
}

/** What to do with the repos of a user being deleted: move them to another user or org, or delete them. */
export interface DeleteUserOptions {
  transferTo?: string;
  deleteRepos?: boolean;
}

const LISTED = 20;
const listOf = (ids: string[]): string => (ids.length > LISTED ? `${ids.slice(0, LISTED).join(', ')} and ${ids.length - LISTED} more` : ids.join(', '));

/**
 * Deletes a user: their tokens, SSH keys, sessions, memberships, access requests and locks go with them.
 * Refused while they own repos, unless `transferTo` (their repos move to that user or org, names
 * kept) or `deleteRepos`; refused while they are the only admin of an org.
 */
export async function deleteUser(db: Db, dataDir: string, name: string, opts: DeleteUserOptions, actor: string | null): Promise<{ transferred: string[]; deleted: string[] }> {
  const user = await requireAccount(db, name, 'user');
  refuseSelf(actor, user, 'delete');
  if (opts.transferTo !== undefined && opts.deleteRepos) throw badRequest('give either a namespace to transfer the repos to or delete them, not both');
  const soleAdmin = await orgsOnlyAdministeredBy(db, user.id);
  if (soleAdmin.length) {
    throw conflict(`cannot delete user "${user.name}": they are the only admin of ${listOf(soleAdmin)}; make another member admin first (\`hubgate org add ORG USER --role admin\`)`);
  }
  const owned = (await reposOwnedBy(db, user.id)).filter((r) => r.ready);
  const ids = owned.map(repoIdOf);
  let transferred: string[] = [];
  const deleted: string[] = [];
  if (owned.length && opts.transferTo === undefined && !opts.deleteRepos) {
    throw conflict(
      `cannot delete user "${user.name}": they own ${owned.length} repo${owned.length === 1 ? '' : 's'} (${listOf(ids)}); ` +
        'transfer them to another user or organization (--transfer-to NS; "transferTo" in the API) or delete them (--delete-repos; "deleteRepos")',
    );
  }
  if (opts.transferTo !== undefined) {
    transferred = await transferRepos(db, dataDir, user, opts.transferTo, owned, actor);
  } else if (opts.deleteRepos) {
    for (const r of owned) {
      const row = await findRepo(db, r.type, r.namespace, r.name);
      if (row && (await deleteRepo(db, dataDir, row, actor))) deleted.push(repoIdOf(r));
    }
  }
  // A repo created meanwhile would go with the row: refuse rather than lose it.
  const left = (await reposOwnedBy(db, user.id)).filter((r) => r.ready);
  if (left.length) throw conflict(`cannot delete user "${user.name}": they created ${listOf(left.map(repoIdOf))} meanwhile; run the deletion again`);
  if (!(await deleteUserRow(db, user.id))) throw notFound(`no user named "${user.name}": it was deleted meanwhile`);
  // The names of repos moved away from the user (transferred just now, or earlier) lead nowhere now.
  await removeRedirectsFrom(db, user.name);
  await recordAudit(db, {
    actor,
    action: 'user.delete',
    target: user.name,
    details: { ...(opts.transferTo !== undefined ? { transferredTo: opts.transferTo, repos: transferred.length } : {}), ...(opts.deleteRepos ? { reposDeleted: deleted.length } : {}) },
  });
  return { transferred, deleted };
}

/**
 * Moves a user's repos to another namespace, keeping their names, one moveRepo each (row and
 * directory together; LFS links, locks and access requests follow the repo's id). Refused before
 * anything moves when the target already has a repo of one of the names.
 */
async function transferRepos(
  db: Db,
  dataDir: string,
  from: { id: number; name: string },
  to: string,
  repos: { id: number; type: RepoRef['type']; namespace: string; name: string }[],
  actor: string | null,
): Promise<string[]> {
  const target = await findAccount(db, to);
  if (!target) throw notFound(`no user or organization named "${printable(to)}" to transfer the repos to: create it first`);
  if (target.id === from.id) throw badRequest(`transfer the repos of "${from.name}" to another user or organization`);
  const taken: string[] = [];
  for (const r of repos) if (await findRepo(db, r.type, target.name, r.name)) taken.push(repoIdOf({ ...r, namespace: target.name }));
  if (taken.length) throw conflict(`cannot transfer to "${target.name}": it already has ${listOf(taken)}; rename or delete those first`);
  const moved: string[] = [];
  for (const r of repos) {
    try {
      moved.push(repoIdOf(await moveRepo(db, dataDir, r, { ...r, namespace: target.name }, actor)));
    } catch (err) {
      if (err instanceof HubgateError && err.kind === 'not-found' && !(await findRepo(db, r.type, r.namespace, r.name))) continue; // deleted meanwhile
      throw err;
    }
  }
  return moved;
}
