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
const PREFIXES = ['', 'refs/', 'refs/tags/', 'refs/heads/', 'refs/remotes/', 'refs/remotes/'];
const SUFFIXES = ['', '', '', '', '', '/HEAD'];

/** Holds a loose ref file while it is read: one buffer for the process (reads are synchronous). */
const looseBuffer = Buffer.alloc(512);

/**
 * A loose ref's file: its content, 'absent', or 'unsure' (a directory, an unreadable file, ...:
 * git decides). `file` is the repo's directory and the ref's name joined with '/': the name is a
 * checked revision (no '.', '..' or empty parts), so nothing needs normalising. This runs on
 * every download, so it does the least work it can: an existence check first (most names looked
 * at are missing), then one read.
 */
function readLoose(file: string): string | 'absent' | 'unsure' {
  // False for a missing file or a missing directory on the way (ENOTDIR too): no ref there.
  if (!fs.existsSync(file)) return 'absent';
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const n = fs.readSync(fd, looseBuffer, 0, looseBuffer.length, 0);
    return n < looseBuffer.length ? looseBuffer.toString('latin1', 0, n) : 'unsure';
  } catch (err) {
    // Removed since (git would look in packed-refs next, so do we); a directory, unreadable: git decides.
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'unsure';
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

/** What a loose ref file holds: an object id, a symbolic ref to a branch, or something git decides about. */
function parseLoose(content: string): { oid: string } | { target: string } | null {
  const oid = LOOSE_OID.exec(content);
  if (oid) return { oid: oid[1] };
  const symref = SYMREF.exec(content);
  return symref ? { target: symref[1] } : null;
}

/** A branch's object id (loose file, then packed-refs); undefined when it has none or the files are unsure. */
function branchOid(dir: string, name: string): string | undefined {
  const loose = readLoose(`${dir}/${name}`);
  if (loose === 'unsure') return undefined;
  if (loose !== 'absent') {
    const parsed = parseLoose(loose);
    return parsed && 'oid' in parsed ? parsed.oid : undefined;
  }
  return packedRefs(dir)?.get(name);
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
  // The loose files first, in git's order, up to the first that exists.
  let hit = -1;
  let content = '';
  for (let i = 0; i < PREFIXES.length; i++) {
    const loose = readLoose(`${dir}/${PREFIXES[i]}${revision}${SUFFIXES[i]}`);
    if (loose === 'unsure') return undefined;
    if (loose !== 'absent') {
      hit = i;
      content = loose;
      break;
    }
  }
  // Then packed-refs, read after the loose files (as git does): a `pack-refs` moving a ref from
  // its loose file into packed-refs meanwhile is seen in one or the other. A name before the
  // loose hit that packed-refs holds comes first in git's order (it holds names under refs/ only).
  const before = hit < 0 ? PREFIXES.length : hit;
  let packed: Map<string, string> | null | undefined;
  for (let i = 0; i < before; i++) {
    const name = `${PREFIXES[i]}${revision}${SUFFIXES[i]}`;
    if (!name.startsWith('refs/')) continue;
    packed ??= packedRefs(dir);
    if (!packed) return undefined;
    const oid = packed.get(name);
    if (oid !== undefined) return name.startsWith('refs/heads/') ? oid : undefined;
  }
  if (hit < 0) return undefined;
  const parsed = parseLoose(content);
  if (!parsed) return undefined;
  // A symbolic ref (HEAD) to a branch: that branch's commit.
  if ('target' in parsed) return branchOid(dir, parsed.target);
  return `${PREFIXES[hit]}${revision}`.startsWith('refs/heads/') && SUFFIXES[hit] === '' ? parsed.oid : undefined;
}
