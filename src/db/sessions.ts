import type { Db } from './index.js';

// Web sessions of hubgate's pages. Only the SHA-256 of the cookie's secret is stored.

export interface SessionRow {
  idSha256: string;
  userId: number;
  csrfToken: string;
  expiresAt: string;
}

export async function insertSession(db: Db, s: SessionRow & { createdAt: string }): Promise<void> {
  await db
    .insertInto('sessions')
    .values({ id_sha256: s.idSha256, user_id: s.userId, csrf_token: s.csrfToken, created_at: s.createdAt, expires_at: s.expiresAt })
    .execute();
}

/** The session whose secret hashes to `idSha256`, unless it expired before `at`. */
export async function findLiveSession(db: Db, idSha256: string, at: string): Promise<SessionRow | undefined> {
  const row = await db
    .selectFrom('sessions')
    .select(['id_sha256', 'user_id', 'csrf_token', 'expires_at'])
    .where('id_sha256', '=', idSha256)
    .where('expires_at', '>', at)
    .executeTakeFirst();
  return row && { idSha256: row.id_sha256, userId: row.user_id, csrfToken: row.csrf_token, expiresAt: row.expires_at };
}

export async function deleteSession(db: Db, idSha256: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_sha256', '=', idSha256).execute();
}

/** Signs the user out everywhere (after a password change). */
export async function deleteSessionsOfUser(db: Db, userId: number): Promise<void> {
  await db.deleteFrom('sessions').where('user_id', '=', userId).execute();
}

/** Signs the user out everywhere but in the session `keep` (after they change their own password). */
export async function deleteOtherSessionsOfUser(db: Db, userId: number, keep: string): Promise<void> {
  await db.deleteFrom('sessions').where('user_id', '=', userId).where('id_sha256', '!=', keep).execute();
}

/** Removes the sessions that expired before `at`; run at each sign-in so the table does not grow. */
export async function deleteExpiredSessions(db: Db, at: string): Promise<void> {
  await db.deleteFrom('sessions').where('expires_at', '<=', at).execute();
}
