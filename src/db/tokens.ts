import type { TokenInfo, TokenRole, User } from '../domain/types.js';
import { toAccount } from './accounts.js';
import { type Db, now, readRows } from './index.js';

function toInfo(row: {
  id: number; user_id: number; name: string; role: TokenRole; created_at: string; last_used_at: string | null; revoked_at: string | null;
}): TokenInfo {
  return { id: row.id, userId: row.user_id, name: row.name, role: row.role, createdAt: row.created_at, lastUsedAt: row.last_used_at, revokedAt: row.revoked_at };
}

const columns = ['id', 'user_id', 'name', 'role', 'created_at', 'last_used_at', 'revoked_at'] as const;

export async function insertToken(db: Db, t: { userId: number; name: string; role: TokenRole; secretSha256: string }): Promise<TokenInfo> {
  const row = await db
    .insertInto('tokens')
    .values({ user_id: t.userId, name: t.name, role: t.role, secret_sha256: t.secretSha256, created_at: now() })
    .returning(columns)
    .executeTakeFirstOrThrow();
  return toInfo(row);
}

// One statement, prepared once, for every request with a token: the live token and its user, when
// the user is active (a disabled user is nobody, as in findActiveUserById).
const LIVE_TOKEN_WITH_USER = `SELECT tokens.id, tokens.user_id, tokens.name, tokens.role, tokens.created_at, tokens.last_used_at, tokens.revoked_at, tokens.secret_sha256,
    accounts.name AS user_name, accounts.kind AS user_kind, accounts.fullname, accounts.email, accounts.is_admin
  FROM tokens
  JOIN accounts ON accounts.id = tokens.user_id AND accounts.kind = 'user' AND accounts.disabled_at IS NULL
  WHERE tokens.secret_sha256 = ? AND tokens.revoked_at IS NULL`;

type TokenUserRow = {
  id: number; user_id: number; name: string; role: TokenRole; created_at: string; last_used_at: string | null; revoked_at: string | null; secret_sha256: string;
  user_name: string; user_kind: 'user'; fullname: string; email: string | null; is_admin: number;
};

/** The live token whose secret hashes to `secretSha256` with its active user, in one query; undefined when there is none or its user is disabled. */
export async function findLiveTokenWithUser(db: Db, secretSha256: string): Promise<{ token: TokenInfo & { secretSha256: string }; user: User } | undefined> {
  const rows = await readRows<TokenUserRow>(db, LIVE_TOKEN_WITH_USER, [secretSha256]);
  const row = rows[0];
  if (!row) return undefined;
  return {
    token: { ...toInfo(row), secretSha256: row.secret_sha256 },
    user: toAccount({ id: row.user_id, name: row.user_name, kind: row.user_kind, fullname: row.fullname, email: row.email, is_admin: row.is_admin }),
  };
}

export async function listTokens(db: Db, userId: number): Promise<TokenInfo[]> {
  const rows = await db.selectFrom('tokens').select(columns).where('user_id', '=', userId).orderBy('id').execute();
  return rows.map(toInfo);
}

/** Revokes a live token and returns it; undefined when there is no such live token. */
export async function revokeToken(db: Db, id: number): Promise<TokenInfo | undefined> {
  const row = await db.updateTable('tokens').set({ revoked_at: now() }).where('id', '=', id).where('revoked_at', 'is', null).returning(columns).executeTakeFirst();
  return row && toInfo(row);
}

export async function touchToken(db: Db, id: number, at: string): Promise<void> {
  await db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

/** Gives a live token of the user a new secret hash (the old secret stops matching at once); undefined when there is no such live token. */
export async function replaceTokenSecret(db: Db, id: number, userId: number, secretSha256: string): Promise<TokenInfo | undefined> {
  const row = await db
    .updateTable('tokens')
    .set({ secret_sha256: secretSha256 })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning(columns)
    .executeTakeFirst();
  return row && toInfo(row);
}
