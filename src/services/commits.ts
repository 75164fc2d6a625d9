import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import path from 'node:path';
import { MAX_POINTER_SIZE, MIN_POINTER_SIZE, parsePointer, pointerText } from '../../lfs/pointer.js';
import type { Db } from '../db/index.js';
import { linkedSizes } from '../db/lfs.js';
import type { RepoWithOwner } from '../db/repos.js';
import { HubgateError, badRequest } from '../domain/errors.js';
import { faultCodeInText } from '../domain/faults.js';
import { printable, repoIdOf } from '../domain/names.js';
import { pathProblem } from '../domain/paths.js';
import { objectInfo, readBlob, resolveCommit } from '../git/content.js';
import { gitEnv } from '../git/env.js';
import { Quarantine } from '../git/quarantine.js';
import { repoDir } from '../git/repo-dirs.js';
import { GitError, runGit } from '../git/run.js';
import {
  BlobWriter, branchHead, commitTree, type Identity, ignoredBy, type IndexEntry, moveBranch, runPreReceive, TempIndex, writeBlob,
} from '../git/write-commit.js';
import { keyedQueue } from '../util/keyed-queue.js';
import { recordAuditAfter } from './audit.js';
import { refreshListing } from './listing.js';
import { scratchDir, tmpRoot } from '../util/scratch.js';

// Commits made through the Hub API (POST /api/{type}s/{ns}/{name}/commit/{branch}) and the
// preupload question that comes before them. The commit is a real git commit written with
// native plumbing (src/git/write-commit.ts), checked by the same pre-receive hook as a push,
// and moved onto the branch with a compare-and-swap so that no concurrent commit or push is lost.

/** LFS uploads whose bytes arrived but were never verified (lfs/transfers.ts confirms them). */
export interface PendingUploads {
  confirmPending(repo: { id: number; repoId: string; baseUrl: string }, oid: string): Promise<boolean>;
}

export interface CommitDeps {
  db: Db;
  dataDir: string;
  maxFileSize: number;
  uploads: PendingUploads;
}

/** Operations in one commit; huggingface_hub sends whole folders in one. */
export const MAX_OPERATIONS = 100_000;
/** Each deleted folder is a pass over every path of the tree: a few per commit is what clients send. */
export const MAX_DELETED_FOLDERS = 1000;
/** Attempts to land a commit without parentCommit while pushes keep moving the branch. */
const MAX_ATTEMPTS = 5;
const LFS_ATTRIBUTES = 'filter=lfs diff=lfs merge=lfs -text';

export function checkPath(p: unknown, what: string): string {
  if (typeof p !== 'string') throw badRequest(`${what}: "path" must be a string`);
  const problem = pathProblem(p);
  if (problem) throw badRequest(`${what}: ${problem}`);
  return p;
}

/** A pattern in .gitattributes matching exactly `p` (anchored at the root, glob characters escaped). */
function attributePattern(p: string): string {
  const escaped = `/${p.replace(/[*?[\]!#]/g, (c) => `\\${c}`)}`;
  // Spaces and quotes need a C-style quoted pattern, in which backslashes are escaped again.
  return /[ "]/.test(escaped) ? `"${escaped.replace(/["\\]/g, (c) => `\\${c}`)}"` : escaped;
}

// The branch validator lives with the revision rules; re-exported for the commit route.
export { branchProblem } from '../domain/revisions.js';

// Commits to one branch are applied one at a time in this process; update-ref's expected old
// value still guards against pushes (and other processes) moving the branch in between.
const oneAtATime = keyedQueue();

type Operation =
  | { kind: 'file'; path: string; blob: number }
  | { kind: 'lfsFile'; path: string; oid: string; size?: number; line: number }
  | { kind: 'deletedFile'; path: string }
  | { kind: 'deletedFolder'; path: string };

export interface CommitHeader {
  summary: string;
  description: string;
  parentCommit?: string;
}

/**
 * One commit being received: files are written as blobs as their lines arrive, then commit()
 * builds the tree and moves the branch. Every object is written into a quarantine and moves into
 * the repo only once the commit is accepted, so a refused or abandoned one leaves nothing.
 * Always dispose() it.
 */
export class CommitDraft {
  private readonly env: NodeJS.ProcessEnv;
  readonly dir: string;
  private tmp = '';
  private quarantine: Quarantine | null = null;
  /** The environment for git writing into the quarantine. */
  private qenv: NodeJS.ProcessEnv = {};
  private blobs: BlobWriter | null = null;
  private readonly ops: Operation[] = [];
  private fileCount = 0;
  private deletedFolders = 0;

  constructor(
    private readonly deps: CommitDeps,
    private readonly repo: RepoWithOwner,
  ) {
    this.dir = repoDir(deps.dataDir, repo);
    this.env = gitEnv(deps.dataDir);
  }

  async open(): Promise<void> {
    this.tmp = await scratchDir(tmpRoot(this.deps.dataDir), 'commit');
    this.quarantine = await Quarantine.create(this.dir, 'commit');
    this.qenv = this.quarantine.env(this.env);
    this.blobs = new BlobWriter(this.dir, this.qenv);
  }

  private count(): void {
    if (this.ops.length >= MAX_OPERATIONS) throw badRequest(`more than ${MAX_OPERATIONS} operations in one commit: split it into several commits`);
  }

  /** A file stored in git itself. */
  async addFile(p: string, content: Buffer): Promise<void> {
    this.count();
    if (content.length > this.deps.maxFileSize) {
      throw badRequest(
        `file "${printable(p)}" is ${content.length} bytes, over the ${this.deps.maxFileSize} bytes a file stored in git may have: ` +
          'upload it with Git LFS (preupload answers uploadMode "lfs" for it) and commit it as an lfsFile',
      );
    }
    const file = path.join(this.tmp, `blob-${this.fileCount++}`);
    await fs.writeFile(file, content);
    this.ops.push({ kind: 'file', path: p, blob: this.blobs!.add(file) });
  }

  /** A file stored in git itself, whose bytes are in the file `from` (copied: the caller keeps it). */
  async addFileFrom(p: string, from: string): Promise<void> {
    this.count();
    const { size } = await fs.stat(from);
    if (size > this.deps.maxFileSize) {
      throw badRequest(`file "${printable(p)}" is ${size} bytes, over the ${this.deps.maxFileSize} bytes a file stored in git may have: it belongs in Git LFS`);
    }
    const file = path.join(this.tmp, `blob-${this.fileCount++}`);
    await fs.copyFile(from, file);
    this.ops.push({ kind: 'file', path: p, blob: this.blobs!.add(file) });
  }

  addLfsFile(p: string, oid: string, size: number | undefined, line: number): void {
    this.count();
    this.ops.push({ kind: 'lfsFile', path: p, oid, size, line });
  }

  deleteFile(p: string): void {
    this.count();
    this.ops.push({ kind: 'deletedFile', path: p });
  }

  deleteFolder(p: string): void {
    this.count();
    if (++this.deletedFolders > MAX_DELETED_FOLDERS) {
      throw badRequest(`more than ${MAX_DELETED_FOLDERS} deleted folders in one commit: delete their parent folder, or split the commit`);
    }
    this.ops.push({ kind: 'deletedFolder', path: p });
  }

  /**
   * Writes the commit and moves `branch` onto it. With `parentCommit` the branch must still be
   * there (412 otherwise, as on the Hub); without it, a commit that loses a race with a push is
   * applied again onto the new head.
   */
  async commit(opts: { branch: string; header: CommitHeader; author: Identity; user: string; where: { repoId: string; baseUrl: string } }): Promise<{ oid: string; hookOutput: string; auditError?: Error }> {
    const blobOids = await this.blobs!.finish();
    const pointers = await this.lfsPointers(opts.where);
    const parent = opts.header.parentCommit ? await this.parentCommit(opts.header.parentCommit) : null;
    const message = opts.header.description ? `${opts.header.summary}\n\n${opts.header.description}\n` : `${opts.header.summary}\n`;
    const hookEnv = gitEnv(this.deps.dataDir, {
      HUBGATE_REPO: repoIdOf(this.repo),
      HUBGATE_REPO_TYPE: this.repo.type,
      HUBGATE_USER: opts.user,
      HUBGATE_MAX_FILE_SIZE: String(this.deps.maxFileSize),
    });

    return oneAtATime(`${this.dir}\0${opts.branch}`, async () => {
      for (let attempt = 1; ; attempt++) {
        const head = await branchHead(this.dir, this.env, opts.branch);
        if (!head) throw new HubgateError('not-found', `branch "${opts.branch}" does not exist in ${repoIdOf(this.repo)}: commit to an existing branch`, 'RevisionNotFound');
        if (parent && head !== parent) throw this.moved(opts.branch, parent, head);
        // This attempt's trees and commit in their own quarantine: an attempt that loses a race to a push is dropped whole.
        const attemptObjects = await Quarantine.create(this.dir, 'commit', this.quarantine!);
        try {
          const env = attemptObjects.env(this.env);
          const tree = await this.buildTree(head, blobOids, pointers, `index-${attempt}`, env);
          const commit = await commitTree(this.dir, env, tree, head, message, opts.author);
          // The hook sees the new objects as in a push: inside the quarantine (GIT_QUARANTINE_PATH).
          const hook = await runPreReceive(this.dir, attemptObjects.env(hookEnv), head, commit, `refs/heads/${opts.branch}`);
          if (!hook.ok) {
            // A hook that could not run for lack of space is the disk's fault, not the commit's.
            if (faultCodeInText(hook.output)) throw new GitError('the pre-receive hook', 1, hook.output);
            throw badRequest(`the commit was refused by the repository's push policy:\n${hook.output.trim()}`);
          }
          if ((await branchHead(this.dir, this.env, opts.branch)) === head) {
            await attemptObjects.migrate();
            await this.quarantine!.migrate();
            if (await moveBranch(this.dir, this.env, opts.branch, commit, head)) {
              // The branch has moved: an audit entry that cannot be written is reported, not the commit's failure.
              const auditError = await recordAuditAfter(this.deps.db, { actor: opts.user, action: 'commit', repo: this.repo, details: { branch: opts.branch, commit, parent: head } });
              await refreshListing(this.deps.db, this.deps.dataDir, this.repo);
              return { oid: commit, hookOutput: hook.output, auditError };
            }
          }
        } finally {
          await attemptObjects.dispose();
        }
        if (parent) throw this.moved(opts.branch, parent, (await branchHead(this.dir, this.env, opts.branch)) ?? 'nothing');
        if (attempt === MAX_ATTEMPTS) throw new HubgateError('conflict', `branch "${opts.branch}" kept moving while this commit was applied: send it again`);
      }
    });
  }

  private moved(branch: string, parent: string, head: string): HubgateError {
    return new HubgateError(
      'precondition-failed',
      `A commit has happened since. Please refresh and try again: branch "${branch}" is at ${head}, not at parentCommit ${parent}`,
    );
  }

  private async parentCommit(spec: string): Promise<string> {
    const oid = /^[0-9a-f]{40}$/.test(spec) ? await resolveCommit(this.dir, this.env, spec) : null;
    if (!oid) throw badRequest(`parentCommit "${printable(spec)}" is not a commit of ${repoIdOf(this.repo)}: give the full 40-character id of the branch's head`);
    return oid;
  }

  /** The pointer blob of each lfsFile operation (by operation index), after checking every object is linked to the repo. */
  private async lfsPointers(where: { repoId: string; baseUrl: string }): Promise<Map<number, string>> {
    const lfsOps = this.ops.flatMap((op, i) => (op.kind === 'lfsFile' ? [{ op, i }] : []));
    if (lfsOps.length === 0) return new Map();
    const oids = [...new Set(lfsOps.map(({ op }) => op.oid))];
    const linked = new Map<string, number>();
    for (let i = 0; i < oids.length; i += 500) for (const [oid, size] of await linkedSizes(this.deps.db, this.repo.id, oids.slice(i, i + 500))) linked.set(oid, size);
    for (const oid of oids) {
      if (linked.has(oid)) continue;
      // Uploaded by a client that does not call verify (@huggingface/hub): confirm its bytes now.
      if (await this.deps.uploads.confirmPending({ id: this.repo.id, ...where }, oid)) {
        const size = (await linkedSizes(this.deps.db, this.repo.id, [oid])).get(oid);
        if (size !== undefined) linked.set(oid, size);
      }
    }
    const writer = new BlobWriter(this.dir, this.qenv);
    const byOp = new Map<number, number>();
    try {
      for (const { op, i } of lfsOps) {
        if (op.kind !== 'lfsFile') continue;
        const have = linked.get(op.oid);
        if (have === undefined) {
          throw badRequest(
            `lfsFile "${printable(op.path)}" (line ${op.line}): the LFS object sha256:${op.oid} was not uploaded to ${repoIdOf(this.repo)}: ` +
              `upload it first through the LFS batch API (POST /${repoIdOf(this.repo)}.git/info/lfs/objects/batch), then commit`,
          );
        }
        if (op.size !== undefined && op.size !== have) {
          throw badRequest(`lfsFile "${printable(op.path)}" (line ${op.line}): size ${op.size} does not match the uploaded object's ${have} bytes`);
        }
        const file = path.join(this.tmp, `pointer-${i}`);
        await fs.writeFile(file, pointerText(op.oid, have));
        byOp.set(i, writer.add(file));
      }
    } catch (err) {
      await writer.abort();
      throw err;
    }
    const written = await writer.finish();
    return new Map([...byOp].map(([i, n]) => [i, written[n]]));
  }

  /** Applies the operations onto `head`'s tree in a temporary index; returns the new tree. */
  private async buildTree(head: string, blobOids: string[], pointers: Map<number, string>, indexName: string, env: NodeJS.ProcessEnv): Promise<string> {
    const index = new TempIndex(this.dir, env, this.tmp, indexName);
    await index.readTree(head);
    const files = await index.files();
    // What this commit does to each path, in operation order: an entry, or null for removed.
    const changes = new Map<string, IndexEntry | null>();
    const exists = (p: string) => (changes.has(p) ? changes.get(p) !== null : files.has(p));
    // Paths whose last operation wrote an LFS pointer.
    const lfsPaths = new Set<string>();

    this.ops.forEach((op, i) => {
      if (op.kind === 'file' || op.kind === 'lfsFile') {
        // An executable keeps its mode when replaced; anything else becomes a regular file.
        const mode = exists(op.path) && (changes.get(op.path) ?? files.get(op.path))?.mode === '100755' ? '100755' : '100644';
        changes.set(op.path, { mode, oid: op.kind === 'file' ? blobOids[op.blob] : pointers.get(i)! });
        if (op.kind === 'lfsFile') lfsPaths.add(op.path);
        else lfsPaths.delete(op.path);
      } else if (op.kind === 'deletedFile') {
        if (!exists(op.path)) throw new HubgateError('not-found', `A file with this name doesn't exist: "${printable(op.path)}"`, 'EntryNotFound');
        changes.set(op.path, null);
        lfsPaths.delete(op.path);
      } else {
        const prefix = `${op.path}/`;
        let removed = 0;
        for (const p of [...files.keys(), ...changes.keys()]) {
          if (p.startsWith(prefix) && exists(p)) {
            changes.set(p, null);
            removed++;
          }
        }
        if (removed === 0) throw new HubgateError('not-found', `A folder with this name doesn't exist: "${printable(op.path)}"`, 'EntryNotFound');
      }
    });
    this.checkFileFolderClashes(files, changes);
    await index.update(changes);
    await this.trackLfs(index, env, files, changes, [...lfsPaths].filter((p) => changes.get(p)));
    return index.writeTree();
  }

  /** Refuses a commit after which one path would be both a file and a folder. */
  private checkFileFolderClashes(files: Map<string, IndexEntry>, changes: Map<string, IndexEntry | null>): void {
    const isFile = (p: string) => (changes.has(p) ? changes.get(p) !== null : files.has(p));
    const folders = new Set<string>();
    for (const p of [...files.keys(), ...changes.keys()]) {
      if (!isFile(p)) continue;
      for (let slash = p.indexOf('/'); slash > 0; slash = p.indexOf('/', slash + 1)) folders.add(p.slice(0, slash));
    }
    for (const [p, entry] of changes) {
      if (!entry) continue;
      if (folders.has(p)) throw badRequest(`"${printable(p)}" is a folder, so it cannot also be a file: delete the folder first (deletedFolder) or choose another path`);
      for (let slash = p.indexOf('/'); slash > 0; slash = p.indexOf('/', slash + 1)) {
        const ancestor = p.slice(0, slash);
        if (isFile(ancestor)) throw badRequest(`"${printable(ancestor)}" is a file, so "${printable(p)}" cannot be inside it: delete the file first (deletedFile) or choose another path`);
      }
    }
  }

  /**
   * As the Hub does, adds lfsFiles that no .gitattributes sends to Git LFS to the root
   * .gitattributes, so that git clones check out their content rather than the pointer.
   */
  private async trackLfs(index: TempIndex, env: NodeJS.ProcessEnv, files: Map<string, IndexEntry>, changes: Map<string, IndexEntry | null>, lfsPaths: string[]): Promise<void> {
    if (lfsPaths.length === 0) return;
    const tracked = await index.lfsTracked(lfsPaths);
    const untracked = [...new Set(lfsPaths.filter((p) => !tracked.has(p)))];
    if (untracked.length === 0) return;
    const current = changes.has('.gitattributes') ? changes.get('.gitattributes') : files.get('.gitattributes');
    // A .gitattributes sent in this commit is still in the quarantine, where the repo's warm reader does not look.
    const existing = !current ? null : changes.has('.gitattributes') ? Buffer.from(await runGit(['cat-file', 'blob', current.oid], { env, cwd: this.dir })) : await readBlob(this.dir, this.env, current.oid);
    if (current && !existing) throw badRequest('the root .gitattributes is too large for hubgate to add LFS patterns to: track the lfsFiles in it yourself in this commit');
    let text = existing?.toString('utf8') ?? '';
    if (text && !text.endsWith('\n')) text += '\n';
    text += untracked.map((p) => `${attributePattern(p)} ${LFS_ATTRIBUTES}\n`).join('');
    const oid = await writeBlob(this.dir, env, text);
    await index.update([['.gitattributes', { mode: '100644', oid }]]);
    const still = await index.lfsTracked(untracked);
    const missed = untracked.find((p) => !still.has(p));
    if (missed) throw badRequest(`lfsFile "${printable(missed)}": hubgate could not write a .gitattributes pattern for this path: add one that sends it to LFS in the same commit`);
  }

  async dispose(): Promise<void> {
    // git must have exited before its quarantine is removed, or it could create it again.
    await this.blobs?.abort();
    await this.quarantine?.dispose();
    if (this.tmp) await fs.rm(this.tmp, { recursive: true, force: true });
  }
}

export interface PreuploadFile {
  path: string;
  size: number;
  sample: Buffer;
}

export interface UploadPlan {
  path: string;
  uploadMode: 'lfs' | 'regular';
  shouldIgnore: boolean;
  oid?: string;
}

/**
 * The preupload answer: each file goes to Git LFS when the repo's .gitattributes at `commit`
 * (or the one the client is about to commit) sends it there, when it is over the size limit for
 * git, or when its first bytes hold a NUL (binary, by git's own test); `oid` is what the repo
 * holds at that path now (the git blob id, or the sha256 of an LFS file), so clients skip
 * unchanged files; `shouldIgnore` follows the .gitignore.
 */
export async function planUploads(
  deps: Pick<CommitDeps, 'dataDir' | 'maxFileSize'>,
  repo: RepoWithOwner,
  commit: string,
  files: PreuploadFile[],
  opts: { gitAttributes?: string; gitIgnore?: string },
): Promise<UploadPlan[]> {
  const dir = repoDir(deps.dataDir, repo);
  const env = gitEnv(deps.dataDir);
  const tmp = await scratchDir(tmpRoot(deps.dataDir), 'preupload');
  // The .gitattributes sent is written only to be read by check-attr: into a quarantine that is dropped after.
  const quarantine = opts.gitAttributes !== undefined ? await Quarantine.create(dir, 'preupload') : null;
  try {
    const index = new TempIndex(dir, quarantine ? quarantine.env(env) : env, tmp);
    await index.readTree(commit);
    if (opts.gitAttributes !== undefined) await index.update([['.gitattributes', { mode: '100644', oid: await writeBlob(dir, quarantine!.env(env), opts.gitAttributes) }]]);
    const paths = files.map((f) => f.path);
    const lfs = await index.lfsTracked(paths);
    const ignoreRules = opts.gitIgnore ?? (await readBlob(dir, env, `${commit}:.gitignore`))?.toString('utf8') ?? '';
    const ignored = await ignoredBy(dir, env, tmp, ignoreRules, paths);
    return await Promise.all(
      files.map(async (f): Promise<UploadPlan> => {
        const binary = f.sample.includes(0);
        const uploadMode = f.size > 0 && (lfs.has(f.path) || f.size > deps.maxFileSize || binary) ? 'lfs' : 'regular';
        return { path: f.path, uploadMode, shouldIgnore: ignored.has(f.path), oid: await currentOid(dir, env, commit, f.path) };
      }),
    );
  } finally {
    await quarantine?.dispose();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** What a client compares its file with: the sha256 of an LFS file, the git blob id of any other. */
async function currentOid(dir: string, env: NodeJS.ProcessEnv, commit: string, p: string): Promise<string | undefined> {
  const info = await objectInfo(dir, env, `${commit}:${p}`);
  if (!info || info.type !== 'blob') return undefined;
  if (info.size >= MIN_POINTER_SIZE && info.size <= MAX_POINTER_SIZE) {
    const pointer = parsePointer((await readBlob(dir, env, info.oid)) ?? '');
    if (pointer) return pointer.oid;
  }
  return info.oid;
}

/** Stores an LFS object whose bytes hubgate holds and links it to the repo (lfs/transfers.ts storeFromServer). */
export interface ServerLfs {
  storeFromServer(repo: { id: number; repoId: string; baseUrl: string }, oid: string, size: number, open: () => Readable): Promise<void>;
}

/** A file received whole into a temporary file (a web upload), with what was learned while receiving it. */
export interface HeldFile {
  path: string;
  /** The temporary file holding its bytes; the caller removes it after the commit. */
  file: string;
  size: number;
  sha256: string;
  /** Its first bytes (512), for the binary test. */
  sample: Buffer;
}

/**
 * One commit of files hubgate holds (uploaded or written in a page's editor) and of deletions,
 * through the same draft as the commit API: each file goes where the preupload answer would send
 * it (Git LFS when the .gitattributes says so, when it is over the size limit for git, or binary;
 * else git), so push policy, hooks, conflicts and the audit behave as for an API commit.
 */
export async function commitHeldFiles(
  deps: CommitDeps & { lfs: ServerLfs },
  repo: RepoWithOwner,
  opts: { branch: string; files: HeldFile[]; deletes: string[]; header: CommitHeader; author: Identity; user: string; where: { repoId: string; baseUrl: string } },
): Promise<{ oid: string; hookOutput: string; auditError?: Error; lfsPaths: string[] }> {
  const dir = repoDir(deps.dataDir, repo);
  const head = await resolveCommit(dir, gitEnv(deps.dataDir), `refs/heads/${opts.branch}`);
  if (!head) throw new HubgateError('not-found', `branch "${printable(opts.branch)}" does not exist in ${repoIdOf(repo)}: commit to an existing branch`, 'RevisionNotFound');
  const seen = new Set<string>();
  for (const f of [...opts.files.map((x) => x.path), ...opts.deletes]) {
    if (seen.has(f)) throw badRequest(`"${printable(f)}" appears twice in this commit: send each file once`);
    seen.add(f);
  }
  const plans = opts.files.length ? await planUploads(deps, repo, head, opts.files, {}) : [];
  const draft = new CommitDraft(deps, repo);
  const lfsPaths: string[] = [];
  try {
    await draft.open();
    for (const [i, f] of opts.files.entries()) {
      if (plans[i].uploadMode === 'lfs') {
        await deps.lfs.storeFromServer({ id: repo.id, ...opts.where }, f.sha256, f.size, () => createReadStream(f.file));
        draft.addLfsFile(f.path, f.sha256, f.size, i + 1);
        lfsPaths.push(f.path);
      } else {
        await draft.addFileFrom(f.path, f.file);
      }
    }
    for (const p of opts.deletes) draft.deleteFile(p);
    const result = await draft.commit({ branch: opts.branch, header: opts.header, author: opts.author, user: opts.user, where: opts.where });
    return { ...result, lfsPaths };
  } finally {
    await draft.dispose();
  }
}
