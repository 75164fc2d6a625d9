import type { Db } from './index.js';

// The audit log: rows are only ever inserted, and read newest first.

export interface AuditRow {
  id: number;
  at: string;
  actor: string | null;
  action: string;
  repo: string | null;
  target: string | null;
  details: Record<string, unknown>;
}

export type NewAuditRow = Omit<AuditRow, 'id'>;

export async function appendAudit(db: Db, row: NewAuditRow): Promise<void> {
  await db.insertInto('audit_log').values({ ...row, details: JSON.stringify(row.details) }).execute();
}

export interface AuditQuery {
  repo?: string;
  /** Entries by this user, or about them. */
  user?: string;
  /** ISO time: entries at or after it. */
  since?: string;
  /** Entries older than this id (the previous page's last). */
  beforeId?: number;
  /** Entries newer than this id (the next page's first): the `limit` oldest of them, still returned newest first. */
  afterId?: number;
  limit: number;
}

export async function listAudit(db: Db, q: AuditQuery): Promise<AuditRow[]> {
  let query = db.selectFrom('audit_log').selectAll();
  if (q.repo !== undefined) query = query.where('repo', '=', q.repo);
  if (q.user !== undefined) query = query.where((eb) => eb.or([eb('actor', '=', q.user!), eb('target', '=', q.user!)]));
  if (q.since !== undefined) query = query.where('at', '>=', q.since);
  if (q.beforeId !== undefined) query = query.where('id', '<', q.beforeId);
  if (q.afterId !== undefined) query = query.where('id', '>', q.afterId);
  const rows = await query.orderBy('id', q.afterId !== undefined ? 'asc' : 'desc').limit(q.limit).execute();
  if (q.afterId !== undefined) rows.reverse();
  return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
}
