import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createAccount, setMembershipKeepingAdmin } from '../src/db/accounts.ts';
import { type DbLocation, openDb } from '../src/db/index.ts';
import { BIN, createTestDatabase, dropTestDatabase, run, startHubgate, tempDir } from './helpers/hubgate.ts';

// What only PostgreSQL has: migrations run separately and by one process at a time, names unique
// without case through citext, the git hooks' read-only connections, the answer when the database
// goes away, and the SQLite-only backup refusing clearly.

const hubgateCli = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });

async function query<T>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('PostgreSQL', () => {
  const opened: { destroy(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const db of opened) await db.destroy();
  });

  it('`hubgate db migrate` brings a new database up to date and exits; processes migrating at once all succeed, each migration applied once', async () => {
    const url = await createTestDatabase();
    const env = { HUBGATE_DATABASE_URL: url };
    const data = path.join(tempDir(), 'data');
    const results = await Promise.all([1, 2, 3].map(() => hubgateCli(['db', 'migrate', '--data', data], env)));
    for (const r of results) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^the database at 127\.0\.0\.1:\d+\/hubgate_\w+ is up to date\n$/);
    }
    const applied = await query<{ name: string }>(url, 'select name from kysely_migration order by name');
    expect(applied.map((m) => m.name)).toEqual([...new Set(applied.map((m) => m.name))]);
    expect(applied.length).toBeGreaterThanOrEqual(12);
    expect(applied[0].name).toBe('0001_identity_and_repos');
    // Ids are identity columns, names citext, sizes bigint.
    const columns = await query<{ table_name: string; column_name: string; data_type: string; is_identity: string }>(
      url,
      `select table_name, column_name, data_type, is_identity from information_schema.columns where (table_name, column_name) in (('accounts', 'id'), ('accounts', 'name'), ('lfs_objects', 'size'))`,
    );
    const byName = Object.fromEntries(columns.map((c) => [`${c.table_name}.${c.column_name}`, c]));
    expect(byName['accounts.id']).toMatchObject({ data_type: 'integer', is_identity: 'YES' });
    expect(byName['accounts.name'].data_type).toBe('USER-DEFINED');
    expect(byName['lfs_objects.size'].data_type).toBe('bigint');
    await dropTestDatabase(url);
  });

  it('names are unique and found whatever their case; counts and sizes come back as numbers', async () => {
    const hub = await startHubgate({ db: 'postgres' });
    try {
      await hub.userWithToken('Alice');
      const again = await hub.cli(['user', 'create', 'alice']);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('the name "alice" is already taken');
      expect((await hub.cli(['repo', 'create', 'ALICE/Model'])).code).toBe(0);
      const dup = await hub.cli(['repo', 'create', 'alice/model']);
      expect(dup.code).not.toBe(0);
      const info = await fetch(`${hub.url}/api/models/alice/MODEL`);
      expect(info.status).toBe(200);
      expect(((await info.json()) as { id: string }).id).toBe('Alice/Model');
      const db = await openDb({ dataDir: hub.dataDir, databaseUrl: hub.databaseUrl });
      opened.push(db);
      const { n } = await db.selectFrom('accounts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      expect(n).toBe(1);
    } finally {
      await hub.stop();
    }
  });

  it('the push hooks reach PostgreSQL: a pointer to an object the repo lacks is refused, a push is audited', async () => {
    const hub = await startHubgate({ db: 'postgres' });
    try {
      const token = await hub.userWithToken('alice');
      expect((await hub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
      const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${'ab'.repeat(32)}\nsize 5\n`;
      await expect(hub.pushFiles('alice/m', token, { 'w.bin': pointer })).rejects.toThrow(/names an object this repository does not have/);
      const tip = await hub.pushFiles('alice/m', token, { 'README.md': 'hello\n' });
      const audit = await hub.cli(['audit', '--repo', 'alice/m']);
      expect(audit.code, audit.stderr).toBe(0);
      const pushes = audit.stdout.split('\n').filter((line) => / alice push models\/alice\/m /.test(line));
      expect(pushes).toHaveLength(1);
      expect(pushes[0]).toContain(`new=${tip}`);
    } finally {
      await hub.stop();
    }
  });

  it("two demotions of an org's two admins at once: one passes, one is refused (each round)", async () => {
    const db = await openDb({ dataDir: tempDir(), databaseUrl: await createTestDatabase() });
    opened.push(db);
    const [a, b] = [await createAccount(db, { name: 'a', kind: 'user' }), await createAccount(db, { name: 'b', kind: 'user' })];
    for (let round = 0; round < 20; round++) {
      const org = await createAccount(db, { name: `org${round}`, kind: 'org' });
      for (const u of [a, b]) expect(await setMembershipKeepingAdmin(db, org.id, u.id, 'admin')).toBe('set');
      const outcomes = await Promise.all([a, b].map((u) => setMembershipKeepingAdmin(db, org.id, u.id, 'read')));
      expect(outcomes.sort()).toEqual(['last-admin', 'set']);
    }
  });

  it("the git hooks' connection refuses writes (every transaction read-only)", async () => {
    const url = await createTestDatabase();
    const where: DbLocation = { dataDir: tempDir(), databaseUrl: url };
    const writer = await openDb(where);
    opened.push(writer);
    const reader = await openDb(where, { readonly: true });
    opened.push(reader);
    const row = { name: 'x', kind: 'user' as const, fullname: '', created_at: new Date().toISOString() };
    await expect(reader.insertInto('accounts').values(row).execute()).rejects.toMatchObject({ code: '25006' });
    await writer.insertInto('accounts').values(row).execute();
    expect((await reader.selectFrom('accounts').select('name').execute()).map((r) => r.name)).toEqual(['x']);
  });

  it('answers 503 with what happened while the database cannot be reached', async () => {
    const hub = await startHubgate({ db: 'postgres' });
    try {
      const token = await hub.userWithToken('alice');
      expect((await hub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
      expect((await fetch(`${hub.url}/api/models/alice/m`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
      await dropTestDatabase(hub.databaseUrl!);
      const res = await fetch(`${hub.url}/api/models/alice/m`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('10');
      expect(await res.text()).toContain("the server's database cannot be reached right now");
      expect((await fetch(`${hub.url}/healthz`)).ok).toBe(true);
    } finally {
      await hub.stop();
    }
  });

  it('`hubgate backup` and `restore` refuse PostgreSQL and name pg_dump; a bad URL is refused at start', async () => {
    const env = { HUBGATE_DATABASE_URL: await createTestDatabase() };
    const data = path.join(tempDir(), 'data');
    const backup = await hubgateCli(['backup', path.join(tempDir(), 'b'), '--data', data], env);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toContain('back the database up with pg_dump');
    const restore = await hubgateCli(['restore', tempDir(), '--data', path.join(tempDir(), 'r')], env);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain('pg_dump');
    const bad = await hubgateCli(['serve', '--data', data, '--port', '0'], { HUBGATE_DATABASE_URL: 'mysql://x@y/z' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid setting HUBGATE_DATABASE_URL: use a postgres:// URL');
  });
});
