// The admin command line of design §7 (all but the lfs- commands), run against a live server:
// each command's output, what it stores (read from the SQLite file, read-only), and its effect
// on what the server then allows.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../src/identity/passwords.ts';
import { type Hubgate, run, startHubgate } from './helpers/hubgate.js';
import { basic, commitAndPush, listTree } from './helpers/wire.js';

const TOKEN = /^hf_[A-Za-z0-9_-]{43}\n$/;
let hub: Hubgate;

/** Reads the live database the way an operator would: read-only, beside the running server. */
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

/** Status of `GET info/refs` for a repo URL path with an optional token. */
async function advertise(repoPath: string, service: 'upload-pack' | 'receive-pack', token?: string): Promise<Response> {
  const r = await fetch(`${hub.url}/${repoPath}/info/refs?service=git-${service}`, { headers: token ? { authorization: basic(token) } : {} });
  await r.arrayBuffer();
  return r;
}

interface TokenRow {
  id: string;
  role: string;
  status: string;
  created: string;
  lastUsed: string;
  name: string;
}
async function tokenList(user: string): Promise<{ raw: string; rows: TokenRow[] }> {
  const raw = await ok(['token', 'list', user]);
  const [header, ...lines] = raw.trimEnd().split('\n');
  expect(header.split('\t')).toStrictEqual(['ID', 'ROLE', 'STATUS', 'CREATED', 'LAST USED', 'NAME']);
  const rows = lines.map((l) => {
    const [id, role, status, created, lastUsed, name] = l.split('\t');
    return { id, role, status, created, lastUsed, name };
  });
  return { raw, rows };
}

beforeAll(async () => {
  hub = await startHubgate();
});
afterAll(() => hub?.stop());

describe('user create', () => {
  it('stores email, full name, admin flag and a scrypt hash of the password read from stdin', async () => {
    const password = 'a long enough password';
    expect(await ok(['user', 'create', 'carol', '--email', 'carol@example.com', '--fullname', 'Carol Jones', '--password-stdin', '--admin'], `${password}\n`)).toBe(
      'created user carol\n',
    );
    const [row] = query<{ kind: string; email: string; fullname: string; is_admin: number; password_hash: string }>(
      'select kind, email, fullname, is_admin, password_hash from accounts where name = ?',
      'carol',
    );
    expect(row).toMatchObject({ kind: 'user', email: 'carol@example.com', fullname: 'Carol Jones', is_admin: 1 });
    expect(row.password_hash).toMatch(/^scrypt\$/);
    expect(row.password_hash).not.toContain(password);
    // The trailing newline from stdin is not part of the password.
    expect(await verifyPassword(password, row.password_hash)).toBe(true);
    expect(await verifyPassword(`${password}\n`, row.password_hash)).toBe(false);
  });

  it('without options: no email, no password, not an admin', async () => {
    await ok(['user', 'create', 'dave']);
    expect(query('select email, fullname, is_admin, password_hash from accounts where name = ?', 'dave')).toStrictEqual([
      { email: null, fullname: '', is_admin: 0, password_hash: null },
    ]);
  });

  it.each([
    ['a password shorter than 8 characters', ['user', 'create', 'erin', '--password-stdin'], 'short\n'],
    ['an invalid email', ['user', 'create', 'erin', '--email', 'not-an-email'], undefined],
  ])('refuses %s (exit 1, one line) and creates nobody', async (_what, args, input) => {
    const r = await hub.cli(args, input);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(query('select id from accounts where name = ?', 'erin')).toStrictEqual([]);
  });
});

describe('org create and org add', () => {
  it('creates an organization with its full name; it cannot hold tokens', async () => {
    expect(await ok(['org', 'create', 'acme', '--fullname', 'Acme Corp'])).toBe('created organization acme\n');
    expect(query('select kind, fullname, email, password_hash from accounts where name = ?', 'acme')).toStrictEqual([
      { kind: 'org', fullname: 'Acme Corp', email: null, password_hash: null },
    ]);
    const r = await hub.cli(['token', 'create', 'acme', '--role', 'read']);
    expect(r.code).toBe(1);
    expect(query('select t.id from tokens t join accounts a on a.id = t.user_id where a.name = ?', 'acme')).toStrictEqual([]);
  });

  it('adds a member and changes the role in place; the server follows at once', async () => {
    const [, created] = await Promise.all([ok(['repo', 'create', 'acme/weights', '--private']), ok(['token', 'create', 'dave', '--role', 'write'])]);
    const token = created.trim();
    const membership = () =>
      query(
        'select m.role from memberships m join accounts o on o.id = m.org_id join accounts u on u.id = m.user_id where o.name = ? and u.name = ?',
        'acme',
        'dave',
      );
    // Not a member yet: the private repo does not exist for dave.
    expect((await advertise('acme/weights', 'upload-pack', token)).status).toBe(404);

    expect(await ok(['org', 'add', 'acme', 'dave', '--role', 'read'])).toMatch(/dave.*acme.*read/);
    expect(membership()).toStrictEqual([{ role: 'read' }]);
    expect((await advertise('acme/weights', 'upload-pack', token)).status).toBe(200);
    expect((await advertise('acme/weights', 'receive-pack', token)).status).toBe(403);

    expect(await ok(['org', 'add', 'acme', 'dave', '--role', 'write'])).toMatch(/dave.*acme.*write/);
    expect(membership()).toStrictEqual([{ role: 'write' }]);
    const { tip } = await commitAndPush(hub, 'acme/weights', token, {}, 'by dave');
    expect((await run('git', ['--git-dir', hub.repoDir('acme/weights'), 'rev-parse', 'main'])).stdout.trim()).toBe(tip);

    expect(await ok(['org', 'add', 'acme', 'dave', '--role', 'read'])).toMatch(/read/);
    expect(membership()).toStrictEqual([{ role: 'read' }]);
    expect((await advertise('acme/weights', 'receive-pack', token)).status).toBe(403);
  });

  it.concurrent.for([
    ['an org that does not exist', ['org', 'add', 'nope', 'dave', '--role', 'read'], 1],
    ['a user that does not exist', ['org', 'add', 'acme', 'nope', '--role', 'read'], 1],
    ['an org given as the user', ['org', 'add', 'acme', 'acme', '--role', 'read'], 1],
    ['a role that does not exist', ['org', 'add', 'acme', 'dave', '--role', 'owner'], 2],
    ['no role', ['org', 'add', 'acme', 'dave'], 2],
  ] as [string, string[], number][])('org add refuses %s', async ([, args, code], { expect }) => {
    const before = query('select * from memberships order by org_id, user_id');
    const r = await hub.cli(args as string[]);
    expect(r.code).toBe(code);
    expect(query('select * from memberships order by org_id, user_id')).toStrictEqual(before);
  });
});

describe('tokens', () => {
  let first: string;
  let second: string;

  it('token create prints the token alone on stdout, a new one each time', async () => {
    await ok(['user', 'create', 'frank']);
    // In order, so the list below has them in this order.
    const a = await hub.cli(['token', 'create', 'frank', '--role', 'read', '--name', 'laptop clone']);
    const [b] = await Promise.all([hub.cli(['token', 'create', 'frank', '--role', 'write']), ok(['repo', 'create', 'frank/model', '--private'])]);
    for (const r of [a, b]) {
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(TOKEN);
      expect(r.stderr).toBe('');
    }
    first = a.stdout.trim();
    second = b.stdout.trim();
    expect(first).not.toBe(second);
  });

  it('token list shows id, role, status and last use, and never a secret or its hash', async () => {
    const { raw, rows } = await tokenList('frank');
    expect(rows.map(({ role, status, lastUsed, name }) => ({ role, status, lastUsed, name }))).toStrictEqual([
      { role: 'read', status: 'active', lastUsed: 'never', name: 'laptop clone' },
      { role: 'write', status: 'active', lastUsed: 'never', name: 'write token' },
    ]);
    const ids = query<{ id: number }>('select t.id from tokens t join accounts a on a.id = t.user_id where a.name = ? order by t.id', 'frank').map((r) => String(r.id));
    expect(rows.map((r) => r.id)).toStrictEqual(ids);
    for (const row of rows) expect(Number.isNaN(Date.parse(row.created))).toBe(false);
    for (const secret of [first, second]) {
      expect(raw).not.toContain(secret);
      expect(raw).not.toContain(secret.slice(3));
      expect(raw).not.toContain(crypto.createHash('sha256').update(secret).digest('hex'));
    }
    expect(raw).not.toMatch(/hf_/);
  });

  it('last used is set once the token has been used by a clone', async () => {
    const before = Date.now();
    const clone = await hub.git(['clone', '-q', hub.remote('frank/model', first), 'c']);
    expect(clone.code, clone.stderr).toBe(0);
    const after = Date.now();
    const { rows } = await tokenList('frank');
    const used = Date.parse(rows[0].lastUsed);
    expect(used).toBeGreaterThanOrEqual(before - 1000);
    expect(used).toBeLessThanOrEqual(after + 1000);
    // Only the token that was used.
    expect(rows[1].lastUsed).toBe('never');
  });

  it('token revoke: that token gets 401 at once, the user’s other tokens keep working', async () => {
    expect((await advertise('frank/model', 'upload-pack', first)).status).toBe(200);
    const { rows } = await tokenList('frank');
    expect(await ok(['token', 'revoke', rows[0].id])).toBe(`revoked token ${rows[0].id}\n`);
    const denied = await advertise('frank/model', 'upload-pack', first);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Basic realm="hubgate"');
    const clone = await hub.git(['clone', hub.remote('frank/model', first), 'c']);
    expect(clone.code).not.toBe(0);
    expect(clone.stderr).toMatch(/Authentication failed/);
    expect((await advertise('frank/model', 'receive-pack', second)).status).toBe(200);
    const after = await tokenList('frank');
    expect(after.rows.map((r) => r.status)).toStrictEqual(['revoked', 'active']);
    expect(query('select revoked_at from tokens where id = ?', Number(rows[0].id))[0]).toMatchObject({ revoked_at: expect.any(String) });
    // Revoking twice is an error that says so.
    const again = await hub.cli(['token', 'revoke', rows[0].id]);
    expect(again.code).toBe(1);
  });

  it('stores tokens only as SHA-256: the secret appears nowhere in the data directory', async () => {
    const secrets = [first, second, (await ok(['token', 'create', 'frank', '--role', 'write'])).trim()];
    // Use them, so the server has written to the database (last-used) since they were created.
    for (const s of secrets) await advertise('frank/model', 'upload-pack', s);
    for (const s of secrets) {
      const digest = crypto.createHash('sha256').update(s, 'utf8').digest('hex');
      expect(query('select secret_sha256 from tokens where secret_sha256 = ?', digest)).toStrictEqual([{ secret_sha256: digest }]);
    }
    const rows = query<{ secret_sha256: string }>('select secret_sha256 from tokens');
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.secret_sha256))).toBe(true);

    const dbFiles = ['hubgate.sqlite', 'hubgate.sqlite-wal'].map((f) => path.join(hub.dataDir, f)).filter((f) => fs.existsSync(f));
    expect(dbFiles[0]).toMatch(/hubgate\.sqlite$/);
    const everyFile = listTree(hub.dataDir)
      .filter((p) => !p.endsWith('/'))
      .map((p) => path.join(hub.dataDir, p));
    for (const file of new Set([...dbFiles, ...everyFile])) {
      const bytes = fs.readFileSync(file);
      for (const s of secrets) {
        expect(bytes.includes(s), `${file} holds a token`).toBe(false);
        expect(bytes.includes(s.slice(3)), `${file} holds a token's random part`).toBe(false);
      }
    }
  });
});

describe('repo create and repo gate', () => {
  beforeAll(async () => {
    await ok(['user', 'create', 'gina']);
  });

  const TYPES: [type: 'model' | 'dataset' | 'space', flags: string[], isPrivate: boolean, gated: string | null][] = [
    ['model', [], false, null],
    ['model', ['--private'], true, null],
    ['dataset', ['--type', 'dataset'], false, null],
    ['dataset', ['--type', 'dataset', '--private', '--gated', 'manual'], true, 'manual'],
    ['space', ['--type', 'space', '--gated', 'auto'], false, 'auto'],
    ['space', ['--type', 'space', '--private'], true, null],
  ];
  it.each(TYPES)('a %s with %j: a bare repo at the right place, the right row, the right answers', async (type, flags, isPrivate, gated) => {
    const name = `r-${type}-${flags.join('').replace(/[^a-z]/g, '')}`;
    const out = await ok(['repo', 'create', `gina/${name}`, ...flags]);
    expect(out).toBe(`created ${type} gina/${name} (${isPrivate ? 'private' : 'public'}${gated ? `, gated: ${gated}` : ''})\n`);

    const plural = { model: 'models', dataset: 'datasets', space: 'spaces' }[type];
    const dir = path.join(hub.dataDir, 'repos', plural, 'gina', `${name}.git`);
    const git = (...args: string[]) => run('git', ['--git-dir', dir, ...args], { env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', HOME: dir } });
    expect((await git('rev-parse', '--is-bare-repository')).stdout.trim()).toBe('true');
    expect((await git('symbolic-ref', 'HEAD')).stdout.trim()).toBe('refs/heads/main');

    expect(query('select r.type, r.private, r.gated from repos r join accounts a on a.id = r.owner_id where a.name = ? and r.name = ?', 'gina', name)).toStrictEqual([
      { type, private: isPrivate ? 1 : 0, gated },
    ]);

    const urlPath = `${{ model: '', dataset: 'datasets/', space: 'spaces/' }[type]}gina/${name}`;
    const anon = await advertise(urlPath, 'upload-pack');
    // Anonymous: public and ungated is readable; private asks to sign in; gated asks to sign in too.
    expect(anon.status).toBe(!isPrivate && !gated ? 200 : 401);
    if (gated && !isPrivate) expect(anon.headers.get('x-error-code')).toBe('GatedRepo');
    // The same name under another type's prefix is another (missing) repo.
    const other = type === 'model' ? `datasets/gina/${name}` : `gina/${name}`;
    expect((await advertise(other, 'upload-pack')).status).toBe(401);
  });

  it('the same name may exist once per type, never twice in one type', async () => {
    await Promise.all([ok(['repo', 'create', 'gina/shared']), ok(['repo', 'create', 'gina/shared', '--type', 'dataset'])]);
    const dup = await hub.cli(['repo', 'create', 'gina/shared', '--type', 'dataset']);
    expect(dup.code).toBe(1);
    expect(query("select type from repos where name = 'shared' order by type")).toStrictEqual([{ type: 'dataset' }, { type: 'model' }]);
    expect(fs.existsSync(hub.repoDir('gina/shared'))).toBe(true);
    expect(fs.existsSync(hub.repoDir('datasets/gina/shared'))).toBe(true);
  });

  it('repo gate auto|manual|off updates repos.gated and the server applies it at once', async () => {
    const [, stranger, created] = await Promise.all([
      ok(['repo', 'create', 'gina/gated']),
      hub.userWithToken('henry', 'write'),
      ok(['token', 'create', 'gina', '--role', 'write']),
    ]);
    const owner = created.trim();
    const gatedColumn = () => query<{ gated: string | null }>("select r.gated from repos r where r.name = 'gated' and r.type = 'model'")[0].gated;
    expect(gatedColumn()).toBeNull();
    expect((await advertise('gina/gated', 'upload-pack', stranger)).status).toBe(200);

    for (const mode of ['auto', 'manual'] as const) {
      expect(await ok(['repo', 'gate', 'gina/gated', mode])).toBe(`gina/gated: gating ${mode}\n`);
      expect(gatedColumn()).toBe(mode);
      const denied = await advertise('gina/gated', 'upload-pack', stranger);
      expect(denied.status).toBe(403);
      expect(denied.headers.get('x-error-code')).toBe('GatedRepo');
      const anon = await advertise('gina/gated', 'upload-pack');
      expect(anon.status).toBe(401);
      expect(anon.headers.get('x-error-code')).toBe('GatedRepo');
      // The owner can write, so gating does not apply.
      expect((await advertise('gina/gated', 'upload-pack', owner)).status).toBe(200);
    }
    expect(await ok(['repo', 'gate', 'gina/gated', 'off'])).toBe('gina/gated: gating off\n');
    expect(gatedColumn()).toBeNull();
    expect((await advertise('gina/gated', 'upload-pack', stranger)).status).toBe(200);
  });

  it('repo gate --type picks the repo of that type only', async () => {
    await ok(['repo', 'gate', 'gina/shared', 'manual', '--type', 'dataset']);
    expect(query("select type, gated from repos where name = 'shared' order by type")).toStrictEqual([
      { type: 'dataset', gated: 'manual' },
      { type: 'model', gated: null },
    ]);
  });
});

describe('admin commands while the server runs', () => {
  it('a user, repo and token made now work on the running server at once', async () => {
    const pid = hub.process.pid;
    await ok(['user', 'create', 'ivy']);
    const [, created] = await Promise.all([ok(['repo', 'create', 'ivy/fresh', '--private']), ok(['token', 'create', 'ivy', '--role', 'write'])]);
    const token = created.trim();
    await commitAndPush(hub, 'ivy/fresh', token, { 'config.json': '{}\n' }, 'fresh');
    const clone = await hub.git(['clone', '-q', hub.remote('ivy/fresh', token), 'c']);
    expect(clone.code, clone.stderr).toBe(0);
    // Same server process throughout.
    expect(hub.process.pid).toBe(pid);
    expect(hub.process.exitCode).toBeNull();
  });
});
