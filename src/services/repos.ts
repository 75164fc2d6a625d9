import { findAccount } from '../db/accounts.js';
import { type Db, isUniqueViolation } from '../db/index.js';
import { deleteRepoRow, findRepo, insertRepo, type RepoWithOwner, updateRepoSettings } from '../db/repos.js';
import { conflict, notFound } from '../domain/errors.js';
import { checkName, checkNamespace, type RepoRef, repoIdOf } from '../domain/names.js';
import type { GatedMode } from '../domain/types.js';
import { gitEnv } from '../git/env.js';
import { defaultGitattributes } from '../git/default-gitattributes.js';
import { initBareRepo, repoDir } from '../git/repo-dirs.js';

/**
 * Creates the row, then the bare repo with the Hub's default .gitattributes as its first commit;
 * if git fails the row goes too, so nothing is half made.
 */
export async function createRepo(
  db: Db,
  dataDir: string,
  r: RepoRef & { private: boolean; gated: GatedMode },
): Promise<RepoWithOwner> {
  checkNamespace(r.namespace);
  checkName('repo name', r.name);
  const owner = await findAccount(db, r.namespace);
  if (!owner) throw notFound(`no user or organization named "${r.namespace}": create it first with \`hubgate user create\` or \`hubgate org create\``);
  let id: number;
  try {
    id = await insertRepo(db, { type: r.type, ownerId: owner.id, name: r.name, private: r.private, gated: r.gated });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`${repoIdOf(r)} already exists`);
    throw err;
  }
  try {
    await initBareRepo(repoDir(dataDir, { ...r, namespace: owner.name }), gitEnv(dataDir), defaultGitattributes(r.type));
  } catch (err) {
    await deleteRepoRow(db, id);
    throw err;
  }
  return (await findRepo(db, r.type, owner.name, r.name))!;
}

export async function setGated(db: Db, ref: RepoRef, gated: GatedMode): Promise<void> {
  const repo = await findRepo(db, ref.type, ref.namespace, ref.name);
  if (!repo) throw notFound(`no ${ref.type} repo ${repoIdOf(ref)}`);
  await updateRepoSettings(db, repo.id, { gated });
}
