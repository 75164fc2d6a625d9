import type { Request } from 'express';
import type { Signer } from './signing.js';
import type { RepoAt } from './store/types.js';

// The checks behind every LFS URL that is authorised by its signed token rather than by the
// access policy: verify, multipart completion and the fs store's transfers. The upload a token
// names is looked up through the links port (LinksPort.uploadIn).

export const INVALID_LINK = 'this link is invalid or has expired: run the upload or download again';

/**
 * The purpose of the token a basic upload's PUT URL (fs store) and its verify URL share: it
 * allows both, for that one upload. 'put' and 'verify' tokens allow one each.
 */
export const UPLOAD_PURPOSE = 'upload';

/** The claims of the request's signed token, if it is valid for this purpose (or one of these) and repo. */
export function claimsFor(signer: Signer, req: Request, purpose: string | readonly string[], where: RepoAt): Record<string, string | number> | null {
  const claims = signer.verify(req.query.token, purpose);
  return claims && claims.r === where.repoId ? claims : null;
}
