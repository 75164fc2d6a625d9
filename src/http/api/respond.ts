import type { Request, Response } from 'express';
import { answerFor } from '../../access/answer.js';
import { resolveAccess } from '../../access/resolve.js';
import type { Action } from '../../access/policy.js';
import type { RepoWithOwner } from '../../db/repos.js';
import { NameError, nameProblem, printable, type RepoRef, type RepoType, repoIdOf } from '../../domain/names.js';
import type { AppContext } from '../context.js';
import { baseUrlOf } from '../urls.js';

// Answers of the Hub API: JSON `{"error"}` plus the X-Error-Code / X-Error-Message headers the
// Hugging Face clients turn into their own exceptions (hf-wire.md §3).

export type ErrorCode = 'RepoNotFound' | 'GatedRepo' | 'RevisionNotFound' | 'EntryNotFound';

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
  res.json({ error: message });
}

/** 404 RevisionNotFound for a revision that names no branch, tag or commit of the repo. */
export function revisionNotFound(res: Response, repoId: string, revision: string, headers: Record<string, string> = {}): void {
  apiError(res, 404, `Invalid rev id: ${printable(revision)} is not a branch, tag or commit of ${repoId}`, { code: 'RevisionNotFound', headers });
}

const TYPE_OF_PLURAL: Record<string, RepoType> = { models: 'model', datasets: 'dataset', spaces: 'space' };

/** The repo named by `/api/{models|datasets|spaces}/{ns}/{name}/...` path parameters, names checked. */
export function apiRepoRef(params: Record<string, string | string[] | undefined>): RepoRef {
  const type = TYPE_OF_PLURAL[String(params.plural)];
  if (!type) throw new NameError(`unknown repo type "${String(params.plural).slice(0, 40)}": use models, datasets or spaces`);
  const namespace = String(params.ns);
  const name = String(params.name);
  const problem = nameProblem('namespace', namespace) ?? nameProblem('repo name', name);
  if (problem) throw new NameError(problem);
  return { type, namespace, name };
}


/**
 * Asks the access policy whether the caller may do `action` on the repo; answers a denial
 * itself (and returns undefined), so a handler goes on only with an allowed repo.
 */
export async function authorizeRepo(ctx: AppContext, req: Request, res: Response, ref: RepoRef, action: Action): Promise<RepoWithOwner | undefined> {
  const { decision, repo } = await resolveAccess(ctx.db, res.locals.caller, ref, action);
  if (decision.allow) return repo;
  // Denials name the repo as the caller spelled it: the stored spelling would tell a hidden repo from a missing one.
  const answer = answerFor(decision, repoIdOf(ref), baseUrlOf(ctx.cfg, req));
  apiError(res, answer.status, answer.message, { code: answer.errorCode, headers: answer.headers, headerMessage: answer.errorMessage });
  return undefined;
}
