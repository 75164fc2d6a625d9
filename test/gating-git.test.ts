// Gates enforced where files leave (issue 4 item 5), through real git and git-lfs: refused, asked,
// pending, accepted (clone with LFS works), rejected (refused with the reason), cancelled (pending).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';

const LFS = 'application/vnd.git-lfs+json';

describe.each(DATABASES)('gated repos: git and git-lfs, on %s', (db) => {
  let hub: Hubgate;
  let alice: string;
  let bob: string;
  let writer: string;
  const weights = crypto.randomBytes(1024 * 1024 + 7);
  const oid = crypto.createHash('sha256').update(weights).digest('hex');

  const clone = async (repo: string, token?: string) => {
    const dir = tempDir();
    const r = await hub.git(['clone', hub.remote(repo, token), '.'], { cwd: dir });
    return { ...r, dir };
  };
  const handle = (body: unknown) =>
    fetch(`${hub.url}/api/models/acme/weights/user-access-request/handle`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  const batchDownload = (token: string | undefined) =>
    fetch(`${hub.url}/acme/weights.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { Accept: LFS, 'Content-Type': LFS, ...(token ? { Authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` } : {}) },
      body: JSON.stringify({ operation: 'download', transfers: ['basic'], objects: [{ oid, size: weights.length }] }),
    });

  beforeAll(async () => {
    hub = await startHubgate({ db });
    alice = await hub.userWithToken('alice');
    bob = await hub.userWithToken('bob');
    writer = await hub.userWithToken('wendy');
    expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
    expect((await hub.cli(['org', 'create', 'acme'])).code).toBe(0);
    expect((await hub.cli(['org', 'add', 'acme', 'alice', '--role', 'admin'])).code).toBe(0);
    expect((await hub.cli(['org', 'add', 'acme', 'wendy', '--role', 'write'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'acme/weights', '--gated', 'manual'])).code).toBe(0);
    // An org writer pushes the weights: owners and writers are never gated.
    const work = await clone('acme/weights', writer);
    expect(work.code, work.stderr).toBe(0);
    fs.writeFileSync(path.join(work.dir, 'model.safetensors'), weights);
    fs.writeFileSync(path.join(work.dir, 'README.md'), '# weights\n');
    expect((await hub.git(['add', '.'], { cwd: work.dir })).code).toBe(0);
    expect((await hub.git(['commit', '-m', 'weights'], { cwd: work.dir })).code).toBe(0);
    const push = await hub.git(['push', 'origin', 'main'], { cwd: work.dir });
    expect(push.code, push.stderr).toBe(0);
  });
  afterAll(() => hub.stop());

  it('anonymous callers get a 401 that says the repo is gated', async () => {
    const res = await fetch(`${hub.url}/acme/weights/info/refs?service=git-upload-pack`);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-error-code')).toBe('GatedRepo');
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="hubgate"');
    expect(await res.text()).toMatch(/gated repository/);
    expect((await batchDownload(undefined)).status).toBe(401);
  });

  it('goes from refused to asked, pending, accepted, rejected with a reason, and cancelled', async () => {
    // Never asked: git prints where to ask.
    const refused = await clone('acme/weights', bob);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`remote: Access to acme/weights is restricted: it is a gated repository. Visit ${hub.url}/acme/weights to ask for access.`);
    const lfsRefused = await batchDownload(bob);
    expect(lfsRefused.status).toBe(403);
    expect(lfsRefused.headers.get('x-error-code')).toBe('GatedRepo');

    const asked = await fetch(`${hub.url}/acme/weights/ask-access`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${bob}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ fields: {} }),
    });
    expect(asked.status, await asked.clone().text()).toBe(201);

    const pending = await clone('acme/weights', bob);
    expect(pending.code).not.toBe(0);
    expect(pending.stderr).toMatch(/remote: Access to acme\/weights is restricted: your request for access is awaiting a decision/);
    const lfsPending = await batchDownload(bob);
    expect(lfsPending.status).toBe(403);
    expect((await lfsPending.json()).message).toMatch(/awaiting a decision/);

    expect((await handle({ user: 'bob', status: 'accepted' })).status).toBe(200);
    const accepted = await clone('acme/weights', bob);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(fs.readFileSync(path.join(accepted.dir, 'model.safetensors')).equals(weights)).toBe(true);
    const granted = await batchDownload(bob);
    expect(granted.status).toBe(200);
    const link = ((await granted.json()) as { objects: { actions: { download: { href: string } } }[] }).objects[0].actions.download.href;
    const before = await fetch(link);
    expect(before.status).toBe(200);
    expect(Buffer.from(await before.arrayBuffer()).equals(weights)).toBe(true);

    // A rejection takes effect on the very next request, including fetches from an existing clone
    // and download links handed out while access was granted.
    expect((await handle({ user: 'bob', status: 'rejected', rejectionReason: 'Only for the ACME team' })).status).toBe(200);
    const fetchRejected = await hub.git(['fetch', 'origin'], { cwd: accepted.dir });
    expect(fetchRejected.code).not.toBe(0);
    expect(fetchRejected.stderr).toContain("remote: Access to acme/weights is restricted: your request for access was rejected by the repository's authors: Only for the ACME team");
    const linkRejected = await fetch(link);
    expect(linkRejected.status).toBe(403);
    expect(linkRejected.headers.get('x-error-code')).toBe('GatedRepo');
    expect(((await linkRejected.json()) as { message: string }).message).toMatch(/Only for the ACME team/);
    const lfsRejected = await batchDownload(bob);
    expect(lfsRejected.status).toBe(403);
    expect((await lfsRejected.json()).message).toMatch(/Only for the ACME team/);

    expect((await handle({ user: 'bob', status: 'pending' })).status).toBe(200);
    const cancelled = await hub.git(['fetch', 'origin'], { cwd: accepted.dir });
    expect(cancelled.code).not.toBe(0);
    expect(cancelled.stderr).toMatch(/awaiting a decision/);
  });

  it('never gates owners and writers, and gates nothing once gating is off', async () => {
    const admin = await clone('acme/weights', alice);
    expect(admin.code, admin.stderr).toBe(0);
    expect(fs.readFileSync(path.join(admin.dir, 'model.safetensors')).equals(weights)).toBe(true);
    expect((await hub.cli(['repo', 'gate', 'acme/weights', 'off'])).code).toBe(0);
    const open = await clone('acme/weights');
    expect(open.code, open.stderr).toBe(0);
    expect(fs.readFileSync(path.join(open.dir, 'model.safetensors')).equals(weights)).toBe(true);
    expect((await hub.cli(['repo', 'gate', 'acme/weights', 'manual'])).code).toBe(0);
    expect((await clone('acme/weights')).code).not.toBe(0);
  });
});
