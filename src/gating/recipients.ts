import { findActiveUserById, firstAdminEmails } from '../db/accounts.js';
import type { Db } from '../db/index.js';
import type { RepoWithOwner } from '../db/repos.js';

// Who hears about new access requests to a repo, as on the Hub: the repo's notifications
// email when set; otherwise the owner, or for an org the first five admins.

export const ORG_ADMINS_NOTIFIED = 5;

export async function authorRecipients(db: Db, repo: RepoWithOwner): Promise<string[]> {
  if (repo.notifyEmail) return [repo.notifyEmail];
  if (repo.ownerKind === 'org') return firstAdminEmails(db, repo.ownerId, ORG_ADMINS_NOTIFIED);
  const owner = await findActiveUserById(db, repo.ownerId);
  return owner?.email ? [owner.email] : [];
}
