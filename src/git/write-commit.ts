import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HOOKS_DIR } from './env.js';
import { GitError, runGit } from './run.js';

// Native git plumbing for commits made through the Hub API (src/services/commits.ts): blobs
// with `hash-object -w`, the new tree in a temporary index (GIT_INDEX_FILE) built from the
// parent with `read-tree` and `update-index --index-info`, then `write-tree`, `commit-tree`,
// and `update-ref` with the expected old value. No work tree, no JavaScript git.

export const ZERO_OID = '0'.repeat(40);

export interface IndexEntry {
  mode: string;
  oid: string;
}

/**
 * Writes files to the object store as blobs through one `git hash-object -w --stdin-paths`,
 * however many there are. Callers write each file's bytes to a temporary file first, so no
 * blob is held in memory past the line that carried it.
 */
export class BlobWriter {
  private readonly child;
  private readonly out: Buffer[] = [];
  private readonly finished: Promise<string>;
  private count = 0;

  constructor(dir: string, env: NodeJS.ProcessEnv) {
    // --no-filters: the bytes are stored as sent; a bare repo has no attributes to apply anyway.
    this.child = spawn('git', ['hash-object', '-w', '--no-filters', '--stdin-paths'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const err: Buffer[] = [];
    this.child.stdout.on('data', (b: Buffer) => this.out.push(b));
    this.child.stderr.on('data', (b: Buffer) => err.push(b));
    this.child.stdin.on('error', () => {});
    this.finished = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (code) => {
        if (code === 0) resolve(Buffer.concat(this.out).toString('utf8'));
        else reject(new GitError('git hash-object', code, Buffer.concat(err).toString('utf8')));
      });
    });
    this.finished.catch(() => {}); // reported by finish()
  }

  /** Queues the file at `file` (a path hubgate chose: no newline); its blob id is the `index`-th of finish(). */
  add(file: string): number {
    if (/[\n\r]/.test(file)) throw new Error('temporary file paths cannot hold newlines');
    this.child.stdin.write(`${file}\n`);
    return this.count++;
  }

  /** The blob ids of every file added, in order. */
  async finish(): Promise<string[]> {
    this.child.stdin.end();
    const oids = (await this.finished).split('\n').filter(Boolean);
    if (oids.length !== this.count) throw new Error(`git hash-object wrote ${oids.length} blobs, not ${this.count}`);
    return oids;
  }

  /** Stops git (the commit was abandoned) and waits for it to exit, so it writes nothing after. */
  async abort(): Promise<void> {
    this.child.kill();
    await this.finished.catch(() => {});
  }
}

/** Writes one blob from memory (small ones: .gitattributes, LFS pointers). */
export async function writeBlob(dir: string, env: NodeJS.ProcessEnv, content: string): Promise<string> {
  return (await runGit(['hash-object', '-w', '--no-filters', '--stdin'], { env, cwd: dir, input: content })).trim();
}

/** A temporary index in `tmpDir` (GIT_INDEX_FILE), for building a tree without touching the repo's refs. */
export class TempIndex {
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    private readonly dir: string,
    env: NodeJS.ProcessEnv,
    tmpDir: string,
    name = 'index',
  ) {
    this.env = { ...env, GIT_INDEX_FILE: path.join(tmpDir, name) };
  }

  private git(args: string[], input?: string): Promise<string> {
    return runGit(args, { env: this.env, cwd: this.dir, input });
  }

  /** Loads a commit's tree (or empties the index when `commit` is null). */
  async readTree(commit: string | null): Promise<void> {
    await this.git(commit ? ['read-tree', commit] : ['read-tree', '--empty']);
  }

  /** Every file in the index (blobs, symlinks and submodules alike), by path. */
  async files(): Promise<Map<string, IndexEntry>> {
    const out = await this.git(['ls-files', '-s', '-z']);
    const files = new Map<string, IndexEntry>();
    for (const record of out.split('\0')) {
      if (!record) continue;
      // "<mode> <oid> <stage>\t<path>"
      const tab = record.indexOf('\t');
      const [mode, oid] = record.slice(0, tab).split(' ');
      files.set(record.slice(tab + 1), { mode, oid });
    }
    return files;
  }

  /** Sets (entry) or removes (null) paths. Callers make sure no path is both a file and a directory. */
  async update(changes: Iterable<[string, IndexEntry | null]>): Promise<void> {
    let input = '';
    for (const [p, entry] of changes) input += entry ? `${entry.mode} ${entry.oid}\t${p}\0` : `0 ${ZERO_OID}\t${p}\0`;
    if (input) await this.git(['update-index', '-z', '--index-info'], input);
  }

  /** Those of `paths` whose `filter` attribute is `lfs`, by the .gitattributes files in the index (git's own matching). */
  async lfsTracked(paths: string[]): Promise<Set<string>> {
    if (paths.length === 0) return new Set();
    const out = await this.git(['check-attr', '--cached', '-z', '--stdin', 'filter'], paths.map((p) => `${p}\0`).join(''));
    const fields = out.split('\0');
    const tracked = new Set<string>();
    // "<path>\0filter\0<value>\0" per path.
    for (let i = 0; i + 2 < fields.length; i += 3) if (fields[i + 2] === 'lfs') tracked.add(fields[i]);
    return tracked;
  }

  async writeTree(): Promise<string> {
    return (await this.git(['write-tree'])).trim();
  }
}

/** Those of `paths` that the .gitignore text `rules` ignores (git's own matching, in an empty work tree under `tmpDir`). */
export async function ignoredBy(dir: string, env: NodeJS.ProcessEnv, tmpDir: string, rules: string, paths: string[]): Promise<Set<string>> {
  if (paths.length === 0 || rules.trim() === '') return new Set();
  const workTree = path.join(tmpDir, 'ignore-tree');
  await mkdir(workTree, { recursive: true });
  await writeFile(path.join(workTree, '.gitignore'), rules);
  const input = paths.map((p) => `${p}\0`).join('');
  const out = await new Promise<string>((resolve, reject) => {
    // Exit 1 means "nothing ignored", not a failure.
    const child = spawn('git', ['check-ignore', '--no-index', '-z', '--stdin'], {
      cwd: dir, env: { ...env, GIT_DIR: dir, GIT_WORK_TREE: workTree }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {});
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 || code === 1) resolve(Buffer.concat(chunks).toString('utf8'));
      else reject(new GitError('git check-ignore', code, Buffer.concat(err).toString('utf8')));
    });
    child.stdin.end(input);
  });
  return new Set(out.split('\0').filter(Boolean));
}

export interface Identity {
  name: string;
  email: string;
}

/** Writes a commit object (no ref moves). */
export async function commitTree(dir: string, env: NodeJS.ProcessEnv, tree: string, parent: string | null, message: string, who: Identity): Promise<string> {
  const identity = { GIT_AUTHOR_NAME: who.name, GIT_AUTHOR_EMAIL: who.email, GIT_COMMITTER_NAME: who.name, GIT_COMMITTER_EMAIL: who.email };
  const args = ['commit-tree', tree, ...(parent ? ['-p', parent] : [])];
  return (await runGit(args, { env: { ...env, ...identity }, cwd: dir, input: message })).trim();
}

/** The commit a branch points at, read from the refs themselves (not a cached reader); null when there is no such branch. */
export async function branchHead(dir: string, env: NodeJS.ProcessEnv, branch: string): Promise<string | null> {
  try {
    return (await runGit(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], { env, cwd: dir })).trim() || null;
  } catch {
    return null;
  }
}

/**
 * Moves `refs/heads/<branch>` from `expected` to `next`, atomically: false, and nothing changed,
 * when the branch no longer points at `expected` (another commit or push got there first).
 */
export async function moveBranch(dir: string, env: NodeJS.ProcessEnv, branch: string, next: string, expected: string): Promise<boolean> {
  try {
    // Another process's commit or push may hold the ref's lock for a moment: wait for it (git's default is 100 ms).
    await runGit(['-c', 'core.filesRefLockTimeout=2000', 'update-ref', `refs/heads/${branch}`, next, expected], { env, cwd: dir });
    return true;
  } catch (err) {
    if ((await branchHead(dir, env, branch)) !== expected) return false;
    throw err;
  }
}

/**
 * Runs hubgate's pre-receive hook (the push policy, then the repo's custom hooks) for a ref update
 * that is not a push, before the ref moves: `update-ref` runs no hooks. `env` carries what a push
 * would give the hook (HUBGATE_REPO, HUBGATE_REPO_TYPE, HUBGATE_MAX_FILE_SIZE, ...).
 */
export function runPreReceive(dir: string, env: NodeJS.ProcessEnv, oldOid: string, newOid: string, ref: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(HOOKS_DIR, 'pre-receive'), [], { cwd: dir, env: { ...env, GIT_DIR: dir }, stdio: ['pipe', 'pipe', 'pipe'] });
    const output: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => output.push(b));
    child.stderr.on('data', (b: Buffer) => output.push(b));
    child.stdin.on('error', () => {});
    child.on('error', reject);
    child.on('close', (code) => resolve({ ok: code === 0, output: Buffer.concat(output).toString('utf8') }));
    child.stdin.end(`${oldOid} ${newOid} ${ref}\n`);
  });
}
