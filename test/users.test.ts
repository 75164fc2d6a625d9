// Site administration of users (issue 11 item 1): `hubgate user list|disable|enable|delete|set`,
// the same through /api/admin/users for site admins with a write token, the /admin/users page,
// and every user's own /settings/profile. Against a live server; audit entries read from the database.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './helpers/browser.js';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';

let hub: Hubgate;
const tokens: Record<string, string> = {};

function query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): T[] {
  const db = new Database(path.join(hub.dataDir, 'hubgate.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

const audit = (action: string, target: string) =>
  query<{ actor: string | null; details: string }>('select actor, details from audit_log where action = ? and target = ? order by id', action, target);

async function ok(args: string[], input?: string): Promise<string> {
  const r = await hub.cli(args, input);
  expect(r.code, `hubgate ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function refused(args: string[]): Promise<string> {
  const r = await hub.cli(args);
  expect(r.code, `hubgate ${args.join(' ')} should fail`).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr;
}

async function user(name: string, extra: string[] = []): Promise<void> {
  await ok(['user', 'create', name, '--email', `${name}@example.com`, '--password-stdin', ...extra], `${name}-password1\n`);
}

const api = (method: string, urlPath: string, token?: string, body?: unknown) =>
  fetch(`${hub.url}${urlPath}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function signedIn(name: string, password = `${name}-password1`): Promise<Browser> {
  const b = new Browser(hub.url);
  expect((await b.signIn(name, password)).status).toBe(303);
  return b;
}

beforeAll(async () => {
  hub = await startHubgate();
  await user('root', ['--admin']);
  for (const name of ['alice', 'bob', 'carol']) await user(name);
  tokens.root = (await ok(['token', 'create', 'root', '--role', 'write'])).trim();
  tokens.rootRead = (await ok(['token', 'create', 'root', '--role', 'read'])).trim();
  tokens.alice = (await ok(['token', 'create', 'alice', '--role', 'write'])).trim();
  tokens.carol = (await ok(['token', 'create', 'carol', '--role', 'write'])).trim();
}, 60_000);
afterAll(() => hub?.stop());

describe('hubgate user (CLI)', () => {
  it('lists users tab-separated with a header: name, email, full name, admin, disabled, created', async () => {
    const [header, ...lines] = (await ok(['user', 'list'])).trimEnd().split('\n');
    expect(header.split('\t')).toStrictEqual(['NAME', 'EMAIL', 'FULLNAME', 'ADMIN', 'DISABLED', 'CREATED']);
    const rows = Object.fromEntries(lines.map((l) => l.split('\t')).map((c) => [c[0], c]));
    expect(Object.keys(rows)).toEqual(expect.arrayContaining(['root', 'alice', 'bob', 'carol']));
    expect(rows.root.slice(0, 5)).toStrictEqual(['root', 'root@example.com', '', 'yes', 'no']);
    expect(rows.alice[3]).toBe('no');
    expect(rows.alice[5]).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('sets email, full name and the admin role; refuses bad values with one line', async () => {
    expect(await ok(['user', 'set', 'bob', '--email', 'bob@corp.example', '--fullname', 'Bob B', '--admin'])).toContain('site admin');
    let row = (await ok(['user', 'list'])).split('\n').find((l) => l.startsWith('bob\t'))!.split('\t');
    expect(row.slice(0, 4)).toStrictEqual(['bob', 'bob@corp.example', 'Bob B', 'yes']);
    await ok(['user', 'set', 'bob', '--no-admin']);
    row = (await ok(['user', 'list'])).split('\n').find((l) => l.startsWith('bob\t'))!.split('\t');
    expect(row[3]).toBe('no');
    expect(await refused(['user', 'set', 'bob', '--email', 'not-an-email'])).toContain('invalid email');
    expect(await refused(['user', 'set', 'nobody', '--fullname', 'X'])).toContain('no user named "nobody"');
    expect((await hub.cli(['user', 'set', 'bob'])).code).toBe(2);
    const entries = audit('user.update', 'bob');
    expect(entries.map((e) => JSON.parse(e.details))).toStrictEqual([{ email: 'bob@corp.example', fullname: 'Bob B', admin: true }, { admin: false }]);
    expect(entries.every((e) => e.actor === null)).toBe(true);
  });

  it('disables and enables (again: says so, changes nothing); each change is audited once', async () => {
    expect(await ok(['user', 'disable', 'carol'])).toBe('disabled user carol\n');
    expect(await ok(['user', 'disable', 'carol'])).toBe('carol was already disabled\n');
    expect((await ok(['user', 'list'])).split('\n').find((l) => l.startsWith('carol\t'))!.split('\t')[4]).toMatch(/^\d{4}-/);
    expect((await api('GET', '/api/whoami-v2', tokens.carol)).status).toBe(401);
    expect(await ok(['user', 'enable', 'carol'])).toBe('enabled user carol\n');
    expect(await ok(['user', 'enable', 'carol'])).toBe('carol was not disabled\n');
    expect((await api('GET', '/api/whoami-v2', tokens.carol)).status).toBe(200);
    expect(audit('user.disable', 'carol')).toHaveLength(1);
    expect(audit('user.enable', 'carol')).toHaveLength(1);
    expect(await refused(['user', 'disable', 'nobody'])).toContain('no user named "nobody"');
  });

  it('delete: --transfer-to and --delete-repos exclude each other; an org keeps an admin', async () => {
    expect((await hub.cli(['user', 'delete', 'bob', '--transfer-to', 'alice', '--delete-repos'])).code).toBe(2);
    await user('olga');
    await ok(['org', 'create', 'olgas']);
    await ok(['org', 'add', 'olgas', 'olga', '--role', 'admin']);
    expect(await refused(['user', 'delete', 'olga'])).toContain('they are the only admin of olgas');
    await ok(['org', 'add', 'olgas', 'alice', '--role', 'admin']);
    expect(await ok(['user', 'delete', 'olga'])).toBe('deleted user olga\n');
    expect((await ok(['user', 'list'])).split('\n').some((l) => l.startsWith('olga\t'))).toBe(false);
    expect(audit('user.delete', 'olga')).toHaveLength(1);
  });
});

describe('/api/admin/users', () => {
  it('answers site admins with a write token only: 401 anonymous or a bad token, 403 anyone else', async () => {
    const anonymous = await api('GET', '/api/admin/users');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="hubgate"');
    const bad = await api('GET', '/api/admin/users', 'hf_' + 'x'.repeat(43));
    expect(bad.status).toBe(401);
    expect(bad.headers.get('x-error-message')).toBe('Invalid credentials in Authorization header');
    const notAdmin = await api('GET', '/api/admin/users', tokens.alice);
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.headers.get('x-error-message')).toContain('Only site admins');
    const readToken = await api('GET', '/api/admin/users', tokens.rootRead);
    expect(readToken.status).toBe(403);
    expect(readToken.headers.get('x-error-message')).toContain('read role');
    for (const [method, p] of [['POST', '/api/admin/users/alice/disable'], ['POST', '/api/admin/users/alice/enable'], ['DELETE', '/api/admin/users/alice'], ['PATCH', '/api/admin/users/alice']]) {
      expect((await api(method, p, tokens.alice, {})).status, `${method} ${p}`).toBe(403);
      expect((await api(method, p, undefined, {})).status, `${method} ${p}`).toBe(401);
    }
    expect(audit('user.disable', 'alice')).toHaveLength(0);
  });

  it('lists, changes, disables and enables users', async () => {
    const list = await api('GET', '/api/admin/users', tokens.root);
    expect(list.status).toBe(200);
    const users = (await list.json()) as { name: string; admin: boolean; disabled: boolean }[];
    expect(users.find((u) => u.name === 'root')).toMatchObject({ admin: true, disabled: false, email: 'root@example.com' });

    const patched = await api('PATCH', '/api/admin/users/alice', tokens.root, { fullname: 'Alice A', email: 'alice@corp.example' });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ name: 'alice', fullname: 'Alice A', email: 'alice@corp.example', admin: false, disabled: false });
    expect((await api('PATCH', '/api/admin/users/alice', tokens.root, { email: 'nope' })).status).toBe(400);
    expect((await api('PATCH', '/api/admin/users/alice', tokens.root, { shoeSize: 4 })).status).toBe(400);
    expect((await api('PATCH', '/api/admin/users/nobody', tokens.root, { fullname: 'N' })).status).toBe(404);

    const disabled = await api('POST', '/api/admin/users/alice/disable', tokens.root);
    expect(disabled.status).toBe(200);
    expect(await disabled.json()).toMatchObject({ name: 'alice', disabled: true });
    expect((await api('GET', '/api/whoami-v2', tokens.alice)).status).toBe(401);
    expect((await api('POST', '/api/admin/users/alice/enable', tokens.root)).status).toBe(200);
    expect((await api('GET', '/api/whoami-v2', tokens.alice)).status).toBe(200);
    expect(audit('user.disable', 'alice').map((e) => e.actor)).toStrictEqual(['root']);
    expect(audit('user.update', 'alice').map((e) => e.actor)).toStrictEqual(['root']);

    // An admin cannot lock themselves out.
    const self = await api('POST', '/api/admin/users/root/disable', tokens.root);
    expect(self.status).toBe(403);
    expect((await api('PATCH', '/api/admin/users/root', tokens.root, { admin: false })).status).toBe(403);
    expect((await api('DELETE', '/api/admin/users/root', tokens.root, {})).status).toBe(403);
  });

  it('deletes: refused with the reason and the repos while the user owns some; transferTo moves them', async () => {
    await user('dan');
    await ok(['repo', 'create', 'dan/weights']);
    await ok(['repo', 'create', 'dan/corpus', '--type', 'dataset']);
    const refusal = await api('DELETE', '/api/admin/users/dan', tokens.root, {});
    expect(refusal.status).toBe(409);
    const message = ((await refusal.json()) as { error: string }).error;
    expect(message).toContain('they own 2 repos');
    expect(message).toContain('datasets/dan/corpus');
    expect(message).toContain('dan/weights');
    expect((await api('DELETE', '/api/admin/users/dan', tokens.root, { transferTo: 'nobody' })).status).toBe(404);
    expect((await api('DELETE', '/api/admin/users/dan', tokens.root, { transferTo: 'alice', deleteRepos: true })).status).toBe(400);

    const done = await api('DELETE', '/api/admin/users/dan', tokens.root, { transferTo: 'alice' });
    expect(done.status).toBe(200);
    expect(await done.json()).toStrictEqual({ deleted: 'dan', transferred: ['datasets/alice/corpus', 'alice/weights'], deletedRepos: [] });
    expect(fs.existsSync(hub.repoDir('alice/weights'))).toBe(true);
    expect(fs.existsSync(hub.repoDir('datasets/alice/corpus'))).toBe(true);
    expect(fs.existsSync(path.join(hub.dataDir, 'repos', 'models', 'dan'))).toBe(false);
    expect((await api('GET', '/api/models/alice/weights', tokens.alice)).status).toBe(200);
    expect((await api('GET', '/api/models/dan/weights', tokens.alice)).status).toBe(404);
    expect(query('select repo, details from audit_log where action = ? order by id', 'repo.move')).toHaveLength(2);
  });
});

describe('/admin/users page', () => {
  it('is the 404 page for anyone but a site admin', async () => {
    const anonymous = new Browser(hub.url);
    expect((await anonymous.get('/admin/users')).status).toBe(404);
    expect((await anonymous.post('/admin/users/bob/disable', { csrf: 'x' })).status).toBe(404);
    const alice = await signedIn('alice');
    const page = await alice.get('/admin/users');
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('There is no page here');
    const csrf = await alice.csrf('/settings/tokens');
    expect((await alice.post('/admin/users/bob/disable', { csrf })).status).toBe(404);
    expect(audit('user.disable', 'bob')).toHaveLength(0);
  });

  it('lists users with Disable, Enable and Delete forms; the forms need the session CSRF token', async () => {
    const root = await signedIn('root');
    const page = await root.get('/admin/users');
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain('<tr data-user="bob">');
    expect(text).toContain('action="/admin/users/bob/disable"');
    expect(text).toContain('action="/admin/users/bob/delete"');

    expect((await root.post('/admin/users/bob/disable', { csrf: 'forged' })).status).toBe(403);
    expect(audit('user.disable', 'bob')).toHaveLength(0);

    const csrf = await root.csrf('/admin/users');
    const disabled = await root.post('/admin/users/bob/disable', { csrf });
    expect(disabled.status).toBe(303);
    expect(disabled.headers.get('location')).toBe('/admin/users?done=disabled');
    const after = await (await root.get('/admin/users?done=disabled')).text();
    expect(after).toMatch(/<tr data-user="bob">[\s\S]*?disabled \d{4}-/);
    expect(after).toContain('action="/admin/users/bob/enable"');
    expect((await root.post('/admin/users/bob/enable', { csrf })).status).toBe(303);
    expect(audit('user.enable', 'bob').map((e) => e.actor)).toStrictEqual(['root']);

    // A refused deletion shows its reason on the list.
    await ok(['repo', 'create', 'bob/thing']);
    const refusal = await root.post('/admin/users/bob/delete', { csrf, repos: 'keep', transferTo: '' });
    expect(refusal.status).toBe(409);
    expect(await refusal.text()).toContain('they own 1 repo (bob/thing)');
    const deleted = await root.post('/admin/users/bob/delete', { csrf, repos: 'delete', transferTo: '' });
    expect(deleted.status).toBe(303);
    expect(fs.existsSync(hub.repoDir('bob/thing'))).toBe(false);
    expect(await (await root.get('/admin/users')).text()).not.toContain('data-user="bob"');
  });
});

describe('/settings/profile', () => {
  it('sends anonymous visitors to sign in', async () => {
    const r = await new Browser(hub.url).get('/settings/profile');
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/login?next=%2Fsettings%2Fprofile');
  });

  it('changes the full name and email; a bad email is shown, not saved', async () => {
    const carol = await signedIn('carol');
    const csrf = await carol.csrf('/settings/profile');
    const saved = await carol.post('/settings/profile', { csrf, fullname: 'Carol <C>', email: 'carol@corp.example' });
    expect(saved.status).toBe(303);
    const page = await (await carol.get('/settings/profile?done=profile')).text();
    expect(page).toContain('value="Carol &lt;C&gt;"');
    expect(page).toContain('value="carol@corp.example"');
    expect((await (await api('GET', '/api/whoami-v2', tokens.carol)).json()) as object).toMatchObject({ fullname: 'Carol <C>', email: 'carol@corp.example' });
    const bad = await carol.post('/settings/profile', { csrf, fullname: 'Carol', email: 'no email' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('invalid email');
    expect((await carol.post('/settings/profile', { csrf: 'forged', fullname: 'X', email: '' })).status).toBe(403);
    expect(audit('user.update', 'carol').map((e) => e.actor)).toStrictEqual(['carol']);
  });

  it('changes the password given the current one, and signs out the other sessions only', async () => {
    const here = await signedIn('carol');
    const elsewhere = await signedIn('carol');
    const csrf = await here.csrf('/settings/profile');
    const wrong = await here.post('/settings/profile/password', { csrf, current: 'not-it-at-all', password: 'carol-new-password', confirm: 'carol-new-password' });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('current password is not right');
    const differ = await here.post('/settings/profile/password', { csrf, current: 'carol-password1', password: 'carol-new-password', confirm: 'other' });
    expect(differ.status).toBe(400);
    const short = await here.post('/settings/profile/password', { csrf, current: 'carol-password1', password: 'short', confirm: 'short' });
    expect(short.status).toBe(400);
    expect(await elsewhere.signedInAs('carol')).toBe(true);

    const changed = await here.post('/settings/profile/password', { csrf, current: 'carol-password1', password: 'carol-new-password', confirm: 'carol-new-password' });
    expect(changed.status).toBe(303);
    expect(await here.signedInAs('carol')).toBe(true);
    expect(await elsewhere.signedInAs('carol')).toBe(false);
    expect((await new Browser(hub.url).signIn('carol', 'carol-password1')).status).toBe(401);
    expect(await (await signedIn('carol', 'carol-new-password')).signedInAs('carol')).toBe(true);
    const entries = audit('user.password', 'carol');
    expect(entries.map((e) => e.actor)).toStrictEqual(['carol']);
    expect(JSON.stringify(query('select * from audit_log'))).not.toContain('carol-new-password');
  });
});
