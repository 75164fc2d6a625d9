import { nameProblem, type RepoRef, type RepoType } from './names.js';

// The repo part of a path, as every front end receives it (HTTP paths, SSH commands):
// `{datasets/|spaces/}{namespace}/{name}[.git]`, checked by the one set of name rules.

export type ParsedRepo = { ok: true; ref: RepoRef } | { ok: false; message: string };

export const TYPE_OF_PREFIX: Record<string, RepoType> = { datasets: 'dataset', spaces: 'space' };

/** The repo named by its (already decoded) parts: a trailing `.git` is dropped, both names are checked. */
export function repoOfParts(type: RepoType, namespace: string, rawName: string): ParsedRepo {
  const name = rawName.replace(/\.git$/, '');
  const problem = nameProblem('namespace', namespace) ?? nameProblem('repo name', name);
  if (problem) return { ok: false, message: problem };
  return { ok: true, ref: { type, namespace, name } };
}

/** `[/]{datasets/|spaces/}ns/name[.git]` (one leading slash allowed, as in ssh:// URLs); anything else is refused with a message. */
export function parseRepoLocation(text: string): ParsedRepo {
  const parts = text.replace(/^\//, '').split('/');
  const typed = parts.length === 3 && Object.hasOwn(TYPE_OF_PREFIX, parts[0]);
  if (parts.length !== 2 && !typed) {
    return { ok: false, message: 'invalid repository path: use NAMESPACE/NAME, datasets/NAMESPACE/NAME or spaces/NAMESPACE/NAME' };
  }
  return typed ? repoOfParts(TYPE_OF_PREFIX[parts[0]], parts[1], parts[2]) : repoOfParts('model', parts[0], parts[1]);
}
