// /settings/keys over plain HTTP: the signed-in user's SSH keys listed with title, fingerprint,
// added and last used; adding one (refusals shown on the page, a private key never echoed back),
// removing one; CSRF on every form; user text rendered inert.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../src/services/database.ts';
import { userOfSshKey } from '../src/services/ssh-keys.ts';
import { Browser } from './helpers/browser.js';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { type GeneratedKey, generateKey } from './helpers/ssh-keys.js';

let hub: Hubgate;
let ed: GeneratedKey;
let rsa: GeneratedKey;
const PAGE = '/settings/keys';

async function signedIn(name: string): Promise<Browser> {
  const b = new Browser(hub.url);
  expect((await b.signIn(name, `${name}-password1`)).status).toBe(303);
  return b;
}

/** The rows of the page's key table: [id, title cell, fingerprint cell, added, last used]. */
function rows(page: string): string[][] {
  return [...page.matchAll(/<tr data-key="(\d+)">\s*<td>(.*?)<\/td><td>(.*?)<\/td><td>(.*?)<\/td>\s*<td>(.*?)<\/td>/gs)].map((m) => m.slice(1));
}

beforeAll(async () => {
  hub = await startHubgate();
  for (const name of ['alice', 'bob']) {
    const made = await hub.cli(['user', 'create', name, '--password-stdin'], `${name}-password1\n`);
    expect(made.code, made.stderr).toBe(0);
  }
  [ed, rsa] = await Promise.all([generateKey('ed25519'), generateKey('rsa', 3072)]);
});
afterAll(async () => {
  await hub?.stop();
});

describe('/settings/keys', () => {
  it('sends anyone not signed in to the sign-in page, and back', async () => {
    const r = await new Browser(hub.url).get(PAGE);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(`/login?next=${encodeURIComponent(PAGE)}`);
  });

  it('adds a key with a title that renders inert, lists it with its fingerprint and times, linked from the header', async () => {
    const alice = await signedIn('alice');
    const empty = await (await alice.get(PAGE)).text();
    expect(empty).toContain('You have no SSH keys yet.');
    expect(empty).toContain('<a href="/settings/keys">SSH keys</a>');
    const csrf = await alice.csrf(PAGE);
    const added = await alice.post(PAGE, { csrf, title: '<script>alert(1)</script> & "laptop"', key: ed.pub });
    expect(added.status).toBe(303);
    expect(added.headers.get('location')).toBe(`${PAGE}?done=added`);
    const page = await (await alice.get(`${PAGE}?done=added`)).text();
    expect(page).toContain('SSH key added');
    expect(page).not.toContain('<script>alert(1)</script>');
    const [row] = rows(page);
    expect(row[1]).toBe('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;laptop&quot;');
    expect(row[2]).toContain(`<code>${ed.fingerprint}</code>`);
    expect(row[2]).toContain('ssh-ed25519');
    expect(Date.now() - Date.parse(`${row[3].replace(' ', 'T')}`)).toBeLessThan(60_000);
    expect(row[4]).toContain('never');
    // Once the SSH server has seen it, its last use shows.
    await withDatabase({ dataDir: hub.dataDir, databaseUrl: hub.databaseUrl }, (db) => userOfSshKey(db, Buffer.from(ed.pub.split(' ')[1], 'base64')));
    const used = rows(await (await alice.get(PAGE)).text())[0];
    expect(used[4]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    // The key's comment is the title when none is given.
    expect((await alice.post(PAGE, { csrf, title: '', key: rsa.pub })).status).toBe(303);
    expect(rows(await (await alice.get(PAGE)).text()).map((r) => r[1])).toStrictEqual([row[1], 'rsa3072@test']);
  });

  it('shows refusals on the page with the form kept, never a private key', async () => {
    const bob = await signedIn('bob');
    const csrf = await bob.csrf(PAGE);
    const taken = await bob.post(PAGE, { csrf, title: 'mine', key: ed.pub });
    expect(taken.status).toBe(409);
    const takenPage = await taken.text();
    expect(takenPage).toContain('already in use by another account');
    expect(takenPage).toContain(ed.pub.trim());
    expect(takenPage).toContain('value="mine"');

    const secret = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
    const privateKey = await bob.post(PAGE, { csrf, title: 'oops', key: secret });
    expect(privateKey.status).toBe(400);
    const privatePage = await privateKey.text();
    expect(privatePage).toContain('this is a PRIVATE key');
    expect(privatePage).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
    expect(rows(await (await bob.get(PAGE)).text())).toStrictEqual([]);
  });

  it('refuses forms without the session’s CSRF token, changing nothing', async () => {
    const alice = await signedIn('alice');
    const [row] = rows(await (await alice.get(PAGE)).text());
    expect((await alice.post(PAGE, { csrf: 'forged', title: 't', key: (await generateKey('ed25519')).pub })).status).toBe(403);
    expect((await alice.post(`${PAGE}/${row[0]}/remove`, { csrf: 'forged' })).status).toBe(403);
    expect(rows(await (await alice.get(PAGE)).text())).toHaveLength(2);
  });

  it('removes the user’s own key; another user’s key id is the 404 page', async () => {
    const alice = await signedIn('alice');
    const bob = await signedIn('bob');
    const [first, second] = rows(await (await alice.get(PAGE)).text());
    const bobs = await bob.post(`${PAGE}/${first[0]}/remove`, { csrf: await bob.csrf(PAGE) });
    expect(bobs.status).toBe(404);
    expect(await bobs.text()).toContain('You have no SSH key with this id');
    const csrf = await alice.csrf(PAGE);
    const removed = await alice.post(`${PAGE}/${first[0]}/remove`, { csrf });
    expect(removed.status).toBe(303);
    expect(removed.headers.get('location')).toBe(`${PAGE}?done=removed`);
    const page = await (await alice.get(`${PAGE}?done=removed`)).text();
    expect(page).toContain('SSH key removed');
    expect(rows(page).map((r) => r[0])).toStrictEqual([second[0]]);
    expect(await withDatabase({ dataDir: hub.dataDir, databaseUrl: hub.databaseUrl }, (db) => userOfSshKey(db, Buffer.from(ed.pub.split(' ')[1], 'base64')))).toBeUndefined();
    expect((await alice.post(`${PAGE}/${first[0]}/remove`, { csrf })).status).toBe(404);
  });
});
