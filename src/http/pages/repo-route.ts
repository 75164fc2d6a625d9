import type { NextFunction, Request, Response } from 'express';
import type { RepoRef } from '../../domain/names.js';
import { parseRepoPath } from '../repo-path.js';
import { errorPage } from './respond.js';

// Page routes under a repo's address: `/{prefix}{ns}/{name}{suffix}` with both names checked.

function repoAt(pathname: string, suffix: string): ReturnType<typeof parseRepoPath> {
  if (!pathname.endsWith(suffix)) return null;
  // parseRepoPath wants something after the name: give it a lone '/' and accept only that.
  return parseRepoPath(`${pathname.slice(0, pathname.length - suffix.length)}/`, /^\/$/);
}

/** A handler for `method` on the repo path ending in `suffix` ('' for the repo page itself); other requests pass on. */
export function repoRoute(method: 'GET' | 'POST', suffix: string, handler: (req: Request, res: Response, ref: RepoRef, next: NextFunction) => Promise<void>) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) return next();
    const parsed = repoAt(req.path, suffix);
    if (!parsed) return next();
    if (!parsed.ok) return errorPage(req, res, 400, 'Invalid address', parsed.message);
    await handler(req, res, parsed.ref, next);
  };
}
