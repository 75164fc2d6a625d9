import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { badRequest } from '../src/domain/errors.js';
import { ServiceUnavailable, storageFault } from '../src/domain/faults.js';
import type { UploadRow, UploadsPort, XetObjectsPort } from './ports.js';
import { type BatchRequest, type BatchResponse, OID, type ObjectResult } from './protocol.js';
import type { HubUrls, ObjectStore, PartEtag, RepoAt, StagedUpload, Target } from './store/types.js';
import { keyedQueue } from '../src/util/keyed-queue.js';
import { xetObjectHref } from './xet-objects.js';
import { youngGarbageMeter } from '../src/util/young-garbage.js';

// What the batch, verify and completion endpoints do, apart from HTTP.

const MiB = 1024 ** 2;
const BASIC_TTL = 3600;
const MULTIPART_TTL = 24 * 3600;
const MAX_PARTS = 10_000;
/**
 * The most part URLs one batch hands out: what one object of the largest size needs. It bounds
 * the work and the answer (~4 MB) of a batch, whatever its objects declare.
 */
export const MAX_BATCH_PARTS = 10_000;
/** How many multipart uploads of a batch are begun in the store at once. */
const STARTS_AT_ONCE = 8;
/** A hashing claim lasts this long unless its holder renews it (every HEARTBEAT_MS while it works). */
export const CLAIM_SECONDS = 15;
const HEARTBEAT_MS = 5000;
/** How long verify (and a commit naming the object) waits for a hash in progress before answering 503. */
const VERIFY_WAIT_MS = 20_000;
const VERIFY_POLL_MS = 250;
/** How long past its expiry an upload is left alone, in case a completion or verify is still working on it. */
const EXPIRY_GRACE_MS = 3600 * 1000;
/** Scratch and staged files the periodic sweep may take for leftovers have not been written for this long. */
const LEFTOVER_AGE_MS = 3600 * 1000;
/** For store calls that need no repo (hashing, sweeping): only the upload's own fields are used. */
const NOWHERE: RepoAt = { repoId: '', baseUrl: '' };

export interface TransferSettings {
  multipartThreshold: number;
  multipartChunk: number;
  /** The largest object a batch accepts (HUBGATE_LFS_MAX_OBJECT_SIZE). */
  lfsMaxObjectSize: number;
}

/** What hubgate knows of the client that sent a batch request. */
export interface BatchClient {
  userAgent?: string;
  /** Who asked (null: anonymous): download links are issued to them. */
  userId: number | null;
}

/** What the removal of leftovers removed (or, in a dry run, would remove). */
export interface Leftovers {
  scratch: number;
  staged: number;
  multipart: number;
}

export type VerifyResult = { ok: true } | { ok: false; status: number; message: string; retryAfter?: number };

export interface Transfers {
  batch(repo: { id: number } & RepoAt, req: BatchRequest, client: BatchClient): Promise<BatchResponse>;
  /** Confirms an upload and links its object to the repo; the reason when it cannot. */
  verify(upload: UploadRow, where: RepoAt, size: number): Promise<VerifyResult>;
  completeMultipart(upload: UploadRow, where: RepoAt, parts: PartEtag[]): Promise<void>;
  /**
   * Confirms the repo's uploads of `oid` whose bytes arrived but were never verified, as verify
   * would (@huggingface/hub uploads and commits without calling verify); true once the object is
   * linked to the repo. Throws ServiceUnavailable while its bytes are still being hashed.
   */
  confirmPending(repo: { id: number } & RepoAt, oid: string): Promise<boolean>;
  /**
   * Stores and links to the repo an object whose bytes hubgate itself holds (a file uploaded from
   * a web page), as a client's upload would go: an upload row (so no garbage collection of the oid
   * can begin), the bytes staged by the store, then verify (commit to the oid, link). Nothing to
   * do when the object is linked to the repo already. `open` gives the bytes from the start.
   */
  storeFromServer(repo: { id: number } & RepoAt, oid: string, size: number, open: () => Readable): Promise<void>;
  /**
   * Aborts uploads past their expiry, takes up the hashing of uploads whose hasher died, and
   * removes what crashes left in the store. `atStart`: leftovers written before this process
   * started are removed at once; later sweeps leave anything written in the last hour.
   */
  sweep(opts?: { atStart?: boolean }): Promise<number>;
  /**
   * Removes (or, `dryRun`, counts) the scratch files, staged bytes and multipart uploads that no
   * upload in progress owns, written before `before`: what the sweep removes after an hour,
   * garbage collection after its grace period.
   */
  removeLeftovers(before: Date, opts?: { dryRun?: boolean }): Promise<Leftovers>;
}

/** Chunk size for a multipart upload: the configured size, raised so there are at most 10,000 parts. */
export function chunkSizeFor(size: number, configured: number): number {
  return Math.max(configured, 5 * MiB, Math.ceil(size / MAX_PARTS));
}

/** How many parts of `chunkSize` bytes an object of `size` bytes is sent in. */
export function partCount(size: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(size / chunkSize));
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

/**
 * Upload ids for a batch: the time in ms (12 hex digits) then 18 random bytes (base64url), from
 * one read of the random source rather than one per object. The time first keeps a batch's rows
 * together at the end of the uploads table's id index, so recording 1,000 of them writes a few
 * pages rather than one page per row (random ids land all over the index).
 */
function uploadIds(count: number): () => string {
  const bytes = crypto.randomBytes(18 * count);
  const now = Date.now().toString(16).padStart(12, '0');
  let next = 0;
  return () => {
    if (next >= count) return now + crypto.randomBytes(18).toString('base64url');
    return now + bytes.toString('base64url', 18 * next, 18 * ++next);
  };
}

/** What a store needs to know of an upload, from its row and the repo it was opened for. */
export function staged(u: UploadRow, where: RepoAt): StagedUpload {
  return { ...where, id: u.id, oid: u.oid, size: u.size, storeUploadId: u.storeUploadId, chunkSize: u.chunkSize };
}

/**
 * `xetObjects`: which linked objects were uploaded through Xet and have no bytes in the store;
 * their download links are hubgate's own (lfs/xet-objects.ts), whatever the store.
 */
export function createTransfers(deps: { uploads: UploadsPort; store: ObjectStore; urls: HubUrls; log: Logger; settings: TransferSettings; xetObjects?: Pick<XetObjectsPort, 'xetOnly'> }): Transfers {
  const { uploads, store, urls, log, settings, xetObjects } = deps;
  const startedAt = Date.now();

  /** The row of a new upload; it is recorded (all of a batch's in one statement) before the store holds anything for it. */
  function newUpload(id: string, repoId: number, oid: string, size: number, multipart: boolean): UploadRow {
    const ttl = multipart ? MULTIPART_TTL : BASIC_TTL;
    return {
      id,
      repoId, oid, size,
      kind: multipart ? 'multipart' : 'basic',
      storeUploadId: null,
      chunkSize: multipart ? chunkSizeFor(size, settings.multipartChunk) : null,
      state: 'open',
      expiresAt: new Date(Date.now() + ttl * 1000).toISOString(),
    };
  }

  /** Begins the recorded multipart uploads in the store, a few at a time, and records the store's ids. */
  async function startMultiparts(rows: UploadRow[], where: RepoAt): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < rows.length) {
        const row = rows[next++];
        row.storeUploadId = await store.startMultipart(staged(row, where));
        await uploads.setStoreUploadId(row.id, row.storeUploadId);
      }
    };
    await Promise.all(Array.from({ length: Math.min(STARTS_AT_ONCE, rows.length) }, worker));
  }

  /** The sha256 of the staged bytes, or null when `keepGoing` said to stop halfway. */
  async function hashStaged(u: StagedUpload, keepGoing: () => boolean = () => true): Promise<string | null> {
    const hash = crypto.createHash('sha256');
    const bytes = await store.readStaged(u);
    // Each chunk is dead once hashed: collected as they go, so a large object's read holds a few MB.
    const collect = youngGarbageMeter();
    for await (const chunk of bytes) {
      if (!keepGoing()) {
        bytes.destroy();
        return null;
      }
      hash.update(chunk as Buffer);
      collect((chunk as Buffer).length);
    }
    return hash.digest('hex');
  }

  const claimUntil = () => new Date(Date.now() + CLAIM_SECONDS * 1000).toISOString();
  const newClaim = () => crypto.randomBytes(12).toString('base64url');
  const lapsed = (row: UploadRow) => !row.claimedUntil || row.claimedUntil < new Date().toISOString();

  /**
   * Hashes a completed multipart upload (S3 gives no whole-object checksum for one) while holding
   * its claim, then links it, or discards it when the bytes do not match the oid. A storage fault
   * leaves it claimed until the claim lapses; then whoever looks next (verify, the sweep) goes on.
   * A match is recorded before the commit, so a hasher taking over after a crash that finds the
   * bytes already committed only links them; finding them still staged, it hashes them again.
   */
  async function hashUnderClaim(row: UploadRow, claim: string): Promise<void> {
    const u = staged(row, NOWHERE);
    let held = true;
    const heartbeat = setInterval(() => {
      uploads.renewClaim(row.id, 'hashing', claim, claimUntil()).then((ok) => (held &&= ok), () => {});
    }, HEARTBEAT_MS);
    heartbeat.unref();
    try {
      if (row.hashedAt && (await store.stagedSize(u)) === null && (await store.stat(row.oid)) === row.size) {
        // Matched and committed before a crash: only the link is missing.
        await uploads.linkObject(row.repoId, row.oid, row.size);
        await uploads.finishClaim(row.id, 'hashing', claim, 'done');
        return;
      }
      // Hashed here even when a hasher that died had matched them (hashed_at): the store commits
      // only the version of the staged bytes this process read (s3: their ETag), which a hasher
      // on another node, or before a restart, cannot hand over.
      const sha256 = await hashStaged(u, () => held);
      // Lost the claim (this process stalled past it): whoever took it over finishes the upload.
      if (sha256 === null || !(await uploads.renewClaim(row.id, 'hashing', claim, claimUntil()))) return;
      if (sha256 !== row.oid) {
        log.error({ repo: row.repoId, oid: row.oid, sha256, upload: row.id }, 'LFS MULTIPART UPLOAD DOES NOT MATCH ITS OID: object deleted, not linked');
        await store.discardStaged(u);
        await uploads.finishClaim(row.id, 'hashing', claim, 'failed');
        return;
      }
      if (!(await uploads.markHashed(row.id, 'hashing', claim))) return;
      await settleDeletion(row.oid);
      await store.commitStaged(u);
      await uploads.linkObject(row.repoId, row.oid, row.size);
      await uploads.finishClaim(row.id, 'hashing', claim, 'done');
    } catch (err) {
      // Only bytes that are gone fail the upload (a mismatch was handled above): any other error
      // (a storage fault, expired credentials, a timeout) may pass, and the bytes may be good, so
      // the claim is left to lapse and whoever looks next hashes again, until the upload expires.
      const gone = !storageFault(err) && (await store.stagedSize(u).catch(() => undefined)) === null && !row.hashedAt;
      if (!gone) {
        log.warn({ err, upload: row.id }, 'hashing a multipart upload stopped; it is taken up again once its claim lapses');
        return;
      }
      log.error({ err, repo: row.repoId, oid: row.oid, upload: row.id }, 'the staged bytes of a multipart upload are gone: the upload failed');
      if (await uploads.renewClaim(row.id, 'hashing', claim, claimUntil()).catch(() => false)) await uploads.finishClaim(row.id, 'hashing', claim, 'failed').catch(() => {});
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Takes over an upload whose claim lapsed (its hasher died) and hashes it again; false when someone else holds it. */
  async function resumeHashing(row: UploadRow): Promise<boolean> {
    const claim = newClaim();
    if (!(await uploads.takeClaim(row.id, 'hashing', claim, claimUntil(), new Date().toISOString()))) return false;
    log.warn({ upload: row.id, oid: row.oid }, 'hashing a multipart upload again: its hasher stopped (a crash or a restart)');
    void hashUnderClaim(row, claim);
    return true;
  }

  /** Ends an upload whose hash kept failing until it expired: its bytes are dropped, the client pushes again. */
  async function giveUpHashing(row: UploadRow): Promise<void> {
    const claim = newClaim();
    if (!(await uploads.takeClaim(row.id, 'hashing', claim, claimUntil(), new Date().toISOString()))) return;
    log.error({ upload: row.id, oid: row.oid }, 'a multipart upload could not be hashed before it expired: its bytes were dropped');
    await store.discardStaged(staged(row, NOWHERE)).catch(() => {});
    await uploads.finishClaim(row.id, 'hashing', claim, 'failed');
  }

  /**
   * Removes scratch files, staged bytes and unassembled multipart uploads that no upload in
   * progress owns, written (begun) before `before`; what it removed (`dryRun`: would remove).
   */
  async function removeLeftovers(before: Date, opts: { dryRun?: boolean } = {}): Promise<Leftovers> {
    const scratch = (await store.removeScratch?.(before, opts)) ?? 0;
    const ids = (await store.stagedIds?.(before)) ?? [];
    const multiparts = (await store.stagedMultiparts?.(before)) ?? [];
    const owned = await uploads.inProgress([...new Set([...ids, ...multiparts.map((m) => m.id)])]);
    const orphans = ids.filter((id) => !owned.has(id));
    const abandoned = multiparts.filter((m) => !owned.has(m.id));
    if (!opts.dryRun) {
      for (const id of orphans) await store.discardStaged({ ...NOWHERE, id, oid: '', size: 0 });
      for (const m of abandoned) await store.abortMultipart({ ...NOWHERE, id: m.id, oid: '', size: 0, storeUploadId: m.storeUploadId });
      if (scratch + orphans.length + abandoned.length > 0) {
        log.info({ scratch, staged: orphans.length, multipart: abandoned.length }, 'removed LFS files left by an interrupted upload');
      }
    }
    return { scratch, staged: orphans.length, multipart: abandoned.length };
  }

  /**
   * Waits until no garbage collection is removing the bytes of `oid` (src/services/lfs-gc.ts):
   * called by the holder of an upload of `oid` in progress, before it commits bytes to the oid.
   * No collection can begin while that upload is in progress; one that began before it is
   * waited for, or finished here when its collector died (its claim lapsed). Throws
   * ServiceUnavailable when a live one takes too long.
   */
  async function settleDeletion(oid: string): Promise<void> {
    const deadline = Date.now() + VERIFY_WAIT_MS;
    for (;;) {
      const d = await uploads.deletion(oid);
      if (!d) return;
      const at = new Date().toISOString();
      if (d.until < at) {
        const claim = newClaim();
        if (await uploads.takeDeletion(oid, claim, claimUntil(), at)) {
          log.warn({ oid }, 'finishing the removal of an unlinked LFS object its collector left (a crash) before committing an upload of it');
          await store.deleteObject(oid);
          await uploads.finishDeletion(oid, claim);
        }
        continue;
      }
      if (Date.now() >= deadline) throw new ServiceUnavailable('the object is being removed by a garbage collection: try again in a few seconds', 5);
      await new Promise((r) => setTimeout(r, VERIFY_POLL_MS));
    }
  }

  async function downloadTargets(objects: { oid: string; size: number }[], repo: { id: number } & RepoAt, userId: number | null): Promise<Target[]> {
    const xetOnly = xetObjects ? await xetObjects.xetOnly(repo.id, objects.map((o) => o.oid)) : new Set<string>();
    const where: RepoAt = { repoId: repo.repoId, baseUrl: repo.baseUrl };
    const inStore = objects.filter((o) => !xetOnly.has(o.oid));
    const stored = inStore.length === 0 ? [] : store.downloadTargets
      ? await store.downloadTargets(inStore, where, BASIC_TTL, userId)
      : await Promise.all(inStore.map((o) => store.downloadTarget(o.oid, o.size, where, BASIC_TTL, userId)));
    let next = 0;
    return objects.map((o) => (xetOnly.has(o.oid) ? { href: xetObjectHref(urls, where, repo.id, o.oid, o.size, BASIC_TTL, userId) } : stored[next++]));
  }

  function uploadTargets(staged: StagedUpload[], client: BatchClient): Promise<Target[]> {
    const opts = { clientSendsHeaders: clientSendsActionHeaders(client) };
    if (store.uploadTargets) return store.uploadTargets(staged, BASIC_TTL, opts);
    return Promise.all(staged.map((u) => store.uploadTarget(u, BASIC_TTL, opts)));
  }

  /** The actions of a new basic upload, its upload URL given: the upload and verify. */
  function basicUploadActions(repo: RepoAt, row: UploadRow, target: Target): ObjectResult {
    const { verifyHref, ...upload } = target;
    const verify = { href: verifyHref ?? urls.signed(repo, 'objects/verify', { p: 'verify', u: row.id }, BASIC_TTL), expires_in: BASIC_TTL };
    return { oid: row.oid, size: row.size, authenticated: true, actions: { upload: { ...upload, expires_in: BASIC_TTL }, verify } };
  }

  /** The actions of a new upload: the upload URL (basic) or the part and completion URLs (multipart), and verify. */
  async function uploadActions(repo: { id: number } & RepoAt, row: UploadRow, client: BatchClient, transfer: 'basic' | 'multipart'): Promise<ObjectResult> {
    const { oid, size } = row;
    const u = staged(row, repo);
    const ttl = transfer === 'multipart' ? MULTIPART_TTL : BASIC_TTL;
    if (transfer === 'basic') return basicUploadActions(repo, row, await store.uploadTarget(u, BASIC_TTL, { clientSendsHeaders: clientSendsActionHeaders(client) }));
    const verify = { href: urls.signed(repo, 'objects/verify', { p: 'verify', u: u.id }, ttl), expires_in: ttl };
    // The Hugging Face multipart format: header holds chunk_size and the part URLs under
    // five-digit keys, nothing else; href is the completion URL.
    const parts = await store.partTargets(u, MULTIPART_TTL);
    const header: Record<string, string> = { chunk_size: String(u.chunkSize) };
    parts.forEach((url, i) => (header[String(i + 1).padStart(5, '0')] = url));
    const href = urls.signed(repo, `multipart/${u.id}/complete`, { p: 'complete', u: u.id }, MULTIPART_TTL);
    return { oid, size, authenticated: true, actions: { upload: { href, header, expires_in: MULTIPART_TTL }, verify } };
  }

  /** Assembles a multipart upload's parts while holding its claim, then hands it to hashing. */
  async function assembleUnderClaim(row: UploadRow, where: RepoAt, parts: PartEtag[], claim: string): Promise<void> {
    const u = staged(row, where);
    const heartbeat = renewing(row.id, claim);
    try {
      // A completion retried after a fault that struck once the parts were assembled: they are
      // already one staged object (the store no longer has the parts), so it is not assembled again.
      if ((await store.stagedSize(u)) !== row.size) await store.completeMultipart(u, parts);
      const stagedSize = await store.stagedSize(u);
      if (stagedSize !== row.size) {
        await store.discardStaged(u);
        await uploads.finishClaim(row.id, 'open', claim, 'failed');
        // A client error (400), not a server fault: retrying cannot help, the upload is discarded.
        throw badRequest(`the parts add up to ${stagedSize ?? 0} bytes, not ${row.size}: push again to upload the file anew`);
      }
    } catch (err) {
      await uploads.releaseOpenClaim(row.id, claim).catch(() => {});
      throw err;
    } finally {
      heartbeat.stop();
    }
    const hashing = newClaim();
    if (await uploads.claimForHashing(row.id, hashing, claimUntil())) void hashUnderClaim(row, hashing);
  }

  /** Renews a claim on an open upload every HEARTBEAT_MS while its holder works; `held` turns false once it is lost. */
  function renewing(id: string, claim: string): { held: () => boolean; stop: () => void } {
    let held = true;
    const timer = setInterval(() => {
      uploads.renewClaim(id, 'open', claim, claimUntil()).then((ok) => (held &&= ok), () => {});
    }, HEARTBEAT_MS);
    timer.unref();
    return { held: () => held, stop: () => clearInterval(timer) };
  }

  const verifyQueue = keyedQueue();

  /**
   * Confirms a basic upload: whoever claims it in the database does the work, anywhere (this
   * process, another one on the data directory); the others wait for the outcome until
   * `deadline`, then answer 503. A claim whose holder died lapses and is taken over.
   */
  async function verifyBasic(row: UploadRow, where: RepoAt, deadline: number): Promise<VerifyResult> {
    for (;;) {
      const current = await uploads.find(row.id);
      if (!current) return { ok: false, status: 404, message: 'no such upload for this object' };
      if (current.state === 'done') return { ok: true };
      if (current.state === 'failed') return { ok: false, status: 422, message: 'the uploaded bytes do not match the oid; the upload was discarded' };
      const claim = newClaim();
      if (await uploads.takeClaim(row.id, 'open', claim, claimUntil(), new Date().toISOString())) {
        if (current.claimedUntil) log.warn({ upload: row.id, oid: row.oid }, 'verifying an LFS upload again: its verifier stopped (a crash or a restart)');
        return verifyUnderClaim(current, where, claim);
      }
      if (Date.now() >= deadline) return { ok: false, status: 503, retryAfter: 5, message: 'the upload is being verified by another request: try again in a few seconds' };
      await new Promise((r) => setTimeout(r, VERIFY_POLL_MS));
    }
  }

  /**
   * Checks (where the store needs it), commits and links a basic upload while holding its verify
   * claim. The check is recorded (hashed_at) before the commit, so a verifier taking over after a
   * crash that finds the staged bytes gone and the object in place knows this upload's bytes were
   * checked and went there, and only links it.
   */
  async function verifyUnderClaim(row: UploadRow, where: RepoAt, claim: string): Promise<VerifyResult> {
    const u = staged(row, where);
    const heartbeat = renewing(row.id, claim);
    const lost: VerifyResult = { ok: false, status: 503, retryAfter: 5, message: 'the upload is being verified by another request: try again in a few seconds' };
    try {
      const stagedSize = await store.stagedSize(u);
      if (stagedSize !== row.size) {
        if (row.hashedAt && stagedSize === null && (await store.stat(row.oid)) === row.size) {
          // Checked and committed before a crash: only the link is missing.
          await uploads.linkObject(row.repoId, row.oid, row.size);
          await uploads.finishClaim(row.id, 'open', claim, 'done');
          return { ok: true };
        }
        await uploads.releaseOpenClaim(row.id, claim);
        return { ok: false, status: 404, message: 'the object was not uploaded: upload it, then verify' };
      }
      // fs checked the sha256 while receiving; S3 checked the signed x-amz-checksum-sha256,
      // unless the endpoint ignores checksums (s3rver, some S3-compatible stores): then the
      // bytes are read back and hashed here before anything is linked.
      // Hashed again even when a verifier that died had checked them (hashed_at): the client may
      // have sent the bytes again since, and nothing is committed unchecked.
      if (store.stagedChecksumVerified && !(await store.stagedChecksumVerified(u))) {
        const sha256 = await hashStaged(u, heartbeat.held);
        if (sha256 === null) return lost;
        if (sha256 !== row.oid) {
          log.error({ repo: u.repoId, oid: row.oid, sha256, upload: row.id }, 'LFS UPLOAD DOES NOT MATCH ITS OID: staged bytes deleted, not linked');
          if (!(await uploads.renewClaim(row.id, 'open', claim, claimUntil()))) return lost;
          await store.discardStaged(u);
          await uploads.finishClaim(row.id, 'open', claim, 'failed');
          return { ok: false, status: 422, message: `the uploaded bytes hash to ${sha256}, not to the oid: the upload was discarded, push again` };
        }
      }
      // Lost the claim (this process stalled past it): whoever took it over finishes the upload.
      if (!(await uploads.markHashed(row.id, 'open', claim))) return lost;
      // A collection of the oid that began before this upload (none can begin while it is open)
      // must be over before the bytes go to the oid, or it could remove them once committed.
      await settleDeletion(row.oid);
      await store.commitStaged(u);
      await uploads.linkObject(row.repoId, row.oid, row.size);
      await uploads.finishClaim(row.id, 'open', claim, 'done');
      return { ok: true };
    } catch (err) {
      // A fault (storage, database): the claim is given back at once, so the client's retry, or
      // another verifier, can go on without waiting for it to lapse.
      await uploads.releaseOpenClaim(row.id, claim).catch(() => {});
      throw err;
    } finally {
      heartbeat.stop();
    }
  }

  /** `deadline`: when a wait for a hash in progress gives up (set when the request came, before any queueing). */
  async function verifyNow(row: UploadRow, where: RepoAt, size: number, deadline: number): Promise<VerifyResult> {
    if (size !== row.size) return { ok: false, status: 422, message: `size ${size} does not match the upload's size ${row.size}` };
    if ((await uploads.linkedSizes(row.repoId, [row.oid])).has(row.oid)) return { ok: true };
    if (row.kind === 'basic') return verifyBasic(row, where, deadline);
    // Multipart: wait a while for the hash that the completion started, taking it over if its
    // hasher is gone; a long hash (hundreds of GB) answers 503 and the client asks again.
    for (;;) {
      const now = await uploads.find(row.id);
      // Open with a live claim: a completion (maybe in another process) is assembling the parts.
      if (!now || (now.state === 'open' && lapsed(now))) return { ok: false, status: 404, message: 'the multipart upload was not completed: send the completion request first' };
      if (now.state === 'done') return { ok: true };
      if (now.state === 'failed') return { ok: false, status: 422, message: 'the uploaded bytes do not match the oid; the upload was discarded' };
      if (now.state === 'hashing' && lapsed(now)) await resumeHashing(now);
      if (Date.now() >= deadline) {
        return { ok: false, status: 503, retryAfter: 5, message: 'the uploaded object is still being checked (sha256 of its parts): try again in a few seconds' };
      }
      await new Promise((r) => setTimeout(r, VERIFY_POLL_MS));
    }
  }

  return {
    async batch(repo, req, client) {
      const sha256 = req.hash_algo === undefined || req.hash_algo === 'sha256' || req.hash_algo === 'sha_256';
      const offersMultipart = req.operation === 'upload' && (req.transfers ?? []).includes('multipart');
      const valid = req.objects.filter((o) => typeof o.oid === 'string' && OID.test(o.oid)).map((o) => o.oid as string);
      const linked = await uploads.linkedSizes(repo.id, valid);
      const storable = (size: unknown): size is number => typeof size === 'number' && size <= settings.lfsMaxObjectSize;
      const wantsMultipart =
        offersMultipart && req.objects.some((o) => storable(o.size) && o.size > settings.multipartThreshold && !linked.has(o.oid as string));
      const transfer = wantsMultipart ? 'multipart' : 'basic';

      // First every object's answer, or the upload it needs; nothing is recorded or stored yet.
      const objects: ObjectResult[] = [];
      const opening: { at: number; row: UploadRow }[] = [];
      const downloading: { at: number; oid: string; size: number }[] = [];
      const nextId = uploadIds(req.operation === 'upload' ? req.objects.length : 0);
      let partsLeft = MAX_BATCH_PARTS;
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
          downloading.push({ at: objects.length, oid, size: have });
          objects.push({ oid, size: have });
          continue;
        }
        if (have !== undefined) {
          if (have === size) objects.push({ oid, size });
          else fail(422, `size ${size} does not match the stored object's size ${have}`);
          continue;
        }
        if (!storable(size)) { fail(422, `this object is too large: ${size} bytes, while this server stores objects of at most ${settings.lfsMaxObjectSize} bytes`); continue; }
        if (size > settings.multipartThreshold && !offersMultipart) { fail(422, ENABLE_LARGEFILES_ADVICE); continue; }
        const row = newUpload(nextId(), repo.id, oid, size, transfer === 'multipart');
        if (row.chunkSize) {
          const parts = partCount(size, row.chunkSize);
          if (parts > partsLeft) {
            fail(429, `this batch already needs ${MAX_BATCH_PARTS - partsLeft} part URLs; one batch gets at most ${MAX_BATCH_PARTS}: send this object again in a later batch (send fewer objects per batch)`);
            continue;
          }
          partsLeft -= parts;
        }
        opening.push({ at: objects.length, row });
        objects.push({ oid, size });
      }

      // Rows first, then the store: a crash in between leaves rows the sweep removes, never
      // store-side uploads that no row owns. A database that cannot write fails the batch here.
      if (downloading.length > 0) {
        // All the links of a batch at once: a store that presigns prepares its signing once.
        const targets = await downloadTargets(downloading, repo, client.userId);
        downloading.forEach(({ at, oid, size }, i) => (objects[at] = { oid, size, authenticated: true, actions: { download: { ...targets[i], expires_in: BASIC_TTL } } }));
      }
      const rows = opening.map((o) => o.row);
      await uploads.insert(rows);
      await startMultiparts(rows.filter((r) => r.kind === 'multipart'), repo);
      if (transfer === 'basic') {
        const targets = await uploadTargets(rows.map((r) => staged(r, repo)), client);
        opening.forEach(({ at, row }, i) => (objects[at] = basicUploadActions(repo, row, targets[i])));
      } else {
        for (const { at, row } of opening) objects[at] = await uploadActions(repo, row, client, transfer);
      }
      return { transfer, objects, hash_algo: 'sha256' };
    },

    verify(row, where, size) {
      // One verify of an upload at a time, whoever asks (the verify route, a client retrying, a
      // commit confirming its pending uploads), in any process: a basic upload is claimed in the
      // database (verifyBasic). The queue only spares this process's own requests the polling.
      // The upload is read again once its turn has come; waiting for it counts against the deadline.
      const deadline = Date.now() + VERIFY_WAIT_MS;
      return verifyQueue(row.id, async () => {
        const current = await uploads.find(row.id);
        return current ? verifyNow(current, where, size, deadline) : { ok: false as const, status: 404, message: 'no such upload for this object' };
      });
    },

    async completeMultipart(row, where, parts) {
      // One completion of an upload at a time, in any process (a retried completion sent to
      // another node): a second would find the parts already assembled and gone. The others wait
      // for the holder's outcome until the deadline, then answer 503.
      const deadline = Date.now() + VERIFY_WAIT_MS;
      for (;;) {
        const claim = newClaim();
        if (await uploads.takeClaim(row.id, 'open', claim, claimUntil(), new Date().toISOString())) return assembleUnderClaim(row, where, parts, claim);
        const current = await uploads.find(row.id);
        if (current?.state === 'hashing' || current?.state === 'done') return;
        if (!current || current.state === 'failed') throw badRequest('this upload failed its checks: push again to start a new one');
        if (Date.now() >= deadline) throw new ServiceUnavailable('the upload is being completed by another request: try again in a few seconds', 5);
        await new Promise((r) => setTimeout(r, VERIFY_POLL_MS));
      }
    },

    async confirmPending(repo, oid) {
      if ((await uploads.linkedSizes(repo.id, [oid])).has(oid)) return true;
      for (const row of await uploads.pending(repo.id, oid)) {
        // A multipart upload still open was never completed (none is assembling it): its parts are not an object yet.
        if (row.kind === 'multipart' && row.state === 'open' && lapsed(row)) continue;
        const result = await this.verify(row, repo, row.size);
        if (result.ok) return true;
        // Still being hashed: the commit is answered 503 with Retry-After, not "not uploaded".
        if (result.status === 503) throw new ServiceUnavailable(result.message, result.retryAfter);
      }
      return false;
    },

    async storeFromServer(repo, oid, size, open) {
      if (!OID.test(oid)) throw new Error(`invalid oid ${oid}`);
      if ((await uploads.linkedSizes(repo.id, [oid])).has(oid)) return;
      if (size > settings.lfsMaxObjectSize) throw badRequest(`this file is too large: ${size} bytes, while this server stores objects of at most ${settings.lfsMaxObjectSize} bytes`);
      const row = newUpload(crypto.randomBytes(18).toString('base64url'), repo.id, oid, size, false);
      await uploads.insert([row]);
      try {
        await store.putStaged(staged(row, repo), open());
      } catch (err) {
        await store.discardStaged(staged(row, repo)).catch(() => {});
        await uploads.delete(row.id).catch(() => {});
        throw err;
      }
      const result = await this.verify(row, repo, size);
      if (result.ok) return;
      if (result.status === 503) throw new ServiceUnavailable(result.message, result.retryAfter);
      throw new Error(`storing an uploaded file in the LFS store failed: ${result.message}`);
    },

    async sweep(opts = {}) {
      const at = new Date().toISOString();
      // An hour's grace past the expiry: a completion or verify that began just before it may
      // still be assembling or hashing the bytes.
      const expired = await uploads.expiredOpen(new Date(Date.now() - EXPIRY_GRACE_MS).toISOString());
      for (const row of expired) {
        const u = staged(row, NOWHERE);
        try {
          if (row.kind === 'multipart') await store.abortMultipart(u);
          await store.discardStaged(u);
          await uploads.delete(row.id);
        } catch (err) {
          log.warn({ err, upload: row.id }, 'could not abort an expired upload');
        }
      }
      for (const row of await uploads.lapsedHashing(at)) {
        if (row.expiresAt < new Date(Date.now() - EXPIRY_GRACE_MS).toISOString()) await giveUpHashing(row);
        else await resumeHashing(row);
      }
      // Other processes may share the data directory: only what was written before this one
      // started (at start), or over an hour ago and before that (later), can be theirs no more.
      await removeLeftovers(new Date(opts.atStart ? startedAt : Math.min(startedAt, Date.now() - LEFTOVER_AGE_MS)));
      return expired.length;
    },

    removeLeftovers,
  };
}
