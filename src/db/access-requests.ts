import type { RepoType } from '../domain/names.js';
import type { AccessRequest, AccessStatus } from '../domain/types.js';
import { type Db, now } from './index.js';

// Access requests to gated repos; every lookup is scoped by the repo's id.

function baseQuery(db: Db) {
  return db
    .selectFrom('access_requests')
    .innerJoin('accounts', 'accounts.id', 'access_requests.user_id')
    .select([
      'access_requests.repo_id', 'access_requests.status', 'access_requests.fields', 'access_requests.rejection_reason',
      'access_requests.created_at', 'access_requests.updated_at',
      'accounts.id as user_id', 'accounts.name as user_name', 'accounts.fullname', 'accounts.email',
    ]);
}

type Row = Awaited<ReturnType<ReturnType<typeof baseQuery>['executeTakeFirstOrThrow']>>;

function toRequest(r: Row): AccessRequest {
  return {
    repoId: r.repo_id,
    user: { id: r.user_id, name: r.user_name, fullname: r.fullname, email: r.email },
    status: r.status,
    fields: JSON.parse(r.fields) as AccessRequest['fields'],
    rejectionReason: r.rejection_reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function findAccessRequest(db: Db, repoId: number, userId: number): Promise<AccessRequest | undefined> {
  const row = await baseQuery(db).where('access_requests.repo_id', '=', repoId).where('access_requests.user_id', '=', userId).executeTakeFirst();
  return row && toRequest(row);
}

/** Only the status and reason, for the access policy on every git and LFS request. */
export async function accessStatusOf(db: Db, repoId: number, userId: number): Promise<{ status: AccessStatus; rejectionReason: string | null } | undefined> {
  const row = await db
    .selectFrom('access_requests')
    .select(['status', 'rejection_reason'])
    .where('repo_id', '=', repoId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row && { status: row.status, rejectionReason: row.rejection_reason };
}

/** One page of a repo's requests in one state, oldest first; `after` is the last row of the previous page. */
export async function listAccessRequests(
  db: Db,
  repoId: number,
  status: AccessStatus | null,
  page: { limit: number; after?: { createdAt: string; userId: number } },
): Promise<AccessRequest[]> {
  let q = baseQuery(db).where('access_requests.repo_id', '=', repoId);
  if (status) q = q.where('access_requests.status', '=', status);
  const after = page.after;
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('access_requests.created_at', '>', after.createdAt),
        eb.and([eb('access_requests.created_at', '=', after.createdAt), eb('access_requests.user_id', '>', after.userId)]),
      ]),
    );
  }
  const rows = await q.orderBy('access_requests.created_at').orderBy('access_requests.user_id').limit(page.limit).execute();
  return rows.map(toRequest);
}

/** Inserts a new request; false when the user already has one for this repo. */
export async function insertAccessRequest(
  db: Db,
  r: { repoId: number; userId: number; status: AccessStatus; fields: Record<string, unknown>; digestDue: boolean },
): Promise<boolean> {
  const at = now();
  const res = await db
    .insertInto('access_requests')
    .values({
      repo_id: r.repoId, user_id: r.userId, status: r.status, fields: JSON.stringify(r.fields),
      rejection_reason: null, created_at: at, updated_at: at, digest_due: r.digestDue ? 1 : 0,
    })
    .onConflict((oc) => oc.columns(['repo_id', 'user_id']).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
}

/**
 * Moves a request from `from` to `to` in one statement, so two authors acting at once cannot
 * both move it; false when the request was not in `from` any more.
 */
export async function moveAccessRequest(
  db: Db,
  repoId: number,
  userId: number,
  from: AccessStatus,
  to: { status: AccessStatus; rejectionReason: string | null },
): Promise<boolean> {
  const res = await db
    .updateTable('access_requests')
    .set({ status: to.status, rejection_reason: to.rejectionReason, updated_at: now(), ...(to.status === 'pending' ? {} : { digest_due: 0 }) })
    .where('repo_id', '=', repoId)
    .where('user_id', '=', userId)
    .where('status', '=', from)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** A pending request waiting for the daily digest, with the repo it was made to. */
export interface DigestItem {
  repo: { id: number; type: RepoType; namespace: string; name: string };
  request: AccessRequest;
}

/** Pending requests waiting for the daily digest, by repo and then oldest first; marks nothing. */
export async function dueForDigest(db: Db): Promise<DigestItem[]> {
  const rows = await baseQuery(db)
    .innerJoin('repos', 'repos.id', 'access_requests.repo_id')
    .innerJoin('accounts as owners', 'owners.id', 'repos.owner_id')
    .select(['repos.type as repo_type', 'repos.name as repo_name', 'owners.name as repo_namespace'])
    .where('access_requests.digest_due', '=', 1)
    .where('access_requests.status', '=', 'pending')
    .orderBy('access_requests.repo_id')
    .orderBy('access_requests.created_at')
    .orderBy('access_requests.user_id')
    .execute();
  return rows.map((r) => ({
    repo: { id: r.repo_id, type: r.repo_type, namespace: r.repo_namespace, name: r.repo_name },
    request: toRequest(r),
  }));
}

/**
 * Clears the digest flag of exactly the requests a digest was handed over for, so a request
 * that arrived while it was being sent waits for the next one.
 */
export async function markDigestSent(db: Db, sent: { repoId: number; userId: number }[]): Promise<void> {
  if (sent.length === 0) return;
  await db.transaction().execute(async (tx) => {
    for (const { repoId, userId } of sent) {
      await tx.updateTable('access_requests').set({ digest_due: 0 }).where('repo_id', '=', repoId).where('user_id', '=', userId).execute();
    }
  });
}
