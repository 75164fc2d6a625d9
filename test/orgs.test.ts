// Organizations (issue 11 item 2): `hubgate org list|members|remove|delete`, the org settings page
// and /api/organizations/{org}/members; an organization keeps at least one admin (also when two
// processes remove admins at once); a removed member loses access at the next request: git,
// the API, and download links issued before the removal.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { lfsClient, randomObject } from './helpers/lfs-client.js';
import { Browser } from './helpers/browser.js';

describe('organizations', () => {
  let hub: Hubgate;
  const tokens: Record<string, string> = {};
  const api = (method: string, urlPath: string, token?: string, body?: unknown) =>
    fetch(`${hub.url}${urlPath}`, {
      method,
      redirect: 'manual',
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  const cli = async (...args: string[]) => {
    const r = await hub.cli(args);
    if (r.code !== 0) throw new Error(`hubgate ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const members = async (org: string) =>
    (await cli('org', 'members', org))
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split('\t').slice(0, 2).join(':'))
      .sort();
  const audit = (action: string) => {
    const db = new Database(path.join(hub.dataDir, 'hubgate.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('select actor, action, target, details from audit_log where action = ? order by id').all(action) as { actor: string | null; target: string; details: string }[];
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    hub = await startHubgate();
    for (const name of ['boss', 'bob', 'carol', 'dave']) {
      const made = await hub.cli(['user', 'create', name, '--email', `${name}@example.com`, '--password-stdin'], `${name}-password1\n`);
      expect(made.code, made.stderr).toBe(0);
      tokens[name] = (await cli('token', 'create', name, '--role', 'write')).trim();
    }
    tokens.bossRead = (await cli('token', 'create', 'boss', '--role', 'read')).trim();
    await cli('org', 'create', 'acme', '--fullname', 'Acme Inc');
    await cli('org', 'add', 'acme', 'boss', '--role', 'admin');
    await cli('repo', 'create', 'acme/secret', '--private');
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
  });

  it('lists organizations and their members', async () => {
    await cli('org', 'create', 'emptyorg');
    const list = await cli('org', 'list');
    expect(list).toMatch(/^acme\t1\t\S+\tAcme Inc$/m);
    expect(list).toMatch(/^emptyorg\t0\t/m);
    expect(await members('acme')).toEqual(['boss:admin']);
    const missing = await hub.cli(['org', 'members', 'nosuch']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no organization named "nosuch"');
  });

  it('a removed member loses git, API and already-issued download links at the next request', async () => {
    await cli('org', 'add', 'acme', 'bob', '--role', 'read');
    await hub.pushFiles('acme/secret', tokens.boss, { 'README.md': '# secret\n' });
    const obj = randomObject(4096);
    const boss = lfsClient(hub, tokens.boss, 'acme/secret');
    await boss.upload(obj);
    expect((await boss.commitLfsFile(obj, 'weights.bin')).status).toBe(200);

    // Bob reads everything, and holds a batch download link and a resolve redirect.
    expect((await hub.git(['clone', '--quiet', hub.remote('acme/secret', tokens.bob), 'c1'])).code).toBe(0);
    expect((await api('GET', '/api/models/acme/secret', tokens.bob)).status).toBe(200);
    const batch = await lfsClient(hub, tokens.bob, 'acme/secret').batch('download', [{ oid: obj.oid, size: obj.size }]);
    expect(batch.status).toBe(200);
    const link = batch.json.objects[0].actions.download as { href: string; header?: Record<string, string> };
    const redirect = await api('GET', '/acme/secret/resolve/main/weights.bin', tokens.bob);
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location')!;
    expect((await fetch(link.href, { headers: link.header })).status).toBe(200);
    expect((await fetch(location)).status).toBe(200);
    expect((await api('GET', '/api/organizations/acme/members', tokens.bob)).status).toBe(200);

    expect(await cli('org', 'remove', 'acme', 'bob')).toContain('bob is no longer a member of acme');

    const clone = await hub.git(['clone', '--quiet', hub.remote('acme/secret', tokens.bob), 'c2']);
    expect(clone.code).not.toBe(0);
    expect(clone.stderr).toMatch(/not found/i);
    const info = await api('GET', '/api/models/acme/secret', tokens.bob);
    expect(info.status).toBe(404);
    expect(info.headers.get('x-error-code')).toBe('RepoNotFound');
    expect((await fetch(link.href, { headers: link.header })).status).toBe(404);
    expect((await fetch(location)).status).toBe(404);
    expect((await api('GET', '/api/organizations/acme/members', tokens.bob)).status).toBe(404);
    // The org's admin still reads it all.
    expect((await hub.git(['clone', '--quiet', hub.remote('acme/secret', tokens.boss), 'c3'])).code).toBe(0);

    expect(audit('member.remove').at(-1)).toMatchObject({ actor: null, target: 'bob' });
    const again = await hub.cli(['org', 'remove', 'acme', 'bob']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('bob is not a member of acme');
  });

  it('keeps at least one admin: removing or demoting the last one is refused with what to do', async () => {
    const removal = await hub.cli(['org', 'remove', 'acme', 'boss']);
    expect(removal.code).toBe(1);
    expect(removal.stderr).toContain('boss is the last admin of acme: make another member admin first');
    const demotion = await hub.cli(['org', 'add', 'acme', 'boss', '--role', 'write']);
    expect(demotion.code).toBe(1);
    expect(demotion.stderr).toContain('last admin');
    const viaApi = await api('DELETE', '/api/organizations/acme/members/boss', tokens.boss);
    expect(viaApi.status).toBe(409);
    expect((await viaApi.json()).error).toContain('make another member admin first');
    expect((await api('PUT', '/api/organizations/acme/members/boss', tokens.boss, { role: 'read' })).status).toBe(409);
    expect(await members('acme')).toEqual(['boss:admin']);
  });

  it('two processes removing the two admins at once: one wins, the org keeps an admin', async () => {
    await cli('org', 'create', 'race');
    for (let round = 0; round < 3; round++) {
      await cli('org', 'add', 'race', 'boss', '--role', 'admin');
      await cli('org', 'add', 'race', 'dave', '--role', 'admin');
      const results = await Promise.all([hub.cli(['org', 'remove', 'race', 'boss']), hub.cli(['org', 'remove', 'race', 'dave'])]);
      expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
      const left = await members('race');
      expect(left).toHaveLength(1);
      expect(left[0]).toMatch(/:admin$/);
    }
  });

  it('the members API: members read, admins with a write token manage', async () => {
    await cli('org', 'add', 'acme', 'dave', '--role', 'write');
    const listed = await api('GET', '/api/organizations/acme/members', tokens.dave);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { user: string; role: string }[]).map((m) => `${m.user}:${m.role}`).sort()).toEqual(['boss:admin', 'dave:write']);

    // Who may not: anonymous (401), a non-member (404, as a missing org), a write member (403), an admin's read token (403).
    expect((await api('GET', '/api/organizations/acme/members')).status).toBe(401);
    expect((await api('GET', '/api/organizations/acme/members', tokens.carol)).status).toBe(404);
    expect((await api('GET', '/api/organizations/nosuch/members', tokens.carol)).status).toBe(404);
    expect((await api('POST', '/api/organizations/acme/members', tokens.carol, { user: 'carol', role: 'admin' })).status).toBe(404);
    expect((await api('POST', '/api/organizations/acme/members', tokens.dave, { user: 'carol', role: 'read' })).status).toBe(403);
    const readToken = await api('POST', '/api/organizations/acme/members', tokens.bossRead, { user: 'carol', role: 'read' });
    expect(readToken.status).toBe(403);
    expect((await readToken.json()).error).toContain('read role');
    expect((await api('GET', '/api/organizations/acme/members', tokens.bossRead)).status).toBe(200);
    expect((await api('GET', '/api/organizations/bad..name/members', tokens.boss)).status).toBe(400);

    // The admin adds, changes a role, removes.
    expect((await api('POST', '/api/organizations/acme/members', tokens.boss, { user: 'carol', role: 'read' })).status).toBe(201);
    expect((await api('POST', '/api/organizations/acme/members', tokens.boss, { user: 'nobody', role: 'read' })).status).toBe(404);
    expect((await api('POST', '/api/organizations/acme/members', tokens.boss, { user: 'carol', role: 'owner' })).status).toBe(400);
    expect((await api('PUT', '/api/organizations/acme/members/carol', tokens.boss, { role: 'admin' })).status).toBe(200);
    expect((await api('PUT', '/api/organizations/acme/members/bob', tokens.boss, { role: 'read' })).status).toBe(404);
    // Two admins now: boss may step down, and carol manages.
    expect((await api('PUT', '/api/organizations/acme/members/boss', tokens.boss, { role: 'write' })).status).toBe(200);
    expect((await api('PUT', '/api/organizations/acme/members/boss', tokens.carol, { role: 'admin' })).status).toBe(200);
    expect((await api('DELETE', '/api/organizations/acme/members/carol', tokens.boss)).status).toBe(200);
    expect(await members('acme')).toEqual(['boss:admin', 'dave:write']);

    expect(audit('member.add').map((e) => e.target)).toContain('carol');
    expect(audit('member.role').find((e) => e.target === 'carol')).toMatchObject({ actor: 'boss' });
    expect(JSON.parse(audit('member.role').find((e) => e.target === 'carol')!.details)).toMatchObject({ org: 'acme', old: 'read', new: 'admin' });
  });

  it('the settings page: admins manage members with forms; anyone else gets the 404 page', async () => {
    const admin = new Browser(hub.url);
    await admin.signIn('boss', 'boss-password1');
    const page = await admin.request('GET', '/organizations/acme/settings');
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain('Settings of acme');
    expect(text).toMatch(/<tr data-user="dave">[\s\S]*?<option value="write" selected>/);

    const csrf = await admin.csrf('/organizations/acme/settings');
    const added = await admin.request('POST', '/organizations/acme/settings/members', { csrf, user: 'carol', role: 'write' });
    expect(added.status).toBe(303);
    expect(added.headers.get('location')).toBe('/organizations/acme/settings?done=added');
    expect((await admin.request('POST', '/organizations/acme/settings/members/role', { csrf, user: 'carol', role: 'read' })).status).toBe(303);
    expect(await members('acme')).toEqual(['boss:admin', 'carol:read', 'dave:write']);
    // Without the session's CSRF token nothing changes.
    expect((await admin.request('POST', '/organizations/acme/settings/members/remove', { user: 'carol' })).status).toBe(403);
    expect((await admin.request('POST', '/organizations/acme/settings/members/remove', { csrf, user: 'carol' })).status).toBe(303);
    expect(await members('acme')).toEqual(['boss:admin', 'dave:write']);
    // The last admin: the page says what to do.
    const refused = await admin.request('POST', '/organizations/acme/settings/members/remove', { csrf, user: 'boss' });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('make another member admin first');
    const unknown = await admin.request('POST', '/organizations/acme/settings/members', { csrf, user: 'nobody', role: 'read' });
    expect(unknown.status).toBe(404);

    // A write member, a stranger, anonymous, a missing org: the same 404 page.
    const member = new Browser(hub.url);
    await member.signIn('dave', 'dave-password1');
    expect((await member.request('GET', '/organizations/acme/settings')).status).toBe(404);
    const memberCsrf = await member.csrf('/');
    expect((await member.request('POST', '/organizations/acme/settings/members', { csrf: memberCsrf, user: 'dave', role: 'admin' })).status).toBe(404);
    expect(await members('acme')).toEqual(['boss:admin', 'dave:write']);
    expect((await new Browser(hub.url).request('GET', '/organizations/acme/settings')).status).toBe(404);
    expect((await admin.request('GET', '/organizations/nosuch/settings')).status).toBe(404);
  });

  it('an organization that owns repos cannot be deleted; once they are gone it can', async () => {
    const refused = await hub.cli(['org', 'delete', 'acme']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('acme still owns 1 repo (acme/secret)');
    await cli('repo', 'delete', 'acme/secret');
    expect(await cli('org', 'delete', 'acme')).toContain('deleted organization acme');
    expect(await cli('org', 'list')).not.toMatch(/^acme\t/m);
    expect((await api('GET', '/api/organizations/acme/members', tokens.boss)).status).toBe(404);
    expect(audit('org.delete').at(-1)).toMatchObject({ actor: null, target: 'acme' });
    // The name is free again.
    await cli('org', 'create', 'acme');
  });
});
