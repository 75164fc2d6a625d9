import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { HubgateError } from '../src/domain/errors.js';
import { storageFault } from '../src/domain/faults.js';
import type { RepoRef } from '../src/domain/names.js';
import type { GuardedRepo, LfsCaller, LfsDenial, LfsWeb } from './ports.js';
import { isLfsContentType, LFS_MEDIA_TYPE } from './protocol.js';
import type { RepoAt } from './store/types.js';

// What every LFS handler answers with: the LFS JSON error format (git-lfs prints `message`),
// JSON bodies, access denials and storage faults. Its own module so the batch, lock and fs
// transfer handlers share it without importing each other.

/** The repo an LFS request is about, parsed once from the path by the LFS router. */
export interface LfsRepo {
  ref: RepoRef;
  where: RepoAt;
}

export function lfsRepoOf(res: Response): LfsRepo {
  return res.locals.lfsRepo as LfsRepo;
}

/** The repo the route's guard allowed (res.locals.repo); only for handlers behind a guard. */
export function guardedRepo(res: Response): GuardedRepo {
  const repo = res.locals.repo as GuardedRepo | undefined;
  if (!repo) throw new Error('guardedRepo: the LFS route has no guard');
  return repo;
}

/** The caller identified for the request. */
export function callerOf(res: Response): LfsCaller {
  return res.locals.caller as LfsCaller;
}

const JSON_LIMIT = 4 * 1024 * 1024;

export function lfsError(req: Request, res: Response, status: number, message: string, headers: Record<string, string> = {}): void {
  res.status(status).set({ ...headers, 'Content-Type': LFS_MEDIA_TYPE }).send(JSON.stringify({ message, request_id: String(req.id) }));
}

export function lfsJson(res: Response, status: number, body: unknown): void {
  res.status(status).set('Content-Type', LFS_MEDIA_TYPE).send(JSON.stringify(body));
}

/** Parses a JSON body, answering malformed or oversized bodies itself; undefined when it did. */
export type JsonReader = (req: Request, res: Response) => Promise<unknown>;

export function jsonReader(web: Pick<LfsWeb, 'declaredLengthAtMost'>): JsonReader {
  const parseJson = web.declaredLengthAtMost(JSON_LIMIT, express.json({ type: () => true, limit: JSON_LIMIT, strict: true }), 'send fewer objects per request');
  return (req, res) => readJson(parseJson, req, res);
}

async function readJson(parseJson: RequestHandler, req: Request, res: Response): Promise<unknown> {
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

/** LFS's denial renderer (the guard's, and the download links'): LFS JSON, the challenge also as LFS-Authenticate. */
export function deny(req: Request, res: Response, answer: LfsDenial): void {
  const headers: Record<string, string> = { ...answer.headers };
  if (answer.status === 401) headers['LFS-Authenticate'] = headers['WWW-Authenticate'];
  if (answer.errorCode) headers['X-Error-Code'] = answer.errorCode;
  lfsError(req, res, answer.status, answer.message, headers);
}

/**
 * Answers a machine fault (full or read-only disk, database that cannot write, object store
 * down) in the LFS error format, which git-lfs prints: 507, or 503 with Retry-After. Undefined
 * when `err` is not one. A body not read yet is read and dropped, so the client gets the answer.
 */
export function answerFault(req: Request, res: Response, err: unknown): true | undefined {
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

/** Error middleware for the LFS routes: storage faults in the LFS format, anything else to the app. */
export function lfsFaults(err: unknown, req: Request, res: Response, next: NextFunction): void {
  if (!answerFault(req, res, err)) next(err);
}

/** A handler answering 405 with `message` (and an Allow header when given). */
export function methodNotAllowed(message: string, allow?: string) {
  return (req: Request, res: Response): void => lfsError(req, res, 405, message, allow ? { Allow: allow } : {});
}
