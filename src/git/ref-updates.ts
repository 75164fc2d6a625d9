import { GitError, runGit } from './run.js';
import { commitTree, type Identity, ZERO_OID } from './write-commit.js';

// Branches and tags made and removed through the Hub API (src/services/branches-tags.ts), with
// git's own plumbing: `update-ref` with the expected old value (the zero id to create), so a
// ref changes only from the state the caller saw, whatever pushes and commits do meanwhile;
// `mktag` for annotated tags; `commit-tree` of the empty tree for an empty branch.

// Another process's commit or push may hold the ref's lock for a moment: wait for it (git's default is 100 ms).
const LOCK_WAIT = ['-c', 'core.filesRefLockTimeout=2000'];

/** What a full ref (`refs/heads/x`, `refs/tags/v1`) points at, exactly that ref (no other spelling); null when it does not exist. */
export async function refTarget(dir: string, env: NodeJS.ProcessEnv, ref: string): Promise<string | null> {
  try {
    return (await runGit(['show-ref', '--verify', '--hash', ref], { env, cwd: dir })).trim() || null;
  } catch (err) {
    if (err instanceof GitError && err.code === undefined) return null; // not a ref
    throw err;
  }
}

/** The default branch (HEAD's branch, e.g. `main`); null when HEAD names no branch. */
export async function defaultBranchName(dir: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  try {
    const ref = (await runGit(['symbolic-ref', '--quiet', 'HEAD'], { env, cwd: dir })).trim();
    return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null;
  } catch {
    return null;
  }
}

/**
 * Creates `ref` at `oid` if it does not exist, atomically: 'exists' when it does (nothing
 * changed), 'name-clash' when a ref of which it would be a folder, or one inside it, exists
 * (`a` and `a/b` cannot both be branches: git keeps refs as files and folders).
 */
export async function createRef(dir: string, env: NodeJS.ProcessEnv, ref: string, oid: string): Promise<'created' | 'exists' | { clash: string }> {
  try {
    await runGit([...LOCK_WAIT, 'update-ref', '--no-deref', ref, oid, ZERO_OID], { env, cwd: dir });
    return 'created';
  } catch (err) {
    if (await refTarget(dir, env, ref)) return 'exists';
    // "'refs/heads/a' exists; cannot create 'refs/heads/a/b'" (or the other way round).
    const clash = err instanceof GitError ? /'(refs\/[^']+)' exists; cannot create/.exec(err.stderr) : null;
    if (clash) return { clash: clash[1] };
    throw err;
  }
}

/** Deletes `ref` if it still points at `expected`, atomically: false, and nothing changed, when it does not. */
export async function deleteRef(dir: string, env: NodeJS.ProcessEnv, ref: string, expected: string): Promise<boolean> {
  try {
    await runGit([...LOCK_WAIT, 'update-ref', '--no-deref', '-d', ref, expected], { env, cwd: dir });
    return true;
  } catch (err) {
    if ((await refTarget(dir, env, ref)) !== expected) return false;
    throw err;
  }
}

/** `who` as it may stand in an object's ident line: no angle brackets or line breaks. */
function identPart(text: string): string {
  return text.replace(/[<>\0\r\n]/g, '').trim();
}

/** Writes an annotated tag object for `commit` (no ref moves); returns its id. */
export async function writeTagObject(dir: string, env: NodeJS.ProcessEnv, opts: { commit: string; name: string; tagger: Identity; message: string; at?: Date }): Promise<string> {
  const seconds = Math.floor((opts.at ?? new Date()).getTime() / 1000);
  const message = opts.message.endsWith('\n') ? opts.message : `${opts.message}\n`;
  const text =
    `object ${opts.commit}\ntype commit\ntag ${opts.name}\n` +
    `tagger ${identPart(opts.tagger.name)} <${identPart(opts.tagger.email)}> ${seconds} +0000\n\n${message}`;
  return (await runGit(['mktag'], { env, cwd: dir, input: text })).trim();
}

/** Writes a commit without parents whose tree is empty (an empty branch's first commit); returns its id. */
export async function writeEmptyCommit(dir: string, env: NodeJS.ProcessEnv, message: string, who: Identity): Promise<string> {
  const tree = (await runGit(['mktree'], { env, cwd: dir, input: '' })).trim();
  return commitTree(dir, env, tree, null, message, who);
}
