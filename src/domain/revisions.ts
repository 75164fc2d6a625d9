import { printable } from './names.js';
import { pathProblem } from './paths.js';

// Revisions and branch names, as users give them in URLs and commits. Checked before git sees
// them: a revision becomes part of a `git cat-file` request, a branch the ref a commit moves.
// File paths are checked by src/domain/paths.ts.

const MAX_REVISION_LENGTH = 255;

/**
 * Why `revision` is not a branch, tag or commit id hubgate will look up (git check-ref-format's
 * rules, so no revision expression such as `main~1`, `:/text` or `HEAD@{1}` reaches git), or null.
 */
export function revisionProblem(revision: string): string | null {
  const shown = printable(revision);
  if (revision.length === 0) return 'the revision is empty: use a branch, a tag or a commit id';
  if (revision.length > MAX_REVISION_LENGTH) return `the revision is longer than ${MAX_REVISION_LENGTH} characters`;
  if (revision.startsWith('-')) return `invalid revision "${shown}": a revision cannot start with '-'`;
  // Control characters (NUL, newline, ...), space and the characters git gives a meaning in revisions.
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(revision)) return `invalid revision "${shown}": use a branch, a tag or a commit id (no spaces, control characters or any of ~ ^ : ? * [ \\)`;
  if (revision.includes('..') || revision.includes('@{') || revision.includes('//') || revision === '@') {
    return `invalid revision "${shown}": use a branch, a tag or a commit id`;
  }
  if (revision.startsWith('/') || revision.endsWith('/') || revision.endsWith('.') || revision.endsWith('.lock') || revision.split('/').some((part) => part.startsWith('.'))) {
    return `invalid revision "${shown}": use a branch, a tag or a commit id`;
  }
  return null;
}

export type RefKind = 'branch' | 'tag';

/**
 * Why `name` is not a branch (or tag) name, or null: git check-ref-format's rules (as
 * `git check-ref-format --branch` applies them), said one at a time, plus hubgate's own: a short
 * name (not `refs/heads/x` spelled out, as on the Hub), not `HEAD`, and printable ASCII only when
 * a name is created (`existing`: a name a push may already have stored, to look up or delete).
 */
export function refNameProblem(name: string, kind: RefKind, opts: { existing?: boolean } = {}): string | null {
  const bad = (rule: string) => `invalid ${kind} name "${printable(name)}": ${rule}`;
  if (name.length === 0) return `the ${kind} name is empty: give a name such as ${kind === 'branch' ? 'dev' : 'v1.0'}`;
  if (name.length > MAX_REVISION_LENGTH) return bad(`a ${kind} name has at most ${MAX_REVISION_LENGTH} characters`);
  if (name.startsWith('refs/')) return bad(`give the ${kind}'s short name (${printable(name.replace(/^refs\/(heads|tags)\//, '')) || 'x'}), not a full ref name starting with refs/`);
  if (/[\x00-\x1f\x7f]/.test(name)) return bad('a name cannot hold control characters (newlines, tabs, NUL, ...)');
  if (name.includes(' ')) return bad('a name cannot hold spaces');
  if (/[~^:?*[\\]/.test(name)) return bad('a name cannot hold any of ~ ^ : ? * [ \\');
  if (!opts.existing && /[^\x21-\x7e]/.test(name)) return bad('use printable ASCII characters only (letters, digits, and punctuation such as . _ - /)');
  if (name.includes('..')) return bad("a name cannot hold '..'");
  if (name.includes('@{')) return bad("a name cannot hold '@{'");
  if (name === '@' || name === 'HEAD') return bad(`"${name}" is reserved by git: choose another name`);
  if (name.startsWith('-')) return bad("a name cannot start with '-'");
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return bad("a name cannot start or end with '/' or hold '//'");
  if (name.endsWith('.')) return bad("a name cannot end with '.'");
  const parts = name.split('/');
  if (parts.some((part) => part.startsWith('.'))) return bad("no part of a name (between '/') may start with '.'");
  if (parts.some((part) => part.endsWith('.lock'))) return bad("no part of a name (between '/') may end with '.lock'");
  return null;
}

/** Why `branch` is not a branch a commit may go to or a new branch may be called, or null (refNameProblem's rules). */
export function branchProblem(branch: string): string | null {
  return refNameProblem(branch, 'branch');
}

/** Why `tag` is not a name a new tag may have, or null (refNameProblem's rules). */
export function tagProblem(tag: string): string | null {
  return refNameProblem(tag, 'tag');
}

/** Why `path` is not the path of a file that may exist in a repository (a read), or null: pathProblem's shape rules. */
export function filePathProblem(path: string): string | null {
  return pathProblem(path, { existing: true });
}
