import type { Request } from 'express';
import { findUpload } from '../src/db/lfs.js';
import { findRepo } from '../src/db/repos.js';
import type { RepoRef } from '../src/domain/names.js';
import type { AppContext } from '../src/http/context.js';
import type { Signer } from './signing.js';
import type { RepoAt } from './store/types.js';

// The checks behind every LFS URL that is authorised by its signed token rather than by the
// access policy: verify, multipart completion and the fs store's transfers.

export const INVALID_LINK = 'this link is invalid or has expired: run the upload or download again';

/** The claims of the request's signed token, if it is valid for this purpose and repo. */
export function claimsFor(signer: Signer, req: Request, purpose: string, where: RepoAt): Record<string, string | number> | null {
  const claims = signer.verify(req.query.token, purpose);
  return claims && claims.r === where.repoId ? claims : null;
}

/** The open upload a signed token names, checked against the repo in the path. */
export async function uploadFor(ctx: AppContext, claims: Record<string, string | number>, ref: RepoRef) {
  const row = await findUpload(ctx.db, String(claims.u));
  const repo = await findRepo(ctx.db, ref.type, ref.namespace, ref.name);
  return row && repo && row.repoId === repo.id ? row : undefined;
}
