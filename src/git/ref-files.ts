import fs from 'node:fs';
import path from 'node:path';

// Which commit a branch name names, read from the repository's ref files the way git reads them,
// without a round trip to a git process. Only a sure answer is given: a branch (refs/heads/...)
// found by git's own lookup order with every name before it provably absent; anything else
// (tags, commit ids, missing names, symbolic refs other than to a branch, unusual files) is
// left to git (`undefined`). Nothing about the refs is kept between calls except the parsed
// packed-refs file, keyed by its stat data as git keys its own copy (stat_validity_check): a
// push, a commit or a `pack-refs` by any process on any node sharing the directory is seen by
// the next call.

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** A loose ref file: an object id and a newline (git accepts any trailing whitespace). */
const LOOSE_OID = /^([0-9a-f]{40}|[0-9a-f]{64})\s*$/;
const SYMREF = /^ref: (refs\/heads\/[^\s]+)\s*$/;

/**
 * git's lookup order for a short name (refs.c, ref_rev_parse_rules): the first of these that
 * exists is what the name means, whatever the others hold (a tag `main` wins over the branch).
 */
const RULES: readonly (readonly [string, string])[] = [['', ''], ['refs/', ''], ['refs/tags/', ''], ['refs/heads/', ''], ['refs/remotes/', ''], ['refs/remotes/', '/HEAD']];

/** Holds a loose ref file while it is read: one buffer for the process (reads are synchronous). */
const looseBuffer = Buffer.alloc(512);

/** A loose ref's file: its content, 'absent', or 'unsure' (a directory, an unreadable path, ...: git decides). */
function readLoose(dir: string, name: string): string | 'absent' | 'unsure' {
  const file = path.join(dir, name);
  let fd: number | undefined;
  try {
    // A stat that does not throw for a missing file: most names looked at are missing.
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) return 'absent';
    if (!stat.isFile() || stat.size >= looseBuffer.length) return 'unsure';
    fd = fs.openSync(file, 'r');
    const n = fs.readSync(fd, looseBuffer, 0, looseBuffer.length, 0);
    return n < looseBuffer.length ? looseBuffer.toString('latin1', 0, n) : 'unsure';
  } catch (err) {
    // Removed between the stat and the read: git would look in packed-refs next, so do we.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    return 'unsure';
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

interface Packed {
  /** dev, inode, size, mtime and ctime (ns): the file is parsed again when any of them changes. */
  key: string;
  /** ref name -> the object id it holds; null when the file could not be parsed (git decides). */
  refs: Map<string, string> | null;
}

/** packed-refs files parsed, by repository directory; least recently used out first. */
const packedByDir = new Map<string, Packed>();
const PACKED_REPOS = 64;
/** Larger packed-refs files are not parsed here (git answers for those repos). */
const PACKED_MAX_BYTES = 4 * 1024 * 1024;

/** The refs of `dir`'s packed-refs file (an empty map when there is none); null: git decides. */
function packedRefs(dir: string): Map<string, string> | null {
  const file = path.join(dir, 'packed-refs');
  let stat: fs.BigIntStats | undefined;
  try {
    stat = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  } catch {
    return null;
  }
  if (!stat) {
    packedByDir.delete(dir);
    return new Map();
  }
  if (!stat.isFile() || stat.size > PACKED_MAX_BYTES) return null;
  const key = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
  const kept = packedByDir.get(dir);
  if (kept?.key === key) {
    packedByDir.delete(dir);
    packedByDir.set(dir, kept);
    return kept.refs;
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch {
    // Removed between the stat and the read: git decides this time.
    return null;
  }
  // Only what the stat described is kept: a file replaced meanwhile has another inode and is parsed next time.
  const refs = parsePacked(text);
  if (text.length === Number(stat.size)) {
    packedByDir.delete(dir);
    packedByDir.set(dir, { key, refs });
    if (packedByDir.size > PACKED_REPOS) packedByDir.delete(packedByDir.keys().next().value!);
  }
  return refs;
}

/** `# pack-refs with: ...` header, `<oid> <name>` lines, `^<oid>` peeled lines; null for anything else. */
function parsePacked(text: string): Map<string, string> | null {
  const refs = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('^')) continue;
    const space = line.indexOf(' ');
    const oid = line.slice(0, space);
    if (space < 0 || !OID.test(oid)) return null;
    refs.set(line.slice(space + 1), oid);
  }
  return refs;
}

/** A ref's object id, loose file first then packed-refs, as git's files backend reads it; 'absent', or 'unsure'. */
type Lookup = { kind: 'oid'; oid: string } | { kind: 'symref'; target: string } | { kind: 'absent' } | { kind: 'unsure' };

function lookup(dir: string, name: string): Lookup {
  const loose = readLoose(dir, name);
  if (loose === 'unsure') return { kind: 'unsure' };
  if (loose !== 'absent') {
    const oid = LOOSE_OID.exec(loose);
    if (oid) return { kind: 'oid', oid: oid[1] };
    const symref = SYMREF.exec(loose);
    return symref ? { kind: 'symref', target: symref[1] } : { kind: 'unsure' };
  }
  // packed-refs holds only names under refs/. Looked at after the loose file, as git does: a
  // `pack-refs` moving the ref from one to the other meanwhile is then seen in one or the other.
  if (!name.startsWith('refs/')) return { kind: 'absent' };
  const refs = packedRefs(dir);
  if (!refs) return { kind: 'unsure' };
  const oid = refs.get(name);
  return oid ? { kind: 'oid', oid } : { kind: 'absent' };
}

/**
 * The commit id `revision` (a checked revision: revisionProblem found nothing) names when it is
 * a branch (its short name, `refs/heads/...`, or a symbolic ref such as HEAD pointing at one),
 * read from the ref files; undefined when the files do not answer for sure (ask git). A branch
 * always holds a commit: git refuses to write anything else to refs/heads/.
 */
export function branchCommitFromFiles(dir: string, revision: string): string | undefined {
  // A full object id is an object id to git, whatever refs are called so.
  if (OID.test(revision)) return undefined;
  for (const [prefix, suffix] of RULES) {
    const name = prefix + revision + suffix;
    const found = lookup(dir, name);
    if (found.kind === 'absent') continue;
    if (found.kind === 'unsure') return undefined;
    if (found.kind === 'symref') {
      const target = lookup(dir, found.target);
      return target.kind === 'oid' ? target.oid : undefined;
    }
    return name.startsWith('refs/heads/') ? found.oid : undefined;
  }
  return undefined;
}
