import { createAccount, findAccount, type Account, orgsOfUser, passwordHashOf, setPasswordHash } from '../db/accounts.js';
import { deleteSessionsOfUser } from '../db/sessions.js';
import { type Db, isUniqueViolation } from '../db/index.js';
import { checkNamespace, printable } from '../domain/names.js';
import { badRequest, conflict, notFound } from '../domain/errors.js';
import { checkText } from '../domain/text.js';
import type { MemberRole, User } from '../domain/types.js';
import { hashPassword, verifyPassword } from '../identity/passwords.js';
import { recordAudit } from './audit.js';

export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

async function create(db: Db, a: Parameters<typeof createAccount>[1]): Promise<Account> {
  checkNamespace(a.name);
  try {
    return await createAccount(db, a);
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`the name "${a.name}" is already taken by a user or organization`);
    throw err;
  }
}

export async function createUser(
  db: Db,
  u: { name: string; email?: string; fullname?: string; password?: string; isAdmin?: boolean },
  actor: string | null,
): Promise<Account> {
  if (u.email !== undefined && !EMAIL.test(u.email)) throw badRequest(`invalid email "${printable(u.email)}"`);
  // Names and addresses go into e-mail headers and onto pages: one printable line each.
  if (u.email !== undefined) checkText('the email', u.email, { max: 254 });
  if (u.fullname !== undefined) checkText('the full name', u.fullname, { max: 200 });
  if (u.password !== undefined) checkPassword(u.password);
  const passwordHash = u.password === undefined ? null : await hashPassword(u.password);
  const user = await create(db, { name: u.name, kind: 'user', email: u.email ?? null, fullname: u.fullname, passwordHash, isAdmin: u.isAdmin });
  await recordAudit(db, { actor, action: 'user.create', target: user.name, details: { admin: user.isAdmin } });
  return user;
}

export function checkPassword(password: string): void {
  if (password.length < 8) throw badRequest('the password must have at least 8 characters');
}

/** Sets a user's web password (pages only; never git or the API) and ends their web sessions. */
export async function setPassword(db: Db, userName: string, password: string, actor: string | null): Promise<void> {
  checkPassword(password);
  const user = await requireAccount(db, userName, 'user');
  await setPasswordHash(db, user.id, await hashPassword(password));
  await deleteSessionsOfUser(db, user.id);
  await recordAudit(db, { actor, action: 'user.password', target: user.name });
}

/** Verified against when the user does not exist, so a missing user takes as long as a wrong password. */
let decoyHash: Promise<string> | undefined;

/** The user whose web password this is (sign-in on the pages); undefined for a wrong name or password, told apart by neither answer nor time. */
export async function verifyLogin(db: Db, userName: string, password: string): Promise<User | undefined> {
  const account = userName ? await findAccount(db, userName) : undefined;
  const stored = account?.kind === 'user' ? await passwordHashOf(db, account.id) : null;
  const ok = stored ? await verifyPassword(password, stored) : await verifyPassword(password, await (decoyHash ??= hashPassword('decoy password')));
  return account && stored && ok ? account : undefined;
}

export async function createOrg(db: Db, o: { name: string; fullname?: string }, actor: string | null): Promise<Account> {
  if (o.fullname !== undefined) checkText('the full name', o.fullname, { max: 200 });
  const org = await create(db, { name: o.name, kind: 'org', fullname: o.fullname });
  await recordAudit(db, { actor, action: 'org.create', target: org.name });
  return org;
}

export async function requireAccount(db: Db, name: string, kind: 'user' | 'org'): Promise<Account> {
  const account = await findAccount(db, name);
  if (!account || account.kind !== kind) {
    const how = kind === 'user' ? `hubgate user create ${name}` : `hubgate org create ${name}`;
    throw notFound(`no ${kind === 'user' ? 'user' : 'organization'} named "${name}": create it with \`${how}\``);
  }
  return account;
}

/** The user or organization with this name (any spelling of it), or undefined: profile pages. */
export function accountNamed(db: Db, name: string): Promise<Account | undefined> {
  return findAccount(db, name);
}

/** The organizations a user belongs to, with the user's role in each (whoami). */
export function organizationsOf(db: Db, userId: number): Promise<{ name: string; fullname: string; role: MemberRole }[]> {
  return orgsOfUser(db, userId);
}
