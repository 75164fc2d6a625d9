// Offboarding end to end (issue 11 item 1 and its test): a user with a read and a write token, a
// web session, membership in an org with a private repo and an accepted request on a gated repo,
// plus download links already handed to them (an fs LFS link from a batch download and a
// resolve redirect), is disabled with `hubgate user disable` → real git, LFS batch, whoami, the
// page session and those links all refuse at the next request, while their own public repo still
// serves others; `user enable` → all works again (a new sign-in on the pages: disabling ended the
// sessions). Then deletion: refused while they own repos, with the reason; --transfer-to moves
// the repos (a clone at the new address works), --delete-repos removes them.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './helpers/browser.js';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { lfsClient, randomObject } from './helpers/lfs-client.js';

let hub: Hubgate;
const t: Record<string, string> = {};
const weights = randomObject(4096);
const gatedWeights = randomObject(5000);
let batchLink: string;
let resolveLink: string;
let page: Browser;

async function ok(args: string[], input?: string): Promise<string> {
  const r = await hub.cli(args, input);
  expect(r.code, `hubgate ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

const api = (method: string, urlPath: string, token?: string, body?: unknown) =>
  fetch(`${hub.url}${urlPath}`, {
    method,
    redirect: 'manual',
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Clones with real git; the result's exit code and stderr. */
async function clone(repo: string, token: string) {
  const r = await hub.git(['clone', '--quiet', hub.remote(repo, token), 'work']);
  return { code: r.code, stderr: r.stderr, dir: r.code === 0 ? 'work' : null };
}

/** Everything dave could do, each at its next request: true where it worked. */
async function whatDaveCanDo() {
  const batch = await lfsClient(hub, t.daveWrite, 'acme/private-model').batch('download', [weights]);
  const pageSession = await page.get('/settings/tokens');
  return {
    cloneOrgRepo: (await clone('acme/private-model', t.daveWrite)).code === 0,
    cloneGatedRepo: (await clone('alice/gated', t.daveRead)).code === 0,
    lfsBatch: batch.status === 200,
    whoamiRead: (await api('GET', '/api/whoami-v2', t.daveRead)).status === 200,
    whoamiWrite: (await api('GET', '/api/whoami-v2', t.daveWrite)).status === 200,
    pageSession: pageSession.status === 200,
    batchLink: (await fetch(batchLink)).status === 200,
    resolveLink: (await fetch(resolveLink)).status === 200,
  };
}
const ALL = { cloneOrgRepo: true, cloneGatedRepo: true, lfsBatch: true, whoamiRead: true, whoamiWrite: true, pageSession: true, batchLink: true, resolveLink: true };
const NONE = Object.fromEntries(Object.keys(ALL).map((k) => [k, false]));

beforeAll(async () => {
  hub = await startHubgate();
  for (const name of ['alice', 'dave', 'bob']) {
    await ok(['user', 'create', name, '--email', `${name}@example.com`, '--password-stdin'], `${name}-password1\n`);
  }
  t.alice = (await ok(['token', 'create', 'alice', '--role', 'write'])).trim();
  t.daveRead = (await ok(['token', 'create', 'dave', '--role', 'read', '--name', 'laptop'])).trim();
  t.daveWrite = (await ok(['token', 'create', 'dave', '--role', 'write', '--name', 'ci'])).trim();
  t.bob = (await ok(['token', 'create', 'bob', '--role', 'read'])).trim();
  await ok(['org', 'create', 'acme']);
  await ok(['org', 'add', 'acme', 'alice', '--role', 'admin']);
  await ok(['org', 'add', 'acme', 'dave', '--role', 'write']);
  await ok(['repo', 'create', 'acme/private-model', '--private']);
  await ok(['repo', 'create', 'alice/gated', '--gated', 'manual']);
  await ok(['repo', 'create', 'dave/own']);
  await hub.pushFiles('dave/own', t.daveWrite, { 'README.md': '# dave\'s model\n' });

  // LFS files in the org's private repo and in the gated repo.
  for (const [repo, obj] of [['acme/private-model', weights], ['alice/gated', gatedWeights]] as const) {
    const lfs = lfsClient(hub, t.alice, repo);
    await lfs.upload(obj);
    const committed = await lfs.commitLfsFile(obj, 'weights.bin');
    expect(committed.status, committed.text).toBe(200);
  }

  // dave asks for the gated repo; alice accepts.
  expect((await api('POST', '/alice/gated/ask-access', t.daveWrite, { fields: {} })).status).toBe(201);
  const accepted = await api('POST', '/api/models/alice/gated/user-access-request/handle', t.alice, { user: 'dave', status: 'accepted' });
  expect(accepted.status, await accepted.text()).toBe(200);

  // A web session, and download links handed to dave while he could read.
  page = new Browser(hub.url);
  expect((await page.signIn('dave', 'dave-password1')).status).toBe(303);
  const batch = await lfsClient(hub, t.daveRead, 'acme/private-model').batch('download', [weights]);
  expect(batch.status, batch.text).toBe(200);
  batchLink = batch.json.objects[0].actions.download.href;
  const resolved = await api('GET', '/alice/gated/resolve/main/weights.bin', t.daveRead);
  expect(resolved.status).toBe(302);
  resolveLink = new URL(resolved.headers.get('location')!, hub.url).href;
  expect(resolveLink).toContain('/info/lfs/objects/');
}, 120_000);
afterAll(() => hub?.stop());

describe('offboarding', () => {
  it('before: every way in works', async () => {
    expect(await whatDaveCanDo()).toStrictEqual(ALL);
    expect(await page.signedInAs('dave')).toBe(true);
  }, 60_000);

  it('disabled: git, LFS, the API, the page session and issued links all refuse; his repo still serves others', async () => {
    expect(await ok(['user', 'disable', 'dave'])).toBe('disabled user dave\n');
    expect(await whatDaveCanDo()).toStrictEqual(NONE);

    // As a revoked token: 401 with the clients' exact message.
    const whoami = await api('GET', '/api/whoami-v2', t.daveWrite);
    expect(whoami.status).toBe(401);
    expect(whoami.headers.get('x-error-message')).toBe('Invalid credentials in Authorization header');
    const cloned = await clone('acme/private-model', t.daveWrite);
    expect(cloned.stderr).toMatch(/Authentication failed|401/);
    expect((await lfsClient(hub, t.daveRead, 'alice/gated').batch('download', [gatedWeights])).status).toBe(401);
    expect((await fetch(batchLink)).status).toBe(401);
    expect((await fetch(resolveLink)).status).toBe(401);

    // Signed out of the pages; signing in answers exactly as a wrong password does.
    expect(await page.signedInAs('dave')).toBe(false);
    const tokensPage = await page.get('/settings/tokens');
    expect(tokensPage.status).toBe(303);
    expect(tokensPage.headers.get('location')).toMatch(/^\/login\?next=/);
    const right = new Browser(hub.url);
    const signIn = await right.signIn('dave', 'dave-password1');
    const wrong = await new Browser(hub.url).signIn('dave', 'not-his-password');
    expect(signIn.status).toBe(401);
    expect(wrong.status).toBe(401);
    const strip = (s: string) => s.replace(/name="csrf" value="[^"]+"/g, '');
    expect(strip(await signIn.text())).toBe(strip(await wrong.text()));
    expect(right.cookies.has('hubgate_session')).toBe(false);

    // His repo serves others, anonymous or signed in; his membership is kept (granting nothing).
    const bobClone = await clone('dave/own', t.bob);
    expect(bobClone.code, bobClone.stderr).toBe(0);
    expect((await api('GET', '/api/models/dave/own')).status).toBe(200);
    expect((await api('GET', '/dave/own/resolve/main/README.md')).status).toBe(200);
    const db = new Database(path.join(hub.dataDir, 'hubgate.sqlite'), { readonly: true });
    try {
      expect(db.prepare("select count(*) as n from memberships m join accounts u on u.id = m.user_id where u.name = 'dave'").get()).toStrictEqual({ n: 1 });
      expect(db.prepare("select count(*) as n from tokens t join accounts u on u.id = t.user_id where u.name = 'dave' and t.revoked_at is null").get()).toStrictEqual({ n: 2 });
    } finally {
      db.close();
    }
  }, 120_000);

  it('enabled again: tokens, membership, the gate and the issued links work again; pages need a new sign-in', async () => {
    expect(await ok(['user', 'enable', 'dave'])).toBe('enabled user dave\n');
    const can = await whatDaveCanDo();
    expect(can).toStrictEqual({ ...ALL, pageSession: false });
    const me = (await (await api('GET', '/api/whoami-v2', t.daveRead)).json()) as { orgs: { name: string; roleInOrg: string }[] };
    expect(me.orgs).toStrictEqual([expect.objectContaining({ name: 'acme', roleInOrg: 'write' })]);
    expect((await page.signIn('dave', 'dave-password1')).status).toBe(303);
    expect(await page.signedInAs('dave')).toBe(true);
    expect((await page.get('/settings/tokens')).status).toBe(200);
  }, 120_000);
});

describe('deleting a user', () => {
  it('is refused while they own repos, with the reason and the repos', async () => {
    const r = await hub.cli(['user', 'delete', 'dave']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'hubgate: cannot delete user "dave": they own 1 repo (dave/own); transfer them to another user or organization (--transfer-to NS; "transferTo" in the API) or delete them (--delete-repos; "deleteRepos")\n',
    );
    const missing = await hub.cli(['user', 'delete', 'dave', '--transfer-to', 'nowhere']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no user or organization named "nowhere"');
    expect((await api('GET', '/api/whoami-v2', t.daveRead)).status).toBe(200);
    expect(fs.existsSync(hub.repoDir('dave/own'))).toBe(true);
  });

  it('--transfer-to moves the repos: a clone at the new address works, the old one is gone, so is the user', async () => {
    expect(await ok(['user', 'delete', 'dave', '--transfer-to', 'acme'])).toBe('moved acme/own\ndeleted user dave\n');
    const moved = await clone('acme/own', t.bob);
    expect(moved.code, moved.stderr).toBe(0);
    expect((await hub.git(['clone', '--quiet', hub.remote('dave/own', t.bob), 'w'])).code).not.toBe(0);
    expect(fs.existsSync(hub.repoDir('acme/own'))).toBe(true);
    expect(fs.existsSync(hub.repoDir('dave/own'))).toBe(false);
    expect((await api('GET', '/api/whoami-v2', t.daveRead)).status).toBe(401);
    expect((await ok(['user', 'list'])).split('\n').some((l) => l.startsWith('dave\t'))).toBe(false);
    // The org's admin can push to it.
    await hub.pushFiles('acme/own', t.alice, { 'NOTES.md': 'now ours\n' });
  }, 60_000);

  it('--delete-repos removes them', async () => {
    await ok(['user', 'create', 'erin']);
    await ok(['repo', 'create', 'erin/scratch']);
    await ok(['repo', 'create', 'erin/data', '--type', 'dataset']);
    expect(await ok(['user', 'delete', 'erin', '--delete-repos'])).toBe('deleted datasets/erin/data\ndeleted erin/scratch\ndeleted user erin\n');
    expect(fs.existsSync(hub.repoDir('erin/scratch'))).toBe(false);
    expect(fs.existsSync(hub.repoDir('datasets/erin/data'))).toBe(false);
    expect((await api('GET', '/api/models/erin/scratch', t.bob)).status).toBe(404);
  });
});
