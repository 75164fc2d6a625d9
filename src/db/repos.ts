import type { RepoType } from '../domain/names.js';
import type { AccessStatus, GatedMode, MemberRole, NotifyFrequency, Repo } from '../domain/types.js';
import { type Db, now, readRows } from './index.js';

export interface RepoWithOwner extends Repo {
  ownerId: number;
  ownerKind: 'user' | 'org';
}

function baseQuery(db: Db) {
  return db
    .selectFrom('repos')
    .innerJoin('accounts', 'accounts.id', 'repos.owner_id')
    .select([
      'repos.id', 'repos.type', 'repos.name', 'repos.private', 'repos.gated', 'repos.notify_email', 'repos.notify_frequency', 'repos.created_at',
      'repos.owner_id', 'accounts.name as namespace', 'accounts.kind as owner_kind',
    ])
    .where('repos.ready', '=', 1);
}

type Row = Awaited<ReturnType<ReturnType<typeof baseQuery>['executeTakeFirstOrThrow']>>;

function toRepo(r: Row): RepoWithOwner {
  return {
    id: r.id, type: r.type, namespace: r.namespace, name: r.name, private: r.private === 1,
    gated: (r.gated ?? false) as GatedMode, notifyEmail: r.notify_email, notifyFrequency: r.notify_frequency, createdAt: r.created_at, ownerId: r.owner_id, ownerKind: r.owner_kind,
  };
}

export async function findRepo(db: Db, type: RepoType, namespace: string, name: string): Promise<RepoWithOwner | undefined> {
  const row = await baseQuery(db)
    .where('repos.type', '=', type)
    .where('accounts.name', '=', namespace)
    .where('repos.name', '=', name)
    .executeTakeFirst();
  return row && toRepo(row);
}

/** A repo with what the access policy needs to know of one user's relation to it. */
export interface RepoWithFacts {
  repo: RepoWithOwner;
  /** The user's role in the organization owning the repo; null when none (or the owner is a user). */
  orgRole: MemberRole | null;
  /** The user's access request to the repo; null when none. */
  gate: { status: AccessStatus; rejectionReason: string | null } | null;
}

// One statement, prepared once (the SQL never changes): the repo, its owner, and the caller's
// membership and access request, the facts of every access decision. Written out rather than
// built with Kysely because it runs on every request to a repo.
const REPO_WITH_FACTS = `SELECT repos.id, repos.type, repos.name, repos.private, repos.gated, repos.notify_email, repos.notify_frequency, repos.created_at,
    repos.owner_id, accounts.name AS namespace, accounts.kind AS owner_kind,
    memberships.role AS member_role, access_requests.status AS gate_status, access_requests.rejection_reason AS gate_reason
  FROM repos
  JOIN accounts ON accounts.id = repos.owner_id
  LEFT JOIN memberships ON memberships.org_id = repos.owner_id AND memberships.user_id = ?
  LEFT JOIN access_requests ON access_requests.repo_id = repos.id AND access_requests.user_id = ?
  WHERE repos.ready = 1 AND repos.type = ? AND accounts.name = ? AND repos.name = ?`;

type FactsRow = Row & { member_role: MemberRole | null; gate_status: AccessStatus | null; gate_reason: string | null };

/**
 * The repo a name points to (as findRepo), with `userId`'s membership in its owner and access
 * request to it (none for null: anonymous), in one query.
 */
export async function findRepoWithFacts(db: Db, at: RepoName, userId: number | null): Promise<RepoWithFacts | undefined> {
  const rows = await readRows<FactsRow>(db, REPO_WITH_FACTS, [userId, userId, at.type, at.namespace, at.name]);
  const row = rows[0];
  if (!row) return undefined;
  return {
    repo: toRepo(row),
    orgRole: row.member_role,
    gate: row.gate_status ? { status: row.gate_status, rejectionReason: row.gate_reason } : null,
  };
}

/** Claims the name with a row that stays invisible until markRepoReady (its directory is put in place in between). */
export async function insertRepo(db: Db, r: { type: RepoType; ownerId: number; name: string; private: boolean; gated: GatedMode }): Promise<number> {
  const row = await db
    .insertInto('repos')
    .values({ type: r.type, owner_id: r.ownerId, name: r.name, private: r.private ? 1 : 0, gated: r.gated || null, created_at: now(), ready: 0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Makes a created repo visible; false when its row is gone (released as unfinished meanwhile). */
export async function markRepoReady(db: Db, id: number): Promise<boolean> {
  const res = await db.updateTable('repos').set({ ready: 1 }).where('id', '=', id).where('ready', '=', 0).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Rows of repos whose creation began before `before` and never finished (a crash between row and directory). */
export async function unfinishedRepos(db: Db, before: string): Promise<{ id: number; type: RepoType; namespace: string; name: string }[]> {
  return db
    .selectFrom('repos')
    .innerJoin('accounts', 'accounts.id', 'repos.owner_id')
    .select(['repos.id', 'repos.type', 'accounts.name as namespace', 'repos.name'])
    .where('repos.ready', '=', 0)
    .where('repos.created_at', '<', before)
    .execute();
}

export async function deleteRepoRow(db: Db, id: number): Promise<void> {
  await db.deleteFrom('repos').where('id', '=', id).execute();
}

/**
 * Deletes a repo's row in one statement; its access requests, LFS links, locks and uploads go
 * with it (ON DELETE CASCADE). False when the row was already gone (deleted concurrently).
 */
export async function removeRepoRow(db: Db, id: number): Promise<boolean> {
  const res = await db.deleteFrom('repos').where('id', '=', id).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

/** Updates the given settings of a repo; fields left undefined keep their value. */
export async function updateRepoSettings(
  db: Db,
  id: number,
  s: { private?: boolean; gated?: GatedMode; notifyEmail?: string | null; notifyFrequency?: NotifyFrequency },
): Promise<void> {
  const set: Partial<{ private: number; gated: 'auto' | 'manual' | null; notify_email: string | null; notify_frequency: NotifyFrequency }> = {};
  if (s.private !== undefined) set.private = s.private ? 1 : 0;
  if (s.gated !== undefined) set.gated = s.gated || null;
  if (s.notifyEmail !== undefined) set.notify_email = s.notifyEmail;
  if (s.notifyFrequency !== undefined) set.notify_frequency = s.notifyFrequency;
  if (Object.keys(set).length === 0) return;
  await db.updateTable('repos').set(set).where('id', '=', id).execute();
}

/** Repos, by type then namespace then name; only those of `namespace` and/or of `type` when given. */
export async function listRepoRows(db: Db, filter: { namespace?: string; type?: RepoType } = {}): Promise<RepoWithOwner[]> {
  let query = baseQuery(db);
  if (filter.namespace !== undefined) query = query.where('accounts.name', '=', filter.namespace);
  if (filter.type !== undefined) query = query.where('repos.type', '=', filter.type);
  const rows = await query.orderBy('repos.type').orderBy('accounts.name').orderBy('repos.name').execute();
  return rows.map(toRepo);
}

/**
 * Gives a repo a new owner and name, in a transaction that also runs `moveDirectory` (the rename
 * on disk): the row changes only if that succeeds, and a name taken meanwhile fails the update
 * (UNIQUE) before anything on disk moves. The old name becomes a redirect to the repo (a redirect
 * at the new name, left by an earlier move, is gone: the repo is there now). False when the
 * repo's row is gone.
 */
export async function moveRepoRow(
  db: Db,
  id: number,
  move: { from: RepoName; to: RepoName & { ownerId: number } },
  moveDirectory: () => Promise<void>,
): Promise<boolean> {
  const { from, to } = move;
  return db.transaction().execute(async (tx) => {
    const res = await tx.updateTable('repos').set({ owner_id: to.ownerId, name: to.name }).where('id', '=', id).where('ready', '=', 1).executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return false;
    await removeRedirect(tx, to);
    // A rename that changes only the case of the name keeps the same name (names match case-insensitively).
    if (from.namespace.toLowerCase() !== to.namespace.toLowerCase() || from.name.toLowerCase() !== to.name.toLowerCase()) {
      await tx
        .insertInto('repo_redirects')
        .values({ type: from.type, namespace: from.namespace, name: from.name, repo_id: id, created_at: now() })
        .onConflict((oc) => oc.columns(['type', 'namespace', 'name']).doUpdateSet({ repo_id: id, created_at: now() }))
        .execute();
    }
    await moveDirectory();
    return true;
  });
}

/** A repo's type, namespace and name, as its redirects key them. */
export interface RepoName {
  type: RepoType;
  namespace: string;
  name: string;
}

/** The repo an old name redirects to (its current row), if that name belonged to a repo moved since. */
export async function findRedirectTarget(db: Db, from: RepoName): Promise<RepoWithOwner | undefined> {
  const row = await baseQuery(db)
    .innerJoin('repo_redirects', 'repo_redirects.repo_id', 'repos.id')
    .where('repo_redirects.type', '=', from.type)
    .where('repo_redirects.namespace', '=', from.namespace)
    .where('repo_redirects.name', '=', from.name)
    .executeTakeFirst();
  return row && toRepo(row);
}

/** Forgets the redirects from a namespace's names (its account is deleted: they lead nowhere now). */
export async function removeRedirectsFrom(db: Db, namespace: string): Promise<void> {
  await db.deleteFrom('repo_redirects').where('namespace', '=', namespace).execute();
}

/** Forgets the redirect at a name (a repo has taken it). */
export async function removeRedirect(db: Db, at: RepoName): Promise<void> {
  await db.deleteFrom('repo_redirects').where('type', '=', at.type).where('namespace', '=', at.namespace).where('name', '=', at.name).execute();
}

/** Every repo (ready or not) an account owns, by type and name: what deleting the account would take with it. */
export async function reposOwnedBy(db: Db, ownerId: number): Promise<{ id: number; type: RepoType; namespace: string; name: string; ready: boolean }[]> {
  const rows = await db
    .selectFrom('repos')
    .innerJoin('accounts', 'accounts.id', 'repos.owner_id')
    .select(['repos.id', 'repos.type', 'accounts.name as namespace', 'repos.name', 'repos.ready'])
    .where('repos.owner_id', '=', ownerId)
    .orderBy('repos.type')
    .orderBy('repos.name')
    .execute();
  return rows.map((r) => ({ id: r.id, type: r.type, namespace: r.namespace, name: r.name, ready: r.ready === 1 }));
}

