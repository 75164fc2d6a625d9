import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../src/db/index.js';
import { badRequest } from '../src/domain/errors.js';
import {
  deleteUpload, expiredOpenUploads, findUpload, insertUploads, linkedSizes, linkObject, moveUpload, pendingUploads, type UploadRow,
} from '../src/db/lfs.js';
import { type BatchRequest, type BatchResponse, OID, type ObjectResult } from './protocol.js';
import type { HubUrls, ObjectStore, PartEtag, RepoAt, StagedUpload } from './store/types.js';
import { keyedQueue } from '../src/util/keyed-queue.js';

// What the batch, verify and completion endpoints do, apart from HTTP.

const MiB = 1024 ** 2;
const BASIC_TTL = 3600;
const MULTIPART_TTL = 24 * 3600;
const MAX_PARTS = 10_000;

export interface TransferSettings {
  multipartThreshold: number;
  multipartChunk: number;
}

/** What hubgate knows of the client that sent a batch request. */
export interface BatchClient {
  userAgent?: string;
  /** Who asked (null: anonymous): download links are issued to them. */
  userId: number | null;
}

export type VerifyResult = { ok: true } | { ok: false; status: number; message: string };

export interface Transfers {
  batch(repo: { id: number } & RepoAt, req: BatchRequest, client: BatchClient): Promise<BatchResponse>;
  /** Confirms an upload and links its object to the repo; the reason when it cannot. */
  verify(upload: UploadRow, where: RepoAt, size: number): Promise<VerifyResult>;
  completeMultipart(upload: UploadRow, where: RepoAt, parts: PartEtag[]): Promise<void>;
  /**
   * Confirms the repo's uploads of `oid` whose bytes arrived but were never verified, as verify
   * would (@huggingface/hub uploads and commits without calling verify); true once the object is
   * linked to the repo.
   */
  confirmPending(repo: { id: number } & RepoAt, oid: string): Promise<boolean>;
  /** Aborts uploads past their expiry. */
  sweep(): Promise<number>;
}

/** Chunk size for a multipart upload: the configured size, raised so there are at most 10,000 parts. */
export function chunkSizeFor(size: number, configured: number): number {
  return Math.max(configured, 5 * MiB, Math.ceil(size / MAX_PARTS));
}

export const ENABLE_LARGEFILES_ADVICE =
  'this file is larger than the single-upload limit: run `hubgate lfs-enable-largefiles .` in your clone, then push again';

/**
 * Whether the client applies `action.header` to its basic upload PUT. git-lfs does
 * (tq/basic_upload.go); huggingface_hub ignores it and PUTs the raw body only (hf-wire.md §2.3),
 * and so does @huggingface/hub (it reads upload.header for multipart and xet uploads only). The
 * S3 store signs a checksum header into the URL for clients that send it, and real S3 answers a
 * PUT without it 403 SignatureDoesNotMatch; every other client gets a URL signed over host only,
 * and verify hashes its bytes instead. Unknown clients get that URL too: it works for any PUT.
 */
export function clientSendsActionHeaders(client: BatchClient): boolean {
  return /^git-lfs\//i.test(client.userAgent ?? '');
}

/** What a store needs to know of an upload, from its row and the repo it was opened for. */
export function staged(u: UploadRow, where: RepoAt): StagedUpload {
  return { ...where, id: u.id, oid: u.oid, size: u.size, storeUploadId: u.storeUploadId, chunkSize: u.chunkSize };
}

export function createTransfers(deps: { db: Db; store: ObjectStore; urls: HubUrls; log: Logger; settings: TransferSettings }): Transfers {
  const { db, store, urls, log, settings } = deps;

  /** A new upload; its row is recorded by the caller (all of a batch's in one statement) before any link is handed out. */
  async function openUpload(repoId: number, where: RepoAt, oid: string, size: number, multipart: boolean): Promise<StagedUpload & { row: UploadRow }> {
    const ttl = multipart ? MULTIPART_TTL : BASIC_TTL;
    const row: UploadRow = {
      id: crypto.randomBytes(18).toString('base64url'),
      repoId, oid, size,
      kind: multipart ? 'multipart' : 'basic',
      storeUploadId: null,
      chunkSize: multipart ? chunkSizeFor(size, settings.multipartChunk) : null,
      state: 'open',
      expiresAt: new Date(Date.now() + ttl * 1000).toISOString(),
    };
    const upload = staged(row, where);
    if (multipart) row.storeUploadId = upload.storeUploadId = await store.startMultipart(upload);
    return { ...upload, row };
  }

  async function hashStaged(u: StagedUpload): Promise<string> {
    const hash = crypto.createHash('sha256');
    for await (const chunk of await store.readStaged(u)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  /** Multipart bytes have no whole-object checksum from S3: hash them back before linking. */
  async function hashThenLink(row: UploadRow, u: StagedUpload): Promise<void> {
    try {
      const sha256 = await hashStaged(u);
      if (sha256 !== row.oid) {
        log.error({ repo: u.repoId, oid: row.oid, sha256, upload: row.id }, 'LFS MULTIPART UPLOAD DOES NOT MATCH ITS OID: object deleted, not linked');
        await store.discardStaged(u);
        await moveUpload(db, row.id, 'hashing', 'failed');
        return;
      }
      await store.commitStaged(u);
      await linkObject(db, row.repoId, row.oid, row.size);
      await moveUpload(db, row.id, 'hashing', 'done');
    } catch (err) {
      log.error({ err, repo: u.repoId, oid: row.oid, upload: row.id }, 'hashing a multipart upload failed');
      await store.discardStaged(u).catch(() => {});
      await moveUpload(db, row.id, 'hashing', 'failed');
    }
  }

  const verifyQueue = keyedQueue();

  async function verifyNow(row: UploadRow, where: RepoAt, size: number): Promise<VerifyResult> {
    if (size !== row.size) return { ok: false, status: 422, message: `size ${size} does not match the upload's size ${row.size}` };
    if ((await linkedSizes(db, row.repoId, [row.oid])).has(row.oid)) return { ok: true };
    const u = staged(row, where);
    if (row.kind === 'basic') {
      if (row.state === 'failed') return { ok: false, status: 422, message: 'the uploaded bytes do not match the oid; the upload was discarded' };
      if ((await store.stagedSize(u)) !== row.size) return { ok: false, status: 404, message: 'the object was not uploaded: upload it, then verify' };
      // fs checked the sha256 while receiving; S3 checked the signed x-amz-checksum-sha256,
      // unless the endpoint ignores checksums (s3rver, some S3-compatible stores): then the
      // bytes are read back and hashed here before anything is linked.
      if (store.stagedChecksumVerified && !(await store.stagedChecksumVerified(u))) {
        const sha256 = await hashStaged(u);
        if (sha256 !== row.oid) {
          log.error({ repo: u.repoId, oid: row.oid, sha256, upload: row.id }, 'LFS UPLOAD DOES NOT MATCH ITS OID: staged bytes deleted, not linked');
          await store.discardStaged(u);
          await moveUpload(db, row.id, 'open', 'failed');
          return { ok: false, status: 422, message: `the uploaded bytes hash to ${sha256}, not to the oid: the upload was discarded, push again` };
        }
      }
      await store.commitStaged(u);
      await linkObject(db, row.repoId, row.oid, row.size);
      await moveUpload(db, row.id, 'open', 'done');
      return { ok: true };
    }
    // Multipart: wait for the background hash that the completion started.
    for (;;) {
      const now = await findUpload(db, row.id);
      if (!now || now.state === 'open') return { ok: false, status: 404, message: 'the multipart upload was not completed: send the completion request first' };
      if (now.state === 'done') return { ok: true };
      if (now.state === 'failed') return { ok: false, status: 422, message: 'the uploaded bytes do not match the oid; the upload was discarded' };
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  return {
    async batch(repo, req, client) {
      const sha256 = req.hash_algo === undefined || req.hash_algo === 'sha256' || req.hash_algo === 'sha_256';
      const offersMultipart = req.operation === 'upload' && (req.transfers ?? []).includes('multipart');
      const valid = req.objects.filter((o) => typeof o.oid === 'string' && OID.test(o.oid)).map((o) => o.oid as string);
      const linked = await linkedSizes(db, repo.id, valid);
      const wantsMultipart = offersMultipart && req.objects.some((o) => typeof o.size === 'number' && o.size > settings.multipartThreshold && !linked.has(o.oid as string));
      const transfer = wantsMultipart ? 'multipart' : 'basic';

      const objects: ObjectResult[] = [];
      const opened: UploadRow[] = [];
      // Uploads opened before a failure are still recorded, so the sweep can abort them.
      try {
        for (const o of req.objects) {
          const oid = typeof o.oid === 'string' ? o.oid : String(o.oid);
          const size = typeof o.size === 'number' ? o.size : -1;
          const fail = (code: number, message: string) => objects.push({ oid, size, error: { code, message } });
          if (!sha256) { fail(409, `unsupported hash algorithm ${req.hash_algo}: hubgate uses sha256`); continue; }
          if (!OID.test(oid)) { fail(422, 'invalid oid: use the 64 lowercase hex characters of the sha256'); continue; }
          if (!Number.isSafeInteger(size) || size < 0) { fail(422, 'invalid size: use the object size in bytes, an integer >= 0'); continue; }
          const have = linked.get(oid);

          if (req.operation === 'download') {
            if (have === undefined) { fail(404, 'Object does not exist'); continue; }
            const target = await store.downloadTarget(oid, have, repo, BASIC_TTL, client.userId);
            objects.push({ oid, size: have, authenticated: true, actions: { download: { ...target, expires_in: BASIC_TTL } } });
            continue;
          }
          if (have !== undefined) {
            if (have === size) objects.push({ oid, size });
            else fail(422, `size ${size} does not match the stored object's size ${have}`);
            continue;
          }
          if (size > settings.multipartThreshold && !offersMultipart) { fail(422, ENABLE_LARGEFILES_ADVICE); continue; }
          const u = await openUpload(repo.id, repo, oid, size, transfer === 'multipart');
          opened.push(u.row);
          const verify = {
            href: urls.signed(repo, 'objects/verify', { p: 'verify', u: u.id }, transfer === 'multipart' ? MULTIPART_TTL : BASIC_TTL),
            expires_in: transfer === 'multipart' ? MULTIPART_TTL : BASIC_TTL,
          };
          if (transfer === 'basic') {
            const target = await store.uploadTarget(u, BASIC_TTL, { clientSendsHeaders: clientSendsActionHeaders(client) });
            objects.push({ oid, size, authenticated: true, actions: { upload: { ...target, expires_in: BASIC_TTL }, verify } });
          } else {
            // The Hugging Face multipart format: header holds chunk_size and the part URLs under
            // five-digit keys, nothing else; href is the completion URL.
            const parts = await store.partTargets(u, MULTIPART_TTL);
            const header: Record<string, string> = { chunk_size: String(u.chunkSize) };
            parts.forEach((url, i) => (header[String(i + 1).padStart(5, '0')] = url));
            const href = urls.signed(repo, `multipart/${u.id}/complete`, { p: 'complete', u: u.id }, MULTIPART_TTL);
            objects.push({ oid, size, authenticated: true, actions: { upload: { href, header, expires_in: MULTIPART_TTL }, verify } });
          }
        }
      } finally {
        await insertUploads(db, opened);
      }
      return { transfer, objects, hash_algo: 'sha256' };
    },

    verify(row, where, size) {
      // One verify of an upload at a time, whoever asks (the verify route, a client retrying, a
      // commit confirming its pending uploads): a second would find the staged bytes already
      // moved (a 500, or a false 404). The upload is read again once its turn has come.
      return verifyQueue(row.id, async () => {
        const current = await findUpload(db, row.id);
        return current ? verifyNow(current, where, size) : { ok: false as const, status: 404, message: 'no such upload for this object' };
      });
    },

    async completeMultipart(row, where, parts) {
      const u = staged(row, where);
      await store.completeMultipart(u, parts);
      const stagedSize = await store.stagedSize(u);
      if (stagedSize !== row.size) {
        await store.discardStaged(u);
        await moveUpload(db, row.id, 'open', 'failed');
        // A client error (400), not a server fault: retrying cannot help, the upload is discarded.
        throw badRequest(`the parts add up to ${stagedSize ?? 0} bytes, not ${row.size}: push again to upload the file anew`);
      }
      if (await moveUpload(db, row.id, 'open', 'hashing')) void hashThenLink(row, u);
    },

    async confirmPending(repo, oid) {
      if ((await linkedSizes(db, repo.id, [oid])).has(oid)) return true;
      for (const row of await pendingUploads(db, repo.id, oid)) {
        // A multipart upload still open was never completed: its parts are not an object yet.
        if (row.kind === 'multipart' && row.state === 'open') continue;
        if ((await this.verify(row, repo, row.size)).ok) return true;
      }
      return false;
    },

    async sweep() {
      const expired = await expiredOpenUploads(db, new Date().toISOString());
      for (const row of expired) {
        const u = staged(row, { repoId: '', baseUrl: '' });
        try {
          if (row.kind === 'multipart') await store.abortMultipart(u);
          await store.discardStaged(u);
          await deleteUpload(db, row.id);
        } catch (err) {
          log.warn({ err, upload: row.id }, 'could not abort an expired upload');
        }
      }
      return expired.length;
    },
  };
}
