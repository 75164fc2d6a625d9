import { printable } from './names.js';

// Revisions and file paths inside a repository, as users give them in URLs. Checked before git
// sees either: a revision becomes part of a `git cat-file` request and a path part of `<commit>:<path>`.

const MAX_REVISION_LENGTH = 255;
const MAX_PATH_LENGTH = 4096;

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

/** Why `path` is not a file path inside a repository, or null. */
export function filePathProblem(path: string): string | null {
  const shown = printable(path);
  if (path.length > MAX_PATH_LENGTH) return `the file path is longer than ${MAX_PATH_LENGTH} characters`;
  if (/[\x00-\x1f\x7f]/.test(path)) return `invalid file path "${shown}": control characters are not allowed`;
  if (path.startsWith('/')) return `invalid file path "${shown}": give the path inside the repository, without a leading '/'`;
  const segments = path.split('/');
  if (segments.some((s) => s === '')) return `invalid file path "${shown}": empty path segments ('//' or a trailing '/') are not allowed`;
  if (segments.some((s) => s === '.' || s === '..')) return `invalid file path "${shown}": '.' and '..' segments are not allowed`;
  return null;
}

