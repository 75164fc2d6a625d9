import type { Request } from 'express';
import type { Signer } from './signing.js';
import type { RepoAt } from './store/types.js';

// The checks behind every LFS URL that is authorised by its signed token rather than by the
// access policy: verify, multipart completion and the fs store's transfers. The upload a token
// names is looked up through the links port (LinksPort.uploadIn).

export const INVALID_LINK = 'this link is invalid or has expired: run the upload or download again';

/** The claims of the request's signed token, if it is valid for this purpose and repo. */
export function claimsFor(signer: Signer, req: Request, purpose: string, where: RepoAt): Record<string, string | number> | null {
  const claims = signer.verify(req.query.token, purpose);
  return claims && claims.r === where.repoId ? claims : null;
}
