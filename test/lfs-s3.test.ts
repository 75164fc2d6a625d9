// Git LFS end to end with the s3 store: a real hubgate process configured for S3, s3rver on
// loopback as the bucket, and the real git / git-lfs clients. The LFS bytes go from git-lfs
// straight to the bucket through presigned URLs; hubgate only answers batch and verify.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, DATABASES, type Hubgate, run, type RunResult, startHubgate, tempDir, requestsLogged } from './helpers/hubgate.ts';
import { type S3rverHandle, startS3rver } from './helpers/s3.ts';

const MiB = 1024 ** 2;
const LFS_JSON = 'application/vnd.git-lfs+json';
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const checksumOf = (oid: string) => Buffer.from(oid, 'hex').toString('base64');
const objectKey = (oid: string) => `lfs/objects/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;

function ok(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}


/** Every file under `dir`. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe.each(DATABASES)('git lfs with the s3 store (s3rver), on %s', (db) => {
  let s3: S3rverHandle;
  let hub: Hubgate;
  let token: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    hub = await startHubgate({ db, env: { ...s3.env, HUBGATE_LFS_MULTIPART_THRESHOLD: String(12 * MiB), HUBGATE_LFS_MULTIPART_CHUNK: String(5 * MiB) } });
    token = await hub.userWithToken('alice');
    for (const repo of ['alice/weights', 'alice/corrupt', 'alice/big']) ok(await hub.cli(['repo', 'create', repo]), `repo create ${repo}`);
    // The tests' HOME has no git-lfs filters yet.
    ok(await hub.git(['lfs', 'install', '--skip-repo']), 'git lfs install');
  });
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  /** The batch API, as git-lfs calls it, with alice's token. */
  async function batch(repo: string, operation: 'upload' | 'download', objects: { oid: string; size: number }[]) {
    const res = await fetch(`${hub.url}/${repo}.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
        'Content-Type': LFS_JSON,
        Accept: LFS_JSON,
        'User-Agent': 'git-lfs/3.3.0 (GitHub; linux amd64; go 1.19.8)',
      },
      body: JSON.stringify({ operation, transfers: ['basic'], objects, hash_algo: 'sha256' }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as {
      transfer: string;
      objects: { oid: string; size: number; error?: { code: number; message: string }; actions?: Record<string, { href: string; header?: Record<string, string> }> }[];
    };
  }

  async function verify(action: { href: string; header?: Record<string, string> }, oid: string, size: number): Promise<Response> {
    return fetch(action.href, { method: 'POST', headers: { ...action.header, 'Content-Type': LFS_JSON, Accept: LFS_JSON }, body: JSON.stringify({ oid, size }) });
  }

  /** A clone of `repo` with a committed, LFS-tracked random file of `size` bytes. */
  async function cloneWithFile(repo: string, size: number): Promise<{ dir: string; bytes: Buffer }> {
    const dir = tempDir('hubgate-s3-push-');
    ok(await hub.git(['clone', hub.remote(repo, token), '.'], { cwd: dir }), 'clone');
    ok(await hub.git(['checkout', '-B', 'main'], { cwd: dir }), 'checkout');
    ok(await hub.git(['lfs', 'track', '*.bin'], { cwd: dir }), 'lfs track');
    const bytes = crypto.randomBytes(size);
    fs.writeFileSync(path.join(dir, 'model.bin'), bytes);
    ok(await hub.git(['add', '.gitattributes', 'model.bin'], { cwd: dir }), 'add');
    ok(await hub.git(['commit', '-q', '-m', 'weights'], { cwd: dir }), 'commit');
    return { dir, bytes };
  }

  it('pushes a 3 MB file straight into the bucket and a fresh clone gets the same bytes from it', async () => {
    const { dir, bytes } = await cloneWithFile('alice/weights', 3_000_000);
    const oid = sha256(bytes);
    const seen = s3.requests.length;
    ok(await hub.git(['push', 'origin', 'main'], { cwd: dir }), 'push');

    // git-lfs PUT the bytes to s3rver's staging key, sending the signed headers from the action.
    const puts = s3.requests.slice(seen).filter((r) => r.method === 'PUT' && r.url.startsWith(`/${s3.bucket}/lfs/staging/`));
    expect(puts).toHaveLength(1);
    expect(puts[0].headers['x-amz-checksum-sha256']).toBe(checksumOf(oid));
    expect(puts[0].headers['content-type']).toBe('application/octet-stream');
    expect(puts[0].headers['content-length']).toBe('3000000');
    expect(puts[0].headers.authorization).toBeUndefined();
    // After verify the object is at its content address in the bucket, and nothing is left staged.
    expect(fs.readFileSync(s3.objectFile(objectKey(oid))).equals(bytes)).toBe(true);
    expect(s3.keys().filter((k) => k.startsWith('lfs/staging/'))).toEqual([]);

    // hubgate answered batch and verify only, and holds no copy of the bytes.
    // (git-lfs also asks locks/verify before pushing; that is not about bytes.)
    const lfsRequests = (await requestsLogged(hub)).filter((r) => r.path.startsWith('/alice/weights.git/info/lfs/') && !r.path.includes('/info/lfs/locks'));
    expect(lfsRequests.map((r) => `${r.method} ${r.path.replace('/alice/weights.git/info/lfs/', '')} ${r.status}`).sort()).toEqual([
      'POST objects/batch 200',
      'POST objects/verify 200',
    ]);
    // (throwIfNoEntry: background maintenance may rename a tmp_pack file between the listing and the stat.)
    expect(filesUnder(hub.dataDir).filter((f) => f.includes(oid) || fs.statSync(f, { throwIfNoEntry: false })?.size === bytes.length)).toEqual([]);

    // Download actions point at the bucket too.
    const download = await batch('alice/weights', 'download', [{ oid, size: bytes.length }]);
    const href = new URL(download.objects[0].actions!.download.href);
    expect(href.host).toBe(`127.0.0.1:${s3.port}`);
    expect(href.pathname).toBe(`/${s3.bucket}/${objectKey(oid)}`);

    const fresh = tempDir('hubgate-s3-clone-');
    const before = s3.requests.length;
    ok(await hub.git(['clone', hub.remote('alice/weights', token), '.'], { cwd: fresh }), 'fresh clone');
    expect(fs.readFileSync(path.join(fresh, 'model.bin')).equals(bytes)).toBe(true);
    expect(s3.requests.slice(before).filter((r) => r.method === 'GET' && r.url.startsWith(`/${s3.bucket}/${objectKey(oid)}?`))).toHaveLength(1);
  });

  it('refuses a corrupt upload at verify (422), never links it, and takes the right bytes afterwards', async () => {
    const bytes = crypto.randomBytes(200_000);
    const oid = sha256(bytes);
    const up = await batch('alice/corrupt', 'upload', [{ oid, size: bytes.length }]);
    const { upload, verify: verifyAction } = up.objects[0].actions!;
    expect(new URL(upload.href).host).toBe(`127.0.0.1:${s3.port}`);
    expect(upload.header).toEqual({ 'Content-Type': 'application/octet-stream', 'x-amz-checksum-sha256': checksumOf(oid) });

    // s3rver ignores x-amz-checksum-sha256 (real S3 would answer 400 BadDigest): the wrong bytes land in staging.
    const wrong = crypto.randomBytes(bytes.length);
    expect((await fetch(upload.href, { method: 'PUT', headers: upload.header, body: wrong })).status).toBe(200);
    const refused = await verify(verifyAction, oid, bytes.length);
    expect(refused.status).toBe(422);
    expect(refused.headers.get('content-type')).toContain(LFS_JSON);
    expect(((await refused.json()) as { message: string }).message).toMatch(/do not match|not to the oid/);
    expect(hub.log()).toContain('LFS UPLOAD DOES NOT MATCH ITS OID');
    // Verifying again does not change the answer.
    expect((await verify(verifyAction, oid, bytes.length)).status).toBe(422);

    // Nothing stored, nothing staged, nothing downloadable.
    expect(fs.existsSync(s3.objectFile(objectKey(oid)))).toBe(false);
    expect(s3.keys().filter((k) => k.startsWith('lfs/staging/'))).toEqual([]);
    const down = await batch('alice/corrupt', 'download', [{ oid, size: bytes.length }]);
    expect(down.objects[0].error?.code).toBe(404);
    expect(down.objects[0].actions).toBeUndefined();

    // A fresh upload of the right bytes is taken.
    const again = await batch('alice/corrupt', 'upload', [{ oid, size: bytes.length }]);
    const actions = again.objects[0].actions!;
    expect((await fetch(actions.upload.href, { method: 'PUT', headers: actions.upload.header, body: bytes })).status).toBe(200);
    expect((await verify(actions.verify, oid, bytes.length)).status).toBe(200);
    const got = await batch('alice/corrupt', 'download', [{ oid, size: bytes.length }]);
    const res = await fetch(got.objects[0].actions!.download.href);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('a 20 MiB file goes up in parts from the agent straight to the bucket, and comes back whole', async () => {
    const { dir, bytes } = await cloneWithFile('alice/big', 20 * MiB);
    const oid = sha256(bytes);
    ok(await run(process.execPath, [BIN, 'lfs-enable-largefiles', '.'], { cwd: dir }), 'lfs-enable-largefiles');
    const seen = s3.requests.length;
    ok(await hub.git(['push', 'origin', 'main'], { cwd: dir }), 'push');

    // Four parts of at most 5 MiB PUT to presigned UploadPart URLs, with no S3 headers from the client.
    const parts = s3.requests.slice(seen).filter((r) => r.method === 'PUT' && r.url.includes('partNumber='));
    expect(parts.map((r) => new URL(r.url, s3.endpoint).searchParams.get('partNumber')).sort()).toEqual(['1', '2', '3', '4']);
    for (const p of parts) expect(Object.keys(p.headers).filter((h) => h.startsWith('x-amz-') || h === 'authorization')).toEqual([]);
    // No part went through hubgate; the completion did.
    const lfsRequests = (await requestsLogged(hub)).filter((r) => r.path.startsWith('/alice/big.git/info/lfs/'));
    expect(lfsRequests.filter((r) => r.method === 'PUT')).toEqual([]);
    expect(lfsRequests.filter((r) => r.method === 'POST' && r.path.endsWith('/complete') && r.status === 200)).toHaveLength(1);
    expect(fs.readFileSync(s3.objectFile(objectKey(oid))).equals(bytes)).toBe(true);

    const fresh = tempDir('hubgate-s3-clone-');
    ok(await hub.git(['clone', hub.remote('alice/big', token), '.'], { cwd: fresh }), 'fresh clone');
    expect(sha256(fs.readFileSync(path.join(fresh, 'model.bin')))).toBe(oid);
  });
});
