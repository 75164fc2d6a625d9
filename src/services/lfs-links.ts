import type { LinksPort } from '../../lfs/ports.js';
import { answerFor } from '../access/answer.js';
import { resolveAccess } from '../access/resolve.js';
import type { Db } from '../db/index.js';
import { findUpload } from '../db/lfs.js';
import { findRepo } from '../db/repos.js';
import { repoIdOf } from '../domain/names.js';
import { callerOfLink } from '../identity/identify.js';

/** What LFS's signed-URL routes need (lfs/ports.ts LinksPort): the upload a token names, and the policy again for download links. */
export function lfsLinks(db: Db): LinksPort {
  return {
    async uploadIn(ref, uploadId) {
      const row = await findUpload(db, uploadId);
      const repo = await findRepo(db, ref.type, ref.namespace, ref.name);
      return row && repo && row.repoId === repo.id ? row : undefined;
    },
    async readDenial(linkUser, ref, baseUrl) {
      // The link was issued to a user who could read then; asking again stops a rejected request,
      // a cancelled grant or a removed member at once, not when the link expires.
      const { decision } = await resolveAccess(db, await callerOfLink(db, linkUser), ref, 'read');
      return decision.allow ? null : answerFor(decision, repoIdOf(ref), baseUrl);
    },
  };
}
