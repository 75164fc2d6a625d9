import { type Db, now } from './index.js';

// Secrets shared by every node on the database, by name. The first node to need one offers it
// (insert ... on conflict do nothing) and every node then reads back the one that was kept, so
// two nodes starting at once still end up with the same secret.

/** The secret `name`, offering `offered` (bytes) when there is none yet; the bytes kept, whoever offered them. */
export async function settleSecret(db: Db, name: string, offered: () => Buffer): Promise<Buffer> {
  const kept = await secretValue(db, name);
  if (kept) return kept;
  await db
    .insertInto('secrets')
    .values({ name, value: offered().toString('base64'), created_at: now() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const settled = await secretValue(db, name);
  if (!settled) throw new Error(`the shared secret ${name} could not be stored`);
  return settled;
}

async function secretValue(db: Db, name: string): Promise<Buffer | null> {
  const row = await db.selectFrom('secrets').select('value').where('name', '=', name).executeTakeFirst();
  return row ? Buffer.from(row.value, 'base64') : null;
}
