import type { NextFunction, Request, Response } from 'express';
import type { Answer } from '../../access/answer.js';
import { HubgateError, type HubErrorCode } from '../../domain/errors.js';
import { storageFault } from '../../domain/faults.js';
import { NameError, nameProblem, printable, type RepoRef, type RepoType } from '../../domain/names.js';

// Answers of the Hub API: JSON `{"error"}` plus the X-Error-Code / X-Error-Message headers the
// Hugging Face clients turn into their own exceptions (hf-wire.md §3).

export type ErrorCode = HubErrorCode;

/** Header values must be Latin-1 on one line: anything else is shown as '?'. */
export function headerSafe(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '?').slice(0, 1000);
}

/** `headerMessage`: the X-Error-Message when the clients compare it exactly (the body keeps the longer message). */
export function apiError(
  res: Response,
  status: number,
  message: string,
  opts: { code?: ErrorCode; headers?: Record<string, string>; headerMessage?: string } = {},
): void {
  res.status(status).set({ ...opts.headers, 'X-Error-Message': headerSafe(opts.headerMessage ?? message), ...(opts.code ? { 'X-Error-Code': opts.code } : {}) });
  // A HEAD answer has no body: without a JSON Content-Type, @huggingface/hub (fileExists) reports the
  // status instead of failing to parse an empty body; the headers carry the code and the message.
  if (res.req.method === 'HEAD') return void res.set('Content-Length', String(Buffer.byteLength(JSON.stringify({ error: message })))).end();
  res.json({ error: message });
}

/** 404 RevisionNotFound for a revision that names no branch, tag or commit of the repo. */
export function revisionNotFound(res: Response, repoId: string, revision: string, headers: Record<string, string> = {}): void {
  apiError(res, 404, `Invalid rev id: ${printable(revision)} is not a branch, tag or commit of ${repoId}`, { code: 'RevisionNotFound', headers });
}

/** The message of the 404 for an /api path (or method) that is no route of routes.ts. */
export function unservedApiRoute(req: Request): string {
  return `hubgate does not serve ${req.method} ${printable(req.path).slice(0, 200)}: it implements only part of the Hub API (the routes are listed under "HTTP routes" in hubgate's README)`;
}

const TYPE_OF_PLURAL: Record<string, RepoType> = { models: 'model', datasets: 'dataset', spaces: 'space' };

/** The repo named by `/api/{models|datasets|spaces}/{ns}/{name}/...` path parameters, names checked (NameError: 400). */
export function apiRepoRef(params: Record<string, string | string[] | undefined>): RepoRef {
  const type = TYPE_OF_PLURAL[String(params.plural)];
  if (!type) throw new NameError(`unknown repo type "${String(params.plural).slice(0, 40)}": use models, datasets or spaces`);
  const namespace = String(params.ns);
  const name = String(params.name);
  const problem = nameProblem('namespace', namespace) ?? nameProblem('repo name', name);
  if (problem) throw new NameError(problem);
  return { type, namespace, name };
}

/** The API's denial renderer for the repo guard: the policy's answer as JSON, with X-Error-Code and the clients' exact X-Error-Message. */
export function apiDenial(_req: Request, res: Response, answer: Answer): void {
  apiError(res, answer.status, answer.message, { code: answer.errorCode, headers: answer.headers, headerMessage: answer.errorMessage });
}

/**
 * The API's error renderer (and the last one of the app): a HubgateError as its status, message
 * and Hub error code; body-parser's 4xx; a storage fault as 503/507 with Retry-After; anything
 * else a 500 whose details go to the log only.
 */
export function apiFaults(err: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction): void {
  if (err instanceof NameError) return apiError(res, 400, err.message);
  // HubgateErrors and body-parser's errors (malformed JSON, too large) carry a 4xx meant for the user.
  if (err.status && err.status >= 400 && err.status < 500) {
    // Answered already (a request body cut by its idle timeout, for one): nothing more to say.
    if (res.headersSent) return void res.destroy();
    // A body not read to its end is not read at all: the connection closes after the answer.
    if (!req.complete) res.set('Connection', 'close');
    const message = err.type === 'entity.parse.failed' ? `malformed JSON body: ${err.message}` : err.type === 'entity.too.large' ? 'request body too large' : err.message;
    return apiError(res, err.status, message, { code: err instanceof HubgateError ? err.code : undefined });
  }
  // A full disk, a read-only disk, a database that cannot write: the client is told so, and may retry.
  const fault = storageFault(err);
  if (fault) {
    req.log.error({ err }, 'storage fault');
    if (res.headersSent) return void res.destroy();
    return apiError(res, fault.status, fault.message, { headers: 'retryAfter' in fault ? { 'Retry-After': String(fault.retryAfter) } : {} });
  }
  req.log.error({ err }, 'unhandled error');
  if (!res.headersSent) res.status(500).json({ error: 'Internal error; the server log has the details' });
  else res.destroy();
}
