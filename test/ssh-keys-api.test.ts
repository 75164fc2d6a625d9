// /api/settings/ssh-keys against a live server: the signed-in user lists (any token), adds and
// removes (a write token) their own SSH keys; what is refused, and with what message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { type GeneratedKey, generateKey } from './helpers/ssh-keys.js';

let hub: Hubgate;
let alice: string;
let aliceRead: string;
let bob: string;
let ed: GeneratedKey;
let ecdsa: GeneratedKey;

const KEYS = '/api/settings/ssh-keys';

async function call(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${hub.url}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: await r.json(), headers: r.headers };
}

beforeAll(async () => {
  hub = await startHubgate();
  alice = await hub.userWithToken('alice', 'write');
  aliceRead = await hub.userWithToken('alice', 'read');
  bob = await hub.userWithToken('bob', 'write');
  [ed, ecdsa] = await Promise.all([generateKey('ed25519', undefined, 'alice@laptop'), generateKey('ecdsa', 384)]);
});
afterAll(async () => {
  await hub?.stop();
});

describe('/api/settings/ssh-keys', () => {
  it('adds a key (201, the key as listed); the title defaults to the key comment', async () => {
    const added = await call('POST', KEYS, alice, { title: 'work laptop', key: ed.pub });
    expect(added.status, JSON.stringify(added.json)).toBe(201);
    expect(added.json).toMatchObject({ title: 'work laptop', algorithm: 'ssh-ed25519', fingerprint: ed.fingerprint, key: ed.pub.split(' ').slice(0, 2).join(' '), lastUsedAt: null });
    expect(Number.isInteger(added.json.id)).toBe(true);
    const second = await call('POST', KEYS, alice, { key: ecdsa.pub });
    expect(second.status).toBe(201);
    expect(second.json).toMatchObject({ title: 'ecdsa384@test', algorithm: 'ecdsa-sha2-nistp384', fingerprint: ecdsa.fingerprint });

    const listed = await call('GET', KEYS, aliceRead);
    expect(listed.status).toBe(200);
    expect(listed.json.map((k: any) => [k.id, k.title, k.fingerprint])).toStrictEqual([
      [added.json.id, 'work laptop', ed.fingerprint],
      [second.json.id, 'ecdsa384@test', ecdsa.fingerprint],
    ]);
    expect((await call('GET', KEYS, bob)).json).toStrictEqual([]);
  });

  it('refuses the same key for another user (409), bad keys and bodies (400) with messages', async () => {
    const taken = await call('POST', KEYS, bob, { title: 'x', key: ed.pub });
    expect(taken.status).toBe(409);
    expect(taken.json.error).toMatch(/already in use by another account/);
    expect(taken.headers.get('x-error-message')).toMatch(/already in use/);
    const small = await generateKey('rsa', 1024);
    expect(await call('POST', KEYS, bob, { title: 'x', key: small.pub })).toMatchObject({ status: 400, json: { error: expect.stringMatching(/1024 bits/) } });
    expect((await call('POST', KEYS, bob, { title: 'x', key: 'ssh-ed25519 AAAA' })).status).toBe(400);
    expect((await call('POST', KEYS, bob, { title: 'x' })).json.error).toMatch(/invalid SSH key: key: send the public key/);
    expect((await call('POST', KEYS, bob, { title: 'x', key: ed.pub, extra: 1 })).status).toBe(400);
    expect((await call('POST', KEYS, bob, '{not json')).json.error).toMatch(/malformed JSON/);
    const noTitle = await generateKey('ed25519', undefined, '');
    expect((await call('POST', KEYS, bob, { key: noTitle.pub })).json.error).toMatch(/needs a title/);
    expect((await call('GET', KEYS, bob)).json).toStrictEqual([]);
  });

  it('needs a token: 401 without or with a bad one; 403 for a read token on add and remove', async () => {
    const none = await call('GET', KEYS, undefined);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await call('GET', KEYS, 'hf_notarealtokennotarealtokennotarealtoken123')).status).toBe(401);
    const readAdd = await call('POST', KEYS, aliceRead, { title: 'x', key: ecdsa.pub });
    expect(readAdd.status).toBe(403);
    expect(readAdd.json.error).toMatch(/write role/);
    const [first] = (await call('GET', KEYS, alice)).json;
    expect((await call('DELETE', `${KEYS}/${first.id}`, aliceRead)).status).toBe(403);
    expect((await call('GET', KEYS, alice)).json).toHaveLength(2);
  });

  it('removes only the caller’s own keys: another user’s key is not found, as a missing one', async () => {
    const [first, second] = (await call('GET', KEYS, alice)).json;
    const bobs = await call('DELETE', `${KEYS}/${first.id}`, bob);
    expect(bobs.status).toBe(404);
    expect(bobs.json.error).toMatch(new RegExp(`no SSH key with id ${first.id}`));
    expect((await call('DELETE', `${KEYS}/abc`, alice)).status).toBe(400);
    expect(await call('DELETE', `${KEYS}/${first.id}`, alice)).toMatchObject({ status: 200, json: {} });
    expect((await call('DELETE', `${KEYS}/${first.id}`, alice)).status).toBe(404);
    expect((await call('GET', KEYS, alice)).json.map((k: any) => k.id)).toStrictEqual([second.id]);
    // The key is free for anyone now.
    expect((await call('POST', KEYS, bob, { title: 'mine now', key: ed.pub })).status).toBe(201);
    const audit = (await hub.cli(['audit', '--user', 'alice'])).stdout.split('\n').filter((l) => l.includes('ssh_key.'));
    expect(audit.map((l) => l.split(' ').slice(1, 4).join(' '))).toStrictEqual(['alice ssh_key.remove -', 'alice ssh_key.add -', 'alice ssh_key.add -']);
  });
});
