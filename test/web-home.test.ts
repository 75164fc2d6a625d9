// The home page, /new, the search pages, profiles, repo visibility and deletion from the settings
// page, and token refresh, over plain HTTP with a browser's cookies and forms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './helpers/browser.js';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';

describe('home, new repo, search, profiles, repo settings, token refresh', () => {
  let hub: Hubgate;
  const tokens: Record<string, string> = {};
  const as: Record<string, Browser> = {};
  let anonymous: Browser;

  const api = (urlPath: string, token?: string) => fetch(`${hub.url}${urlPath}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const page = async (b: Browser, urlPath: string) => {
    const res = await b.get(urlPath);
    return { status: res.status, body: await res.text() };
  };
  const cli = async (args: string[], input?: string) => {
    const r = await hub.cli(args, input);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };
  /** Posts a form found on page `from`, with that page's CSRF field. */
  const submit = async (b: Browser, from: string, action: string, form: Record<string, string>) => b.post(action, { csrf: await b.csrf(from), ...form });
  /** The repos a listing page shows, by their link. */
  const owners = (body: string) => [.../<select name="owner">(.*?)<\/select>/.exec(body)![1].matchAll(/<option value="([^"]+)"/g)].map((m) => m[1]);
  const listed = (body: string) => [...body.matchAll(/<li data-repo="([^"]+)"/g)].map((m) => m[1]);

  beforeAll(async () => {
    hub = await startHubgate();
    for (const name of ['alice', 'bob', 'carol', 'dave']) {
      await cli(['user', 'create', name, '--email', `${name}@x.io`, '--fullname', `${name} Example`, '--password-stdin'], `${name}-password1\n`);
      tokens[name] = await cli(['token', 'create', name, '--role', 'write']);
      as[name] = new Browser(hub.url);
      expect((await as[name].signIn(name, `${name}-password1`)).status).toBe(303);
    }
    anonymous = new Browser(hub.url);
    await cli(['org', 'create', 'acme']);
    await cli(['org', 'add', 'acme', 'alice', '--role', 'admin']);
    await cli(['org', 'add', 'acme', 'bob', '--role', 'write']);
    await cli(['org', 'add', 'acme', 'carol', '--role', 'read']);
    await cli(['org', 'create', 'other']);
    await cli(['org', 'add', 'other', 'dave', '--role', 'admin']);
    await cli(['repo', 'create', 'alice/pub']);
    await cli(['repo', 'create', 'alice/priv', '--private']);
    await cli(['repo', 'create', 'acme/team-priv', '--private']);
    await cli(['repo', 'create', 'acme/team-data', '--type', 'dataset']);
    await cli(['repo', 'create', 'dave/dave-pub']);
    await cli(['repo', 'create', 'dave/dave-priv', '--private']);
    await cli(['repo', 'create', 'other/other-priv', '--private']);
    // The newest commit makes alice/pub the most recently updated of alice's.
    const pushed = await hub.pushFiles('alice/pub', tokens.alice, { 'notes.txt': 'hello\n' });
    // The listing reads the new head just after the push answers.
    for (let i = 0; i < 100; i++) {
      const [listing] = (await (await api('/api/models?author=alice&search=pub&full=true')).json()) as { sha?: string }[];
      if (listing?.sha === pushed) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 180_000);
  afterAll(() => hub?.stop());

  it('home: signed in, your repos and your organizations’ (private ones too), newest first, and your orgs; signed out, public repos', async () => {
    const home = await page(as.alice, '/');
    expect(home.status).toBe(200);
    const repos = listed(home.body);
    expect(repos).toEqual(expect.arrayContaining(['/alice/pub', '/alice/priv', '/acme/team-priv', '/datasets/acme/team-data']));
    expect(repos[0]).toBe('/alice/pub');
    expect(repos).not.toContain('/dave/dave-priv');
    expect(repos).not.toContain('/dave/dave-pub');
    expect(repos).not.toContain('/other/other-priv');
    expect(home.body).toContain('<a href="/acme">');
    expect(home.body).toContain('<a href="/new">');

    const dave = listed((await page(as.dave, '/')).body);
    expect(dave).toEqual(expect.arrayContaining(['/dave/dave-pub', '/dave/dave-priv', '/other/other-priv']));
    expect(dave).not.toContain('/alice/priv');
    expect(dave).not.toContain('/acme/team-priv');

    const out = await page(anonymous, '/');
    expect(out.status).toBe(200);
    const pub = listed(out.body);
    expect(pub).toEqual(expect.arrayContaining(['/alice/pub', '/dave/dave-pub', '/datasets/acme/team-data']));
    for (const hidden of ['/alice/priv', '/acme/team-priv', '/dave/dave-priv', '/other/other-priv']) expect(pub).not.toContain(hidden);
  });

  it('/new: offers yourself and the orgs where you can write; creates public and private repos there, refuses other owners', async () => {
    expect((await anonymous.get('/new')).status).toBe(303);
    const form = await page(as.bob, '/new');
    expect(form.status).toBe(200);
    expect(owners(form.body)).toEqual(['bob', 'acme']);
    // A read member is not offered the org, and is refused when posting it anyway.
    expect(owners((await page(as.carol, '/new')).body)).toEqual(['carol']);
    expect(owners((await page(as.dave, '/new')).body)).toEqual(['dave', 'other']);
    const refused = await submit(as.carol, '/new', '/new', { type: 'model', owner: 'acme', name: 'sneaky', visibility: 'public', license: '' });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('You cannot create repos in &quot;acme&quot;');
    expect((await api('/api/models/acme/sneaky', tokens.alice)).status).toBe(404);
    const elsewhere = await submit(as.bob, '/new', '/new', { type: 'model', owner: 'dave', name: 'sneaky', visibility: 'public', license: '' });
    expect(elsewhere.status).toBe(403);
    // No form without the session's CSRF token.
    expect((await as.bob.post('/new', { type: 'model', owner: 'bob', name: 'nocsrf', visibility: 'public' })).status).toBe(403);

    const priv = await submit(as.bob, '/new', '/new', { type: 'model', owner: 'bob', name: 'mine', visibility: 'private', license: '' });
    expect(priv.status).toBe(303);
    expect(priv.headers.get('location')).toBe('/bob/mine');
    expect(((await (await api('/api/models/bob/mine', tokens.bob)).json()) as { private: boolean }).private).toBe(true);
    expect((await api('/api/models/bob/mine', tokens.dave)).status).toBe(404);

    const team = await submit(as.bob, '/new', '/new', { type: 'dataset', owner: 'acme', name: 'bob-data', visibility: 'public', license: '' });
    expect(team.status).toBe(303);
    expect(team.headers.get('location')).toBe('/datasets/acme/bob-data');
    expect(((await (await api('/api/datasets/acme/bob-data')).json()) as { private: boolean }).private).toBe(false);

    const taken = await submit(as.bob, '/new', '/new', { type: 'model', owner: 'bob', name: 'mine', visibility: 'public', license: '' });
    expect(taken.status).toBe(409);
    expect(await taken.text()).toContain('already exists');
    const bad = await submit(as.bob, '/new', '/new', { type: 'model', owner: 'bob', name: 'no spaces', visibility: 'public', license: '' });
    expect(bad.status).toBe(400);
  });

  it('/new with a license: the repo starts with a README.md whose front matter names it', async () => {
    const res = await submit(as.alice, '/new', '/new', { type: 'model', owner: 'acme', name: 'licensed', visibility: 'private', license: 'apache-2.0' });
    expect(res.status).toBe(303);
    const readme = await api('/acme/licensed/resolve/main/README.md', tokens.carol);
    expect(readme.status).toBe(200);
    expect(await readme.text()).toMatch(/^---\nlicense: apache-2\.0\n---\n/);
    const info = (await (await api('/api/models/acme/licensed', tokens.alice)).json()) as { cardData?: { license?: string } };
    expect(info.cardData?.license).toBe('apache-2.0');
    expect((await submit(as.alice, '/new', '/new', { type: 'model', owner: 'alice', name: 'x', visibility: 'public', license: 'not-a-license' })).status).toBe(400);
  });

  it('search pages: q, author, sort and pages, never a private repo to outsiders', async () => {
    for (const n of ['s1', 's2', 's3']) await cli(['repo', 'create', `dave/findme-${n}`]);
    await cli(['repo', 'create', 'alice/findme-hidden', '--private']);

    const outsider = listed((await page(as.dave, '/models?q=findme')).body);
    expect(outsider.sort()).toEqual(['/dave/findme-s1', '/dave/findme-s2', '/dave/findme-s3']);
    expect(listed((await page(anonymous, '/models?q=findme')).body)).not.toContain('/alice/findme-hidden');
    expect(listed((await page(as.alice, '/models?q=findme')).body)).toContain('/alice/findme-hidden');
    expect(listed((await page(as.dave, '/models?author=alice')).body)).toEqual(['/alice/pub']);
    expect(listed((await page(as.carol, '/models?author=acme')).body)).toEqual(expect.arrayContaining(['/acme/team-priv', '/acme/licensed']));
    expect(listed((await page(anonymous, '/models?author=acme')).body)).toEqual([]);
    expect(listed((await page(anonymous, '/datasets')).body)).toEqual(expect.arrayContaining(['/datasets/acme/team-data', '/datasets/acme/bob-data']));
    expect(listed((await page(anonymous, '/spaces')).body)).toEqual([]);

    // Sorted by name, two a page: the pages follow each other with no repeats.
    const seen: string[] = [];
    let next: string | null = '/models?q=findme&sort=id&limit=2';
    while (next) {
      const p = await page(anonymous, next);
      expect(p.status).toBe(200);
      seen.push(...listed(p.body));
      const m = /<a rel="next" href="([^"]+)"/.exec(p.body);
      next = m ? m[1].replace(/&amp;/g, '&') : null;
    }
    expect(seen).toEqual(['/dave/findme-s1', '/dave/findme-s2', '/dave/findme-s3']);
    const created = listed((await page(anonymous, '/models?q=findme&sort=createdAt')).body);
    expect(created).toEqual(['/dave/findme-s3', '/dave/findme-s2', '/dave/findme-s1']);
    expect((await page(anonymous, '/models?cursor=garbage&sort=downloads')).status).toBe(400);
    // Escaped, not executed.
    expect((await page(anonymous, '/models?q=%3Cscript%3E')).body).not.toContain('<script>');
  });

  it('profiles: a user’s and an org’s repos as the viewer may see them; members to members; the settings link to admins', async () => {
    const alice = await page(anonymous, '/alice');
    expect(alice.status).toBe(200);
    expect(alice.body).toContain('alice Example');
    expect(listed(alice.body)).toContain('/alice/pub');
    expect(listed(alice.body)).not.toContain('/alice/priv');
    expect(listed((await page(as.alice, '/alice')).body)).toContain('/alice/priv');

    const member = await page(as.carol, '/acme');
    expect(member.status).toBe(200);
    expect(listed(member.body)).toContain('/acme/team-priv');
    expect(member.body).toContain('<li data-member="bob">');
    expect(member.body).not.toContain('/organizations/acme/settings');
    const admin = await page(as.alice, '/acme');
    expect(admin.body).toContain('href="/organizations/acme/settings"');
    for (const outsider of [as.dave, anonymous]) {
      const seen = await page(outsider, '/acme');
      expect(seen.status).toBe(200);
      expect(listed(seen.body)).toContain('/datasets/acme/team-data');
      expect(listed(seen.body)).not.toContain('/acme/team-priv');
      expect(seen.body).not.toContain('data-member');
    }
    expect((await page(anonymous, '/nobody-here')).status).toBe(404);
    // Fixed pages are not profiles.
    expect((await page(anonymous, '/login')).body).toContain('name="password"');
    expect((await page(as.alice, '/new')).body).toContain('Create a new repository');
    expect((await page(anonymous, '/settings')).status).toBe(404);
  });

  it('repo settings: repo admins switch visibility and delete with the name typed; others cannot', async () => {
    const settings = await page(as.alice, '/alice/pub/settings');
    expect(settings.body).toContain('Make private');
    const made = await submit(as.alice, '/alice/pub/settings', '/alice/pub/settings/visibility', { visibility: 'private' });
    expect(made.status).toBe(303);
    expect((await page(anonymous, '/alice/pub')).status).toBe(404);
    expect((await page(as.alice, '/alice/pub/settings?done=private')).body).toContain('Make public');
    expect((await submit(as.alice, '/alice/pub/settings', '/alice/pub/settings/visibility', { visibility: 'public' })).status).toBe(303);
    expect((await page(anonymous, '/alice/pub')).status).toBe(200);

    // bob writes to acme's repos but is no admin: the settings page without these forms, and posts refused.
    const bobs = await page(as.bob, '/acme/team-priv/settings');
    expect(bobs.status).toBe(200);
    expect(bobs.body).not.toContain('Delete this repo');
    expect(bobs.body).not.toContain('settings/visibility');
    expect((await submit(as.bob, '/acme/team-priv/settings', '/acme/team-priv/settings/visibility', { visibility: 'public' })).status).toBe(404);
    expect((await submit(as.bob, '/acme/team-priv/settings', '/acme/team-priv/settings/delete', { confirm: 'acme/team-priv' })).status).toBe(404);
    expect((await api('/api/models/acme/team-priv', tokens.alice)).status).toBe(200);
    expect(((await (await api('/api/models/acme/team-priv', tokens.alice)).json()) as { private: boolean }).private).toBe(true);

    // The org's admin may; the wrong name deletes nothing.
    const wrong = await submit(as.alice, '/acme/team-priv/settings', '/acme/team-priv/settings/delete', { confirm: 'team-priv' });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('Nothing was deleted');
    expect((await api('/api/models/acme/team-priv', tokens.alice)).status).toBe(200);
    const gone = await submit(as.alice, '/acme/team-priv/settings', '/acme/team-priv/settings/delete', { confirm: 'acme/team-priv' });
    expect(gone.status).toBe(303);
    expect(gone.headers.get('location')).toBe('/');
    expect((await api('/api/models/acme/team-priv', tokens.alice)).status).toBe(404);
    expect(listed((await page(as.alice, '/')).body)).not.toContain('/acme/team-priv');
  });

  it('token refresh: a new secret for the same token; the old one fails at once', async () => {
    const created = await submit(as.alice, '/settings/tokens', '/settings/tokens', { name: 'laptop', role: 'write' });
    expect(created.status).toBe(201);
    const old = /id="new-token">([^<]+)</.exec(await created.text())![1];
    expect((await api('/api/whoami-v2', old)).status).toBe(200);
    const list = (await page(as.alice, '/settings/tokens')).body;
    const id = /<tr data-token="(\d+)">\n<td>laptop<\/td>/.exec(list)![1];

    const refreshed = await submit(as.alice, '/settings/tokens', `/settings/tokens/${id}/refresh`, {});
    expect(refreshed.status).toBe(200);
    const body = await refreshed.text();
    expect(body).toContain('the old one no longer works');
    const secret = /id="new-token">([^<]+)</.exec(body)![1];
    expect(secret).not.toBe(old);
    expect((await api('/api/whoami-v2', old)).status).toBe(401);
    const who = await api('/api/whoami-v2', secret);
    expect(who.status).toBe(200);
    expect(((await who.json()) as { name: string }).name).toBe('alice');
    const after = (await page(as.alice, '/settings/tokens')).body;
    expect(after.match(/<td>laptop<\/td>/g)).toHaveLength(1);
    expect(after).toContain(`<tr data-token="${id}">\n<td>laptop</td><td>write</td>`);
    expect(after).not.toContain(secret);

    // Someone else's token, a revoked one, or no CSRF: refused.
    expect((await submit(as.dave, '/settings/tokens', `/settings/tokens/${id}/refresh`, {})).status).toBe(404);
    expect((await as.alice.post(`/settings/tokens/${id}/refresh`, {})).status).toBe(403);
    expect((await api('/api/whoami-v2', secret)).status).toBe(200);
    expect((await submit(as.alice, '/settings/tokens', `/settings/tokens/${id}/revoke`, {})).status).toBe(303);
    expect((await submit(as.alice, '/settings/tokens', `/settings/tokens/${id}/refresh`, {})).status).toBe(404);
    const rotated = (await cli(['audit', '--user', 'alice'])).split('\n').filter((l) => l.includes('token.rotate'));
    expect(rotated).toHaveLength(1);
    expect(rotated[0]).toContain('laptop');
    expect(rotated[0]).not.toContain(secret);
  });
});
