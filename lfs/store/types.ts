import type { RequestHandler } from 'express';
import type { Readable } from 'node:stream';
import type { LinksPort } from '../ports.js';
import type { Signer } from '../signing.js';

// The one small interface every LFS object store implements. Objects are content-addressed
// by oid; uploads in progress are staged by upload id and only reach their oid once their
// bytes are confirmed, so nothing half-written or unverified is ever downloadable.

export interface Target {
  href: string;
  header?: Record<string, string>;
  /**
   * An upload's verify URL, from a store whose upload URL is hubgate's own (fs): one signed token
   * serves both (one signature per object of a batch, not two). Not part of the upload action.
   */
  verifyHref?: string;
}

/** Builds hubgate's own signed URLs, for stores (fs) whose bytes go through hubgate. */
export interface HubUrls {
  /** `{baseUrl}/{repoId}.git/info/lfs/{path}?token=...`, the token carrying the claims and the repo id. */
  signed(where: RepoAt, path: string, claims: Record<string, string | number>, ttlSeconds: number): string;
  /** As `signed`, for several paths under one token (the same claims): one signature for all of them. */
  signedEach(where: RepoAt, paths: readonly string[], claims: Record<string, string | number>, ttlSeconds: number): string[];
}

/** A repo and the URL its client reached hubgate at. */
export interface RepoAt {
  repoId: string;
  baseUrl: string;
}

export interface StagedUpload extends RepoAt {
  /** hubgate's id of the upload (also the staging key). */
  id: string;
  oid: string;
  size: number;
  /** The store's own id of a multipart upload (S3 UploadId). */
  storeUploadId?: string | null;
  chunkSize?: number | null;
}

/** How the client of a basic upload will send its PUT. */
export interface UploadTargetOptions {
  /**
   * Whether the client sends the action's `header` with its PUT (git-lfs does). When false the
   * href must work for a bare PUT of the raw bytes: a store may then not require any header.
   */
  clientSendsHeaders: boolean;
}

export interface PartEtag {
  partNumber: number;
  etag: string;
}

/** What a store's own transfer handlers need: the link signer, and the links port (uploads, the policy again for downloads). */
export interface TransferDeps {
  signer: Signer;
  links: LinksPort;
  /**
   * Behind nginx (HUBGATE_ACCEL_REDIRECT): the internal location the store's root is served at,
   * ending in '/'. Downloads are then answered with X-Accel-Redirect and the proxy sends the bytes.
   */
  accelRedirect?: string;
}

/** Handlers for transfer URLs served by hubgate itself; the LFS router gives them their routes. */
export interface TransferHandlers {
  /** GET and HEAD of a stored object, Range supported. */
  download: RequestHandler;
  /** PUT of all the bytes of a basic upload. */
  upload: RequestHandler;
  /** PUT of one part of a multipart upload. */
  uploadPart: RequestHandler;
}

export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /**
   * The handlers behind the transfer URLs this store hands out on hubgate's own address (fs).
   * Stores whose clients send and fetch bytes from the store directly (s3) leave it out.
   */
  transferHandlers?(deps: TransferDeps): TransferHandlers;
  /**
   * The cheapest proof that the store can be used now (fs: its folders are there and take a new
   * file; s3: the bucket answers a HEAD), for /readyz; throws otherwise. `signal` ends it at its deadline.
   */
  ready(signal: AbortSignal): Promise<void>;
  /** Size of the stored object, or null when the store does not have it. */
  stat(oid: string): Promise<number | null>;
  /** The bytes of a stored object, for the server's own reads (converting it to Xet); fails when the store does not have it. */
  readObject(oid: string): Promise<Readable>;
  /**
   * Where a client GETs a stored object (Range supported), for the user `userId` (null:
   * anonymous). hubgate's own links (fs) ask the access policy again when fetched, so a
   * rejected or removed user's links stop working at once; presigned S3 links live `ttlSeconds`.
   */
  downloadTarget(oid: string, size: number, where: RepoAt, ttlSeconds: number, userId: number | null): Promise<Target>;
  /**
   * The origin of downloadTarget's URLs when they are not on hubgate's own address (s3: the
   * bucket's), so pages can allow images from it. Stores serving from hubgate (fs) leave it out.
   */
  downloadOrigin?(): Promise<string>;
  /** Where a client PUTs all the bytes of an upload at once (transfer "basic"). */
  uploadTarget(upload: StagedUpload, ttlSeconds: number, opts: UploadTargetOptions): Promise<Target>;
  /**
   * downloadTarget and uploadTarget for all the objects of a batch, in order. Stores that presign
   * (s3) prepare the signing once for the batch (credentials, date, signing key); the others
   * leave them out and are asked once per object.
   */
  downloadTargets?(objects: { oid: string; size: number }[], where: RepoAt, ttlSeconds: number, userId: number | null): Promise<Target[]>;
  uploadTargets?(uploads: StagedUpload[], ttlSeconds: number, opts: UploadTargetOptions): Promise<Target[]>;
  /** Begins a multipart upload; returns the store's upload id. */
  startMultipart(upload: StagedUpload): Promise<string>;
  /** One URL per part, in order, for parts of `upload.chunkSize` bytes. */
  partTargets(upload: StagedUpload, ttlSeconds: number): Promise<string[]>;
  /** Assembles the parts into the staged object. */
  completeMultipart(upload: StagedUpload, parts: PartEtag[]): Promise<void>;
  abortMultipart(upload: StagedUpload): Promise<void>;
  /**
   * Stages all the bytes of an upload that hubgate itself holds (a file uploaded from a web page),
   * as a client's basic upload would: fs hashes them on the way and keeps nothing that does not
   * match the oid and size; s3 PUTs them to the staging key (in parts when large, one part held in
   * memory at a time), with their SHA-256 checksum where it is one request. verify then commits
   * and links them as for any upload.
   */
  putStaged(upload: StagedUpload, body: Readable): Promise<void>;
  /** Size of the staged bytes of an upload, or null when nothing (complete) is staged. */
  stagedSize(upload: StagedUpload): Promise<number | null>;
  /**
   * Whether the store itself proved that the staged bytes of a basic upload hash to its oid (S3:
   * the object carries a SHA-256 checksum equal to the oid, checked by S3 on PUT). When it answers
   * false, verify hashes the staged bytes before committing them. Stores that hash the bytes as
   * they receive them and keep nothing that does not match (fs) leave it out.
   */
  stagedChecksumVerified?(upload: StagedUpload): Promise<boolean>;
  /** The staged bytes, for hashing them. */
  readStaged(upload: StagedUpload): Promise<Readable>;
  /** Moves confirmed staged bytes to the oid (or drops them when the oid is already stored). */
  commitStaged(upload: StagedUpload): Promise<void>;
  /** Removes staged bytes; idempotent. */
  discardStaged(upload: StagedUpload): Promise<void>;
  /**
   * Ids of the uploads with anything staged (bytes or parts) last written before `before`, so
   * the sweep can remove what no upload owns any more (a crash, a row gone). Stores that leave
   * this to the bucket's lifecycle rule (s3) leave it out.
   */
  stagedIds?(before: Date): Promise<string[]>;
  /**
   * The multipart uploads begun in the store before `before` whose parts were never assembled,
   * with the upload id each was begun for, so the sweep can abort those no upload owns any more
   * (a repo deleted, a crash). Stores that keep parts as staged files (fs: stagedIds) leave it out.
   */
  stagedMultiparts?(before: Date): Promise<{ id: string; storeUploadId: string }[]>;
  /**
   * Removes scratch files last written before `before` (left by a crash in the middle of a write);
   * how many. `dryRun`: only counts them.
   */
  removeScratch?(before: Date, opts?: { dryRun?: boolean }): Promise<number>;
  /** Every stored object (confirmed bytes under its oid), in no particular order, for garbage collection. */
  listObjects(): AsyncIterable<StoredObject>;
  /** Removes the stored bytes of `oid`; idempotent. Only garbage collection calls it (src/services/lfs-gc.ts). */
  deleteObject(oid: string): Promise<void>;
  /** Removes many objects' bytes in as few requests as the store allows (S3: 1,000 keys a request); idempotent. */
  deleteObjects?(oids: string[]): Promise<void>;
  /**
   * Xet storage (docs/xet.md): a verified xorb's chunk section, stored once by its hash string
   * (64 hex digits) under `xet/xorbs/` beside the LFS objects. Idempotent.
   */
  putXorb(hash: string, bytes: Uint8Array): Promise<void>;
  /** Bytes [start, end] (inclusive) of a stored xorb. */
  readXorb(hash: string, start: number, end: number): Promise<Readable>;
  /**
   * A presigned GET of bytes [start, end] of a stored xorb, the Range header signed with exactly
   * `bytes={start}-{end}`, so the URL opens no other bytes of the xorb. Stores serving through
   * hubgate (fs) leave it out: hubgate signs and serves the range itself.
   */
  xorbRangeUrl?(hash: string, start: number, end: number, ttlSeconds: number): Promise<string>;
  /**
   * Removes stored xorbs (S3: 1,000 keys a request); idempotent. Only garbage collection calls it,
   * once their rows are claimed (src/services/xet-gc.ts).
   */
  deleteXorbs(hashes: string[]): Promise<void>;
}

/** An object as the store lists it. */
export interface StoredObject {
  oid: string;
  size: number;
  lastModified: Date;
}
