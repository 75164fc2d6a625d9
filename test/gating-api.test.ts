// Gated repos through the Hub's access-request API and the ask-access route (issue 4 items 1-3):
// every transition and every refused one, with a real hubgate and the clients' exact shapes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, type Hubgate, startHubgate } from './helpers/hubgate.js';

const CARD = `---
license: mit
extra_gated_prompt: "You agree to not use the model to conduct experiments that cause harm to human subjects."
extra_gated_fields:
  Company: text
  Country: country
  Specific date: date_picker
  I want to use this model for:
    type: select
    options:
      - Research
      - label: Other
        value: other
  I agree to use this model for non-commercial use ONLY: checkbox
---
# A gated model
`;

const GOOD_FIELDS = {
  Company: 'ACME',
  Country: 'fr',
  'Specific date': '2026-02-28',
  'I want to use this model for': 'other',
  'I agree to use this model for non-commercial use ONLY': true,
};

describe.each(DATABASES)('gated repos: access requests through the API, on %s', (db) => {
  let hub: Hubgate;
  const tokens: Record<string, string> = {};

  const api = (method: string, urlPath: string, token: string | undefined, body?: unknown) =>
    fetch(`${hub.url}${urlPath}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  const ask = (repo: string, who: string, fields: unknown = GOOD_FIELDS) => api('POST', `/${repo}/ask-access`, tokens[who], { fields });
  const handle = (repo: string, who: string, body: unknown) => api('POST', `/api/models/${repo}/user-access-request/handle`, tokens[who], body);
  const list = async (repo: string, status: string, who = 'alice') => {
    const res = await api('GET', `/api/models/${repo}/user-access-request/${status}`, tokens[who]);
    expect(res.status).toBe(200);
    return (await res.json()) as { user: { user: string; fullname: string; email: string | null }; status: string; timestamp: string; fields: Record<string, unknown> }[];
  };
  const names = async (repo: string, status: string) => (await list(repo, status)).map((r) => r.user.user).sort();



  beforeAll(async () => {
    hub = await startHubgate({ db });
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) tokens[name] = await hub.userWithToken(name);
    tokens.aliceRead = (await hub.cli(['token', 'create', 'alice', '--role', 'read'])).stdout.trim();
    expect((await hub.cli(['repo', 'create', 'alice/manual', '--gated', 'manual'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/auto', '--gated', 'auto'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/open'])).code).toBe(0);
    await hub.pushFiles('alice/manual', tokens.alice, { 'README.md': CARD });
    await hub.pushFiles('alice/auto', tokens.alice, { 'README.md': CARD });
  });
  afterAll(() => hub.stop());

  it('manual mode: ask, accept, reject with a reason, cancel, and every repeated transition refused', async () => {
    const asked = await ask('alice/manual', 'bob');
    expect(asked.status, await asked.clone().text()).toBe(201);
    expect((await asked.json()).status).toBe('pending');

    const pending = await list('alice/manual', 'pending');
    expect(pending).toHaveLength(1);
    expect(pending[0].user).toEqual({ user: 'bob', fullname: '', email: 'bob@example.com' });
    expect(pending[0].fields).toEqual({ ...GOOD_FIELDS, Country: 'FR' });
    // huggingface_hub parses %Y-%m-%dT%H:%M:%S(.fraction)Z
    expect(pending[0].timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);

    // Asking twice is refused while pending.
    const again = await ask('alice/manual', 'bob');
    expect(again.status).toBe(409);
    expect((await again.json()).error).toMatch(/already awaiting a decision/);

    expect((await handle('alice/manual', 'alice', { user: 'bob', status: 'accepted' })).status).toBe(200);
    expect(await names('alice/manual', 'accepted')).toEqual(['bob']);
    expect(await names('alice/manual', 'pending')).toEqual([]);
    const twice = await handle('alice/manual', 'alice', { user: 'bob', status: 'accepted' });
    expect(twice.status).toBe(404);
    expect((await twice.json()).error).toBe('the access request of bob is already accepted');

    const rejected = await handle('alice/manual', 'alice', { user: 'bob', status: 'rejected', rejectionReason: 'Students only' });
    expect(rejected.status).toBe(200);
    expect(await names('alice/manual', 'rejected')).toEqual(['bob']);
    expect((await handle('alice/manual', 'alice', { user: 'bob', status: 'rejected' })).status).toBe(404);

    // A rejected user cannot ask again, and is told why.
    const denied = await ask('alice/manual', 'bob');
    expect(denied.status).toBe(403);
    expect((await denied.json()).error).toBe(
      "Your request to access this repo has been rejected by the repo's authors: Students only You cannot request access again.",
    );

    // Cancel: back to pending; cancelling again is refused.
    expect((await handle('alice/manual', 'alice', { user: 'bob', status: 'pending' })).status).toBe(200);
    expect(await names('alice/manual', 'pending')).toEqual(['bob']);
    const cancelTwice = await handle('alice/manual', 'alice', { user: 'bob', status: 'pending' });
    expect(cancelTwice.status).toBe(404);
    expect((await cancelTwice.json()).error).toMatch(/already pending/);
  });

  it('auto mode accepts at once; grant works for users who never asked, once', async () => {
    const asked = await ask('alice/auto', 'carol');
    expect(asked.status).toBe(201);
    expect((await asked.json()).status).toBe('accepted');
    expect((await list('alice/auto', 'accepted')).map((r) => r.user.user)).toEqual(['carol']);

    const grant = await api('POST', '/api/models/alice/manual/user-access-request/grant', tokens.alice, { user: 'dave' });
    expect(grant.status).toBe(200);
    expect((await grant.json()).status).toBe('accepted'); // huggingface_hub's grant_access returns the JSON
    const accepted = await list('alice/manual', 'accepted');
    expect(accepted.find((r) => r.user.user === 'dave')?.fields).toEqual({});
    const grantTwice = await api('POST', '/api/models/alice/manual/user-access-request/grant', tokens.alice, { user: 'dave' });
    expect(grantTwice.status).toBe(400);
    expect((await grantTwice.json()).error).toBe('dave already has access to alice/manual');
  });

  it('refuses bad answers and changes nothing', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...GOOD_FIELDS, Extra: 'x' }, /Extra/],
      [{ ...GOOD_FIELDS, Company: undefined }, /Company/],
      [{ ...GOOD_FIELDS, Country: 'XX' }, /Country/],
      [{ ...GOOD_FIELDS, 'Specific date': '2026-02-30' }, /Specific date/],
      [{ ...GOOD_FIELDS, 'I want to use this model for': 'Other' }, /I want to use this model for/],
      [{ ...GOOD_FIELDS, 'I agree to use this model for non-commercial use ONLY': false }, /non-commercial/],
      [{ ...GOOD_FIELDS, Company: 'x'.repeat(5000) }, /Company/],
    ];
    for (const [fields, message] of cases) {
      const res = await ask('alice/manual', 'erin', JSON.parse(JSON.stringify(fields)));
      expect(res.status, JSON.stringify(fields).slice(0, 200)).toBe(400);
      expect((await res.json()).error).toMatch(message);
    }
    const malformed = await api('POST', '/alice/manual/ask-access', tokens.erin, '{"fields": ');
    expect(malformed.status).toBe(400);
    const notAnObject = await api('POST', '/alice/manual/ask-access', tokens.erin, { fields: 'yes' });
    expect(notAnObject.status).toBe(400);
    const anonymous = await api('POST', '/alice/manual/ask-access', undefined, { fields: GOOD_FIELDS });
    expect(anonymous.status).toBe(401);
    const notGated = await ask('alice/open', 'erin');
    expect(notGated.status).toBe(400);
    expect((await notGated.json()).error).toMatch(/not gated/);
    for (const status of ['pending', 'accepted', 'rejected']) {
      expect((await list('alice/manual', status)).map((r) => r.user.user)).not.toContain('erin');
    }
  });

  it('only writers with a write token review requests; bad reviews change nothing', async () => {
    await ask('alice/manual', 'erin');
    const before = await Promise.all(['pending', 'accepted', 'rejected'].map((s) => names('alice/manual', s)));

    const stranger = await handle('alice/manual', 'carol', { user: 'erin', status: 'accepted' });
    expect(stranger.status).toBe(403);
    const strangerGrant = await api('POST', '/api/models/alice/manual/user-access-request/grant', tokens.carol, { user: 'carol' });
    expect(strangerGrant.status).toBe(403);
    const strangerList = await api('GET', '/api/models/alice/manual/user-access-request/pending', tokens.carol);
    expect(strangerList.status).toBe(403);
    const readToken = await handle('alice/manual', 'aliceRead', { user: 'erin', status: 'accepted' });
    expect(readToken.status).toBe(403);
    expect((await readToken.json()).error).toMatch(/read role/);
    const anonymous = await api('POST', '/api/models/alice/manual/user-access-request/handle', undefined, { user: 'erin', status: 'accepted' });
    expect(anonymous.status).toBe(401);
    const badToken = await api('POST', '/api/models/alice/manual/user-access-request/handle', `hf_${'Z'.repeat(43)}`, { user: 'erin', status: 'accepted' });
    expect(badToken.status).toBe(401);
    expect(badToken.headers.get('x-error-message')).toBe('Invalid credentials in Authorization header');

    const longReason = await handle('alice/manual', 'alice', { user: 'erin', status: 'rejected', rejectionReason: 'r'.repeat(201) });
    expect(longReason.status).toBe(400);
    expect((await longReason.json()).error).toMatch(/at most 200/);
    const reasonOnAccept = await handle('alice/manual', 'alice', { user: 'erin', status: 'accepted', rejectionReason: 'no' });
    expect(reasonOnAccept.status).toBe(400);
    const badStatus = await handle('alice/manual', 'alice', { user: 'erin', status: 'maybe' });
    expect(badStatus.status).toBe(400);
    const unknownKey = await handle('alice/manual', 'alice', { user: 'erin', status: 'accepted', extra: 1 });
    expect(unknownKey.status).toBe(400);
    const noSuchUser = await handle('alice/manual', 'alice', { user: 'nobody', status: 'accepted' });
    expect(noSuchUser.status).toBe(404);
    const neverAsked = await handle('alice/manual', 'alice', { user: 'carol', status: 'accepted' });
    expect(neverAsked.status).toBe(404);
    expect((await neverAsked.json()).error).toMatch(/use grant/);
    const notGated = await api('POST', '/api/models/alice/open/user-access-request/grant', tokens.alice, { user: 'erin' });
    expect(notGated.status).toBe(400);

    const after = await Promise.all(['pending', 'accepted', 'rejected'].map((s) => names('alice/manual', s)));
    expect(after).toEqual(before);
  });

  it('pages the lists with a Link header', async () => {
    for (const user of ['carol', 'erin']) {
      expect((await api('POST', '/api/models/alice/manual/user-access-request/grant', tokens.alice, { user })).status).toBe(200);
    }
    const first = await api('GET', '/api/models/alice/manual/user-access-request/accepted?limit=1', tokens.alice);
    const link = first.headers.get('link');
    expect(link).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/api\/models\/alice\/manual\/user-access-request\/accepted\?cursor=[^>]+>; rel="next"$/);
    const seen = (await first.json()).map((r: { user: { user: string } }) => r.user.user);
    let next: string | null = link!.slice(1, link!.indexOf('>'));
    while (next) {
      const page = await api('GET', new URL(next).pathname + new URL(next).search, tokens.alice);
      seen.push(...(await page.json()).map((r: { user: { user: string } }) => r.user.user));
      const l = page.headers.get('link');
      next = l ? l.slice(1, l.indexOf('>')) : null;
    }
    expect(seen.sort()).toEqual(await names('alice/manual', 'accepted'));
    expect(seen).toHaveLength(3);
    expect((await api('GET', '/api/models/alice/manual/user-access-request/accepted?cursor=garbage', tokens.alice)).status).toBe(400);
  });

  it('settings: writers turn gating and privacy on and off; others cannot', async () => {
    const put = (who: string, body: unknown) => api('PUT', '/api/models/alice/open/settings', tokens[who], body);
    const on = await put('alice', { gated: 'manual' });
    expect(on.status).toBe(200);
    expect(await on.json()).toMatchObject({ gated: 'manual', private: false });
    expect((await put('alice', { gated: false, private: true })).status).toBe(200);
    // Private now: others are told it does not exist.
    expect((await put('bob', { gated: 'auto' })).status).toBe(404);
    expect((await api('PUT', '/api/models/alice/open/settings', tokens.aliceRead, { gated: 'auto' })).status).toBe(403);
    expect((await put('alice', { gated: 'sometimes' })).status).toBe(400);
    expect((await put('alice', { private: 'yes' })).status).toBe(400);
    expect((await put('alice', { notificationsEmail: 'not an email' })).status).toBe(400);
    const back = await put('alice', { private: false });
    expect(await back.json()).toMatchObject({ gated: false, private: false });
    expect((await hub.cli(['repo', 'gate', 'alice/open', 'auto'])).code).toBe(0);
    expect(await (await put('alice', {})).json()).toMatchObject({ gated: 'auto' });
  });
});
