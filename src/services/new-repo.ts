import type { Db } from '../db/index.js';
import type { RepoWithOwner } from '../db/repos.js';
import { badRequest } from '../domain/errors.js';
import { type RepoRef, repoIdOf } from '../domain/names.js';
import type { User } from '../domain/types.js';
import { CommitDraft } from './commits.js';
import { createRepo } from './repos.js';

// Creating a repo from the web page /new: the repo as every front end creates it (with the Hub's
// default .gitattributes as its first commit), then, when a license is chosen, a README.md whose
// front matter names it, committed through the commit service like any other commit.

/** The licenses /new offers (Hub license identifiers). */
export const LICENSES = [
  'apache-2.0', 'mit', 'bsd-3-clause', 'gpl-3.0', 'lgpl-3.0', 'agpl-3.0', 'mpl-2.0',
  'cc-by-4.0', 'cc-by-sa-4.0', 'cc-by-nc-4.0', 'cc0-1.0', 'odc-by', 'openrail', 'creativeml-openrail-m', 'llama3', 'gemma', 'other',
] as const;
export type License = (typeof LICENSES)[number];

/** The README a new repo with a license starts with: front matter, then its name as the title. */
export function licenseCard(repo: RepoRef, license: License): string {
  return `---\nlicense: ${license}\n---\n\n# ${repo.name}\n`;
}

export interface NewRepoDeps {
  db: Db;
  dataDir: string;
  maxFileSize: number;
}

/**
 * Creates the repo (repo.create in the audit log) and, with a license, commits its README.md to
 * main as `user` (commit in the audit log). The caller has checked that `user` may create repos in
 * the namespace. `baseUrl`: the server's address, for the hooks' environment.
 */
export async function createRepoFromWeb(
  deps: NewRepoDeps,
  r: RepoRef & { private: boolean },
  license: License | null,
  user: User,
  baseUrl: string,
): Promise<RepoWithOwner> {
  if (license !== null && !(LICENSES as readonly string[]).includes(license)) throw badRequest(`unknown license "${license}": choose one of the list`);
  const repo = await createRepo(deps.db, deps.dataDir, { ...r, gated: false }, user.name);
  if (license === null) return repo;
  // A README is a small file in git: no LFS upload is ever pending for it.
  const draft = new CommitDraft({ ...deps, uploads: { confirmPending: async () => false } }, repo);
  try {
    await draft.open();
    await draft.addFile('README.md', Buffer.from(licenseCard(repo, license)));
    await draft.commit({
      branch: 'main',
      header: { summary: 'Add README.md with the license', description: '' },
      author: { name: user.name, email: user.email ?? `${user.name}@hubgate` },
      user: user.name,
      where: { repoId: repoIdOf(repo), baseUrl },
    });
  } finally {
    await draft.dispose();
  }
  return repo;
}
