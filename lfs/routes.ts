import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { answerFor } from '../src/access/answer.js';
import { baseUrlOf } from '../src/api/respond.js';
import { resolveAccess } from '../src/access/resolve.js';
import { findRepo } from '../src/db/repos.js';
import { findUpload } from '../src/db/lfs.js';
import { HubgateError } from '../src/domain/errors.js';
import { storageFault } from '../src/domain/faults.js';
import { callerOfLink, callerUserId } from '../src/identity/identify.js';
import { repoIdOf, type RepoRef } from '../src/domain/names.js';
import type { AppContext } from '../src/http/context.js';
import { declaredLengthAtMost } from '../src/http/request-body.js';
import { parseRepoPath } from '../src/http/repo-path.js';
import { batchRequest, isLfsContentType, LFS_MEDIA_TYPE, MAX_BATCH_OBJECTS, multipartCompletion, verifyRequest } from './protocol.js';
import { locks } from './locks.js';
import type { Signer } from './signing.js';
import { ByteMismatch, type FsStore } from './store/fs.js';
import type { ObjectStore, RepoAt } from './store/types.js';
import { staged, type Transfers } from './transfers.js';

// The Git LFS HTTP endpoints under {repo}[.git]/info/lfs/. The batch endpoint is authorized
// by the access policy; transfer, verify and completion URLs carry their own signed tokens.

export interface LfsDeps {
  store: ObjectStore;
  signer: Signer;
  transfers: Transfers;
}

const LFS_ROUTE = /^\/info\/lfs\/(.+)$/;
const JSON_LIMIT = 4 * 1024 * 1024;
const parseJson = declaredLengthAtMost(JSON_LIMIT, express.json({ type: () => true, limit: JSON_LIMIT, strict: true }), 'send fewer objects per request');

export function lfsError(req: Request, res: Response, status: number, message: string, headers: Record<string, string> = {}): void {
  res.status(status).set({ ...headers, 'Content-Type': LFS_MEDIA_TYPE }).send(JSON.stringify({ message, request_id: String(req.id) }));
}

export function lfsJson(res: Response, status: number, body: unknown): void {
  res.status(status).set('Content-Type', LFS_MEDIA_TYPE).send(JSON.stringify(body));
}

/** Parses a JSON body, answering malformed or oversized bodies itself; undefined when it did. */
export async function readJson(req: Request, res: Response): Promise<unknown> {
  if (!isLfsContentType(req.get('content-type'))) {
    lfsError(req, res, 415, `Content-Type must be ${LFS_MEDIA_TYPE}`);
    return undefined;
  }
  const err = await new Promise<(Error & { status?: number; type?: string }) | undefined>((resolve) => parseJson(req, res, (e?: unknown) => resolve(e as Error | undefined)));
  if (err) {
    const tooLarge = err instanceof HubgateError ? err.message : 'request body too large';
    lfsError(req, res, err.status === 413 ? 413 : 400, err.status === 413 ? tooLarge : `malformed JSON: ${err.message}`);
    return undefined;
  }
  return req.body;
}

/**
 * Answers a machine fault (full or read-only disk, database that cannot write, object store
 * down) in the LFS error format, which git-lfs prints: 507, or 503 with Retry-After. Undefined
 * when `err` is not one. A body not read yet is read and dropped, so the client gets the answer.
 */
function answerFault(req: Request, res: Response, err: unknown): true | undefined {
  const fault = storageFault(err);
  if (!fault) return undefined;
  req.log.error({ err }, 'storage fault');
  if (res.headersSent) {
    res.destroy();
    return true;
  }
  if (!req.complete && !req.destroyed) req.resume();
  lfsError(req, res, fault.status, fault.message, 'retryAfter' in fault ? { 'Retry-After': String(fault.retryAfter) } : {});
  return true;
}

export function lfsRoutes(ctx: AppContext, lfs: LfsDeps): RequestHandler {
  const handle = lfsHandler(ctx, lfs);
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      await handle(req, res, next);
    } catch (err) {
      if (!answerFault(req, res, err)) throw err;
    }
  };
}

function lfsHandler(ctx: AppContext, lfs: LfsDeps): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const parsed = parseRepoPath(req.path, LFS_ROUTE);
    if (!parsed) return next();
    res.locals.route = 'lfs';
    if (!parsed.ok) return lfsError(req, res, 400, parsed.message);
    const ref = parsed.ref;
    const rest = LFS_ROUTE.exec(parsed.rest)![1];
    const where: RepoAt = { repoId: repoIdOf(ref), baseUrl: baseUrlOf(ctx, req) };

    if (rest === 'objects/batch') {
      if (req.method !== 'POST') return lfsError(req, res, 405, 'use POST for the batch API');
      return batch(ctx, lfs, req, res, ref, where);
    }
    if (rest === 'objects/verify') {
      if (req.method !== 'POST') return lfsError(req, res, 405, 'use POST to verify');
      return verify(ctx, lfs, req, res, ref, where);
    }
    if (rest === 'locks' || rest.startsWith('locks/')) return locks(ctx, req, res, ref, rest);
    const complete = /^multipart\/([A-Za-z0-9_-]{16,64})\/complete$/.exec(rest);
    if (complete) {
      if (req.method !== 'POST') return lfsError(req, res, 405, 'use POST to complete a multipart upload');
      return completeMultipart(ctx, lfs, req, res, ref, where, complete[1]);
    }
    if (lfs.store.kind === 'fs') {
      const object = /^objects\/([0-9a-f]{64})$/.exec(rest);
      if (object && (req.method === 'GET' || req.method === 'HEAD')) return download(ctx, lfs, lfs.store as FsStore, req, res, ref, where, object[1]);
      if (object && req.method === 'PUT') return upload(ctx, lfs, lfs.store as FsStore, req, res, ref, where, object[1]);
      const part = /^multipart\/([A-Za-z0-9_-]{16,64})\/([0-9]{1,5})$/.exec(rest);
      if (part && req.method === 'PUT') return uploadPart(ctx, lfs, lfs.store as FsStore, req, res, ref, where, part[1], Number(part[2]));
    }
    return lfsError(req, res, 404, `no LFS endpoint ${req.method} .../info/lfs/${rest.slice(0, 100)}`);
  };
}

async function batch(ctx: AppContext, lfs: LfsDeps, req: Request, res: Response, ref: RepoRef, where: RepoAt): Promise<void> {
  const body = await readJson(req, res);
  if (body === undefined) return;
  const parsed = batchRequest.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return lfsError(req, res, 422, `invalid batch request: ${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  if (parsed.data.objects.length > MAX_BATCH_OBJECTS) {
    return lfsError(req, res, 413, `too many objects in one batch (${parsed.data.objects.length}): send at most ${MAX_BATCH_OBJECTS}`);
  }
  const { decision, repo } = await resolveAccess(ctx.db, res.locals.caller, ref, parsed.data.operation === 'upload' ? 'write' : 'read');
  if (!decision.allow) return deny(req, res, decision, where);
  lfsJson(res, 200, await lfs.transfers.batch({ id: repo!.id, ...where }, parsed.data, { userAgent: req.get('user-agent'), userId: callerUserId(res.locals.caller) }));
}

export function deny(req: Request, res: Response, denial: Parameters<typeof answerFor>[0], where: RepoAt): void {
  const answer = answerFor(denial, where.repoId, where.baseUrl);
  const headers: Record<string, string> = { ...answer.headers };
  if (answer.status === 401) headers['LFS-Authenticate'] = headers['WWW-Authenticate'];
  if (answer.errorCode) headers['X-Error-Code'] = answer.errorCode;
  lfsError(req, res, answer.status, answer.message, headers);
}

/** The claims of the request's signed token, if it is valid for this purpose and repo. */
function claimsFor(lfs: LfsDeps, req: Request, purpose: string, where: RepoAt): Record<string, string | number> | null {
  const claims = lfs.signer.verify(req.query.token, purpose);
  return claims && claims.r === where.repoId ? claims : null;
}

/** The open upload a signed token names, checked against the repo in the path. */
async function uploadFor(ctx: AppContext, claims: Record<string, string | number>, ref: RepoRef) {
  const row = await findUpload(ctx.db, String(claims.u));
  const repo = await findRepo(ctx.db, ref.type, ref.namespace, ref.name);
  return row && repo && row.repoId === repo.id ? row : undefined;
}

const INVALID_LINK = 'this link is invalid or has expired: run the upload or download again';

async function verify(ctx: AppContext, lfs: LfsDeps, req: Request, res: Response, ref: RepoRef, where: RepoAt): Promise<void> {
  const claims = claimsFor(lfs, req, 'verify', where);
  if (!claims) return lfsError(req, res, 401, INVALID_LINK, { 'LFS-Authenticate': 'Basic realm="hubgate"' });
  const body = await readJson(req, res);
  if (body === undefined) return;
  const parsed = verifyRequest.safeParse(body);
  if (!parsed.success) return lfsError(req, res, 422, `invalid verify request: ${parsed.error.issues[0].message}`);
  const row = await uploadFor(ctx, claims, ref);
  if (!row || row.oid !== parsed.data.oid) return lfsError(req, res, 404, 'no such upload for this object');
  const result = await lfs.transfers.verify(row, where, parsed.data.size);
  if (!result.ok) return lfsError(req, res, result.status, result.message, result.retryAfter ? { 'Retry-After': String(result.retryAfter) } : {});
  lfsJson(res, 200, { message: 'ok' });
}


async function completeMultipart(ctx: AppContext, lfs: LfsDeps, req: Request, res: Response, ref: RepoRef, where: RepoAt, uploadId: string): Promise<void> {
  const claims = claimsFor(lfs, req, 'complete', where);
  if (!claims || claims.u !== uploadId) return lfsError(req, res, 401, INVALID_LINK);
  const body = await readJson(req, res);
  if (body === undefined) return;
  const parsed = multipartCompletion.safeParse(body);
  if (!parsed.success) return lfsError(req, res, 422, `invalid completion request: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`);
  const row = await uploadFor(ctx, claims, ref);
  if (!row || row.oid !== parsed.data.oid) return lfsError(req, res, 404, 'no such upload for this object');
  // A retried completion whose first answer was lost is answered the same way again.
  if (row.state === 'hashing' || row.state === 'done') return lfsJson(res, 200, { message: 'ok' });
  if (row.state !== 'open') return lfsError(req, res, 409, 'this upload failed its checks: push again to start a new one');
  try {
    await lfs.transfers.completeMultipart(row, where, [...parsed.data.parts].sort((a, b) => a.partNumber - b.partNumber));
  } catch (err) {
    if (answerFault(req, res, err)) return;
    if (err instanceof ByteMismatch || err instanceof HubgateError) return lfsError(req, res, 400, err.message);
    throw err;
  }
  lfsJson(res, 200, { message: 'ok' });
}

async function download(ctx: AppContext, lfs: LfsDeps, store: FsStore, req: Request, res: Response, ref: RepoRef, where: RepoAt, oid: string): Promise<void> {
  const claims = claimsFor(lfs, req, 'get', where);
  if (!claims || claims.o !== oid) return lfsError(req, res, 401, INVALID_LINK);
  // The link was issued to a user who could read then; ask again, so a rejected request, a
  // cancelled grant or a removed member stops the download at once, not when the link expires.
  const { decision } = await resolveAccess(ctx.db, await callerOfLink(ctx.db, claims.c), ref, 'read');
  if (!decision.allow) return deny(req, res, decision, where);
  // sendFile streams the file and answers Range requests with 206. The ETag is the oid, as the
  // resolve redirect's: @huggingface/hub reads it from the response it was redirected to.
  // Reads of 256 KiB rather than the default 64 KiB halve the time for many large objects at once
  // (bench/resolve.js); send hands its options to fs.createReadStream, though express's types omit it.
  const options = {
    acceptRanges: true, dotfiles: 'allow' as const, cacheControl: false, lastModified: false, highWaterMark: 1 << 18,
    headers: { 'Content-Type': 'application/octet-stream', ETag: `"${oid}"` },
  };
  res.sendFile(store.objectPath(oid), options, (err) => {
    if (!err || res.headersSent) return;
    // A range past the end is a 416 (git-lfs then restarts the download), not a missing object.
    if ((err as { status?: number }).status === 416) return lfsError(req, res, 416, `Range Not Satisfiable: ${req.get('range')}`);
    lfsError(req, res, 404, 'Object does not exist');
  });
}

/** Checks a transfer PUT against its signed token and the declared length before reading any byte. */
async function openPut(ctx: AppContext, lfs: LfsDeps, req: Request, res: Response, ref: RepoRef, where: RepoAt, purpose: 'put' | 'part') {
  const claims = claimsFor(lfs, req, purpose, where);
  const row = claims && (await uploadFor(ctx, claims, ref));
  if (!claims || !row || row.state !== 'open') {
    lfsError(req, res, 401, INVALID_LINK);
    return undefined;
  }
  return { claims, row, staged: staged(row, where) };
}

/**
 * Whether the client's connection is gone, so nothing can answer it. (req.destroyed is no sign
 * of that: a request is destroyed as soon as its whole body has been read.) Disk faults are
 * answered by answerFault.
 */
function clientGone(req: Request): boolean {
  return req.socket?.destroyed ?? true;
}

async function upload(ctx: AppContext, lfs: LfsDeps, store: FsStore, req: Request, res: Response, ref: RepoRef, where: RepoAt, oid: string): Promise<void> {
  const put = await openPut(ctx, lfs, req, res, ref, where, 'put');
  if (!put) return;
  if (put.row.oid !== oid || put.row.kind !== 'basic') return lfsError(req, res, 401, INVALID_LINK);
  const length = req.get('content-length');
  if (length !== undefined && Number(length) !== put.row.size) return lfsError(req, res, 400, `Content-Length ${length} does not match the object size ${put.row.size}`);
  try {
    await store.writeStaged(put.staged, req);
  } catch (err) {
    if (err instanceof ByteMismatch) return lfsError(req, res, 400, `${err.message}; nothing was stored`);
    if (clientGone(req)) return;
    throw err;
  }
  res.status(200).end();
}

async function uploadPart(ctx: AppContext, lfs: LfsDeps, store: FsStore, req: Request, res: Response, ref: RepoRef, where: RepoAt, uploadId: string, partNumber: number): Promise<void> {
  const put = await openPut(ctx, lfs, req, res, ref, where, 'part');
  if (!put) return;
  if (put.row.id !== uploadId || put.claims.n !== partNumber || put.row.kind !== 'multipart') return lfsError(req, res, 401, INVALID_LINK);
  try {
    const etag = await store.writePart(put.staged, partNumber, req);
    res.status(200).set('ETag', etag).end();
  } catch (err) {
    if (err instanceof ByteMismatch) return lfsError(req, res, 400, `${err.message}; the part was not stored`);
    if (clientGone(req)) return;
    throw err;
  }
}
