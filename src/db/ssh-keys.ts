import { type Db, now } from './index.js';

// Users' SSH public keys (table ssh_keys): one row per key, found by its unique fingerprint.

export interface SshKeyRow {
  id: number;
  userId: number;
  userName: string;
  title: string;
  algorithm: string;
  /** The key blob, base64 as in the .pub file. */
  publicKey: string;
  fingerprint: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const selectKeys = (db: Db) =>
  db
    .selectFrom('ssh_keys')
    .innerJoin('accounts', 'accounts.id', 'ssh_keys.user_id')
    .select([
      'ssh_keys.id', 'ssh_keys.user_id', 'accounts.name', 'ssh_keys.title', 'ssh_keys.algorithm', 'ssh_keys.public_key',
      'ssh_keys.fingerprint', 'ssh_keys.created_at', 'ssh_keys.last_used_at',
    ]);

type Selected = {
  id: number; user_id: number; name: string; title: string; algorithm: string; public_key: string; fingerprint: string;
  created_at: string; last_used_at: string | null;
};

function toRow(r: Selected): SshKeyRow {
  return {
    id: r.id, userId: r.user_id, userName: r.name, title: r.title, algorithm: r.algorithm, publicKey: r.public_key,
    fingerprint: r.fingerprint, createdAt: r.created_at, lastUsedAt: r.last_used_at,
  };
}

/** Adds a key; a UNIQUE violation (isUniqueViolation) when its fingerprint is taken. */
export async function insertSshKey(db: Db, k: { userId: number; title: string; algorithm: string; publicKey: string; fingerprint: string }): Promise<number> {
  const row = await db
    .insertInto('ssh_keys')
    .values({ user_id: k.userId, title: k.title, algorithm: k.algorithm, public_key: k.publicKey, fingerprint: k.fingerprint, created_at: now() })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function findSshKeyById(db: Db, id: number): Promise<SshKeyRow | undefined> {
  const row = await selectKeys(db).where('ssh_keys.id', '=', id).executeTakeFirst();
  return row && toRow(row);
}

export async function findSshKeyByFingerprint(db: Db, fingerprint: string): Promise<SshKeyRow | undefined> {
  const row = await selectKeys(db).where('ssh_keys.fingerprint', '=', fingerprint).executeTakeFirst();
  return row && toRow(row);
}

/** The user's keys, oldest first. */
export async function listSshKeys(db: Db, userId: number): Promise<SshKeyRow[]> {
  const rows = await selectKeys(db).where('ssh_keys.user_id', '=', userId).orderBy('ssh_keys.id').execute();
  return rows.map(toRow);
}

export async function countSshKeys(db: Db, userId: number): Promise<number> {
  const row = await db.selectFrom('ssh_keys').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Deletes a key (only the user's when `userId` is given) and returns it; undefined when there is no such key. */
export async function deleteSshKey(db: Db, id: number, userId?: number): Promise<SshKeyRow | undefined> {
  return db.transaction().execute(async (trx) => {
    let q = selectKeys(trx).where('ssh_keys.id', '=', id);
    if (userId !== undefined) q = q.where('ssh_keys.user_id', '=', userId);
    const row = await q.executeTakeFirst();
    if (!row) return undefined;
    await trx.deleteFrom('ssh_keys').where('id', '=', id).execute();
    return toRow(row);
  });
}

export async function touchSshKey(db: Db, id: number, at: string): Promise<void> {
  await db.updateTable('ssh_keys').set({ last_used_at: at }).where('id', '=', id).execute();
}
