import type { RepoRef } from '../domain/names.js';
import { repoOfParts, TYPE_OF_PREFIX } from '../domain/repo-path.js';

export type ParsedRepoPath = { ok: true; ref: RepoRef; rest: string } | { ok: false; message: string };

/**
 * Splits a request path `/{datasets/|spaces/}{ns}/{name}[.git]/{rest}` (rest given by the
 * caller's pattern) and validates both names before anything touches the database or disk.
 * Returns null when the path is not of that shape at all.
 */
export function parseRepoPath(pathname: string, rest: RegExp): ParsedRepoPath | null {
  const m = [/^\/(datasets|spaces)\/([^/]+)\/([^/]+)(\/.*)$/, /^\/()([^/]+)\/([^/]+)(\/.*)$/]
    .map((re) => re.exec(pathname))
    .find((match) => match && rest.test(match[4]));
  if (!m) return null;
  const type = m[1] ? TYPE_OF_PREFIX[m[1]] : 'model';
  let namespace: string;
  let name: string;
  try {
    namespace = decodeURIComponent(m[2]);
    name = decodeURIComponent(m[3]);
  } catch {
    return { ok: false, message: 'invalid repository path: bad percent-encoding' };
  }
  const parsed = repoOfParts(type, namespace, name);
  return parsed.ok ? { ok: true, ref: parsed.ref, rest: m[4] } : parsed;
}
