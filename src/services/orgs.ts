import {
  deleteOrgWithoutRepos, listOrgRows, membersOf, membershipRole, removeMembershipKeepingAdmin, setMembershipKeepingAdmin,
} from '../db/accounts.js';
import type { Db } from '../db/index.js';
import { listRepoRows, removeRedirectsFrom } from '../db/repos.js';
import { badRequest, conflict, notFound } from '../domain/errors.js';
import { printable, repoIdOf } from '../domain/names.js';
import type { MemberRole } from '../domain/types.js';
import { requireAccount } from './accounts.js';
import { recordAudit } from './audit.js';

// Organizations and their members: what `hubgate org ...`, the org settings page and the API's
// /api/organizations/{org}/members do. Access is decided per request from the memberships table
// (src/access/resolve.ts) and nothing keeps a membership in memory, so a removal or a demotion
// takes effect at the next request, download links included (they ask the policy again).
// An organization keeps at least one admin: each change that could leave it without one is a
// single conditional statement (src/db/accounts.ts), so concurrent changes cannot both pass.

export interface OrgMember {
  name: string;
  fullname: string;
  role: MemberRole;
  /** When the user became a member. */
  since: string;
}

const ROLES: readonly MemberRole[] = ['read', 'write', 'admin'];

function lastAdmin(org: string, user: string): never {
  throw conflict(`${user} is the last admin of ${org}: make another member admin first (e.g. \`hubgate org add ${org} OTHER --role admin\`)`);
}

export function listOrgs(db: Db): Promise<{ name: string; fullname: string; createdAt: string; members: number }[]> {
  return listOrgRows(db);
}

export async function orgMembers(db: Db, orgName: string): Promise<OrgMember[]> {
  const org = await requireAccount(db, orgName, 'org');
  return membersOf(db, org.id);
}

/**
 * Adds a user to an organization with `role`, or changes a member's role (member.add /
 * member.role in the audit log). Demoting the last admin is refused. Returns what changed.
 */
export async function setMember(db: Db, orgName: string, userName: string, role: MemberRole, actor: string | null): Promise<'added' | 'changed' | 'unchanged'> {
  if (!ROLES.includes(role)) throw badRequest(`invalid role "${printable(String(role))}": use read, write or admin`);
  const org = await requireAccount(db, orgName, 'org');
  const user = await requireAccount(db, userName, 'user');
  const before = await membershipRole(db, org.id, user.id);
  if (before === role) return 'unchanged';
  if ((await setMembershipKeepingAdmin(db, org.id, user.id, role)) === 'last-admin') lastAdmin(org.name, user.name);
  const added = before === undefined;
  await recordAudit(db, {
    actor,
    action: added ? 'member.add' : 'member.role',
    target: user.name,
    details: added ? { org: org.name, role } : { org: org.name, old: before, new: role },
  });
  return added ? 'added' : 'changed';
}

/** Removes a member (member.remove); removing the last admin is refused. */
export async function removeMember(db: Db, orgName: string, userName: string, actor: string | null): Promise<void> {
  const org = await requireAccount(db, orgName, 'org');
  const user = await requireAccount(db, userName, 'user');
  const before = await membershipRole(db, org.id, user.id);
  const outcome = await removeMembershipKeepingAdmin(db, org.id, user.id);
  if (outcome === 'not-member') throw notFound(`${user.name} is not a member of ${org.name}`);
  if (outcome === 'last-admin') lastAdmin(org.name, user.name);
  await recordAudit(db, { actor, action: 'member.remove', target: user.name, details: { org: org.name, role: before ?? null } });
}

/** Deletes an organization and its memberships (org.delete); refused while it owns repos, which the message lists. */
export async function deleteOrg(db: Db, orgName: string, actor: string | null): Promise<void> {
  const org = await requireAccount(db, orgName, 'org');
  if (!(await deleteOrgWithoutRepos(db, org.id))) {
    await requireAccount(db, orgName, 'org'); // deleted meanwhile: not found
    const repos = (await listRepoRows(db, { namespace: org.name })).map((r) => repoIdOf(r));
    if (repos.length === 0) throw conflict(`${org.name} could not be deleted: a repo is being created in it; try again`);
    const shown = repos.length > 10 ? `${repos.slice(0, 10).join(', ')} and ${repos.length - 10} more` : repos.join(', ');
    throw conflict(`${org.name} still owns ${repos.length} repo${repos.length === 1 ? '' : 's'} (${shown}): delete them or move them to another namespace first (\`hubgate repo delete\` / \`hubgate repo rename\`)`);
  }
  // The names of repos moved away from the organization lead nowhere now.
  await removeRedirectsFrom(db, org.name);
  await recordAudit(db, { actor, action: 'org.delete', target: org.name });
}

/** Changes the role of an existing member (member.role); not-found when the user is no member. */
export async function changeRole(db: Db, orgName: string, userName: string, role: MemberRole, actor: string | null): Promise<'changed' | 'unchanged'> {
  const org = await requireAccount(db, orgName, 'org');
  const user = await requireAccount(db, userName, 'user');
  if (!(await membershipRole(db, org.id, user.id))) throw notFound(`${user.name} is not a member of ${org.name}: add them instead`);
  const outcome = await setMember(db, org.name, user.name, role, actor);
  return outcome === 'unchanged' ? 'unchanged' : 'changed';
}
