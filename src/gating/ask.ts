import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import type { RepoWithOwner } from '../db/repos.js';
import { HubgateError } from '../domain/errors.js';
import { repoIdOf } from '../domain/names.js';
import type { AccessRequest, User } from '../domain/types.js';
import { askAccess } from '../services/access-requests.js';
import { readCard } from './card.js';
import { validateAnswers } from './form.js';
import type { Notifier } from './notify.js';

/**
 * A user's request for access, from the JSON API or the repo page's form: the answers are
 * checked against the form in the card at the default branch, then recorded.
 */
export async function submitAccessRequest(ctx: { cfg: Pick<Config, 'dataDir'>; db: Db; notifier: Notifier }, repo: RepoWithOwner, user: User, answers: unknown): Promise<AccessRequest> {
  if (!repo.gated) throw new HubgateError('invalid', `${repoIdOf(repo)} is not gated: its files are open to everyone who can see it`);
  const card = await readCard(ctx.cfg.dataDir, repo);
  if (!card.form) {
    // The gate stays closed while the authors' form is broken; they see why on the repo page.
    throw new HubgateError('conflict', `The access request form of ${repoIdOf(repo)} is broken, so requests cannot be sent: ask its authors to fix the README metadata (${card.formError})`);
  }
  return askAccess(ctx.db, ctx.notifier, repo, user, validateAnswers(card.form, answers));
}
