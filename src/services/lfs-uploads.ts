import type { UploadsPort } from '../../lfs/ports.js';
import type { Db } from '../db/index.js';
import {
  claimForHashing, deleteUpload, deletionOf, finishDeletion, takeDeletion, expiredOpenUploads, findUpload, finishClaim, insertUploads, lapsedHashingUploads,
  linkedSizes, linkObject, markHashed, pendingUploads, releaseOpenClaim, renewClaim, setStoreUploadId, takeClaim,
  uploadsInProgress,
} from '../db/lfs.js';

/**
 * The LFS upload rows and object links (lfs/ports.ts UploadsPort), kept in the database.
 * `linked`: told of each object linked to a repo once its link is recorded (Xet conversion queues it).
 */
export function lfsUploads(db: Db, linked?: (oid: string, size: number) => Promise<void>): UploadsPort {
  return {
    insert: (uploads) => insertUploads(db, uploads),
    find: (id) => findUpload(db, id),
    setStoreUploadId: (id, storeUploadId) => setStoreUploadId(db, id, storeUploadId),
    delete: (id) => deleteUpload(db, id),
    pending: (repoId, oid) => pendingUploads(db, repoId, oid),
    expiredOpen: (at) => expiredOpenUploads(db, at),
    lapsedHashing: (at) => lapsedHashingUploads(db, at),
    inProgress: (ids) => uploadsInProgress(db, ids),
    claimForHashing: (id, claim, until) => claimForHashing(db, id, claim, until),
    takeClaim: (id, state, claim, until, at) => takeClaim(db, id, state, claim, until, at),
    renewClaim: (id, state, claim, until) => renewClaim(db, id, state, claim, until),
    markHashed: (id, state, claim) => markHashed(db, id, state, claim),
    finishClaim: (id, state, claim, to) => finishClaim(db, id, state, claim, to),
    releaseOpenClaim: (id, claim) => releaseOpenClaim(db, id, claim),
    async linkObject(repoId, oid, size) {
      await linkObject(db, repoId, oid, size);
      await linked?.(oid, size);
    },
    linkedSizes: (repoId, oids) => linkedSizes(db, repoId, oids),
    deletion: (oid) => deletionOf(db, oid),
    takeDeletion: (oid, claim, until, at) => takeDeletion(db, oid, claim, until, at),
    finishDeletion: (oid, claim) => finishDeletion(db, oid, claim),
  };
}
