import { pathProblem } from '../../domain/paths.js';
import { revisionProblem } from '../../domain/revisions.js';

// The `{rev}/{path}` part of `/{prefix}{ns}/{name}/resolve/{rev}/{path}` (and of `/raw/...`), checked before git
// sees either: the revision becomes part of a `git cat-file` request and the path part of
// `<commit>:<path>`, so both are held to what a branch name and a file path in a tree can be.

export const RESOLVE_ROUTE = /^\/(?:resolve|raw)\/([^/]+)\/(.+)$/;

/** The revision and file path of a resolve URL, decoded and checked. */
export interface ResolveTarget {
  revision: string;
  path: string;
}

export type ParsedTarget = ({ ok: true } & ResolveTarget) | { ok: false; message: string };

/** Decodes and checks the revision and file path of a resolve (or raw) URL, `rest` being `/resolve/...` or `/raw/...`. */
export function parseResolveTarget(rest: string): ParsedTarget {
  const m = RESOLVE_ROUTE.exec(rest);
  if (!m) return { ok: false, message: `use /{repo}/${rest.startsWith('/raw') ? 'raw' : 'resolve'}/{revision}/{path}` };
  let revision: string;
  let path: string;
  try {
    // A branch with '/' in its name arrives as %2F (clients quote the revision with safe="").
    revision = decodeURIComponent(m[1]);
    path = m[2].split('/').map(decodeURIComponent).join('/');
  } catch {
    return { ok: false, message: 'invalid resolve URL: bad percent-encoding' };
  }
  const problem = revisionProblem(revision) ?? pathProblem(path, { existing: true });
  return problem ? { ok: false, message: problem } : { ok: true, revision, path };
}
