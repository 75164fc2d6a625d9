import path from 'node:path';
import { checkName, checkNamespace, type RepoRef, TYPE_PLURAL } from '../domain/names.js';
import { runGit } from './run.js';

/** `DATA/repos/{models|datasets|spaces}/{ns}/{name}.git`; names are validated again so no caller can build a path from unchecked input. */
export function repoDir(dataDir: string, ref: RepoRef): string {
  return path.join(dataDir, 'repos', TYPE_PLURAL[ref.type], checkNamespace(ref.namespace), `${checkName('repo name', ref.name)}.git`);
}

/**
 * Creates a bare repo at `dir` (which must not exist) whose default branch is main, holding one
 * commit with `.gitattributes`, as the Hub does for a new repo. Callers build it in scratch
 * space and rename it into place (src/services/repos.ts), so no half-made repo is ever seen.
 */
export async function initBareRepo(dir: string, env: NodeJS.ProcessEnv, gitattributes: string): Promise<void> {
  await runGit(['init', '--quiet', '--bare', '--initial-branch=main', dir], { env });
  await writeInitialCommit(dir, env, gitattributes);
}

const HUBGATE_IDENTITY = {
  GIT_AUTHOR_NAME: 'hubgate', GIT_AUTHOR_EMAIL: 'hubgate@localhost',
  GIT_COMMITTER_NAME: 'hubgate', GIT_COMMITTER_EMAIL: 'hubgate@localhost',
};

/** Writes the first commit with plumbing (no work tree, no hooks): blob, tree, commit, then main. */
async function writeInitialCommit(dir: string, env: NodeJS.ProcessEnv, gitattributes: string): Promise<void> {
  const git = async (args: string[], input?: string) =>
    (await runGit(args, { env: { ...env, ...HUBGATE_IDENTITY }, cwd: dir, input })).trim();
  const blob = await git(['hash-object', '-w', '--stdin'], gitattributes);
  const tree = await git(['mktree'], `100644 blob ${blob}\t.gitattributes\n`);
  const commit = await git(['commit-tree', tree, '-m', 'initial commit']);
  await git(['update-ref', 'refs/heads/main', commit, '']); // '': main must not exist yet
}

