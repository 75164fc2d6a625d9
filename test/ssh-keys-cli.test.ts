// `hubgate ssh-key add|list|remove` against a live server's data directory, and what the SSH
// server asks of the store (src/services/ssh-keys.ts, called here on the same database as the
// server): who a key belongs to, and that removing the key or disabling or deleting its user
// ends that at once.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../src/services/database.ts';
import { userOfSshKey, userOfSshKeyId } from '../src/services/ssh-keys.ts';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { type GeneratedKey, generateKey } from './helpers/ssh-keys.js';

let hub: Hubgate;
let ed: GeneratedKey;
let rsa: GeneratedKey;

const blobOf = (key: GeneratedKey) => Buffer.from(key.pub.split(' ')[1], 'base64');

function query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): T[] {
  const db = new Database(path.join(hub.dataDir, 'hubgate.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await hub.cli(args, input);
  expect(r.code, `hubgate ${args.join(' ')}: ${r.stderr}`).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout;
}

async function fails(args: string[], input: string | undefined, code: number): Promise<string> {
  const r = await hub.cli(args, input);
  expect(r.code, r.stdout).toBe(code);
  expect(r.stdout).toBe('');
  return r.stderr;
}

async function keyList(user: string): Promise<Record<string, string>[]> {
  const [header, ...lines] = (await ok(['ssh-key', 'list', user])).trimEnd().split('\n');
  expect(header.split('\t')).toStrictEqual(['ID', 'FINGERPRINT', 'TYPE', 'CREATED', 'LAST USED', 'TITLE']);
  return lines.map((l) => {
    const [id, fingerprint, type, created, lastUsed, title] = l.split('\t');
    return { id, fingerprint, type, created, lastUsed, title };
  });
}

const service = <T>(fn: Parameters<typeof withDatabase<T>>[1]) => withDatabase({ dataDir: hub.dataDir, databaseUrl: hub.databaseUrl }, fn);

beforeAll(async () => {
  hub = await startHubgate();
  [ed, rsa] = await Promise.all([generateKey('ed25519'), generateKey('rsa', 2048)]);
  for (const name of ['alice', 'bob', 'carol']) await ok(['user', 'create', name]);
});
afterAll(async () => {
  await hub?.stop();
});

describe('hubgate ssh-key', () => {
  it('add reads the key from stdin and prints its id and fingerprint; list shows it', async () => {
    const out = await ok(['ssh-key', 'add', 'alice', '--title', 'laptop'], ed.pub);
    expect(out).toMatch(new RegExp(`^\\d+\\t${ed.fingerprint.replace(/[+/]/g, '\\$&')}\\n$`));
    const id = out.split('\t')[0];
    const [row] = await keyList('alice');
    expect(row).toMatchObject({ id, fingerprint: ed.fingerprint, type: 'ssh-ed25519', lastUsed: 'never', title: 'laptop' });
    expect(Date.now() - Date.parse(row.created)).toBeLessThan(60_000);
    const [stored] = query<{ public_key: string; user_id: number }>('select public_key, user_id from ssh_keys where id = ?', Number(id));
    expect(stored.public_key).toBe(ed.pub.split(' ')[1]);
  });

  it('the same key is refused for its own user and for another, without naming the other', async () => {
    expect(await fails(['ssh-key', 'add', 'alice', '--title', 'again'], ed.pub, 1)).toMatch(/already added to alice as "laptop"/);
    const other = await fails(['ssh-key', 'add', 'bob', '--title', 'mine'], ed.pub, 1);
    expect(other).toMatch(/already in use by another account.*ssh-keygen -t ed25519/);
    expect(other).not.toMatch(/alice/);
    expect(await keyList('bob')).toStrictEqual([]);
  });

  it('refuses bad keys and titles with messages, and usage errors with status 2', async () => {
    const small = await generateKey('rsa', 1024);
    expect(await fails(['ssh-key', 'add', 'bob', '--title', 't'], small.pub, 1)).toMatch(/1024 bits/);
    expect(await fails(['ssh-key', 'add', 'bob', '--title', 't'], '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n', 1)).toMatch(/PRIVATE key/);
    expect(await fails(['ssh-key', 'add', 'bob', '--title', 'x'.repeat(101)], rsa.pub, 1)).toMatch(/title is too long \(101 characters\): use at most 100/);
    expect(await fails(['ssh-key', 'add', 'bob', '--title', 'a\u202eb'], rsa.pub, 1)).toMatch(/bidirectional/);
    expect(await fails(['ssh-key', 'add', 'nobody', '--title', 't'], rsa.pub, 1)).toMatch(/no user named "nobody"/);
    expect(await fails(['ssh-key', 'add', 'bob'], rsa.pub, 2)).toMatch(/--title/);
    expect(await fails(['ssh-key', 'remove', 'abc'], undefined, 2)).toMatch(/invalid SSH key id "abc"/);
    expect(await fails(['ssh-key', 'remove', '99999'], undefined, 1)).toMatch(/no SSH key with id 99999/);
    expect(await keyList('bob')).toStrictEqual([]);
  });

  it('the SSH server finds the user by the key, notes its use once a minute, and loses it once the key is removed', async () => {
    const id = Number((await ok(['ssh-key', 'add', 'bob', '--title', 'build box'], rsa.pub)).split('\t')[0]);
    const found = await service((db) => userOfSshKey(db, blobOf(rsa)));
    expect(found?.keyId).toBe(id);
    expect(found?.user.name).toBe('bob');
    const [used] = await keyList('bob');
    expect(Date.now() - Date.parse(used.lastUsed)).toBeLessThan(60_000);
    await service((db) => userOfSshKey(db, blobOf(rsa)));
    expect((await keyList('bob'))[0].lastUsed).toBe(used.lastUsed);
    expect((await service((db) => userOfSshKeyId(db, id)))?.name).toBe('bob');
    expect(await service((db) => userOfSshKey(db, Buffer.from('unknown')))).toBeUndefined();

    expect(await ok(['ssh-key', 'remove', String(id)])).toBe(`removed SSH key ${id}\n`);
    expect(await keyList('bob')).toStrictEqual([]);
    expect(await service((db) => userOfSshKey(db, blobOf(rsa)))).toBeUndefined();
    expect(await service((db) => userOfSshKeyId(db, id))).toBeUndefined();
    // Removed, the key may be added again (to anyone).
    await ok(['ssh-key', 'add', 'carol', '--title', 'handed over'], rsa.pub);
    expect((await service((db) => userOfSshKey(db, blobOf(rsa))))?.user.name).toBe('carol');
  });

  it('a disabled user’s keys find nobody until they are enabled; a deleted user’s keys go with them', async () => {
    const [carolKey] = await keyList('carol');
    await ok(['user', 'disable', 'carol']);
    expect(await service((db) => userOfSshKey(db, blobOf(rsa)))).toBeUndefined();
    expect(await service((db) => userOfSshKeyId(db, Number(carolKey.id)))).toBeUndefined();
    expect(await keyList('carol')).toHaveLength(1);
    await ok(['user', 'enable', 'carol']);
    expect((await service((db) => userOfSshKeyId(db, Number(carolKey.id))))?.name).toBe('carol');

    await ok(['user', 'delete', 'carol']);
    expect(query('select id from ssh_keys where id = ?', Number(carolKey.id))).toStrictEqual([]);
    expect(await service((db) => userOfSshKeyId(db, Number(carolKey.id)))).toBeUndefined();
    // Its key is free again.
    await ok(['ssh-key', 'add', 'bob', '--title', 'from carol'], rsa.pub);
  });

  it('adds and removals are in the audit log, naming the key by id, title and fingerprint', async () => {
    const lines = (await ok(['audit', '--user', 'alice'])).split('\n').filter((l) => l.includes('ssh_key.'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`- ssh_key.add - alice id=`);
    expect(lines[0]).toContain(`title=laptop algorithm=ssh-ed25519 fingerprint=${ed.fingerprint}`);
    const bobs = (await ok(['audit', '--user', 'bob'])).split('\n').filter((l) => l.includes('ssh_key.'));
    expect(bobs.map((l) => l.split(' ')[2])).toStrictEqual(['ssh_key.add', 'ssh_key.remove', 'ssh_key.add']);
    expect(bobs[1]).toContain(`title="build box" algorithm=ssh-rsa fingerprint=${rsa.fingerprint}`);
  });
});
