// The audit log (issue 11 item 4): one entry per state change, made through the real command line,
// API, pages, git pushes (real git) and API commits, with the acting user, the repo, the target and
// old -> new values; `hubgate audit` and its filters; /admin/audit for site admins only (the 404
// page for anyone else); a push or commit whose entry cannot be written still goes through; and no
// entry holds a token secret, a password or a session secret.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCustomHook, poll } from './helpers/git-client.js';
import { type Hubgate, logEntries, startHubgate, tempDir } from './helpers/hubgate.js';
import { Browser } from './helpers/browser.js';

const ZERO = '0'.repeat(40);

interface Entry {
  id: number;
  at: string;
  actor: string | null;
  action: string;
  repo: string | null;
  target: string | null;
  details: Record<string, unknown>;
}

describe('audit log', () => {
  let hub: Hubgate;
  const tokens: Record<string, string> = {};
  /** Every secret handed out during the test: none may appear anywhere in the audit table. */
  const secrets: string[] = [];
  const browsers: Browser[] = [];
  const password = (name: string) => `${name}-secret-pw-1`;

  const api = (method: string, urlPath: string, token: string | undefined, body?: unknown) =>
    fetch(`${hub.url}${urlPath}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const ok = async (res: Response | Promise<Response>, status = 200) => {
    const r = await res;
    expect(r.status, await r.clone().text()).toBe(status);
    return r;
  };
  const cli = async (args: string[], input?: string) => {
    const r = await hub.cli(args, input);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const auditLines = async (...args: string[]) => (await cli(['audit', ...args])).split('\n').filter(Boolean);

  function table(): Entry[] {
    const sqlite = new Database(path.join(hub.dataDir, 'hubgate.sqlite'), { readonly: true, fileMustExist: true });
    try {
      const rows = sqlite.prepare('select * from audit_log order by id').all() as (Omit<Entry, 'details'> & { details: string })[];
      return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
    } finally {
      sqlite.close();
    }
  }
  /** The newest entry with this action (and, given, target or repo). */
  const latest = (action: string, where: Partial<Entry> = {}): Entry | undefined =>
    table()
      .reverse()
      .find((e) => e.action === action && Object.entries(where).every(([k, v]) => e[k as keyof Entry] === v));
  const entriesSince = (id: number) => table().filter((e) => e.id > id);
  const lastId = () => table().at(-1)?.id ?? 0;

  async function signIn(name: string): Promise<Browser> {
    const b = new Browser(hub.url);
    browsers.push(b);
    const csrf = await b.csrf('/login');
    expect((await b.post('/login', { csrf, username: name, password: password(name) })).status).toBe(303);
    return b;
  }

  async function git(args: string[], cwd: string) {
    const r = await hub.git(args, { cwd });
    expect(r.code, `git ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r;
  }

  const commitLine = (summary: string, p: string, content: string) => [
    { key: 'header', value: { summary, description: '' } },
    { key: 'file', value: { path: p, content: Buffer.from(content).toString('base64'), encoding: 'base64' } },
  ];
  const apiCommit = (repo: string, token: string, lines: unknown[]) =>
    fetch(`${hub.url}/api/models/${repo}/commit/main`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-ndjson' },
      body: lines.map((l) => JSON.stringify(l)).join('\n'),
    });

  beforeAll(async () => {
    hub = await startHubgate();
    for (const name of ['root', 'alice', 'bob', 'carol']) {
      await cli(['user', 'create', name, '--email', `${name}@example.com`, '--password-stdin', ...(name === 'root' ? ['--admin'] : [])], `${password(name)}\n`);
      secrets.push(password(name));
    }
    for (const name of ['alice', 'bob', 'carol']) {
      tokens[name] = (await cli(['token', 'create', name, '--role', 'write'])).trim();
      secrets.push(tokens[name]);
    }
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('records users, passwords, orgs, members and tokens from the command line with no actor', async () => {
    expect(latest('user.create', { target: 'root' })).toMatchObject({ actor: null, repo: null, details: { admin: true } });
    expect(latest('user.create', { target: 'alice' })).toMatchObject({ actor: null, details: { admin: false } });
    expect(latest('token.create', { target: 'alice' })).toMatchObject({ actor: null, details: { name: 'write token', role: 'write' } });

    await cli(['user', 'password', 'bob', '--password-stdin'], `${password('bob')}\n`);
    expect(latest('user.password', { target: 'bob' })).toMatchObject({ actor: null, details: {} });

    await cli(['org', 'create', 'acme']);
    expect(latest('org.create', { target: 'acme' })).toMatchObject({ actor: null });
    await cli(['org', 'add', 'acme', 'bob', '--role', 'write']);
    expect(latest('member.add', { target: 'bob' })).toMatchObject({ actor: null, details: { org: 'acme', role: 'write' } });
    await cli(['org', 'add', 'acme', 'bob', '--role', 'admin']);
    expect(latest('member.role', { target: 'bob' })).toMatchObject({ actor: null, details: { org: 'acme', old: 'write', new: 'admin' } });
    // The same role again changes nothing and records nothing.
    const before = lastId();
    await cli(['org', 'add', 'acme', 'bob', '--role', 'admin']);
    expect(entriesSince(before)).toEqual([]);

    const extra = (await cli(['token', 'create', 'carol', '--role', 'read', '--name', 'ci'])).trim();
    secrets.push(extra);
    const created = latest('token.create', { target: 'carol' })!;
    expect(created.details).toMatchObject({ name: 'ci', role: 'read' });
    await cli(['token', 'revoke', String(created.details.id)]);
    expect(latest('token.revoke', { target: 'carol' })).toMatchObject({ actor: null, details: { id: created.details.id, name: 'ci', role: 'read' } });
  });

  it('records repos, their settings and access requests through the API with the caller as actor', async () => {
    await ok(api('POST', '/api/repos/create', tokens.alice, { name: 'bert', type: 'model' }));
    expect(latest('repo.create')).toMatchObject({ actor: 'alice', repo: 'models/alice/bert', details: { visibility: 'public', gate: 'off' } });
    await ok(api('POST', '/api/repos/create', tokens.alice, { name: 'rows', type: 'dataset', private: true }));
    expect(latest('repo.create')).toMatchObject({ actor: 'alice', repo: 'datasets/alice/rows', details: { visibility: 'private', gate: 'off' } });

    // One entry per kind of change, old -> new; unchanged settings record nothing.
    let before = lastId();
    await ok(api('PUT', '/api/models/alice/bert/settings', tokens.alice, { private: true, gated: 'manual', notificationsFrequency: 'instant', notificationsEmail: 'gate@example.com' }));
    expect(entriesSince(before).map((e) => [e.actor, e.action, e.repo, e.details])).toEqual([
      ['alice', 'repo.visibility', 'models/alice/bert', { old: 'public', new: 'private' }],
      ['alice', 'repo.gate', 'models/alice/bert', { old: 'off', new: 'manual' }],
      ['alice', 'repo.settings', 'models/alice/bert', { setting: 'notifyEmail', old: null, new: 'gate@example.com' }],
      ['alice', 'repo.settings', 'models/alice/bert', { setting: 'notifyFrequency', old: 'daily', new: 'instant' }],
    ]);
    before = lastId();
    await ok(api('PUT', '/api/models/alice/bert/settings', tokens.alice, { private: false, gated: 'manual' }));
    expect(entriesSince(before).map((e) => [e.action, e.details])).toEqual([['repo.visibility', { old: 'private', new: 'public' }]]);

    // Access requests: the requester acts on their own request; the authors move it.
    await ok(api('POST', '/alice/bert/ask-access', tokens.bob, { fields: {} }), 201);
    expect(latest('access.request')).toMatchObject({ actor: 'bob', repo: 'models/alice/bert', target: 'bob', details: { status: 'pending' } });
    const handle = (body: unknown) => ok(api('POST', '/api/models/alice/bert/user-access-request/handle', tokens.alice, body));
    await handle({ user: 'bob', status: 'rejected', rejectionReason: 'Students only, sorry' });
    expect(latest('access.reject')).toMatchObject({ actor: 'alice', repo: 'models/alice/bert', target: 'bob', details: { old: 'pending', reason: 'Students only, sorry' } });
    await handle({ user: 'bob', status: 'pending' });
    expect(latest('access.cancel')).toMatchObject({ actor: 'alice', target: 'bob', details: { old: 'rejected' } });
    await handle({ user: 'bob', status: 'accepted' });
    expect(latest('access.accept')).toMatchObject({ actor: 'alice', target: 'bob', details: { old: 'pending' } });
    await ok(api('POST', '/api/models/alice/bert/user-access-request/grant', tokens.alice, { user: 'carol' }));
    expect(latest('access.grant')).toMatchObject({ actor: 'alice', repo: 'models/alice/bert', target: 'carol', details: { old: 'none' } });

    await ok(api('POST', '/api/repos/create', tokens.alice, { name: 'scratch', type: 'model' }));
    await ok(api('DELETE', '/api/repos/delete', tokens.alice, { name: 'scratch', type: 'model' }));
    expect(latest('repo.delete')).toMatchObject({ actor: 'alice', repo: 'models/alice/scratch', target: null, details: {} });

    // The command line acts as no one.
    await cli(['repo', 'gate', 'alice/bert', 'auto']);
    expect(latest('repo.gate')).toMatchObject({ actor: null, repo: 'models/alice/bert', details: { old: 'manual', new: 'auto' } });
  });

  it('records what is done on the pages with the signed-in user as actor', async () => {
    const alice = await signIn('alice');
    const csrf = await alice.csrf('/settings/tokens');
    const made = await alice.post('/settings/tokens', { csrf, name: 'laptop', role: 'write' });
    expect(made.status).toBe(201);
    secrets.push(/id="new-token">([^<]+)</.exec(await made.text())![1]);
    const created = latest('token.create', { target: 'alice', actor: 'alice' })!;
    expect(created.details).toMatchObject({ name: 'laptop', role: 'write' });
    expect((await alice.post(`/settings/tokens/${created.details.id}/revoke`, { csrf })).status).toBe(303);
    expect(latest('token.revoke', { target: 'alice' })).toMatchObject({ actor: 'alice', details: { id: created.details.id, name: 'laptop', role: 'write' } });

    const settingsCsrf = await alice.csrf('/alice/bert/settings');
    let before = lastId();
    expect((await alice.post('/alice/bert/settings', { csrf: settingsCsrf, gated: 'manual', notify_email: 'gate@example.com', notify_frequency: 'daily' })).status).toBe(303);
    expect(entriesSince(before).map((e) => [e.actor, e.action, e.details])).toEqual([
      ['alice', 'repo.gate', { old: 'auto', new: 'manual' }],
      ['alice', 'repo.settings', { setting: 'notifyFrequency', old: 'instant', new: 'daily' }],
    ]);
    before = lastId();
    expect((await alice.post('/alice/bert/settings/requests', { csrf: settingsCsrf, user: 'bob', status: 'rejected', reason: 'Closed for now' })).status).toBe(303);
    expect((await alice.post('/alice/bert/settings/requests', { csrf: settingsCsrf, user: 'bob', status: 'pending' })).status).toBe(303);
    expect(entriesSince(before).map((e) => [e.actor, e.action, e.target, e.details])).toEqual([
      ['alice', 'access.reject', 'bob', { old: 'accepted', reason: 'Closed for now' }],
      ['alice', 'access.cancel', 'bob', { old: 'rejected' }],
    ]);
  });

  it('records each ref a git push moves, with the pusher and old -> new, and a custom pre-receive hook still decides', async () => {
    const work = tempDir('hubgate-audit-work-');
    await git(['clone', '-q', hub.remote('alice/bert', tokens.alice), '.'], work);
    const base = (await git(['rev-parse', 'HEAD'], work)).stdout.trim();
    await git(['commit', '-q', '--allow-empty', '-m', 'one'], work);
    const one = (await git(['rev-parse', 'HEAD'], work)).stdout.trim();

    const before = lastId();
    const pushed = await git(['push', 'origin', 'HEAD:main', 'HEAD:refs/heads/side'], work);
    // Quiet: nothing from the audit reaches the pusher.
    expect(pushed.stderr).not.toMatch(/audit|hubgate:/);
    const pushes = entriesSince(before).map((e) => [e.actor, e.action, e.repo, e.target, e.details]);
    expect(pushes).toHaveLength(2);
    expect(pushes).toEqual(
      expect.arrayContaining([
        ['alice', 'push', 'models/alice/bert', null, { ref: 'refs/heads/main', old: base, new: one }],
        ['alice', 'push', 'models/alice/bert', null, { ref: 'refs/heads/side', old: ZERO, new: one }],
      ]),
    );

    // A deletion (new = 0…0).
    await git(['push', '-q', 'origin', ':refs/heads/side'], work);
    expect(latest('push')).toMatchObject({ actor: 'alice', details: { ref: 'refs/heads/side', old: one, new: ZERO } });

    // Another pusher: bob, an admin of acme, to acme's repo made on the command line.
    await cli(['repo', 'create', 'acme/shared']);
    const bobWork = tempDir('hubgate-audit-bob-');
    await git(['clone', '-q', hub.remote('acme/shared', tokens.bob), '.'], bobWork);
    const shared = (await git(['rev-parse', 'HEAD'], bobWork)).stdout.trim();
    await git(['commit', '-q', '--allow-empty', '-m', 'by bob'], bobWork);
    const byBob = (await git(['rev-parse', 'HEAD'], bobWork)).stdout.trim();
    await git(['push', '-q', 'origin', 'HEAD:main'], bobWork);
    expect(latest('push')).toMatchObject({ actor: 'bob', repo: 'models/acme/shared', details: { ref: 'refs/heads/main', old: shared, new: byBob } });

    // A custom hook in custom_hooks/pre-receive.d still refuses; a refused push records nothing.
    installCustomHook(hub.repoDir('alice/bert'), 'no-blocked', '#!/bin/sh\nif grep -q refs/heads/blocked; then echo "blocked by the custom hook" >&2; exit 1; fi\nexit 0\n');
    const beforeRefused = lastId();
    const refused = await hub.git(['push', 'origin', 'HEAD:refs/heads/blocked'], { cwd: work });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('blocked by the custom hook');
    expect(entriesSince(beforeRefused)).toEqual([]);
    await git(['commit', '-q', '--allow-empty', '-m', 'two'], work);
    const two = (await git(['rev-parse', 'HEAD'], work)).stdout.trim();
    await git(['push', '-q', 'origin', 'HEAD:main'], work);
    expect(latest('push')).toMatchObject({ actor: 'alice', details: { ref: 'refs/heads/main', old: one, new: two } });
  });

  it('records API commits with the user, branch and commit', async () => {
    const res = await ok(apiCommit('alice/bert', tokens.alice, commitLine('from the API', 'api.txt', 'hello\n')));
    const { commitOid } = (await res.json()) as { commitOid: string };
    const entry = latest('commit')!;
    expect(entry).toMatchObject({ actor: 'alice', repo: 'models/alice/bert', target: null, details: { branch: 'main', commit: commitOid } });
    expect(entry.details.parent).toMatch(/^[0-9a-f]{40}$/);
  });

  it('lets a push and an API commit through when their entry cannot be written, with one line to the pusher', async () => {
    const file = path.join(hub.dataDir, 'hubgate.sqlite');
    const sqlite = new Database(file);
    sqlite.exec("create trigger audit_refused before insert on audit_log begin select raise(abort, 'audit refused by the test'); end");
    try {
      const work = tempDir('hubgate-audit-fail-');
      await git(['clone', '-q', hub.remote('alice/bert', tokens.alice), '.'], work);
      await git(['commit', '-q', '--allow-empty', '-m', 'unrecorded'], work);
      const tip = (await git(['rev-parse', 'HEAD'], work)).stdout.trim();
      const before = lastId();
      const pushed = await git(['push', 'origin', 'HEAD:main'], work);
      // One line to the pusher, saying the push went through.
      const remoteLines = pushed.stderr.split('\n').filter((l) => l.startsWith('remote:') && l.trim() !== 'remote:');
      expect(remoteLines).toHaveLength(1);
      expect(remoteLines[0]).toMatch(/^remote: hubgate: the push went through but is not in the audit log: .*audit refused by the test/);
      expect((await git(['ls-remote', 'origin', 'refs/heads/main'], work)).stdout).toContain(tip);

      const res = await ok(apiCommit('alice/bert', tokens.alice, commitLine('unrecorded commit', 'b.txt', 'b\n')));
      expect(((await res.json()) as { success: boolean }).success).toBe(true);
      expect(entriesSince(before)).toEqual([]);
      expect(await poll(() => logEntries(hub).some((l) => l.msg === 'the commit is not in the audit log'), 5000)).toBe(true);
    } finally {
      sqlite.exec('drop trigger audit_refused');
      sqlite.close();
    }
  });

  it('`hubgate audit` prints entries newest first, one a line, with its filters', async () => {
    const all = await auditLines('--limit', '1000');
    expect(all.length).toBe(table().length);
    // time, actor or '-', action, repo or '-', target or '-', details as key=value.
    expect(all.at(-1)).toMatch(/^\d{4}-\d\d-\d\dT\S+Z - user\.create - root admin=true$/);
    const times = all.map((l) => l.split(' ')[0]);
    expect([...times].sort().reverse()).toEqual(times);
    expect(all).toContainEqual(expect.stringMatching(/ alice access\.reject models\/alice\/bert bob old=accepted reason="Closed for now"$/));
    expect(all).toContainEqual(expect.stringMatching(/ - member\.role - bob org=acme old=write new=admin$/));
    expect(all).toContainEqual(expect.stringMatching(/ alice push models\/alice\/bert - ref=refs\/heads\/side old=0{40} new=[0-9a-f]{40}$/));

    const bert = await auditLines('--repo', 'alice/bert');
    expect(bert.length).toBeGreaterThan(5);
    expect(bert.every((l) => l.split(' ')[3] === 'models/alice/bert')).toBe(true);
    expect(await auditLines('--repo', 'models/alice/bert')).toEqual(bert);
    const rows = await auditLines('--repo', 'alice/rows', '--type', 'dataset');
    expect(rows).toEqual([expect.stringMatching(/ alice repo\.create datasets\/alice\/rows - visibility=private gate=off$/)]);
    expect(await auditLines('--repo', 'datasets/alice/rows')).toEqual(rows);

    const bob = await auditLines('--user', 'bob');
    expect(bob.length).toBeGreaterThan(3);
    expect(bob.every((l) => l.split(' ')[1] === 'bob' || l.split(' ')[4] === 'bob')).toBe(true);
    expect(bob).toContainEqual(expect.stringMatching(/ bob access\.request models\/alice\/bert bob status=pending$/));

    expect(await auditLines('--limit', '2')).toEqual(all.slice(0, 2));
    expect(await auditLines('--since', '2999-01-01')).toEqual([]);
    expect(await auditLines('--since', all.at(-1)!.split(' ')[0])).toEqual(all);

    const badLimit = await hub.cli(['audit', '--limit', '0']);
    expect(badLimit.code).toBe(1);
    expect(badLimit.stderr).toContain('limit must be a whole number from 1 to 1000');
    const badSince = await hub.cli(['audit', '--since', 'yesterday']);
    expect(badSince.code).toBe(1);
    expect(badSince.stderr).toContain('since must be a date');
    expect((await hub.cli(['audit', '--type', 'dataset'])).code).toBe(2);
    expect((await hub.cli(['audit', '--repo', 'not a repo'])).code).toBe(2);
  });

  it('shows /admin/audit to site admins, filtered and paged, and the 404 page to anyone else', async () => {
    // Enough entries for more than one page: one push of 60 tags.
    const work = tempDir('hubgate-audit-tags-');
    await git(['clone', '-q', hub.remote('alice/bert', tokens.alice), '.'], work);
    for (let i = 0; i < 60; i++) await git(['tag', `v${i}`], work);
    await git(['push', '-q', 'origin', '--tags'], work);
    expect(table().filter((e) => e.action === 'push' && String(e.details.ref).startsWith('refs/tags/'))).toHaveLength(60);

    const anonymous = new Browser(hub.url);
    const alice = await signIn('alice');
    for (const who of [anonymous, alice]) {
      const res = await who.get('/admin/audit');
      expect(res.status).toBe(404);
      const text = await res.text();
      expect(text).toContain('There is no page here');
      expect(text).not.toContain('data-entry');
    }

    const root = await signIn('root');
    const first = await root.get('/admin/audit');
    expect(first.status).toBe(200);
    const page1 = await first.text();
    const ids = (page: string) => [...page.matchAll(/<tr data-entry="(\d+)">/g)].map((m) => Number(m[1]));
    const newest = table().reverse();
    expect(ids(page1)).toEqual(newest.slice(0, 50).map((e) => e.id));
    expect(page1).not.toContain('rel="prev"');
    const older = /<a href="([^"]+)" rel="next">Older<\/a>/.exec(page1)![1].replace(/&amp;/g, '&');
    expect(older).toBe(`/admin/audit?beforeId=${newest[49].id}`);

    const page2 = await (await root.get(older)).text();
    expect(ids(page2)).toEqual(newest.slice(50, 100).map((e) => e.id));
    const newer = /<a href="([^"]+)" rel="prev">Newer<\/a>/.exec(page2)![1].replace(/&amp;/g, '&');
    expect(ids(await (await root.get(newer)).text())).toEqual(ids(page1));

    // The filters of `hubgate audit`, kept in the paging links; values are escaped.
    const filtered = await (await root.get('/admin/audit?user=bob&repo=alice/bert')).text();
    const bobOnBert = newest.filter((e) => e.repo === 'models/alice/bert' && (e.actor === 'bob' || e.target === 'bob'));
    expect(bobOnBert.length).toBeGreaterThan(3);
    expect(ids(filtered)).toEqual(bobOnBert.map((e) => e.id));
    expect(filtered).toContain('reason=&quot;Closed for now&quot;');
    expect(filtered).toContain('value="bob"');
    const dataset = await (await root.get('/admin/audit?repo=alice/rows&type=dataset')).text();
    expect(ids(dataset)).toEqual(newest.filter((e) => e.repo === 'datasets/alice/rows').map((e) => e.id));
    const pagedFilter = await (await root.get('/admin/audit?repo=alice/bert')).text();
    expect(/<a href="([^"]+)" rel="next">/.exec(pagedFilter)![1]).toMatch(/^\/admin\/audit\?repo=alice%2Fbert&amp;beforeId=\d+$/);
    expect(ids(await (await root.get('/admin/audit?since=2999-01-01')).text())).toEqual([]);
    const bad = await root.get('/admin/audit?since=yesterday&user=%3Cb%3E');
    expect(bad.status).toBe(400);
    const badText = await bad.text();
    expect(badText).toContain('since must be a date');
    expect(badText).toContain('value="&lt;b&gt;"');
  });

  it('holds no token secret, password or session secret anywhere', async () => {
    const everything = JSON.stringify(table());
    const sessionSecrets = browsers.flatMap((b) => [...b.cookies.values()]);
    expect(secrets.length).toBeGreaterThan(8);
    expect(sessionSecrets.length).toBeGreaterThan(2);
    for (const secret of [...secrets, ...sessionSecrets]) expect(everything).not.toContain(secret);
    for (const token of Object.values(tokens)) expect(everything).not.toContain(token.slice(3, 20));
  });
});
