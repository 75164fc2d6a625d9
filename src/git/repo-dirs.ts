import fs from 'node:fs/promises';
import path from 'node:path';
import { checkName, checkNamespace, type RepoRef, TYPE_PLURAL } from '../domain/names.js';
import { runGit } from './run.js';

/** `DATA/repos/{models|datasets|spaces}/{ns}/{name}.git`; names are validated again so no caller can build a path from unchecked input. */
export function repoDir(dataDir: string, ref: RepoRef): string {
  return path.join(dataDir, 'repos', TYPE_PLURAL[ref.type], checkNamespace(ref.namespace), `${checkName('repo name', ref.name)}.git`);
}

/** Creates an empty bare repo whose default branch is main, as on the Hub. Fails if the directory exists. */
export async function initBareRepo(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  await fs.mkdir(path.dirname(dir), { recursive: true });
  await fs.mkdir(dir); // throws EEXIST rather than reusing a stray directory
  try {
    await runGit(['init', '--quiet', '--bare', '--initial-branch=main', dir], { env });
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}

export async function removeRepoDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}
