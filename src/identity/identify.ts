import { parse as parseBasic } from 'basic-auth';
import { findActiveUserById } from '../db/accounts.js';
import type { Db } from '../db/index.js';
import { findLiveTokenWithUser, touchToken } from '../db/tokens.js';
import type { TokenInfo, TokenRole, User } from '../domain/types.js';
import { storageFault } from '../domain/faults.js';
import { callerOfLfsSshToken, type ClaimSigner, isLfsSshToken } from './lfs-ssh-token.js';
import { hashToken, looksLikeToken, sameDigest } from './tokens.js';

/** Who is calling. Bad credentials are kept apart from none, so they get a 401 rather than anonymous access. */
export type Caller =
  | { kind: 'anonymous' }
  | { kind: 'invalid' }
  /** A user, by access token, or (token null, full rights) by a web session on hubgate's own pages. */
  | { kind: 'user'; user: User; tokenRole: TokenRole; token: TokenInfo | null };

export const ANONYMOUS: Caller = { kind: 'anonymous' };

/**
 * The secret from `Authorization`: the Basic password (any username; the username when the
 * password is empty, as in `http://TOKEN@host/...`), or a Bearer token. '' for a header that
 * is present but unusable, null when there is none.
 */
export function secretFromAuthorization(header: string | undefined): string | null {
  if (!header) return null;
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = parseBasic(header);
  if (basic) return basic.pass || basic.name;
  return '';
}

/** The user behind a caller, for links issued to them; null for anyone else. */
export function callerUserId(caller: Caller): number | null {
  return caller.kind === 'user' ? caller.user.id : null;
}

/** Who the audit log names as having acted: the user's name, or null for no user. */
export function actorOf(caller: Caller): string | null {
  return caller.kind === 'user' ? caller.user.name : null;
}

/**
 * The caller a signed link was issued to, when the link is used: its user with read rights
 * (links only ever read), anonymous for 0, or invalid when the user is gone or disabled.
 */
export async function callerOfLink(db: Db, userId: unknown): Promise<Caller> {
  if (userId === 0 || userId === undefined) return ANONYMOUS;
  const user = typeof userId === 'number' ? await findActiveUserById(db, userId) : undefined;
  return user ? { kind: 'user', user, tokenRole: 'read', token: null } : { kind: 'invalid' };
}

const TOUCH_EVERY_MS = 60_000;

/**
 * The caller behind an Authorization header. `where`: the request's path, and the signer of the
 * tokens git-lfs gets over SSH, which count only on their own repo's LFS routes (lfs-ssh-token.ts).
 */
export async function identify(db: Db, authorization: string | undefined, where?: { path: string; signer: ClaimSigner }): Promise<Caller> {
  const secret = secretFromAuthorization(authorization);
  if (secret === null) return ANONYMOUS;
  if (isLfsSshToken(secret)) return callerOfLfsSshToken(db, where?.signer, secret, where?.path ?? '');
  if (!looksLikeToken(secret)) return { kind: 'invalid' };
  const digest = hashToken(secret);
  // Looked up afresh on every request (never cached): a revoked token or a disabled user stops the next request.
  const found = await findLiveTokenWithUser(db, digest);
  if (!found || !sameDigest(found.token.secretSha256, digest)) return { kind: 'invalid' };
  const { token, user } = found;
  const at = Date.now();
  if (!token.lastUsedAt || at - Date.parse(token.lastUsedAt) > TOUCH_EVERY_MS) {
    // Bookkeeping only: a full or read-only disk must not turn reads (clones, downloads) away.
    await touchToken(db, token.id, new Date(at).toISOString()).catch((err) => {
      if (!storageFault(err)) throw err;
    });
  }
  const { secretSha256: _hidden, ...info } = token;
  return { kind: 'user', user, tokenRole: token.role, token: info };
}
