import type { Request, RequestHandler, Response } from 'express';
import type { RepoRef } from '../src/domain/names.js';

// What Git LFS needs from the rest of hubgate, as interfaces: the pipeline's access step, the
// upload rows and locks it keeps in the database, the checks behind signed links, and a few HTTP
// helpers and settings. The composition root (src/server.ts) implements them with src/services
// and src/http; lfs/ itself imports nothing of src/ but src/domain and src/util.

/** What a route may ask for (the access policy's actions). */
export type LfsAction = 'view' | 'read' | 'write' | 'admin';

/** A denial, as the policy's answer mapper words it; LFS renders it as LFS JSON. */
export interface LfsDenial {
  status: number;
  message: string;
  headers: Record<string, string>;
  /** The Hub's X-Error-Code, when the clients map this denial to an exception. */
  errorCode?: string;
}

/** How LFS answers a denial; the guard is bound to it by the composition root. */
export type LfsDenialRenderer = (req: Request, res: Response, answer: LfsDenial) => void;

/**
 * The pipeline's access step, bound to LFS's denial renderer: `guard(action)` loads the repo the
 * route put in res.locals.repoRef and the caller's facts once, asks the policy once, and either
 * renders the denial or sets res.locals.repo (read it with guardedRepo) and goes on.
 */
export type LfsGuard = (action: LfsAction | ((req: Request, res: Response) => LfsAction)) => RequestHandler;

/** The part of the guard's outcome (res.locals.repo) LFS reads. */
export interface GuardedRepo {
  row: { id: number };
  /** `ns/name` (with its type prefix) as stored. */
  repoId: string;
  /** What else the caller may do, from the same facts (force unlock needs admin). */
  may: Record<LfsAction, boolean>;
}

/** The caller identified for the request (res.locals.caller), as LFS reads it. */
export type LfsCaller = { kind: 'user'; user: { id: number } } | { kind: 'anonymous' | 'invalid' };

/** An LFS upload row: one object being sent, from batch to verify (or multipart completion). */
export interface UploadRow {
  id: string;
  repoId: number;
  oid: string;
  size: number;
  kind: 'basic' | 'multipart';
  storeUploadId: string | null;
  chunkSize: number | null;
  state: 'open' | 'hashing' | 'done' | 'failed';
  expiresAt: string;
  /** Until when the process hashing (state 'hashing') or verifying (a basic upload, state 'open') this upload holds it; null: nobody does. */
  claimedUntil?: string | null;
  /** When its bytes were found to match the oid (only the commit and the link are left). */
  hashedAt?: string | null;
}

/** The states a process claims an upload in (compare-and-set with a claim time). */
export type ClaimedState = 'open' | 'hashing';

/** The upload rows and object links LFS keeps; every state change is a compare-and-set in the database. */
export interface UploadsPort {
  insert(uploads: Omit<UploadRow, 'state'>[]): Promise<void>;
  find(id: string): Promise<UploadRow | undefined>;
  setStoreUploadId(id: string, storeUploadId: string): Promise<void>;
  delete(id: string): Promise<void>;
  /** Uploads of `oid` to the repo whose bytes may have arrived without a verify. */
  pending(repoId: number, oid: string): Promise<UploadRow[]>;
  expiredOpen(at: string): Promise<UploadRow[]>;
  lapsedHashing(at: string): Promise<UploadRow[]>;
  /** Those of `ids` that are uploads still in progress. */
  inProgress(ids: string[]): Promise<Set<string>>;
  claimForHashing(id: string, claim: string, until: string): Promise<boolean>;
  takeClaim(id: string, state: ClaimedState, claim: string, until: string, at: string): Promise<boolean>;
  renewClaim(id: string, state: ClaimedState, claim: string, until: string): Promise<boolean>;
  markHashed(id: string, state: ClaimedState, claim: string): Promise<boolean>;
  finishClaim(id: string, state: ClaimedState, claim: string, to: 'done' | 'failed'): Promise<boolean>;
  releaseOpenClaim(id: string, claim: string): Promise<void>;
  /** Records that the store holds `oid` with its bytes confirmed and links it to the repo. */
  linkObject(repoId: number, oid: string, size: number): Promise<void>;
  /** The sizes of those of `oids` that are linked to the repo. */
  linkedSizes(repoId: number, oids: string[]): Promise<Map<string, number>>;
  /** The garbage collection removing the bytes of `oid` right now, if any: its claim and until when it holds. */
  deletion(oid: string): Promise<{ claim: string; until: string } | undefined>;
  /** Takes over a collection of `oid` whose claim lapsed at `at`; false when someone holds it. */
  takeDeletion(oid: string, claim: string, until: string, at: string): Promise<boolean>;
  /** Ends a collection held by `claim` whose bytes are gone (the object's row goes). */
  finishDeletion(oid: string, claim: string): Promise<boolean>;
}

export interface LfsLock {
  id: number;
  repoId: number;
  path: string;
  ownerId: number;
  ownerName: string;
  ref: string | null;
  lockedAt: string;
}

export interface LockQuery {
  path?: string;
  id?: number;
  /** Only locks taken on this ref, and locks taken without a ref. */
  ref?: string;
  /** Continue from this lock id (as returned in `nextCursor`), inclusive. */
  cursor?: number;
  limit: number;
}

/** The LFS file locks of a repo: at most one per path. */
export interface LocksPort {
  /** Locks the path; an existing lock on it comes back with `created: false`. */
  create(l: { repoId: number; path: string; ownerId: number; ref: string | null }): Promise<{ created: boolean; lock: LfsLock }>;
  find(repoId: number, id: number): Promise<LfsLock | undefined>;
  list(repoId: number, q: LockQuery): Promise<{ locks: LfsLock[]; nextCursor?: number }>;
  delete(repoId: number, id: number): Promise<LfsLock | undefined>;
}

/** What the routes authorised by a signed URL need: the upload it names, and the policy again for download links. */
export interface LinksPort {
  /** The upload a signed token names, when it belongs to the repo in the path. */
  uploadIn(ref: RepoRef, uploadId: string): Promise<UploadRow | undefined>;
  /**
   * Asks the policy again whether the user a download link was issued to (its claim: a user id, 0
   * for anonymous) may still read the repo: null when allowed, else the denial to render.
   */
  readDenial(linkUser: unknown, ref: RepoRef, baseUrl: string): Promise<LfsDenial | null>;
}

/** `parseRepoPath` of src/http: the repo a request path names, checked. */
export type RepoPathParser = (pathname: string, rest: RegExp) => { ok: true; ref: RepoRef; rest: string } | { ok: false; message: string } | null;

/** The HTTP helpers LFS shares with the other surfaces. */
export interface LfsWeb {
  /** The public base URL for links (HUBGATE_PUBLIC_URL, else the request's host). */
  baseUrl(req: Request): string;
  parseRepoPath: RepoPathParser;
  /** Runs a body parser only when the declared Content-Length fits the limit (413 at once otherwise). */
  declaredLengthAtMost(limit: number, parser: RequestHandler, advice: string): RequestHandler;
}

/** Counts downloads per repo (the Hub's `downloads`); returns at once. */
export interface DownloadsPort {
  count(repoId: number, n: number): void;
}

/**
 * Xet storage, when on: an upload batch that offers the `xet` transfer is answered with it, each
 * object to upload pointing at the repo's Xet write-token route (the client then uploads through
 * the CAS and commits the LFS pointer as usual), as the Hub answers.
 */
export interface XetBatchPort {
  /** The answer to an upload batch offering `xet`: the objects already linked to the repo have no actions. */
  uploadBatch(repoId: number, ref: RepoRef, baseUrl: string, objects: { oid: string; size: number }[]): Promise<{ oid: string; size: number; upload?: string }[]>;
}

/**
 * Objects uploaded through Xet, whose bytes are only in xorbs (never copied into the store):
 * their downloads are hubgate's own signed URLs (whatever the store), answered by streaming the
 * file's reconstruction. Served whether Xet uploads are on or off.
 */
export interface XetObjectsPort {
  /** Those of `oids` linked to the repo whose bytes are only in Xet storage. */
  xetOnly(repoId: number, oids: readonly string[]): Promise<Set<string>>;
  /**
   * The bytes of `oid` for the repo (row id): its size, and bytes [start, end] (inclusive) in
   * batches of pieces, read from the xorbs as they are asked for (each batch is written at once).
   * Undefined when the repo holds no checked Xet file of that oid.
   */
  open(repoId: number, oid: string): Promise<{ size: number; read(start: number, end: number): AsyncIterable<Uint8Array[]> } | undefined>;
}

/** Everything the LFS router is given. */
export interface LfsPorts {
  /** Xet storage, when on. */
  xet?: XetBatchPort;
  /** Downloads of objects uploaded through Xet. */
  xetObjects?: XetObjectsPort;
  guard: LfsGuard;
  locks: LocksPort;
  links: LinksPort;
  web: LfsWeb;
  downloads: DownloadsPort;
}
