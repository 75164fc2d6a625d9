import { findUserById } from '../db/accounts.js';
import type { Db } from '../db/index.js';
import { insertToken, listTokens, replaceTokenSecret, revokeToken } from '../db/tokens.js';
import { badRequest, notFound } from '../domain/errors.js';
import { checkText } from '../domain/text.js';
import type { TokenInfo, TokenRole } from '../domain/types.js';
import { generateToken, hashToken } from '../identity/tokens.js';
import { requireAccount } from './accounts.js';
import { recordAudit } from './audit.js';

/**
 * Creates a token and returns its secret: the only time it exists outside the caller's hands.
 * `actor`: the user doing it (null from the command line), for the audit log, as in every service below.
 */
export async function createToken(db: Db, userName: string, role: TokenRole, name: string | undefined, actor: string | null): Promise<{ secret: string; info: TokenInfo }> {
  const user = await requireAccount(db, userName, 'user');
  const displayName = name ?? `${role} token`;
  if (displayName.length < 1 || displayName.length > 100) throw badRequest('the token name must have 1 to 100 characters');
  checkText('the token name', displayName, { max: 100 });
  const secret = generateToken();
  const info = await insertToken(db, { userId: user.id, name: displayName, role, secretSha256: hashToken(secret) });
  await recordAudit(db, { actor, action: 'token.create', target: user.name, details: { id: info.id, name: info.name, role } });
  return { secret, info };
}

export async function tokensOf(db: Db, userName: string): Promise<TokenInfo[]> {
  const user = await requireAccount(db, userName, 'user');
  return listTokens(db, user.id);
}

/** Every token of the user, revoked ones included (the tokens page lists both). */
export async function tokensOfUser(db: Db, userId: number): Promise<TokenInfo[]> {
  return listTokens(db, userId);
}

export async function revoke(db: Db, id: number, actor: string | null): Promise<void> {
  const token = await revokeToken(db, id);
  if (!token) throw notFound(`no live token with id ${id}: see \`hubgate token list USER\``);
  const owner = await findUserById(db, token.userId);
  await recordAudit(db, { actor, action: 'token.revoke', target: owner?.name, details: { id, name: token.name, role: token.role } });
}

/**
 * Refreshes a live token of the user: a new secret for the same token (id, name and role stay),
 * returned once; the old secret fails from now on. Not found when the user has no such live token.
 */
export async function rotateToken(db: Db, userName: string, tokenId: number, actor: string | null): Promise<{ secret: string; info: TokenInfo }> {
  const user = await requireAccount(db, userName, 'user');
  const secret = generateToken();
  const info = await replaceTokenSecret(db, tokenId, user.id, hashToken(secret));
  if (!info) throw notFound(`${user.name} has no live token with id ${tokenId}: it may be revoked; create a new one`);
  await recordAudit(db, { actor, action: 'token.rotate', target: user.name, details: { id: info.id, name: info.name, role: info.role } });
  return { secret, info };
}
