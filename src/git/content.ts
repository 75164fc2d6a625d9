import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import { revisionProblem } from '../domain/revisions.js';
import { branchCommitFromFiles } from './ref-files.js';

// Reads of repository content (README front matter, trees, small blobs) through one warm
// `git cat-file --batch-command` per repository, as design §1 asks: no JavaScript git.
// Requests to one repo are answered in order; the process exits after a quiet minute.

export interface ObjectInfo {
  oid: string;
  type: 'blob' | 'tree' | 'commit' | 'tag';
  size: number;
}

/** Largest object read whole into memory; bigger blobs are streamed with `git cat-file blob` by their readers. */
export const MAX_READ_BYTES = 16 * 1024 * 1024;
const IDLE_MS = 60_000;

interface Pending {
  command: 'info' | 'contents';
  resolve: (value: { info: ObjectInfo; content?: Buffer } | null) => void;
  reject: (err: Error) => void;
}

class CatFile {
  private child: ChildProcessWithoutNullStreams | null = null;
  private queue: Pending[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private idle: NodeJS.Timeout | null = null;

  constructor(
    private readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
    /** Which directory it reads (device and inode): git keeps reading it when it is renamed. */
    readonly identity: string | null,
  ) {}

  request(command: 'info' | 'contents', spec: string): Promise<{ info: ObjectInfo; content?: Buffer } | null> {
    // The protocol is line based: a name with a newline cannot be asked for (and cannot exist in a tree).
    if (/[\n\r\0]/.test(spec)) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const child = this.start();
      this.queue.push({ command, resolve, reject });
      child.stdin.write(`${command} ${spec}\n`);
      if (this.idle) clearTimeout(this.idle);
      this.idle = setTimeout(() => this.stop(), IDLE_MS).unref();
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn('git', ['cat-file', '--batch-command'], { cwd: this.dir, env: this.env });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.drain();
    });
    child.stderr.resume();
    child.stdin.on('error', () => {});
    const fail = (err: Error) => {
      if (this.child !== child) return;
      this.child = null;
      this.buffer = Buffer.alloc(0);
      for (const p of this.queue.splice(0)) p.reject(err);
    };
    child.on('error', fail);
    child.on('close', (code) => fail(new Error(`git cat-file exited (${code}) in ${this.dir}`)));
    return child;
  }

  /** Answers queued requests from whatever complete replies the buffer holds. */
  private drain(): void {
    while (this.queue.length) {
      const eol = this.buffer.indexOf(0x0a);
      if (eol < 0) return;
      const header = this.buffer.subarray(0, eol).toString('utf8');
      const head = this.queue[0];
      if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
        this.buffer = this.buffer.subarray(eol + 1);
        this.queue.shift();
        head.resolve(null);
        continue;
      }
      const [oid, type, sizeText] = header.split(' ');
      const info: ObjectInfo = { oid, type: type as ObjectInfo['type'], size: Number(sizeText) };
      if (head.command === 'info') {
        this.buffer = this.buffer.subarray(eol + 1);
        this.queue.shift();
        head.resolve({ info });
        continue;
      }
      const end = eol + 1 + info.size;
      if (this.buffer.length < end + 1) return; // content and its trailing newline not all here yet
      const content = Buffer.from(this.buffer.subarray(eol + 1, end));
      this.buffer = this.buffer.subarray(end + 1);
      this.queue.shift();
      head.resolve({ info, content });
    }
  }

  stop(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const child = this.child;
    if (!child) return;
    // Still answering (a long read): stop once it is quiet.
    if (this.queue.length) {
      this.idle = setTimeout(() => this.stop(), IDLE_MS).unref();
      return;
    }
    // Detached before it exits, so a request arriving meanwhile starts a new git rather than
    // writing to one that is going away.
    this.child = null;
    this.buffer = Buffer.alloc(0);
    child.stdin.end();
  }
}

const readers = new Map<string, CatFile>();

/** The directory's device and inode; null when there is none. */
function identityOf(dir: string): string | null {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  return stat ? `${stat.dev}:${stat.ino}` : null;
}

/**
 * The warm reader of `dir`. A reader keeps reading the directory it started in, wherever it
 * goes: when another directory is at that path now (the repo was renamed or deleted, maybe by
 * another process, and the name reused), it is replaced by one that reads the new directory.
 */
function readerFor(dir: string, env: NodeJS.ProcessEnv): CatFile {
  const identity = identityOf(dir);
  let reader = readers.get(dir);
  if (reader && reader.identity !== identity) {
    reader.stop();
    reader = undefined;
  }
  if (!reader) {
    reader = new CatFile(dir, env, identity);
    readers.set(dir, reader);
  }
  return reader;
}

/** Type, size and id of `spec` (any revision expression, e.g. `main:path/to/file`); null when it does not exist. */
export async function objectInfo(dir: string, env: NodeJS.ProcessEnv, spec: string): Promise<ObjectInfo | null> {
  return (await readerFor(dir, env).request('info', spec))?.info ?? null;
}

/** The commit a revision (branch, tag or commit id) names; null when it names none. */
export async function resolveCommit(dir: string, env: NodeJS.ProcessEnv, revision: string): Promise<string | null> {
  // Only branch, tag and commit names reach git: no revision expression (`main~99999`, `:/regex`,
  // `HEAD@{1}`) that would make it walk history, and no leading '-' read as an option.
  if (revisionProblem(revision) !== null) return null;
  // A branch is read from its ref file (no round trip to git); anything the files do not answer for sure, git answers.
  const branch = branchCommitFromFiles(dir, revision);
  if (branch !== undefined) return branch;
  const info = await objectInfo(dir, env, `${revision}^{commit}`);
  return info?.type === 'commit' ? info.oid : null;
}

/**
 * The content of `spec` when it is a blob of at most `maxBytes` bytes; null when it does not
 * exist, is not a blob or is larger (read its size with objectInfo first to tell which).
 */
export async function readBlob(dir: string, env: NodeJS.ProcessEnv, spec: string, maxBytes = MAX_READ_BYTES): Promise<Buffer | null> {
  const info = await objectInfo(dir, env, spec);
  return info ? readBlobOf(dir, env, info, maxBytes) : null;
}

/** As readBlob, for an object whose info the caller has just read (objectInfo): one request to the reader, not two. */
export async function readBlobOf(dir: string, env: NodeJS.ProcessEnv, info: ObjectInfo, maxBytes = MAX_READ_BYTES): Promise<Buffer | null> {
  if (info.type !== 'blob' || info.size > Math.min(maxBytes, MAX_READ_BYTES)) return null;
  const read = await readerFor(dir, env).request('contents', info.oid);
  return read?.info.type === 'blob' ? (read.content ?? null) : null;
}

/** What a path of a commit is, and the bytes of a blob small enough to come along (ENTRY_CONTENT_BYTES). */
export interface CommitEntry {
  info: ObjectInfo;
  /** The blob's content when it has at most ENTRY_CONTENT_BYTES bytes (a Git LFS pointer has fewer); null otherwise. */
  content: Buffer | null;
}

/** Blobs up to this size come with their content: Git LFS pointers are under 1 KiB. */
export const ENTRY_CONTENT_BYTES = 1024;
/** Entries kept (each at most ~1 KiB of content): the files being downloaded at the moment, with room. */
const ENTRY_CACHE_SIZE = 4096;
const COMMIT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** commit id + NUL + path -> the entry, or null for nothing there; least recently used out first. */
const entries = new Map<string, CommitEntry | null>();

/**
 * What `path` is at `commit` (a commit id, as resolveCommit gives it), with the content of a
 * small blob; null when nothing is there. Answers are kept by commit id and path: a commit's
 * tree never changes, so a kept answer is never stale (only which commit a revision names can
 * change, and that is asked of git on every request). A download of a known file then costs one
 * question to git, not three.
 */
export async function entryAt(dir: string, env: NodeJS.ProcessEnv, commit: string, path: string): Promise<CommitEntry | null> {
  const key = `${commit}\0${path}`;
  const kept = entries.get(key);
  if (kept !== undefined) {
    entries.delete(key);
    entries.set(key, kept);
    return kept;
  }
  const info = await objectInfo(dir, env, `${commit}:${path}`);
  const entry = info && { info, content: info.type === 'blob' && info.size <= ENTRY_CONTENT_BYTES ? await readBlobOf(dir, env, info) : null };
  // Only what a commit id names is kept; and a blob whose small content could not be read is asked again next time.
  if (COMMIT_ID.test(commit) && !(entry && entry.info.type === 'blob' && entry.info.size <= ENTRY_CONTENT_BYTES && !entry.content)) {
    entries.set(key, entry);
    if (entries.size > ENTRY_CACHE_SIZE) entries.delete(entries.keys().next().value!);
  }
  return entry;
}

/** Type, size and id of each of `specs` (object ids, or any revision expressions), asked of the warm reader in one go; null for each that does not exist. */
export async function objectInfoAll(dir: string, env: NodeJS.ProcessEnv, specs: string[]): Promise<(ObjectInfo | null)[]> {
  const reader = readerFor(dir, env);
  return Promise.all(specs.map(async (spec) => (await reader.request('info', spec))?.info ?? null));
}

/**
 * The id and raw content of the tree `spec` names (a tree id, or `{commit}^{tree}`) when it is a
 * tree of at most `maxBytes` bytes; null otherwise.
 */
export async function readTreeObject(dir: string, env: NodeJS.ProcessEnv, spec: string, maxBytes = MAX_READ_BYTES): Promise<{ oid: string; content: Buffer } | null> {
  const info = await objectInfo(dir, env, spec);
  if (!info || info.type !== 'tree' || info.size > Math.min(maxBytes, MAX_READ_BYTES)) return null;
  const read = await readerFor(dir, env).request('contents', info.oid);
  return read?.info.type === 'tree' && read.content ? { oid: info.oid, content: read.content } : null;
}

/** Whether a warm reader of `dir` is running (some request has been reading the repo). */
export function hasReader(dir: string): boolean {
  return readers.has(dir);
}

/** Stops every warm reader (at shutdown, or after a repo is deleted). */
export function closeReaders(dir?: string): void {
  for (const [key, reader] of readers) {
    if (dir === undefined || key === dir) {
      reader.stop();
      readers.delete(key);
    }
  }
}
