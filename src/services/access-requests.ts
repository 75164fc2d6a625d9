import { findAccount } from '../db/accounts.js';
import {
  accessStatusOf, findAccessRequest, insertAccessRequest, listAccessRequests, moveAccessRequest,
} from '../db/access-requests.js';
import type { Db } from '../db/index.js';
import type { RepoWithOwner } from '../db/repos.js';
import { badRequest, HubgateError, notFound } from '../domain/errors.js';
import { printable, repoIdOf } from '../domain/names.js';
import { checkText } from '../domain/text.js';
import type { AccessRequest, AccessStatus, User } from '../domain/types.js';
import { readCard } from '../gating/card.js';
import { validateAnswers } from '../gating/form.js';
import { recordAudit } from './audit.js';
import type { Notifier } from './ports.js';

// The state machine of access requests to gated repos (design §4). Callers have already been
// authorized by the access policy; this module only knows which transitions are allowed.

export const MAX_REJECTION_REASON = 200;

const conflictWith = (message: string) => new HubgateError('conflict', message);

function requireGated(repo: RepoWithOwner): void {
  if (!repo.gated) throw badRequest(`${repoIdOf(repo)} is not a gated repo: turn gating on in its settings first`);
}

async function requireUser(db: Db, name: string): Promise<User> {
  const account = await findAccount(db, name);
  if (!account || account.kind !== 'user') throw notFound(`no user named "${printable(name)}"`);
  return account;
}

/** What submitting a request needs: the database, whom to tell, where the repos' cards are read from. */
export interface AskDeps {
  db: Db;
  notifier: Notifier;
  cfg: { dataDir: string };
}

/**
 * A user's request for access, from the JSON API or the repo page's form: the answers are
 * checked against the form in the card at the default branch, then recorded.
 */
export async function submitAccessRequest(deps: AskDeps, repo: RepoWithOwner, user: User, answers: unknown): Promise<AccessRequest> {
  if (!repo.gated) throw new HubgateError('invalid', `${repoIdOf(repo)} is not gated: its files are open to everyone who can see it`);
  const card = await readCard(deps.cfg.dataDir, repo);
  if (!card.form) {
    // The gate stays closed while the authors' form is broken; they see why on the repo page.
    throw new HubgateError('conflict', `The access request form of ${repoIdOf(repo)} is broken, so requests cannot be sent: ask its authors to fix the README metadata (${card.formError})`);
  }
  return askAccess(deps.db, deps.notifier, repo, user, validateAnswers(card.form, answers));
}

/** The state of the user's request for access to the repo ('none' when they never asked), for the repo page. */
export async function accessStatusFor(db: Db, repo: RepoWithOwner, user: User): Promise<{ status: AccessStatus | 'none'; rejectionReason: string | null }> {
  return (await accessStatusOf(db, repo.id, user.id)) ?? { status: 'none', rejectionReason: null };
}

/** A user asks for access with the form's (already validated) answers. Auto mode accepts at once. */
export async function askAccess(
  db: Db,
  notifier: Notifier,
  repo: RepoWithOwner,
  user: User,
  fields: Record<string, string | boolean>,
): Promise<AccessRequest> {
  requireGated(repo);
  const existing = await findAccessRequest(db, repo.id, user.id);
  if (existing) throw alreadyAsked(repo, existing);
  const status: AccessStatus = repo.gated === 'auto' ? 'accepted' : 'pending';
  const inserted = await insertAccessRequest(db, { repoId: repo.id, userId: user.id, status, fields, digestDue: status === 'pending' && repo.notifyFrequency === 'daily' });
  const request = await findAccessRequest(db, repo.id, user.id);
  if (!inserted) throw alreadyAsked(repo, request!);
  // The answers to the form stay in the request; the entry says who asked and what came of it.
  await recordAudit(db, { actor: user.name, action: 'access.request', repo, target: user.name, details: { status } });
  if (status === 'pending') notifier.requestCreated(repo, request!);
  return request!;
}

function alreadyAsked(repo: RepoWithOwner, existing: AccessRequest): HubgateError {
  const id = repoIdOf(repo);
  switch (existing.status) {
    case 'accepted':
      return conflictWith(`You already have access to ${id}.`);
    case 'pending':
      return conflictWith(`Your request to access ${id} is already awaiting a decision from the repo's authors.`);
    case 'rejected':
      return new HubgateError(
        'forbidden',
        `Your request to access this repo has been rejected by the repo's authors${existing.rejectionReason ? `: ${existing.rejectionReason}` : '.'} You cannot request access again.`,
      );
  }
}

/** Where each target state may be reached from: accept, reject, and cancel (back to pending). */
const ALLOWED_FROM: Record<AccessStatus, AccessStatus[]> = {
  accepted: ['pending', 'rejected'],
  rejected: ['pending', 'accepted'],
  pending: ['accepted', 'rejected'],
};

const TRANSITION_ACTION = { accepted: 'access.accept', rejected: 'access.reject', pending: 'access.cancel' } as const;

/** An author moves a user's request to `status` (the Hub's `user-access-request/handle`). */
export async function handleAccessRequest(
  db: Db,
  notifier: Notifier,
  repo: RepoWithOwner,
  userName: string,
  status: AccessStatus,
  rejectionReason: string | null,
  actor: string | null,
): Promise<AccessRequest> {
  requireGated(repo);
  if (rejectionReason !== null && status !== 'rejected') throw badRequest('rejectionReason is only allowed with status "rejected"');
  // The reason reaches the requester's git output as `remote:` lines, a page and an e-mail: one printable line.
  if (rejectionReason !== null) checkText('rejectionReason', rejectionReason, { max: MAX_REJECTION_REASON, optional: true });
  const user = await requireUser(db, userName);
  const existing = await findAccessRequest(db, repo.id, user.id);
  if (!existing) throw notFound(`${user.name} has not requested access to ${repoIdOf(repo)}: use grant to give access to a user who never asked`);
  if (existing.status === status) throw notFound(`the access request of ${user.name} is already ${status}`);
  const from = existing.status;
  if (!ALLOWED_FROM[status].includes(from) || !(await moveAccessRequest(db, repo.id, user.id, from, { status, rejectionReason }))) {
    throw conflictWith(`the access request of ${user.name} changed meanwhile: reload the list and try again`);
  }
  const request = (await findAccessRequest(db, repo.id, user.id))!;
  // The reason is the authors' words to the requester (shown to them anyway), not a secret.
  await recordAudit(db, {
    actor,
    action: TRANSITION_ACTION[status],
    repo,
    target: user.name,
    details: { old: from, ...(rejectionReason ? { reason: rejectionReason } : {}) },
  });
  if (status !== 'pending') notifier.requestDecided(repo, request);
  return request;
}

/** An author gives access to a user, whether or not they asked (the Hub's `user-access-request/grant`). */
export async function grantAccess(db: Db, notifier: Notifier, repo: RepoWithOwner, userName: string, actor: string | null): Promise<AccessRequest> {
  requireGated(repo);
  const user = await requireUser(db, userName);
  const existing = await findAccessRequest(db, repo.id, user.id);
  if (existing?.status === 'accepted') throw badRequest(`${user.name} already has access to ${repoIdOf(repo)}`);
  const moved = existing
    ? await moveAccessRequest(db, repo.id, user.id, existing.status, { status: 'accepted', rejectionReason: null })
    : await insertAccessRequest(db, { repoId: repo.id, userId: user.id, status: 'accepted', fields: {}, digestDue: false });
  if (!moved) throw conflictWith(`the access request of ${user.name} changed meanwhile: reload the list and try again`);
  const request = (await findAccessRequest(db, repo.id, user.id))!;
  await recordAudit(db, { actor, action: 'access.grant', repo, target: user.name, details: { old: existing?.status ?? 'none' } });
  notifier.requestDecided(repo, request);
  return request;
}

export const PAGE_SIZE = 100;

/** One page of a repo's requests in `status` (all states when null), and the cursor of the next page. */
export async function accessRequestPage(
  db: Db,
  repo: RepoWithOwner,
  status: AccessStatus | null,
  cursor: string | undefined,
  limit = PAGE_SIZE,
): Promise<{ requests: AccessRequest[]; next: string | null }> {
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  const requests = await listAccessRequests(db, repo.id, status, { limit: limit + 1, after });
  const more = requests.length > limit;
  const page = requests.slice(0, limit);
  const last = page.at(-1);
  return { requests: page, next: more && last ? encodeCursor(last) : null };
}

function encodeCursor(r: AccessRequest): string {
  return Buffer.from(JSON.stringify([r.createdAt, r.user.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; userId: number } {
  try {
    const [createdAt, userId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && Number.isSafeInteger(userId)) return { createdAt, userId: userId as number };
  } catch {
    /* answered below */
  }
  throw badRequest('invalid cursor: use the Link header of the previous page');
}

/** Every request of a repo, for the access report. */
export async function allAccessRequests(db: Db, repo: RepoWithOwner): Promise<AccessRequest[]> {
  const all: AccessRequest[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await accessRequestPage(db, repo, null, cursor, 1000);
    all.push(...page.requests);
    if (!page.next) return all;
    cursor = page.next;
  }
}
