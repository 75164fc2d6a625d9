import { printable } from './names.js';

// File paths inside a repository, as clients name them: in commits (the Hub API), LFS locks, and
// the URLs that read files (resolve, tree listings). One set of rules; reads check only the shape
// of a path, because a git push may have stored names that commits refuse (a backslash, a
// segment of spaces), and those files must stay readable.

/** git and the file systems under it take no longer path. */
const MAX_PATH_BYTES = 4096;
/** Nor a longer file name. */
const MAX_SEGMENT_BYTES = 255;

/** C0 controls, DEL, C1 controls (NEL among them), the Unicode line and paragraph separators: they forge lines in git and git-lfs output. */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;
/** C0 controls and DEL: what a path that is read may not hold (git's `<commit>:<path>` is one line). */
const C0_CONTROL = /[\x00-\x1f\x7f]/;
/** Bidirectional overrides and isolates: they make a path show in another order than it is stored. */
const BIDI = /[\u202a-\u202e\u2066-\u2069]/;
/** A UTF-16 surrogate without its pair: it has no UTF-8 form, so git cannot store it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export interface PathRules {
  /** At most this many bytes (UTF-8); 4096 unless given (LFS locks take 1024, as they are listed in git-lfs output). */
  maxBytes?: number;
  /** At most this many bytes per segment; 255 unless given (a file system's longest file name; an LFS lock writes no file, so it takes its whole length). */
  maxSegmentBytes?: number;
  /**
   * The path names a file that may already exist (a read): only its shape is checked. Otherwise
   * (a commit writes it, a lock is taken on it) every rule applies.
   */
  existing?: boolean;
}

/** Why `path` is not a file path inside a repository, or null. */
export function pathProblem(path: string, rules: PathRules = {}): string | null {
  const shown = `file path "${printable(path)}"`;
  const maxBytes = rules.maxBytes ?? MAX_PATH_BYTES;
  const maxSegmentBytes = rules.maxSegmentBytes ?? MAX_SEGMENT_BYTES;
  const writing = !rules.existing;
  if (path === '') return 'empty file path: give a path inside the repository';
  if (Buffer.byteLength(path) > maxBytes) return `${shown} is longer than ${maxBytes} bytes`;
  if ((writing ? CONTROL : C0_CONTROL).test(path)) return `${shown} holds a control character (newline, tab, NUL, ...): control characters are not allowed`;
  if (writing && LONE_SURROGATE.test(path)) return `${shown} is not valid Unicode (a lone surrogate): send it as UTF-8`;
  if (writing && BIDI.test(path)) return `${shown} holds a bidirectional override character (U+202A–U+202E, U+2066–U+2069)`;
  if (writing && path.includes('\\')) return `${shown} holds a backslash: separate folders with "/"`;
  if (path.startsWith('/') || (writing && /^[A-Za-z]:/.test(path))) return `${shown} is absolute: give it relative to the repo root, without a leading '/'`;
  for (const segment of path.split('/')) {
    if (segment === '') return `${shown} has an empty segment: empty path segments ('//' or a trailing '/') are not allowed`;
    if (segment === '.' || segment === '..') return `${shown} has a "${segment}" segment: '.' and '..' segments are not allowed`;
    if (!writing) continue;
    if (segment.trim() === '') return `${shown} has a segment made only of spaces`;
    // .git itself, and the spellings file systems fold into it (git's fsck refuses the same).
    if (/^\.git[. ]*$/i.test(segment) || /^git~1$/i.test(segment)) return `${shown} names a .git folder`;
    if (Buffer.byteLength(segment) > maxSegmentBytes) return `${shown} has a segment longer than ${maxSegmentBytes} bytes`;
  }
  return null;
}
