import { findActiveUserById } from '../db/accounts.js';
import { type Db, isUniqueViolation } from '../db/index.js';
import {
  countSshKeys, deleteSshKey, findSshKeyByFingerprint, findSshKeyById, insertSshKey, listSshKeys, type SshKeyRow, touchSshKey,
} from '../db/ssh-keys.js';
import { conflict, HubgateError, notFound } from '../domain/errors.js';
import { storageFault } from '../domain/faults.js';
import { fingerprintOf, parsePublicKey } from '../domain/ssh-public-key.js';
import { checkText } from '../domain/text.js';
import type { User } from '../domain/types.js';
import { requireAccount } from './accounts.js';
import { recordAudit } from './audit.js';

// Users' SSH public keys, for git over SSH: added and removed by the user (API, settings page) or
// an operator (`hubgate ssh-key`); the SSH server asks who a key belongs to. A key belongs to one
// user. Removing a key, disabling or deleting its user ends its access at once: the SSH server
// asks userOfSshKeyId again at every command.

export { fingerprintOf, parsePublicKey };
export type { ParsedKey } from '../domain/ssh-public-key.js';

export interface SshKeyInfo {
  id: number;
  userName: string;
  title: string;
  algorithm: string;
  fingerprint: string;
  /** The key as one line without its comment, `ssh-ed25519 AAAA...`. */
  publicKey: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export const MAX_TITLE = 100;
/** Keys per user: enough for every machine someone uses, and a bound on a listing. */
export const MAX_KEYS_PER_USER = 100;

const TOUCH_EVERY_MS = 60_000;

const toInfo = (r: SshKeyRow): SshKeyInfo => ({
  id: r.id, userName: r.userName, title: r.title, algorithm: r.algorithm, fingerprint: r.fingerprint, publicKey: `${r.algorithm} ${r.publicKey}`,
  createdAt: r.createdAt, lastUsedAt: r.lastUsedAt,
});

/**
 * Adds a public key (one OpenSSH line) to a user. The title may be empty: the key's comment
 * (e.g. `alice@laptop`) is taken then. The same key on any account is refused (409).
 */
export async function addSshKey(db: Db, userName: string, title: string, publicKeyText: string, actor: string | null): Promise<SshKeyInfo> {
  const user = await requireAccount(db, userName, 'user');
  const key = parsePublicKey(publicKeyText);
  const givenTitle = typeof title === 'string' ? title.trim() : '';
  const chosen = givenTitle || key.comment;
  if (!chosen) throw new HubgateError('invalid', 'the key needs a title: name the machine it is on, e.g. "work laptop"');
  const keyTitle = checkText('the key title', chosen, { max: MAX_TITLE });
  const taken = await findSshKeyByFingerprint(db, key.fingerprint);
  if (taken) throw alreadyAdded(taken, user.id);
  if ((await countSshKeys(db, user.id)) >= MAX_KEYS_PER_USER) {
    throw conflict(`${user.name} has ${MAX_KEYS_PER_USER} SSH keys, the most one user may have: remove keys no longer used first`);
  }
  let id: number;
  try {
    id = await insertSshKey(db, { userId: user.id, title: keyTitle, algorithm: key.algorithm, publicKey: key.blob.toString('base64'), fingerprint: key.fingerprint });
  } catch (err) {
    // Added by someone else between the check and the insert.
    const raced = isUniqueViolation(err) && (await findSshKeyByFingerprint(db, key.fingerprint));
    if (raced) throw alreadyAdded(raced, user.id);
    throw err;
  }
  await recordAudit(db, { actor, action: 'ssh_key.add', target: user.name, details: { id, title: keyTitle, algorithm: key.algorithm, fingerprint: key.fingerprint } });
  return toInfo((await findSshKeyById(db, id))!);
}

function alreadyAdded(taken: SshKeyRow, userId: number): HubgateError {
  if (taken.userId === userId) return conflict(`this key is already added to ${taken.userName} as "${taken.title}" (id ${taken.id})`);
  // Which account has it is not said: a key names its owner to whoever holds its .pub file otherwise.
  return conflict('this key is already in use by another account, and a key can belong to one user only: make a new key for this account with `ssh-keygen -t ed25519`');
}

/** The user's keys, oldest first. */
export async function sshKeysOf(db: Db, userName: string): Promise<SshKeyInfo[]> {
  const user = await requireAccount(db, userName, 'user');
  return (await listSshKeys(db, user.id)).map(toInfo);
}

/**
 * Removes a key; with `owner`, only a key of that user (anyone else's is not found, as a missing
 * one). Its access ends at once: open SSH sessions are refused at their next command.
 */
export async function removeSshKey(db: Db, id: number, actor: string | null, owner?: string): Promise<void> {
  const ownerId = owner === undefined ? undefined : (await requireAccount(db, owner, 'user')).id;
  const removed = Number.isSafeInteger(id) && id > 0 ? await deleteSshKey(db, id, ownerId) : undefined;
  if (!removed) {
    throw notFound(owner === undefined ? `no SSH key with id ${id}: see \`hubgate ssh-key list USER\`` : `you have no SSH key with id ${id}: it may be removed already; reload the list`);
  }
  await recordAudit(db, {
    actor,
    action: 'ssh_key.remove',
    target: removed.userName,
    details: { id: removed.id, title: removed.title, algorithm: removed.algorithm, fingerprint: removed.fingerprint },
  });
}

/**
 * Who a key offered to the SSH server belongs to, by its blob: undefined for an unknown key and
 * for a disabled user. Notes when it was used (at most once a minute; a disk that cannot be
 * written does not turn the user away).
 */
export async function userOfSshKey(db: Db, blob: Buffer): Promise<{ keyId: number; user: User } | undefined> {
  const row = await findSshKeyByFingerprint(db, fingerprintOf(blob));
  if (!row || row.publicKey !== blob.toString('base64')) return undefined;
  const user = await findActiveUserById(db, row.userId);
  if (!user) return undefined;
  const at = new Date();
  if (!row.lastUsedAt || at.getTime() - Date.parse(row.lastUsedAt) > TOUCH_EVERY_MS) {
    await touchSshKey(db, row.id, at.toISOString()).catch((err) => {
      if (!storageFault(err)) throw err;
    });
  }
  return { keyId: row.id, user };
}

/** The user a key still belongs to, asked at every SSH command: undefined once the key is removed or its user disabled or deleted. */
export async function userOfSshKeyId(db: Db, keyId: number): Promise<User | undefined> {
  const row = await findSshKeyById(db, keyId);
  return row ? findActiveUserById(db, row.userId) : undefined;
}
