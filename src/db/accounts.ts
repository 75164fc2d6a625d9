import type { MemberRole, User } from '../domain/types.js';
import { sql } from 'kysely';
import { type Db, isPostgres, now } from './index.js';

export interface Account {
  id: number;
  name: string;
  kind: 'user' | 'org';
  fullname: string;
  email: string | null;
  isAdmin: boolean;
}

export function toAccount(row: { id: number; name: string; kind: 'user' | 'org'; fullname: string; email: string | null; is_admin: number }): Account {
  return { id: row.id, name: row.name, kind: row.kind, fullname: row.fullname, email: row.email, isAdmin: row.is_admin === 1 };
}

const accountColumns = ['id', 'name', 'kind', 'fullname', 'email', 'is_admin'] as const;

export async function createAccount(
  db: Db,
  a: { name: string; kind: 'user' | 'org'; fullname?: string; email?: string | null; passwordHash?: string | null; isAdmin?: boolean },
): Promise<Account> {
  const row = await db
    .insertInto('accounts')
    .values({
      name: a.name,
      kind: a.kind,
      fullname: a.fullname ?? '',
      email: a.email ?? null,
      password_hash: a.passwordHash ?? null,
      is_admin: a.isAdmin ? 1 : 0,
      created_at: now(),
    })
    .returning(accountColumns)
    .executeTakeFirstOrThrow();
  return toAccount(row);
}

export async function findAccount(db: Db, name: string): Promise<Account | undefined> {
  const row = await db.selectFrom('accounts').select(accountColumns).where('name', '=', name).executeTakeFirst();
  return row && toAccount(row);
}

export async function findUserById(db: Db, id: number): Promise<User | undefined> {
  const row = await db.selectFrom('accounts').select(accountColumns).where('id', '=', id).where('kind', '=', 'user').executeTakeFirst();
  return row && toAccount(row);
}

/**
 * The user behind a request (a token, a session, a download link issued to them): undefined when
 * there is none or the user is disabled. The one place a disabled user stops being anybody.
 */
export async function findActiveUserById(db: Db, id: number): Promise<User | undefined> {
  const row = await db
    .selectFrom('accounts')
    .select(accountColumns)
    .where('id', '=', id)
    .where('kind', '=', 'user')
    .where('disabled_at', 'is', null)
    .executeTakeFirst();
  return row && toAccount(row);
}

export async function setPasswordHash(db: Db, userId: number, passwordHash: string): Promise<void> {
  await db.updateTable('accounts').set({ password_hash: passwordHash }).where('id', '=', userId).execute();
}

/** The user's web password hash; null when none is set or the user is disabled (who then cannot sign in). */
export async function passwordHashOf(db: Db, userId: number): Promise<string | null> {
  const row = await db.selectFrom('accounts').select('password_hash').where('id', '=', userId).where('disabled_at', 'is', null).executeTakeFirst();
  return row?.password_hash ?? null;
}

export async function membershipRole(db: Db, orgId: number, userId: number): Promise<MemberRole | undefined> {
  const row = await db
    .selectFrom('memberships')
    .select('role')
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row?.role;
}

/** The organizations a user belongs to, with the user's role in each, by name. */
export async function orgsOfUser(db: Db, userId: number): Promise<{ name: string; fullname: string; role: MemberRole }[]> {
  return db
    .selectFrom('memberships')
    .innerJoin('accounts', 'accounts.id', 'memberships.org_id')
    .select(['accounts.name', 'accounts.fullname', 'memberships.role'])
    .where('memberships.user_id', '=', userId)
    .orderBy('accounts.name')
    .execute();
}

/**
 * The email addresses of an org's first `limit` admins who have one, in the order they
 * became members (then by id): whom new access requests to the org's repos are announced to.
 */
export async function firstAdminEmails(db: Db, orgId: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('accounts', 'accounts.id', 'memberships.user_id')
    .select('accounts.email')
    .where('memberships.org_id', '=', orgId)
    .where('memberships.role', '=', 'admin')
    .where('accounts.disabled_at', 'is', null)
    .where('accounts.email', 'is not', null)
    .where('accounts.email', '!=', '')
    .orderBy('memberships.created_at')
    .orderBy('memberships.user_id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.email!);
}

/** Every organization with how many members it has, by name. */
export async function listOrgRows(db: Db): Promise<{ name: string; fullname: string; createdAt: string; members: number }[]> {
  const rows = await db
    .selectFrom('accounts')
    .leftJoin('memberships', 'memberships.org_id', 'accounts.id')
    .select(['accounts.name', 'accounts.fullname', 'accounts.created_at', (eb) => eb.fn.count<number>('memberships.user_id').as('members')])
    .where('accounts.kind', '=', 'org')
    .groupBy('accounts.id')
    .orderBy('accounts.name')
    .execute();
  return rows.map((r) => ({ name: r.name, fullname: r.fullname, createdAt: r.created_at, members: Number(r.members) }));
}

/** An organization's members with their roles, by name. */
export async function membersOf(db: Db, orgId: number): Promise<{ name: string; fullname: string; role: MemberRole; since: string }[]> {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('accounts', 'accounts.id', 'memberships.user_id')
    .select(['accounts.name', 'accounts.fullname', 'memberships.role', 'memberships.created_at'])
    .where('memberships.org_id', '=', orgId)
    .orderBy('accounts.name')
    .execute();
  return rows.map((r) => ({ name: r.name, fullname: r.fullname, role: r.role, since: r.created_at }));
}

/** SQL true when the membership row `m` is not the org's only admin (it is no admin, or another member is). */
const notLastAdmin = (m: string) =>
  sql<boolean>`(${sql.ref(`${m}.role`)} != 'admin' or exists (select 1 from memberships other where other.org_id = ${sql.ref(`${m}.org_id`)} and other.role = 'admin' and other.user_id != ${sql.ref(`${m}.user_id`)}))`;

/**
 * Runs `fn` with the account's row held against other writers of it, on PostgreSQL: there each
 * statement sees the rows committed when it began (read committed), so two demotions of an org's
 * two admins could each see the other still admin. Holding the org's row (FOR UPDATE) makes such
 * changes to one org take turns, and a repo being created for it (whose foreign key takes a
 * share lock on the row) is either seen or waits. SQLite runs one writer at a time anyway.
 */
async function holdingAccount<T>(db: Db, accountId: number, fn: (db: Db) => Promise<T>): Promise<T> {
  if (!isPostgres(db)) return fn(db);
  return db.transaction().execute(async (tx) => {
    await tx.selectFrom('accounts').select('id').where('id', '=', accountId).forUpdate().execute();
    return fn(tx);
  });
}

/**
 * Adds a member or changes a member's role, in one statement that refuses to demote the
 * organization's last admin (so two demotions at once cannot both pass). 'last-admin' when refused.
 */
export function setMembershipKeepingAdmin(db: Db, orgId: number, userId: number, role: MemberRole): Promise<'set' | 'last-admin'> {
  return holdingAccount(db, orgId, (db) => setMembership(db, orgId, userId, role));
}

async function setMembership(db: Db, orgId: number, userId: number, role: MemberRole): Promise<'set' | 'last-admin'> {
  const res = await db
    .insertInto('memberships')
    .values({ org_id: orgId, user_id: userId, role, created_at: now() })
    .onConflict((oc) =>
      oc
        .columns(['org_id', 'user_id'])
        .doUpdateSet({ role })
        .where(sql<boolean>`(excluded.role = 'admin' or ${notLastAdmin('memberships')})`),
    )
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1 ? 'set' : 'last-admin';
}

/** Removes a member in one statement that refuses to remove the organization's last admin. */
export function removeMembershipKeepingAdmin(db: Db, orgId: number, userId: number): Promise<'removed' | 'not-member' | 'last-admin'> {
  return holdingAccount(db, orgId, (db) => removeMembership(db, orgId, userId));
}

async function removeMembership(db: Db, orgId: number, userId: number): Promise<'removed' | 'not-member' | 'last-admin'> {
  const res = await db
    .deleteFrom('memberships')
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .where(notLastAdmin('memberships'))
    .executeTakeFirst();
  if (Number(res.numDeletedRows) === 1) return 'removed';
  return (await membershipRole(db, orgId, userId)) ? 'last-admin' : 'not-member';
}

/**
 * Deletes an organization (its memberships go with it) in one statement that refuses while it
 * owns a repo, so a repo created meanwhile is never deleted with it. False when refused or gone.
 */
export function deleteOrgWithoutRepos(db: Db, orgId: number): Promise<boolean> {
  return holdingAccount(db, orgId, async (db) => {
    const res = await db
      .deleteFrom('accounts')
      .where('id', '=', orgId)
      .where('kind', '=', 'org')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('repos').select('repos.id').where('repos.owner_id', '=', orgId))))
      .executeTakeFirst();
    return Number(res.numDeletedRows) === 1;
  });
}
// Site administration of users (src/services/users.ts).

export interface UserListing extends Account {
  disabledAt: string | null;
  createdAt: string;
}

/** Every user (not orgs), by name. */
export async function listUserAccounts(db: Db): Promise<UserListing[]> {
  const rows = await db
    .selectFrom('accounts')
    .select([...accountColumns, 'disabled_at', 'created_at'])
    .where('kind', '=', 'user')
    .orderBy('name')
    .execute();
  return rows.map((r) => ({ ...toAccount(r), disabledAt: r.disabled_at, createdAt: r.created_at }));
}

/** When the user was disabled, or null. */
export async function disabledAtOf(db: Db, userId: number): Promise<string | null> {
  const row = await db.selectFrom('accounts').select('disabled_at').where('id', '=', userId).executeTakeFirst();
  return row?.disabled_at ?? null;
}

/** Disables (a time) or enables (null) a user. */
export async function setDisabledAt(db: Db, userId: number, at: string | null): Promise<void> {
  await db.updateTable('accounts').set({ disabled_at: at }).where('id', '=', userId).where('kind', '=', 'user').execute();
}

/** Changes the given fields of a user; fields left undefined keep their value. */
export async function updateUserFields(db: Db, userId: number, f: { email?: string | null; fullname?: string; isAdmin?: boolean }): Promise<void> {
  const set: Partial<{ email: string | null; fullname: string; is_admin: number }> = {};
  if (f.email !== undefined) set.email = f.email;
  if (f.fullname !== undefined) set.fullname = f.fullname;
  if (f.isAdmin !== undefined) set.is_admin = f.isAdmin ? 1 : 0;
  if (Object.keys(set).length === 0) return;
  await db.updateTable('accounts').set(set).where('id', '=', userId).where('kind', '=', 'user').execute();
}

/** Deletes a user's row; tokens, sessions, memberships, access requests and LFS locks go with it (ON DELETE CASCADE). */
export async function deleteUserRow(db: Db, userId: number): Promise<boolean> {
  const res = await db.deleteFrom('accounts').where('id', '=', userId).where('kind', '=', 'user').executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

/** The orgs in which the user is the only admin (deleting the user would leave them with none). */
export async function orgsOnlyAdministeredBy(db: Db, userId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('memberships as m')
    .innerJoin('accounts as o', 'o.id', 'm.org_id')
    .select('o.name')
    .where('m.user_id', '=', userId)
    .where('m.role', '=', 'admin')
    .where((eb) =>
      eb.not(
        eb.exists(
          eb.selectFrom('memberships as other').select('other.user_id').whereRef('other.org_id', '=', 'm.org_id').where('other.role', '=', 'admin').whereRef('other.user_id', '!=', 'm.user_id'),
        ),
      ),
    )
    .orderBy('o.name')
    .execute();
  return rows.map((r) => r.name);
}

/**
 * The users (not orgs) named `names` or whose email is one of `emails` (compared without case):
 * their names and emails, to tell who wrote a commit. Disabled users included: history keeps them.
 */
export async function usersByNameOrEmail(db: Db, names: string[], emails: string[]): Promise<{ name: string; email: string | null }[]> {
  if (names.length === 0 && emails.length === 0) return [];
  const lowered = emails.map((e) => e.toLowerCase());
  return db
    .selectFrom('accounts')
    .select(['name', 'email'])
    .where('kind', '=', 'user')
    .where((eb) => eb.or([...(names.length ? [eb('name', 'in', names)] : []), ...(lowered.length ? [eb(eb.fn('lower', ['email']), 'in', lowered)] : [])]))
    .execute();
}
