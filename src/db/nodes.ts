import type { Db } from './index.js';

// The serving processes of every machine on the database: one row each, renewed while it runs
// and removed when it stops; a row not renewed for a while is a process that died.

export interface NodeRow {
  id: string;
  hostname: string;
  pid: number;
  startedAt: string;
  seenAt: string;
}

/** Adds this process's row, or renews it (seen now). */
export async function announceNode(db: Db, node: NodeRow): Promise<void> {
  await db
    .insertInto('nodes')
    .values({ id: node.id, hostname: node.hostname, pid: node.pid, started_at: node.startedAt, seen_at: node.seenAt })
    .onConflict((oc) => oc.column('id').doUpdateSet({ seen_at: node.seenAt }))
    .execute();
}

export async function forgetNode(db: Db, id: string): Promise<void> {
  await db.deleteFrom('nodes').where('id', '=', id).execute();
}

/** The processes seen at or after `since`. */
export async function nodesSeenSince(db: Db, since: string): Promise<NodeRow[]> {
  const rows = await db.selectFrom('nodes').selectAll().where('seen_at', '>=', since).execute();
  return rows.map((r) => ({ id: r.id, hostname: r.hostname, pid: Number(r.pid), startedAt: r.started_at, seenAt: r.seen_at }));
}

/** Removes the rows of processes last seen before `before` (they died without saying so); how many. */
export async function forgetNodesSeenBefore(db: Db, before: string): Promise<number> {
  const r = await db.deleteFrom('nodes').where('seen_at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
