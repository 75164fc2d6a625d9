import type { MemberRole, User } from '../domain/types.js';
import { type Db, now } from './index.js';

export interface Account {
  id: number;
  name: string;
  kind: 'user' | 'org';
  fullname: string;
  email: string | null;
  isAdmin: boolean;
}

function toAccount(row: { id: number; name: string; kind: 'user' | 'org'; fullname: string; email: string | null; is_admin: number }): Account {
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

export async function setPasswordHash(db: Db, userId: number, passwordHash: string): Promise<void> {
  await db.updateTable('accounts').set({ password_hash: passwordHash }).where('id', '=', userId).execute();
}

export async function passwordHashOf(db: Db, userId: number): Promise<string | null> {
  const row = await db.selectFrom('accounts').select('password_hash').where('id', '=', userId).executeTakeFirst();
  return row?.password_hash ?? null;
}

/** Adds a member or changes the role of an existing one. */
export async function setMembership(db: Db, orgId: number, userId: number, role: MemberRole): Promise<void> {
  await db
    .insertInto('memberships')
    .values({ org_id: orgId, user_id: userId, role, created_at: now() })
    .onConflict((oc) => oc.columns(['org_id', 'user_id']).doUpdateSet({ role }))
    .execute();
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
    .where('accounts.email', 'is not', null)
    .where('accounts.email', '!=', '')
    .orderBy('memberships.created_at')
    .orderBy('memberships.user_id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.email!);
}
