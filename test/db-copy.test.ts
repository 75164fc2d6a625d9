// `hubgate db copy --from sqlite:DATA --to postgres://...`: an installation that ran on SQLite
// moves to PostgreSQL with every row and the same ids. After the copy, a server on the same data
// directory and the PostgreSQL database knows the same users, tokens, orgs, repos, LFS objects
// and gating decisions, and new rows get ids after the copied ones.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, createTestDatabase, type Hubgate, run, startHubgate } from './helpers/hubgate.js';

/** `hubgate db copy ARGS` (it takes no --data: the source is named by --from). */
const dbCopy = (args: string[]) => run(process.execPath, [BIN, 'db', 'copy', ...args]);

describe('db copy from SQLite to PostgreSQL', () => {
  let sqliteHub: Hubgate;
  let pgHub: Hubgate | undefined;
  let target: string;
  let aliceToken: string;
  let bobToken: string;
  const weights = crypto.randomBytes(200_000);

  beforeAll(async () => {
    sqliteHub = await startHubgate();
    aliceToken = await sqliteHub.userWithToken('alice');
    bobToken = await sqliteHub.userWithToken('bob', 'read');
    expect((await sqliteHub.cli(['org', 'create', 'acme'])).code).toBe(0);
    expect((await sqliteHub.cli(['org', 'add', 'acme', 'alice', '--role', 'admin'])).code).toBe(0);
    expect((await sqliteHub.cli(['repo', 'create', 'acme/secret', '--private'])).code).toBe(0);
    expect((await sqliteHub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
    expect((await sqliteHub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
    await sqliteHub.pushFiles('alice/m', aliceToken, { '.gitattributes': '*.bin filter=lfs diff=lfs merge=lfs -text\n', 'w.bin': weights });
    await sqliteHub.stop();
    target = await createTestDatabase();
  });
  afterAll(async () => {
    await pgHub?.stop();
    await sqliteHub?.stop();
  });

  it('copies every table with the same counts, and a server on PostgreSQL serves what the SQLite one held', async () => {
    const copy = await dbCopy(['--from', `sqlite:${sqliteHub.dataDir}`, '--to', target]);
    expect(copy.stderr).toBe('');
    expect(copy.code).toBe(0);
    for (const table of ['accounts', 'memberships', 'tokens', 'repos', 'lfs_objects', 'lfs_links', 'audit_log', 'secrets']) {
      expect(copy.stdout).toMatch(new RegExp(`^copied ${table}: [1-9]\\d* rows$`, 'm'));
    }
    expect(copy.stdout).toMatch(/^verified: \d+ tables, \d+ rows, the same counts on both sides$/m);

    pgHub = await startHubgate({ dataDir: sqliteHub.dataDir, env: { HUBGATE_DATABASE_URL: target } });
    // The copied token still works (its hash was copied), and the LFS file comes back byte for byte.
    const info = await fetch(`${pgHub.url}/api/models/alice/m`, { headers: { Authorization: `Bearer ${aliceToken}` } });
    expect(info.status).toBe(200);
    const file = await fetch(`${pgHub.url}/alice/m/resolve/main/w.bin`, { headers: { Authorization: `Bearer ${aliceToken}` } });
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(weights)).toBe(true);
    // Membership came along: the org's private repo is visible to its admin, and still hidden from bob.
    expect((await fetch(`${pgHub.url}/api/models/acme/secret`, { headers: { Authorization: `Bearer ${aliceToken}` } })).status).toBe(200);
    expect((await fetch(`${pgHub.url}/api/models/acme/secret`, { headers: { Authorization: `Bearer ${bobToken}` } })).status).toBe(404);
    // Search finds the copied repos (PostgreSQL keeps its own index of ids, made from the copied rows).
    const found = (await (await fetch(`${pgHub.url}/api/models?search=ice/m`)).json()) as { id: string }[];
    expect(found.map((r) => r.id)).toEqual(['alice/m']);
    // New rows get ids after the copied ones: creating a user and a token works on the copy.
    const carol = await pgHub.userWithToken('carol');
    expect((await fetch(`${pgHub.url}/api/whoami-v2`, { headers: { Authorization: `Bearer ${carol}` } })).status).toBe(200);
  });

  it('refuses a target that already holds rows, and changes nothing there', async () => {
    const again = await dbCopy(['--from', `sqlite:${sqliteHub.dataDir}`, '--to', target]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds rows .*copy into a new, empty database/);
    // carol, made on PostgreSQL after the copy, is still there.
    const users = await pgHub!.cli(['user', 'list']);
    expect(users.stdout).toContain('carol');
  });

  it('refuses a source or target that is not what it says, with what to pass instead', async () => {
    const wrongFrom = await dbCopy(['--from', sqliteHub.dataDir, '--to', target]);
    expect(wrongFrom.code).toBe(2);
    expect(wrongFrom.stderr).toContain('--from takes sqlite:PATH');
    const wrongTo = await dbCopy(['--from', `sqlite:${sqliteHub.dataDir}`, '--to', 'mysql://x']);
    expect(wrongTo.code).toBe(2);
    expect(wrongTo.stderr).toContain('--to takes a postgres://');
  });
});
