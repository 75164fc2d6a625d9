import type { Request, Response } from 'express';
import { type RepoRef, repoIdOf } from '../domain/names.js';
import type { MovedRenderer } from './authorize.js';

// Requests to a moved repo's old name: each surface answers with the same address under the
// repo's new name (the repo guard decides when, src/http/authorize.ts). The Hub answers 307 on
// its API and resolve; git follows a redirect of its first request (info/refs) and then uses the
// new address for the rest of the clone or push; git-lfs follows 307 with the same method and body.

/**
 * The address of this request under the repo's new names: the path's namespace and name segments
 * replaced (a `.git` suffix kept), the rest of the path and the query as sent, percent-encoding
 * included (a revision `a%2Fb` stays one segment). Relative, as the Hub's are: huggingface_hub's
 * HEAD requests for file metadata follow only relative redirects.
 */
export function movedLocation(req: Request, from: RepoRef, to: RepoRef): string {
  const url = req.originalUrl;
  const q = url.indexOf('?');
  const segments = (q < 0 ? url : url.slice(0, q)).split('/');
  // After the leading '': api/{plural} on the Hub API ('api' is no namespace), else the type's prefix (none for models).
  const at = 1 + (segments[1]?.toLowerCase() === 'api' ? 2 : from.type === 'model' ? 0 : 1);
  const suffix = /\.git$/i.test(segments[at + 1] ?? '') ? '.git' : '';
  segments[at] = encodeURIComponent(to.namespace);
  segments[at + 1] = encodeURIComponent(to.name) + suffix;
  return segments.join('/') + (q < 0 ? '' : url.slice(q));
}

/**
 * A surface's redirect for a moved repo: `status` (307 keeps the method and body; the pages use
 * 302) to movedLocation, never cached (a new repo may take the old name), with a line of text
 * saying where the repo went.
 */
export function redirectMoved(status: 302 | 307): MovedRenderer {
  return (req: Request, res: Response, { from, to }) => {
    res
      .status(status)
      .set({ Location: movedLocation(req, from, to), 'Cache-Control': 'no-store', 'Content-Type': 'text/plain; charset=utf-8' })
      .send(`${repoIdOf(from)} has moved to ${repoIdOf(to)}\n`);
  };
}
