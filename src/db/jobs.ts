import type { Db } from './index.js';

// Periodic jobs that every process on the database shares (the daily digest): one row per job
// with when it last ran and who runs it now. Every change is a compare-and-set, so the database,
// never a process's memory, decides who runs a job; a claim is a lease (claimed_until) that its
// holder renews while it works, and that any process may take once it has lapsed.

export interface JobState {
  lastRunAt: string;
  claimedUntil: string | null;
}

/** Adds the job as last run at `lastRunAt`, unless it is there already (then nothing changes). */
export async function addJob(db: Db, name: string, lastRunAt: string): Promise<void> {
  await db
    .insertInto('jobs')
    .values({ name, last_run_at: lastRunAt, claim: null, claimed_until: null })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

export async function jobState(db: Db, name: string): Promise<JobState | null> {
  const row = await db.selectFrom('jobs').select(['last_run_at', 'claimed_until']).where('name', '=', name).executeTakeFirst();
  return row ? { lastRunAt: row.last_run_at, claimedUntil: row.claimed_until } : null;
}

/**
 * Claims the job for `claim` until `until` when it is due (it last ran at or before `ranBy`) and
 * no one holds it, or its holder's claim lapsed before `at`; false otherwise.
 */
export async function claimDueJob(db: Db, name: string, claim: string, t: { ranBy: string; at: string; until: string }): Promise<boolean> {
  const r = await db
    .updateTable('jobs')
    .set({ claim, claimed_until: t.until })
    .where('name', '=', name)
    .where('last_run_at', '<=', t.ranBy)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', t.at)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Extends a claim still held; false when it was lost (it lapsed and someone else took the job). */
export async function renewJobClaim(db: Db, name: string, claim: string, until: string): Promise<boolean> {
  const r = await db.updateTable('jobs').set({ claimed_until: until }).where('name', '=', name).where('claim', '=', claim).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Records, by the holder of `claim`, a run that started at `startedAt` and releases the job; false when it no longer held it. */
export async function finishJob(db: Db, name: string, claim: string, startedAt: string): Promise<boolean> {
  const r = await db
    .updateTable('jobs')
    .set({ last_run_at: startedAt, claim: null, claimed_until: null })
    .where('name', '=', name)
    .where('claim', '=', claim)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
