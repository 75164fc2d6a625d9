// hubgate's pages over plain HTTP (issue 4 item 6): sign-in and its cookie, CSRF refusals that
// change nothing, the repo page and its gate form, the author's settings page, the tokens page,
// and that a session cookie never authorizes the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { Browser } from './helpers/browser.js';

const CARD = `---
license: mit
extra_gated_heading: "Acknowledge license to access the repository"
extra_gated_prompt: "You agree to not use the model to conduct experiments that cause harm to human subjects."
extra_gated_fields:
  Company: text
  Country: country
  I agree to use this model for non-commercial use ONLY: checkbox
---
# A gated model

<script>alert("card")</script> & more
`;

const GOOD = { 'f:Company': 'ACME <b>Labs</b>', 'f:Country': 'FR', 'f:I agree to use this model for non-commercial use ONLY': 'on' };

describe('pages', () => {
  let hub: Hubgate;
  const tokens: Record<string, string> = {};
  const browser = () => new Browser(hub.url);

  const api = (method: string, urlPath: string, token?: string, init: RequestInit = {}) =>
    fetch(`${hub.url}${urlPath}`, { ...init, method, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...init.headers } });
  const listed = async (repo: string, status: string) => {
    const res = await api('GET', `/api/models/${repo}/user-access-request/${status}`, tokens.alice);
    expect(res.status).toBe(200);
    return (await res.json()) as { user: { user: string }; status: string; fields: Record<string, unknown>; rejectionReason?: string }[];
  };
  const names = async (repo: string, status: string) => (await listed(repo, status)).map((r) => r.user.user).sort();



  async function user(name: string, password: string): Promise<void> {
    const made = await hub.cli(['user', 'create', name, '--email', `${name}@x.io`, '--fullname', `${name} Example`, '--password-stdin'], `${password}\n`);
    expect(made.code, made.stderr).toBe(0);
  }

  async function signedIn(name: string): Promise<Browser> {
    const b = browser();
    expect((await b.signIn(name, `${name}-password1`)).status).toBe(303);
    return b;
  }

  beforeAll(async () => {
    hub = await startHubgate();
    for (const name of ['alice', 'bob', 'carol']) await user(name, `${name}-password1`);
    for (const name of ['alice', 'bob']) tokens[name] = (await hub.cli(['token', 'create', name, '--role', 'write'])).stdout.trim();
    expect((await hub.cli(['repo', 'create', 'alice/model', '--gated', 'manual'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/secret', '--private'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/data', '--type', 'dataset'])).code).toBe(0);
    await hub.pushFiles('alice/model', tokens.alice, { 'README.md': CARD });
  });
  afterAll(() => hub?.stop());

  it('signs in with a password: an HttpOnly SameSite=Lax session cookie; wrong passwords get one generic 401', async () => {
    const b = browser();
    const form = await b.get('/login');
    expect(form.status).toBe(200);
    expect(b.setCookies.join('\n')).toMatch(/hubgate_login_csrf=[^;]+;.*HttpOnly/i);

    const ok = await b.signIn('alice', 'alice-password1');
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/');
    const cookie = b.setCookies.find((c) => c.startsWith('hubgate_session='))!;
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/; HttpOnly/i);
    expect(cookie).toMatch(/; SameSite=Lax/i);
    expect(cookie).toMatch(/; Path=\//i);
    expect(cookie).not.toMatch(/; Secure/i); // served over http here
    expect(await (await b.get('/')).text()).toContain('Signed in as <strong>alice</strong>');

    for (const [username, password] of [['alice', 'wrong-password'], ['nobody', 'alice-password1'], ['alice', '']]) {
      const w = browser();
      const refused = await w.signIn(username, password);
      expect(refused.status).toBe(401);
      expect(await refused.text()).toContain('Incorrect username or password.');
      expect(w.cookies.has('hubgate_session')).toBe(false);
    }

    // The sign-in form itself is CSRF-protected (its token pairs with a SameSite=Strict cookie).
    const forged = await browser().post('/login', { csrf: 'x'.repeat(43), username: 'alice', password: 'alice-password1' });
    expect(forged.status).toBe(403);
    expect(forged.headers.getSetCookie().some((c) => c.startsWith('hubgate_session='))).toBe(false);
  });

  it('marks the session cookie Secure when the public URL is https', async () => {
    const behindTls = await startHubgate({ env: { HUBGATE_PUBLIC_URL: 'https://hub.example' } });
    try {
      const made = await behindTls.cli(['user', 'create', 'dora', '--password-stdin'], 'dora-password1\n');
      expect(made.code, made.stderr).toBe(0);
      const b = new Browser(behindTls.url);
      expect((await b.signIn('dora', 'dora-password1')).status).toBe(303);
      expect(b.setCookies.find((c) => c.startsWith('hubgate_session='))).toMatch(/; Secure/i);
    } finally {
      await behindTls.stop();
    }
  });

  it('redirects after sign-in only to a local path', async () => {
    expect((await browser().signIn('bob', 'bob-password1', '/alice/model')).headers.get('location')).toBe('/alice/model');
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      expect((await browser().signIn('bob', 'bob-password1', next)).headers.get('location')).toBe('/');
    }
  });

  it('serves pages with CSP, frame and referrer headers, and escapes the card', async () => {
    const res = await browser().get('/alice/model');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
    const page = await res.text();
    expect(page).not.toMatch(/<script/i);
    expect(page).toContain('&lt;script&gt;alert("card")&lt;/script&gt; &amp; more'); // the card's Markdown: its HTML shown as text
    expect(page).toContain(`git clone ${hub.url}/alice/model`);
    // Anonymous: heading and prompt, and a way to sign in, but no form to submit.
    expect(page).toContain('Acknowledge license to access the repository');
    expect(page).toContain('You agree to not use the model to conduct experiments that cause harm to human subjects.');
    expect(page).toContain('href="/login?next=%2Falice%2Fmodel">Sign in to request access</a>');
    expect(page).not.toContain('action="/alice/model/ask-access"');

    const dataset = await browser().get('/datasets/alice/data');
    expect(dataset.status).toBe(200);
    expect(await dataset.text()).toContain(`git clone ${hub.url}/datasets/alice/data`);
  });

  it('shows a private repo only to those who may see it: the same 404 page as a missing repo for everyone else', async () => {
    const missing = await browser().get('/alice/no-such-repo');
    expect(missing.status).toBe(404);
    const missingPage = await missing.text();
    const anonymous = await browser().get('/alice/secret');
    expect(anonymous.status).toBe(404);
    expect(await anonymous.text()).toBe(missingPage.replace('next=%2Falice%2Fno-such-repo', 'next=%2Falice%2Fsecret'));
    const bob = await signedIn('bob');
    expect((await bob.get('/alice/secret')).status).toBe(404);
    expect((await bob.get('/alice/secret/settings')).status).toBe(404);
    const alice = await signedIn('alice');
    expect((await alice.get('/alice/secret')).status).toBe(200);
    expect((await browser().get('/alice/..x')).status).toBe(400);
  });

  it('asks for access with the form: CSRF refused and nothing recorded; bad answers re-shown; then pending', async () => {
    const bob = await signedIn('bob');
    const page = await (await bob.get('/alice/model')).text();
    expect(page).toContain('action="/alice/model/ask-access"');
    expect(page).toContain('<input type="text" name="f:Company"');
    expect(page).toContain('<option value="FR">France</option>');
    expect(page).toContain('type="checkbox" name="f:I agree to use this model for non-commercial use ONLY"');
    const csrf = await bob.csrf('/alice/model');

    for (const form of [GOOD, { ...GOOD, csrf: 'wrong' }, { ...GOOD, csrf: `${csrf}x` }]) {
      const refused = await bob.post('/alice/model/ask-access', form);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('Form refused');
    }
    // Without a session at all (someone else's site posting the form): refused too.
    expect((await browser().post('/alice/model/ask-access', { ...GOOD, csrf })).status).toBe(403);
    expect(await names('alice/model', 'pending')).toEqual([]);

    // The checkbox left unticked: an unticked checkbox is not sent at all.
    const bad = await bob.post('/alice/model/ask-access', { csrf, 'f:Company': GOOD['f:Company'], 'f:Country': 'FR' });
    expect(bad.status).toBe(400);
    const badPage = await bad.text();
    expect(badPage).toContain('role="alert"');
    expect(badPage).toContain('value="ACME &lt;b&gt;Labs&lt;/b&gt;"'); // the user's answers are kept
    expect(badPage).toContain('<option value="FR" selected>France</option>');
    expect(await names('alice/model', 'pending')).toEqual([]);

    const sent = await bob.post('/alice/model/ask-access', { ...GOOD, csrf });
    expect(sent.status).toBe(303);
    expect(sent.headers.get('location')).toBe('/alice/model');
    const pending = await listed('alice/model', 'pending');
    expect(pending.map((r) => r.user.user)).toEqual(['bob']);
    expect(pending[0].fields).toEqual({ Company: 'ACME <b>Labs</b>', Country: 'FR', 'I agree to use this model for non-commercial use ONLY': true });
    const after = await (await bob.get('/alice/model')).text();
    expect(after).toContain("Your request to access this repo is pending: the repo&#39;s authors will review it.");
    expect(after).not.toContain('action="/alice/model/ask-access"');

    const again = await bob.post('/alice/model/ask-access', { ...GOOD, csrf });
    expect(again.status).toBe(409);
  });

  it('shows a malformed form to the authors only, and offers no form to anyone', async () => {
    expect((await hub.cli(['repo', 'create', 'alice/broken', '--gated', 'auto'])).code).toBe(0);
    await hub.pushFiles('alice/broken', tokens.alice, { 'README.md': '---\nextra_gated_fields:\n  Company: textarea\n---\n# Broken\n' });
    const alicePage = await (await (await signedIn('alice')).get('/alice/broken')).text();
    expect(alicePage).toContain('The access request form in README.md cannot be used: ');
    expect(alicePage).toContain('Company');
    const bob = await signedIn('bob');
    const bobPage = await (await bob.get('/alice/broken')).text();
    expect(bobPage).toContain('The access request form of this repo is unavailable');
    expect(bobPage).not.toContain('action="/alice/broken/ask-access"');
    expect(bobPage).not.toContain('README.md cannot be used');
    // Posting anyway is refused and records nothing: the gate stays closed.
    const forced = await bob.post('/alice/broken/ask-access', { csrf: await bob.csrf('/alice/broken'), 'f:Company': 'ACME' });
    expect(forced.status).toBeGreaterThanOrEqual(400);
    expect(forced.status).toBeLessThan(500);
    const accepted = await api('GET', '/api/models/alice/broken/user-access-request/accepted', tokens.alice);
    expect(await accepted.json()).toEqual([]);
  });

  it('lets only writers open the settings page; accept, reject with a reason, cancel and add access, each CSRF-checked', async () => {
    const bob = await signedIn('bob');
    expect((await bob.get('/alice/model/settings')).status).toBe(404);
    expect((await browser().get('/alice/model/settings')).status).toBe(404);
    expect((await bob.get('/alice/model/settings/access-report.json')).status).toBe(404);
    // A non-writer's valid form is refused as if the repo did not exist, and nothing changes.
    const bobCsrf = await bob.csrf('/alice/model');
    expect((await bob.post('/alice/model/settings/requests', { csrf: bobCsrf, user: 'bob', status: 'accepted' })).status).toBe(404);

    const alice = await signedIn('alice');
    const settings = await alice.get('/alice/model/settings');
    expect(settings.status).toBe(200);
    const page = await settings.text();
    expect(page).toContain('<tr data-user="bob">');
    expect(page).toContain('ACME &lt;b&gt;Labs&lt;/b&gt;');
    const csrf = await alice.csrf('/alice/model/settings');

    // Without the token, with someone else's token: 403 and nothing changed.
    expect((await alice.post('/alice/model/settings/requests', { user: 'bob', status: 'accepted' })).status).toBe(403);
    expect((await alice.post('/alice/model/settings/requests', { csrf: bobCsrf, user: 'bob', status: 'accepted' })).status).toBe(403);
    expect(await names('alice/model', 'accepted')).toEqual([]);

    const accepted = await alice.post('/alice/model/settings/requests', { csrf, user: 'bob', status: 'accepted' });
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toBe('/alice/model/settings?done=accepted');
    expect(await names('alice/model', 'accepted')).toEqual(['bob']);
    expect(await (await bob.get('/alice/model')).text()).toContain('You have been granted access to this repo');

    // A reason over 200 characters: 400 with the limit named, nothing changed.
    const long = await alice.post('/alice/model/settings/requests', { csrf, user: 'bob', status: 'rejected', reason: 'x'.repeat(201) });
    expect(long.status).toBe(400);
    expect(await long.text()).toContain('use at most 200');
    expect(await names('alice/model', 'accepted')).toEqual(['bob']);

    expect((await alice.post('/alice/model/settings/requests', { csrf, user: 'bob', status: 'rejected', reason: 'Students <only>' })).status).toBe(303);
    const rejected = await listed('alice/model', 'rejected');
    expect(rejected.map((r) => [r.user.user, r.rejectionReason])).toEqual([['bob', 'Students <only>']]);
    const bobPage = await (await bob.get('/alice/model')).text();
    expect(bobPage).toContain('Your request to access this repo has been rejected by the repo&#39;s authors: <q class="reason">Students &lt;only&gt;</q>');

    // Repeating a transition is refused with the service's message.
    const twice = await alice.post('/alice/model/settings/requests', { csrf, user: 'bob', status: 'rejected' });
    expect(twice.status).toBe(404);
    expect(await twice.text()).toContain('already rejected');

    expect((await alice.post('/alice/model/settings/requests', { csrf, user: 'bob', status: 'pending' })).status).toBe(303);
    expect(await names('alice/model', 'pending')).toEqual(['bob']);

    // Add access for a user who never asked; unknown users are refused.
    expect((await alice.post('/alice/model/settings/grant', { csrf, user: 'nobody' })).status).toBe(404);
    expect((await alice.post('/alice/model/settings/grant', { user: 'carol' })).status).toBe(403);
    expect(await names('alice/model', 'accepted')).toEqual([]);
    expect((await alice.post('/alice/model/settings/grant', { csrf, user: 'carol' })).status).toBe(303);
    expect(await names('alice/model', 'accepted')).toEqual(['carol']);

    const report = await alice.get('/alice/model/settings/access-report.json');
    expect(report.status).toBe(200);
    expect(report.headers.get('content-disposition')).toBe('attachment; filename="alice-model-access-report.json"');
    const rows = (await report.json()) as Record<string, unknown>[];
    expect(rows.map((r) => [r.user, r.fullname, r.status, r.email])).toEqual([
      ['bob', 'bob Example', 'pending', 'bob@x.io'],
      ['carol', 'carol Example', 'accepted', 'carol@x.io'],
    ]);
    expect(rows[0].fields).toEqual({ Company: 'ACME <b>Labs</b>', Country: 'FR', 'I agree to use this model for non-commercial use ONLY': true });
    expect(Date.parse(String(rows[0].time))).toBeGreaterThan(0);
  });

  it('changes gate and notification settings from the form, validated', async () => {
    const alice = await signedIn('alice');
    const settingsPath = '/datasets/alice/data/settings';
    const csrf = await alice.csrf(settingsPath);
    const good = { csrf, gated: 'auto', notify_email: 'team@x.io', notify_frequency: 'instant' };
    expect((await alice.post(settingsPath, { ...good, csrf: '' })).status).toBe(403);
    const bad = await alice.post(settingsPath, { ...good, notify_email: 'not an email' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('notify_email');
    expect((await alice.post(settingsPath, { ...good, gated: 'sometimes' })).status).toBe(400);
    const unchanged = await (await alice.get(settingsPath)).text();
    expect(unchanged).toContain('<input type="radio" name="gated" value="off" checked>');
    expect(unchanged).toContain('<input type="radio" name="notify_frequency" value="daily" checked>');
    // The model address alice/data is another repo, which does not exist.
    expect((await alice.post('/alice/data/settings', good)).status).toBe(404);

    const saved = await alice.post(settingsPath, good);
    expect(saved.status).toBe(303);
    expect(saved.headers.get('location')).toBe(`${settingsPath}?done=saved`);
    const page = await (await alice.get(`${settingsPath}?done=saved`)).text();
    expect(page).toContain('Settings saved.');
    expect(page).toContain('<input type="radio" name="gated" value="auto" checked>');
    expect(page).toContain('<input type="radio" name="notify_frequency" value="instant" checked>');
    expect(page).toContain('name="notify_email" value="team@x.io"');
  });

  it('creates a token shown once, which works as a Bearer token until revoked from the page', async () => {
    expect((await browser().get('/settings/tokens')).headers.get('location')).toBe('/login?next=%2Fsettings%2Ftokens');
    const alice = await signedIn('alice');
    const csrf = await alice.csrf('/settings/tokens');
    const before = await hub.cli(['token', 'list', 'alice']);

    expect((await alice.post('/settings/tokens', { name: 'laptop', role: 'write' })).status).toBe(403);
    const bad = await alice.post('/settings/tokens', { csrf, name: 'laptop', role: 'admin' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('choose read or write');
    expect((await hub.cli(['token', 'list', 'alice'])).stdout).toBe(before.stdout);

    const created = await alice.post('/settings/tokens', { csrf, name: 'laptop <1>', role: 'write' });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const page = await created.text();
    const secret = /<p class="secret" id="new-token">(hf_[A-Za-z0-9_-]{43})<\/p>/.exec(page)?.[1];
    expect(secret).toBeDefined();
    expect(page).toContain('laptop &lt;1&gt;');

    const list = `/api/models/alice/model/user-access-request/accepted`;
    expect((await api('GET', list, secret)).status).toBe(200);
    const again = await (await alice.get('/settings/tokens')).text();
    expect(again).not.toContain(secret!);
    const id = new RegExp(`<tr data-token="(\\d+)">\\s*<td>laptop &lt;1&gt;</td><td>write</td>`).exec(again)?.[1];
    expect(id).toBeDefined();

    // Bob cannot revoke alice's token: it is "not found" for him, and keeps working.
    const bob = await signedIn('bob');
    expect((await bob.post(`/settings/tokens/${id}/revoke`, { csrf: await bob.csrf('/settings/tokens') })).status).toBe(404);
    expect((await alice.post(`/settings/tokens/${id}/revoke`, {})).status).toBe(403);
    expect((await api('GET', list, secret)).status).toBe(200);

    const revoked = await alice.post(`/settings/tokens/${id}/revoke`, { csrf });
    expect(revoked.status).toBe(303);
    expect((await api('GET', list, secret)).status).toBe(401);
    expect(await (await alice.get('/settings/tokens')).text()).toMatch(/<td>laptop &lt;1&gt;<\/td><td>write<\/td>.*<td>revoked /s);
  });

  it('never lets a session cookie authorize the API, git or LFS', async () => {
    const alice = await signedIn('alice');
    const cookie = `hubgate_session=${alice.cookies.get('hubgate_session')}`;
    const apiList = await api('GET', '/api/models/alice/model/user-access-request/pending', undefined, { headers: { Cookie: cookie } });
    expect(apiList.status).toBe(401);
    const settings = await api('PUT', '/api/models/alice/model/settings', undefined, {
      headers: { Cookie: cookie, 'Content-Type': 'application/json' },
      body: JSON.stringify({ gated: false }),
    });
    expect(settings.status).toBe(401);
    const refs = await api('GET', '/alice/secret.git/info/refs?service=git-upload-pack', undefined, { headers: { Cookie: cookie } });
    expect(refs.status).toBe(401);
    // Unknown API routes keep the API's JSON answer rather than a page.
    const unknown = await api('GET', '/api/no-such-route', undefined, { headers: { Cookie: cookie } });
    expect(unknown.headers.get('content-type')).toMatch(/json/);
  });

  it('signs out: the session ends on the server, not only in the browser', async () => {
    const alice = await signedIn('alice');
    const cookie = alice.cookies.get('hubgate_session')!;
    expect((await alice.post('/logout', {})).status).toBe(403);
    const out = await alice.post('/logout', { csrf: await alice.csrf('/') });
    expect(out.status).toBe(303);
    expect(alice.cookies.has('hubgate_session')).toBe(false);
    alice.cookies.set('hubgate_session', cookie); // a stolen copy of the old cookie
    expect((await alice.get('/settings/tokens')).status).toBe(303);
  });

  it('a new password set with `hubgate user password` signs the user in with it, and out everywhere else', async () => {
    const carol = await signedIn('carol');
    expect((await carol.get('/settings/tokens')).status).toBe(200);
    const set = await hub.cli(['user', 'password', 'carol', '--password-stdin'], 'carol-new-password\n');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe('set the web password of carol\n');
    expect((await carol.get('/settings/tokens')).status).toBe(303); // the old session ended
    expect((await browser().signIn('carol', 'carol-password1')).status).toBe(401);
    expect((await browser().signIn('carol', 'carol-new-password')).status).toBe(303);

    const short = await hub.cli(['user', 'password', 'carol', '--password-stdin'], 'short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toBe('hubgate: the password must have at least 8 characters\n');
    const nobody = await hub.cli(['user', 'password', 'nobody', '--password-stdin'], 'long enough password\n');
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/no user named "nobody"/);
    expect((await hub.cli(['user', 'password', 'carol'])).code).toBe(2);
    expect((await browser().signIn('carol', 'carol-new-password')).status).toBe(303);
  });
});
