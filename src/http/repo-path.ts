import { nameProblem, type RepoRef } from '../domain/names.js';

export type ParsedRepoPath = { ok: true; ref: RepoRef; rest: string } | { ok: false; message: string };

const TYPE_OF_PREFIX = { datasets: 'dataset', spaces: 'space' } as const;

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
  const type = m[1] ? TYPE_OF_PREFIX[m[1] as keyof typeof TYPE_OF_PREFIX] : 'model';
  let namespace: string;
  let name: string;
  try {
    namespace = decodeURIComponent(m[2]);
    name = decodeURIComponent(m[3]).replace(/\.git$/, '');
  } catch {
    return { ok: false, message: 'invalid repository path: bad percent-encoding' };
  }
  const problem = nameProblem('namespace', namespace) ?? nameProblem('repo name', name);
  if (problem) return { ok: false, message: problem };
  return { ok: true, ref: { type, namespace, name }, rest: m[4] };
}
