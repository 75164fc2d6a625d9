import { spawn } from 'node:child_process';
import { MAX_POINTER_SIZE, MIN_POINTER_SIZE, parsePointer } from '../../lfs/pointer.js';
import { objectInfoAll, readBlob, readTreeObject } from './content.js';
import { runGit } from './run.js';
import { concurrencyLimit } from '../util/concurrency.js';

// Listings of a tree with sizes and Git LFS pointer details, through native git (`git ls-tree`,
// and the warm `cat-file` of content.ts for pointer blobs), for the Hub API's tree and repo info.
// Callers pass object ids they resolved themselves: nothing a client typed reaches git's argv.

export interface TreeEntry {
  type: 'file' | 'directory';
  /** Git object id: the blob (for an LFS file, its pointer's blob) or the tree. */
  oid: string;
  /** Path from the repository root. */
  path: string;
  /** The blob's size in git (the pointer's size for an LFS file); 0 for directories. */
  blobSize: number;
  /** Symlinks are files whose blob is the link target; they are never LFS pointers. */
  symlink: boolean;
}

export interface LfsDetails {
  /** sha256 of the content. */
  oid: string;
  /** Size of the content. */
  size: number;
  /** Size of the pointer file in git. */
  pointerSize: number;
}

/** `git ls-tree` of `treeOid` (`-r` when recursive, with `-t` its folders too), paths under `base`. */
function lsTreeArgs(treeOid: string, opts: { recursive: boolean; directories: boolean }): string[] {
  const args = ['ls-tree', '-z', '-l'];
  if (opts.recursive) args.push('-r');
  if (opts.recursive && opts.directories) args.push('-t');
  args.push('--end-of-options', treeOid);
  return args;
}

/** One NUL-terminated ls-tree record: "<mode> SP <type> SP <oid> SP+ <size or ->\t<path>"; null for submodules. */
function treeEntryOf(record: string, prefix: string): TreeEntry | null {
  const tab = record.indexOf('\t');
  const [mode, type, oid, size] = record.slice(0, tab).split(' ').filter(Boolean);
  const path = prefix + record.slice(tab + 1);
  if (type === 'tree') return { type: 'directory', oid, path, blobSize: 0, symlink: false };
  if (type === 'blob') return { type: 'file', oid, path, blobSize: Number(size), symlink: mode === '120000' };
  return null;
}

/** Every entry of a tree (repo info's siblings list them all, as the Hub's do). */
export async function listTree(
  dir: string,
  env: NodeJS.ProcessEnv,
  treeOid: string,
  opts: { base: string; recursive: boolean; directories: boolean },
): Promise<TreeEntry[]> {
  const out = await runGit(lsTreeArgs(treeOid, opts), { env, cwd: dir });
  const prefix = opts.base ? `${opts.base}/` : '';
  return out.split('\0').flatMap((record) => (record ? (treeEntryOf(record, prefix) ?? []) : []));
}

/**
 * Entries `offset` to `offset + count - 1` of a tree listing, and whether more follow: git's
 * output is read only as far as needed, so a page of a huge tree costs its position, not the tree.
 */
export function listTreePage(
  dir: string,
  env: NodeJS.ProcessEnv,
  treeOid: string,
  opts: { base: string; recursive: boolean; directories: boolean },
  offset: number,
  count: number,
): Promise<{ entries: TreeEntry[]; more: boolean }> {
  const prefix = opts.base ? `${opts.base}/` : '';
  return new Promise((resolve, reject) => {
    const child = spawn('git', lsTreeArgs(treeOid, opts), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const entries: TreeEntry[] = [];
    const stderr: Buffer[] = [];
    let seen = 0;
    let rest = '';
    let done = false;
    const finish = (more: boolean) => {
      if (done) return;
      done = true;
      child.stdout.destroy();
      if (child.exitCode === null) child.kill('SIGTERM');
      resolve({ entries, more });
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const records = (rest + chunk).split('\0');
      rest = records.pop()!;
      for (const record of records) {
        const entry = record ? treeEntryOf(record, prefix) : null;
        if (!entry) continue;
        if (seen++ < offset) continue;
        if (entries.length === count) return finish(true);
        entries.push(entry);
      }
    });
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (done) return;
      if (code === 0) finish(false);
      else reject(new Error(`git ls-tree failed (${code}): ${Buffer.concat(stderr).toString('utf8').trim()}`));
    });
  });
}

/** One entry of a raw tree object: "<mode> SP <name> NUL <binary oid>", in git's order. */
interface RawTreeEntry {
  mode: string;
  name: string;
  oid: string;
}

/** The entries of a raw tree object (as `cat-file` gives it), whose object ids are `oidBytes` long (20: SHA-1, 32: SHA-256). */
export function parseTreeObject(raw: Buffer, oidBytes: number): RawTreeEntry[] {
  const entries: RawTreeEntry[] = [];
  let at = 0;
  while (at < raw.length) {
    const space = raw.indexOf(0x20, at);
    const nul = raw.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 1 + oidBytes > raw.length) throw new Error('malformed tree object');
    entries.push({ mode: raw.toString('latin1', at, space), name: raw.toString('utf8', space + 1, nul), oid: raw.toString('hex', nul + 1, nul + 1 + oidBytes) });
    at = nul + 1 + oidBytes;
  }
  return entries;
}

/**
 * Entries `offset` to `offset + count - 1` of one folder, `treeOid` a tree or a commit (its subfolders included, submodules
 * left out, in git's order), and whether more follow; the same as listTreePage of the folder,
 * without starting a process: the tree object is read through the repo's warm `cat-file` and
 * parsed here, and only the page's files are sized (`info` of each, on the same reader). A tree
 * too large to read whole goes to listTreePage.
 */
export async function listFolderPage(
  dir: string,
  env: NodeJS.ProcessEnv,
  treeOid: string,
  base: string,
  offset: number,
  count: number,
): Promise<{ entries: TreeEntry[]; more: boolean }> {
  const tree = await readTreeObject(dir, env, `${treeOid}^{tree}`);
  if (!tree) return listTreePage(dir, env, treeOid, { base, recursive: false, directories: true }, offset, count);
  // Submodules (mode 160000) are not listed, as ls-tree's reader leaves them out.
  const listed = parseTreeObject(tree.content, tree.oid.length / 2).filter((e) => e.mode !== '160000');
  const page = listed.slice(offset, offset + count);
  const files = page.filter((e) => e.mode !== '40000');
  const infos = await objectInfoAll(dir, env, files.map((e) => e.oid));
  const sizes = new Map(files.map((e, i) => [e.oid, infos[i]?.size ?? 0]));
  const prefix = base ? `${base}/` : '';
  const entries = page.map((e): TreeEntry =>
    e.mode === '40000'
      ? { type: 'directory', oid: e.oid, path: prefix + e.name, blobSize: 0, symlink: false }
      : { type: 'file', oid: e.oid, path: prefix + e.name, blobSize: sizes.get(e.oid)!, symlink: e.mode === '120000' },
  );
  return { entries, more: listed.length > offset + count };
}

/** The LFS object a file's blob points to, or null when the blob is not a pointer file. */
export async function lfsDetailsOf(dir: string, env: NodeJS.ProcessEnv, entry: TreeEntry): Promise<LfsDetails | null> {
  if (entry.type !== 'file' || entry.symlink || entry.blobSize > MAX_POINTER_SIZE || entry.blobSize < MIN_POINTER_SIZE) return null;
  const content = await readBlob(dir, env, entry.oid, MAX_POINTER_SIZE);
  const pointer = content && parsePointer(content);
  return pointer ? { oid: pointer.oid, size: pointer.size, pointerSize: entry.blobSize } : null;
}

/** The LFS details of each entry (null for directories and regular files), read in one pipelined pass. */
export function lfsDetailsOfAll(dir: string, env: NodeJS.ProcessEnv, entries: TreeEntry[]): Promise<(LfsDetails | null)[]> {
  return Promise.all(entries.map((e) => lfsDetailsOf(dir, env, e)));
}

/** The committer date of a commit (by id), as an ISO 8601 UTC string such as 2024-05-01T12:00:00.000Z. */
export async function commitDate(dir: string, env: NodeJS.ProcessEnv, commitOid: string): Promise<string> {
  const seconds = Number((await runGit(['log', '-1', '--format=%ct', '--end-of-options', commitOid], { env, cwd: dir })).trim());
  return new Date(seconds * 1000).toISOString();
}

export interface LastCommit {
  id: string;
  title: string;
  /** ISO 8601 UTC. */
  date: string;
}

/** The last commit at or before `commitOid` that changed `path` (a checked path; pathspec magic is off); null if none did. */
// `git log -1 -- path` may walk a long history: however many entries the callers ask about
// (50 a tree page, 100 a paths-info request, from anyone), only a few run at once server-wide.
const logSlots = concurrencyLimit(4);

export async function lastCommitOf(dir: string, env: NodeJS.ProcessEnv, commitOid: string, path: string): Promise<LastCommit | null> {
  const out = await logSlots(() => runGit(['--literal-pathspecs', 'log', '-1', '--format=%H%x00%ct%x00%s', '--end-of-options', commitOid, '--', path], { env, cwd: dir }));
  const [id, seconds, title] = out.replace(/\n$/, '').split('\0');
  return id ? { id, title: title ?? '', date: new Date(Number(seconds) * 1000).toISOString() } : null;
}

/**
 * The last commit at or before `commitOid` that changed each of `names` (entries of the folder
 * `base`, '' for the root), in one `git log --name-only` walk of the folder's history that stops
 * as soon as every name has its commit, or after `maxCommits` commits (names not reached stay
 * out of the map). One process however many entries a tree page shows.
 */
export function lastCommitsIn(
  dir: string,
  env: NodeJS.ProcessEnv,
  commitOid: string,
  base: string,
  names: string[],
  maxCommits: number,
): Promise<Map<string, LastCommit>> {
  const wanted = new Set(names);
  const found = new Map<string, LastCommit>();
  if (!wanted.size) return Promise.resolve(found);
  const prefix = base ? `${base}/` : '';
  const args = ['--literal-pathspecs', 'log', '-z', '--name-only', '--no-renames', `--max-count=${maxCommits}`, '--format=%x01%H%x00%ct%x00%s', '--end-of-options', commitOid, '--', base || '.'];
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    let rest = '';
    let done = false;
    // The commit whose names are being read, and how far into its header the reader is.
    let current: LastCommit | null = null;
    let header: string[] = [];
    const finish = () => {
      if (done) return;
      done = true;
      child.stdout.destroy();
      if (child.exitCode === null) child.kill('SIGTERM');
      resolve(found);
    };
    const take = (token: string) => {
      if (/^\x01[0-9a-f]{40,64}$/.test(token)) {
        header = [token.slice(1)];
        current = null;
        return;
      }
      if (header.length === 1 || header.length === 2) {
        if (header.push(token) === 3) current = { id: header[0], date: new Date(Number(header[1]) * 1000).toISOString(), title: header[2] };
        return;
      }
      if (!current) return;
      header = [];
      const path = token.replace(/^\n/, '');
      if (!path.startsWith(prefix)) return;
      const name = path.slice(prefix.length).split('/')[0];
      if (wanted.has(name) && !found.has(name)) {
        found.set(name, current);
        if (found.size === wanted.size) finish();
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const tokens = (rest + chunk).split('\0');
      rest = tokens.pop()!;
      for (const token of tokens) {
        if (done) return;
        take(token);
      }
    });
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (done) return;
      if (code === 0) finish();
      else reject(new Error(`git log failed (${code}): ${Buffer.concat(stderr).toString('utf8').trim()}`));
    });
  });
}
