import type { Db } from '../db/index.js';
import { findActiveUserById } from '../db/accounts.js';
import { deleteExpiredSessions, deleteSession, findLiveSession, insertSession, type SessionRow } from '../db/sessions.js';
import type { User } from '../domain/types.js';

// Web sessions of hubgate's pages, as stored: the cookie and CSRF handling stay with the pages
// (src/http/pages/session.ts); only the SHA-256 of the cookie's secret reaches the database.

/** Records a new session; expired ones are swept at the same time, and `replacing` (the browser's previous session) ends. */
export async function openSession(db: Db, session: SessionRow & { createdAt: string }, replacing?: string): Promise<void> {
  await deleteExpiredSessions(db, session.createdAt);
  if (replacing) await deleteSession(db, replacing);
  await insertSession(db, session);
}

export async function closeSession(db: Db, idSha256: string): Promise<void> {
  await deleteSession(db, idSha256);
}

/** The live session whose secret hashes to `idSha256` and its user; undefined when expired, unknown, or the user is gone or disabled. */
export async function liveSession(db: Db, idSha256: string): Promise<{ session: SessionRow; user: User } | undefined> {
  const session = await findLiveSession(db, idSha256, new Date().toISOString());
  const user = session && (await findActiveUserById(db, session.userId));
  return session && user ? { session, user } : undefined;
}
