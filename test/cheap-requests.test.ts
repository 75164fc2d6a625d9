// The requests every client sends many of, made cheap without changing their answers: LFS batches
// of 1,000 objects (one query each way), presigned URLs signed for a whole batch at once (checked
// against s3rver by sending and fetching the bytes through them), the protocol v2 info/refs answer
// kept per repo, and access decided afresh on every request (a revocation stops the next one).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, run, startHubgate } from './helpers/hubgate.js';
import { lfsClient, type LfsObject, randomObject } from './helpers/lfs-client.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

/** The signature the AWS SDK's presigner gives the request of a presigned URL (s3rver's fixed credentials, its date and expiry). */
async function sdkSignature(href: string, method: 'GET' | 'PUT', headers: Record<string, string> = {}): Promise<string> {
  const u = new URL(href);
  const p = u.searchParams;
  const query = Object.fromEntries([...p].filter(([k]) => !k.startsWith('X-Amz-')));
  const d = p.get('X-Amz-Date')!;
  const signingDate = new Date(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`);
  const client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  const presigner = new S3RequestPresigner({ ...client.config, signingName: 's3', region: async () => 'us-east-1' });
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const names = new Set(Object.keys(lower));
  const signed = await presigner.presign(
    { method, protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: u.pathname, query, headers: { host: u.host, ...lower } },
    { expiresIn: Number(p.get('X-Amz-Expires')), signingDate, signableHeaders: names, unhoistableHeaders: new Set(names), signingRegion: 'us-east-1', signingService: 's3' },
  );
  return String(signed.query?.['X-Amz-Signature']);
}

const randomOid = () => crypto.randomBytes(32).toString('hex');

/** Uploads the objects to the repo (batch, PUT, verify), 8 at a time. */
async function uploadAll(client: ReturnType<typeof lfsClient>, objects: LfsObject[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < objects.length) await client.upload(objects[next++]);
  }));
}

describe('LFS batches of 1,000 objects (fs store)', () => {
  let hub: Hubgate;
  let token: string;
  let a: ReturnType<typeof lfsClient>;
  let b: ReturnType<typeof lfsClient>;
  /** Linked to alice/a. */
  const mine = Array.from({ length: 20 }, () => randomObject(100 + crypto.randomInt(400)));
  /** Stored, but linked to alice/b only. */
  const theirs = Array.from({ length: 10 }, () => randomObject(100 + crypto.randomInt(400)));

  beforeAll(async () => {
    hub = await startHubgate();
    token = await hub.userWithToken('alice');
    for (const repo of ['alice/a', 'alice/b']) expect((await hub.cli(['repo', 'create', repo])).code).toBe(0);
    a = lfsClient(hub, token, 'alice/a');
    b = lfsClient(hub, token, 'alice/b');
    await uploadAll(a, mine);
    await uploadAll(b, theirs);
  }, 120_000);
  afterAll(async () => {
    await hub?.stop();
  });

  it('a download batch of 1,000 answers each object in order: links for the repo\'s own, 404 for others\' and unknown ones', async () => {
    const unknown = Array.from({ length: 1000 - mine.length - theirs.length }, () => ({ oid: randomOid(), size: 10 }));
    const asked = [...unknown.slice(0, 500), ...mine, ...theirs, ...unknown.slice(500)].map(({ oid, size }) => ({ oid, size }));
    const r = await a.batch('download', asked);
    expect(r.status).toBe(200);
    const objects: any[] = r.json.objects;
    expect(objects.map((o) => o.oid)).toEqual(asked.map((o) => o.oid));
    const ownOids = new Set(mine.map((o) => o.oid));
    for (const o of objects) {
      if (ownOids.has(o.oid)) {
        expect(o.error).toBeUndefined();
        expect(o.size).toBe(mine.find((m) => m.oid === o.oid)!.size);
        expect(o.actions.download.href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/alice\/a\.git\/info\/lfs\/objects\//);
      } else {
        // An object another repo holds is not this repo's to hand out.
        expect(o.error).toEqual({ code: 404, message: 'Object does not exist' });
        expect(o.actions).toBeUndefined();
      }
    }
    expect(objects.filter((o) => o.actions).length).toBe(mine.length);
    // The links work and give the bytes.
    expect(await a.downloadableIntact(mine)).toEqual(mine.map((m) => m.oid));
  });

  it('an upload batch of 1,000 asks only for what the repo lacks, each with its own upload', async () => {
    const unknown = Array.from({ length: 1000 - mine.length - theirs.length - 1 }, () => ({ oid: randomOid(), size: 10 + crypto.randomInt(1000) }));
    const wrongSize = { oid: mine[0].oid, size: mine[0].size + 1 };
    const asked = [wrongSize, ...mine.slice(1), ...theirs, ...unknown].map(({ oid, size }) => ({ oid, size }));
    const r = await a.batch('upload', asked);
    expect(r.status).toBe(200);
    const objects: any[] = r.json.objects;
    expect(objects.map((o) => o.oid)).toEqual(asked.map((o) => o.oid));
    expect(objects[0].error.code).toBe(422);
    // Already linked to the repo: nothing to send.
    for (const o of objects.slice(1, mine.length)) expect(o).toEqual({ oid: o.oid, size: asked.find((x) => x.oid === o.oid)!.size });
    // Stored for another repo: this repo still needs an upload of it; so does every unknown object.
    const needed = objects.slice(mine.length);
    expect(needed).toHaveLength(theirs.length + unknown.length);
    for (const o of needed) {
      expect(o.actions.upload.href).toMatch(/\/alice\/a\.git\/info\/lfs\/objects\//);
      expect(o.actions.verify.href).toMatch(/\/alice\/a\.git\/info\/lfs\/objects\/verify\?token=/);
    }
    expect(new Set(needed.map((o) => o.actions.upload.href)).size).toBe(needed.length);
    expect(new Set(needed.map((o) => o.actions.verify.href)).size).toBe(needed.length);
    // One of them sent through its actions becomes the repo's.
    const first = needed[0];
    const obj = theirs.find((t) => t.oid === first.oid)!;
    expect((await a.put(first.actions.upload, obj.bytes)).status).toBe(200);
    expect((await a.verify(first.actions.verify, obj)).status).toBe(200);
    const after = await a.batch('download', [obj]);
    expect(after.json.objects[0].actions.download.href).toBeTruthy();
  });

  it('an upload\'s PUT and verify URLs share one signed token (one signature per object), good for that upload only', async () => {
    const [x, y] = [randomObject(300), randomObject(400)];
    const r = await a.batch('upload', [x, y]);
    expect(r.status).toBe(200);
    const [ox, oy] = r.json.objects as any[];
    const tokenOf = (href: string) => new URL(href).searchParams.get('token')!;
    expect(tokenOf(ox.actions.verify.href)).toBe(tokenOf(ox.actions.upload.href));
    expect(tokenOf(oy.actions.verify.href)).toBe(tokenOf(oy.actions.upload.href));
    expect(tokenOf(ox.actions.upload.href)).not.toBe(tokenOf(oy.actions.upload.href));
    const withToken = (action: { href: string; header?: Record<string, string> }, token: string) => {
      const u = new URL(action.href);
      u.searchParams.set('token', token);
      return { ...action, href: u.href };
    };
    // x's token on y's URLs: refused, it names x's upload.
    expect((await a.put(withToken(oy.actions.upload, tokenOf(ox.actions.upload.href)), y.bytes)).status).toBe(401);
    expect((await a.verify(withToken(oy.actions.verify, tokenOf(ox.actions.upload.href)), y)).status).toBe(404);
    // A download link's token neither uploads nor verifies.
    const down = await a.batch('download', [mine[1]]);
    const getToken = tokenOf(down.json.objects[0].actions.download.href);
    expect((await a.put(withToken(ox.actions.upload, getToken), x.bytes)).status).toBe(401);
    expect((await a.verify(withToken(ox.actions.verify, getToken), x)).status).toBe(401);
    // Each through its own: stored and linked.
    for (const [o, obj] of [[ox, x], [oy, y]] as const) {
      expect((await a.put(o.actions.upload, obj.bytes)).status).toBe(200);
      expect((await a.verify(o.actions.verify, obj)).status).toBe(200);
    }
    expect(await a.downloadableIntact([x, y])).toEqual([x.oid, y.oid]);
  });
});

describe('presigned URLs of one batch (s3rver)', () => {
  let s3: S3rverHandle;
  let hub: Hubgate;
  let token: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    hub = await startHubgate({ env: s3.env });
    token = await hub.userWithToken('alice');
    expect((await hub.cli(['repo', 'create', 'alice/s3'])).code).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  it('every URL of a batch works: the bytes go up and come back through them', async () => {
    const client = lfsClient(hub, token, 'alice/s3');
    const objects = Array.from({ length: 40 }, () => randomObject(200 + crypto.randomInt(2000)));
    const up = await client.batch('upload', objects);
    expect(up.status).toBe(200);
    const dates = new Set<string>();
    for (const [i, o] of (up.json.objects as any[]).entries()) {
      const url = new URL(o.actions.upload.href);
      dates.add(url.searchParams.get('X-Amz-Date')!);
      expect(url.pathname).toMatch(/\/lfs\/staging\//);
      const put = await client.put(o.actions.upload, objects[i].bytes);
      expect(put.status, put.text).toBe(200);
      const v = await client.verify(o.actions.verify, objects[i]);
      expect(v.status, v.text).toBe(200);
    }
    // Signed for the batch at once: one date (and signing key) for all.
    expect(dates.size).toBe(1);

    const down = await client.batch('download', objects);
    expect(down.status).toBe(200);
    const downDates = new Set<string>();
    for (const [i, o] of (down.json.objects as any[]).entries()) {
      const url = new URL(o.actions.download.href);
      downDates.add(url.searchParams.get('X-Amz-Date')!);
      const res = await fetch(o.actions.download.href);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(objects[i].bytes)).toBe(true);
    }
    expect(downDates.size).toBe(1);

    // s3rver does not check SigV4 signatures: each is checked here against the AWS SDK's own
    // presigner, for the same request at the URL's date (a signature for another key or date differs).
    for (const o of [...(up.json.objects as any[]), ...(down.json.objects as any[])]) {
      const action = o.actions.upload ?? o.actions.download;
      expect(new URL(action.href).searchParams.get('X-Amz-Signature')).toBe(await sdkSignature(action.href, o.actions.upload ? 'PUT' : 'GET'));
    }
  });

  it('git-lfs clients get URLs signed over their checksum header, each valid', async () => {
    const objects = Array.from({ length: 5 }, () => randomObject(300));
    const res = await fetch(`${hub.url}/alice/s3.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.git-lfs+json', Accept: 'application/vnd.git-lfs+json', 'User-Agent': 'git-lfs/3.3.0' },
      body: JSON.stringify({ operation: 'upload', transfers: ['basic'], objects: objects.map(({ oid, size }) => ({ oid, size })) }),
    });
    const client = lfsClient(hub, token, 'alice/s3');
    for (const [i, o] of ((await res.json()) as any).objects.entries()) {
      expect(o.actions.upload.header['x-amz-checksum-sha256']).toBe(Buffer.from(objects[i].oid, 'hex').toString('base64'));
      expect(new URL(o.actions.upload.href).searchParams.get('X-Amz-Signature')).toBe(await sdkSignature(o.actions.upload.href, 'PUT', o.actions.upload.header));
      expect((await client.put(o.actions.upload, objects[i].bytes)).status).toBe(200);
      expect((await client.verify(o.actions.verify, objects[i])).status).toBe(200);
    }
    expect(await client.downloadableIntact(objects)).toEqual(objects.map((o) => o.oid));
  });
});

describe('access decided afresh on every request', () => {
  let hub: Hubgate;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    hub = await startHubgate();
    for (const who of ['alice', 'bob', 'carol']) tokens[who] = await hub.userWithToken(who);
    expect((await hub.cli(['org', 'create', 'lab'])).code).toBe(0);
    expect((await hub.cli(['org', 'add', 'lab', 'carol', '--role', 'read'])).code).toBe(0);
    for (const repo of ['alice/pub', 'alice/gated', 'lab/private']) expect((await hub.cli(['repo', 'create', repo])).code).toBe(0);
    expect((await hub.cli(['repo', 'set', 'lab/private', '--private'])).code).toBe(0);
    expect((await hub.cli(['repo', 'gate', 'alice/gated', 'manual'])).code).toBe(0);
    await hub.pushFiles('alice/gated', tokens.alice, { 'weights.txt': 'w\n' });
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
  });

  const infoRefs = (repo: string, token: string) =>
    fetch(`${hub.url}/${repo}.git/info/refs?service=git-upload-pack`, { headers: { Authorization: `Bearer ${token}`, 'Git-Protocol': 'version=2' } });
  const headResolve = (repo: string, token: string) => fetch(`${hub.url}/${repo}/resolve/main/weights.txt`, { method: 'HEAD', headers: { Authorization: `Bearer ${token}` } });

  it('a push is seen by the next download: the revision is resolved afresh, the file read at the commit it names', async () => {
    const url = (rev: string) => `${hub.url}/alice/pub/resolve/${rev}/notes.txt`;
    const c1 = await hub.pushFiles('alice/pub', tokens.alice, { 'notes.txt': 'one\n' });
    const first = await fetch(url('main'));
    expect(first.headers.get('x-repo-commit')).toBe(c1);
    expect(await first.text()).toBe('one\n');
    const c2 = await hub.pushFiles('alice/pub', tokens.alice, { 'notes.txt': 'two, longer\n' });
    const head = await fetch(url('main'), { method: 'HEAD' });
    expect(head.headers.get('x-repo-commit')).toBe(c2);
    expect(head.headers.get('content-length')).toBe(String('two, longer\n'.length));
    expect(await (await fetch(url('main'))).text()).toBe('two, longer\n');
    // The first commit still has its own file; a path it lacks is missing at it.
    expect(await (await fetch(url(c1))).text()).toBe('one\n');
    expect((await fetch(`${hub.url}/alice/pub/resolve/${c1}/later.txt`, { method: 'HEAD' })).status).toBe(404);
    await hub.pushFiles('alice/pub', tokens.alice, { 'later.txt': 'now here\n' });
    expect(await (await fetch(`${hub.url}/alice/pub/resolve/main/later.txt`)).text()).toBe('now here\n');
  });

  it('a revoked token is refused at its next request', async () => {
    const extra = (await hub.cli(['token', 'create', 'bob', '--role', 'read', '--name', 'short-lived'])).stdout.trim();
    for (let i = 0; i < 3; i++) expect((await infoRefs('alice/pub', extra)).status).toBe(200);
    const id = (await hub.cli(['token', 'list', 'bob'])).stdout.split('\n').find((l) => l.endsWith('\tshort-lived'))!.split('\t')[0];
    expect((await hub.cli(['token', 'revoke', id])).code).toBe(0);
    expect((await infoRefs('alice/pub', extra)).status).toBe(401);
  });

  it('a member removed from the organization loses its private repo at once', async () => {
    expect((await infoRefs('lab/private', tokens.carol)).status).toBe(200);
    expect((await hub.cli(['org', 'remove', 'lab', 'carol'])).code).toBe(0);
    expect((await infoRefs('lab/private', tokens.carol)).status).toBe(404);
  });

  it('a rejected access request stops the next download of a gated file', async () => {
    const grant = await fetch(`${hub.url}/api/models/alice/gated/user-access-request/grant`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.alice}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'bob' }),
    });
    expect(grant.status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await headResolve('alice/gated', tokens.bob)).status).toBe(200);
    const reject = await fetch(`${hub.url}/api/models/alice/gated/user-access-request/handle`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.alice}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'bob', status: 'rejected' }),
    });
    expect(reject.status).toBe(200);
    expect((await headResolve('alice/gated', tokens.bob)).status).toBe(403);
    expect((await infoRefs('alice/gated', tokens.bob)).status).toBe(403);
  });
});

describe('the protocol v2 info/refs answer', () => {
  let hub: Hubgate;
  let token: string;

  beforeAll(async () => {
    hub = await startHubgate();
    token = await hub.userWithToken('alice');
    expect((await hub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
    await hub.pushFiles('alice/m', token, { 'a.txt': 'a\n' });
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
  });

  const v2 = async () => {
    const res = await fetch(`${hub.url}/alice/m.git/info/refs?service=git-upload-pack`, { headers: { Authorization: `Bearer ${token}`, 'Git-Protocol': 'version=2' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-git-upload-pack-advertisement');
    return Buffer.from(await res.arrayBuffer()).toString('latin1');
  };

  it('is what git itself answers, and follows a change of the repo config', async () => {
    const first = await v2();
    expect(first).toMatch(/^000eversion 2\n/);
    expect(first).toMatch(/ls-refs/);
    expect(first.endsWith('0000')).toBe(true);
    expect(await v2()).toBe(first);
    // The same capabilities git prints for the repo, under hubgate's own settings.
    const dir = hub.repoDir('alice/m');
    const env = { GIT_PROTOCOL: 'version=2', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'uploadpack.allowFilter', GIT_CONFIG_VALUE_0: 'true', PATH: process.env.PATH };
    const own = await run('git', ['upload-pack', '--stateless-rpc', '--advertise-refs', dir], { env });
    expect(first).toBe(own.stdout);
    // A setting in the repo's config that changes the capabilities shows at the next request.
    expect(first).not.toMatch(/session-id/);
    expect((await run('git', ['config', '--file', path.join(dir, 'config'), 'transfer.advertiseSID', 'true'])).code).toBe(0);
    expect(await v2()).toMatch(/session-id=/);
    expect(fs.existsSync(dir)).toBe(true);
  });

  it('git ls-remote over v2 lists the refs', async () => {
    const r = await hub.git(['-c', 'protocol.version=2', 'ls-remote', hub.remote('alice/m', token)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{40}\tHEAD\n[0-9a-f]{40}\trefs\/heads\/main\n$/);
  });
});
