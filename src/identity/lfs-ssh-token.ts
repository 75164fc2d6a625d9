import { findActiveUserById } from '../db/accounts.js';
import type { Db } from '../db/index.js';
import { type RepoRef, repoIdOf } from '../domain/names.js';
import type { Caller } from './identify.js';

// The short-lived token `git-lfs-authenticate` hands out over SSH (src/ssh/lfs-authenticate.ts):
// git-lfs sends it to the LFS API of the repo it was cloned from. It is signed with the server's
// signing key and names its user, its repo and its operation, and it is accepted only on that
// repo's LFS routes (…/info/lfs/…), as a read token for downloads and a write token for uploads:
// a leaked one reaches no other repo and no other surface, and lapses within minutes.

/** What signs and checks the token (lfs/signing.ts's Signer). */
export interface ClaimSigner {
  sign(claims: Record<string, string | number>, ttlSeconds: number): string;
  verify(token: unknown, purpose: string): Record<string, string | number> | null;
}

export type LfsOperation = 'upload' | 'download';

const PURPOSE = 'lfs-ssh';
/** Tells these tokens from access tokens (hf_...) before anything else is looked at. */
export const LFS_SSH_TOKEN_PREFIX = 'hgssh.';
export const LFS_SSH_TOKEN_SECONDS = 15 * 60;

export function issueLfsSshToken(signer: ClaimSigner, userId: number, repo: RepoRef, operation: LfsOperation): string {
  return LFS_SSH_TOKEN_PREFIX + signer.sign({ p: PURPOSE, u: userId, r: repoIdOf(repo), o: operation }, LFS_SSH_TOKEN_SECONDS);
}

export function isLfsSshToken(secret: string): boolean {
  return secret.startsWith(LFS_SSH_TOKEN_PREFIX);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The caller such a token makes of a request to `path`: its user (read role for downloads, write
 * for uploads) when it is valid and `path` is one of its repo's LFS routes; invalid otherwise.
 */
export async function callerOfLfsSshToken(db: Db, signer: ClaimSigner | undefined, secret: string, path: string): Promise<Caller> {
  const claims = signer?.verify(secret.slice(LFS_SSH_TOKEN_PREFIX.length), PURPOSE);
  if (!claims || typeof claims.u !== 'number' || typeof claims.r !== 'string' || (claims.o !== 'upload' && claims.o !== 'download')) return { kind: 'invalid' };
  if (!new RegExp(`^/${escape(claims.r)}(?:\\.git)?/info/lfs/`).test(path)) return { kind: 'invalid' };
  const user = await findActiveUserById(db, claims.u);
  if (!user) return { kind: 'invalid' };
  return { kind: 'user', user, tokenRole: claims.o === 'upload' ? 'write' : 'read', token: null };
}
