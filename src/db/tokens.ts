import type { TokenInfo, TokenRole } from '../domain/types.js';
import { type Db, now } from './index.js';

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

/** The live (not revoked) token whose secret hashes to `secretSha256`, with the stored hash for a constant-time check. */
export async function findLiveTokenByHash(db: Db, secretSha256: string): Promise<(TokenInfo & { secretSha256: string }) | undefined> {
  const row = await db
    .selectFrom('tokens')
    .select([...columns, 'secret_sha256'])
    .where('secret_sha256', '=', secretSha256)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row && { ...toInfo(row), secretSha256: row.secret_sha256 };
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
