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

/**
 * Why `branch` is not a branch a commit may go to, or null: a revision (above) made only of the
 * characters branch names are made of here, with git check-ref-format's rules on dots and slashes.
 */
export function branchProblem(branch: string): string | null {
  if (revisionProblem(branch) !== null || !/^[A-Za-z0-9._/-]{1,255}$/.test(branch) || /^[-/.]|\/\/|\.\.|\/\.|[/.]$|\.lock$/.test(branch)) {
    return `"${printable(branch)}" is not a branch name`;
  }
  return null;
}

/** Why `path` is not the path of a file that may exist in a repository (a read), or null: pathProblem's shape rules. */
export function filePathProblem(path: string): string | null {
  return pathProblem(path, { existing: true });
}
