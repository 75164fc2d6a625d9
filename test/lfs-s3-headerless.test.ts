// Basic LFS uploads to the s3 store from clients that ignore `action.header` (huggingface_hub,
// @huggingface/hub): their upload URL is signed over host only and carries no header, and verify
// hashes the staged bytes before linking them; git-lfs, which sends the action's headers, keeps
// the URL that has S3 check the sha256. s3rver checks no signature, so each URL is also checked
// here the way S3 would check it, for the request the client actually sends.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { uploadFile } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, type RunResult, startHubgate, tempDir } from './helpers/hubgate.ts';
import { poll } from './helpers/git-client.ts';
import { type S3rverHandle, sigV4Valid, startS3rver } from './helpers/s3.ts';

const LFS_JSON = 'application/vnd.git-lfs+json';
const PYTHON_UA = 'huggingface_hub/0.36.2; python/3.11';
const GIT_LFS_UA = 'git-lfs/3.3.0 (GitHub; linux amd64; go 1.19.8)';
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const checksumOf = (oid: string) => Buffer.from(oid, 'hex').toString('base64');
const objectKey = (oid: string) => `lfs/objects/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;

type Action = { href: string; header?: Record<string, string> };
type BatchObject = { oid: string; size: number; error?: { code: number; message: string }; actions?: Record<string, Action> };

function ok(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}


describe('basic uploads to the s3 store from clients that ignore action headers', () => {
  let s3: S3rverHandle;
  let hub: Hubgate;
  let token: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    hub = await startHubgate({ env: s3.env });
    token = await hub.userWithToken('alice');
    for (const repo of ['alice/py', 'alice/py-bad', 'alice/lfs', 'alice/js']) ok(await hub.cli(['repo', 'create', repo]), `repo create ${repo}`);
    ok(await hub.git(['lfs', 'install', '--skip-repo']), 'git lfs install');
  });
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  /** The batch API as huggingface_hub calls it (Bearer token, LFS media types), with the given User-Agent. */
  async function batch(repo: string, operation: 'upload' | 'download', objects: { oid: string; size: number }[], userAgent = PYTHON_UA): Promise<BatchObject[]> {
    const res = await fetch(`${hub.url}/${repo}.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': LFS_JSON, Accept: LFS_JSON, 'User-Agent': userAgent },
      body: JSON.stringify({ operation, transfers: ['basic', 'multipart'], objects, hash_algo: 'sha256' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { transfer: string; objects: BatchObject[] };
    expect(body.transfer).toBe('basic');
    return body.objects;
  }

  /** verify as huggingface_hub sends it: Bearer token, JSON body, the action's header ignored. */
  function verify(action: Action, oid: string, size: number): Promise<Response> {
    return fetch(action.href, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'User-Agent': PYTHON_UA },
      body: JSON.stringify({ oid, size }),
    });
  }

  /** The staging PUTs s3rver received since `seen`. */
  const stagingPuts = (seen: number) => s3.requests.slice(seen).filter((r) => r.method === 'PUT' && r.url.startsWith(`/${s3.bucket}/lfs/staging/`));

  it('gives huggingface_hub a URL signed over host only, takes a bare PUT, hashes the bytes at verify and links them', async () => {
    const bytes = crypto.randomBytes(150_000);
    const oid = sha256(bytes);
    const [obj] = await batch('alice/py', 'upload', [{ oid, size: bytes.length }]);
    const { upload, verify: verifyAction } = obj.actions!;
    expect(upload.header).toBeUndefined();
    const href = new URL(upload.href);
    expect(href.host).toBe(`127.0.0.1:${s3.port}`);
    expect(href.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
    for (const key of href.searchParams.keys()) expect(key.toLowerCase()).not.toMatch(/checksum/);
    // Real S3 accepts this URL for a PUT carrying no header at all (s3rver does not check).
    expect(sigV4Valid('PUT', href, {}, 'S3RVER')).toBe(true);

    const seen = s3.requests.length;
    const put = await fetch(upload.href, { method: 'PUT', body: new Uint8Array(bytes) });
    expect(put.status, await put.text()).toBe(200);
    const [sent] = stagingPuts(seen);
    expect(Object.keys(sent.headers).filter((h) => h.startsWith('x-amz-') || h === 'authorization' || h === 'content-type')).toEqual([]);
    const stagingKey = new URL(sent.url, s3.endpoint).pathname.slice(`/${s3.bucket}/`.length);

    const beforeVerify = s3.requests.length;
    const verified = await verify(verifyAction, oid, bytes.length);
    expect(verified.status, await verified.text()).toBe(200);
    // No S3 checksum stood behind these bytes: verify read them back to hash them.
    expect(s3.requests.slice(beforeVerify).some((r) => r.method === 'GET' && r.url.startsWith(`/${s3.bucket}/${stagingKey}`))).toBe(true);
    expect(fs.readFileSync(s3.objectFile(objectKey(oid))).equals(bytes)).toBe(true);
    expect(s3.keys().filter((k) => k.startsWith('lfs/staging/'))).toEqual([]);

    const [down] = await batch('alice/py', 'download', [{ oid, size: bytes.length }]);
    const got = await fetch(down.actions!.download.href);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('refuses a wrong body of the right size at verify (422), never links it, and takes the right bytes afterwards', async () => {
    const bytes = crypto.randomBytes(80_000);
    const oid = sha256(bytes);
    const [obj] = await batch('alice/py-bad', 'upload', [{ oid, size: bytes.length }]);
    const { upload, verify: verifyAction } = obj.actions!;
    expect(upload.header).toBeUndefined();
    // Without a signed checksum S3 itself takes any body: the wrong bytes land in staging.
    expect((await fetch(upload.href, { method: 'PUT', body: new Uint8Array(crypto.randomBytes(bytes.length)) })).status).toBe(200);

    const refused = await verify(verifyAction, oid, bytes.length);
    expect(refused.status).toBe(422);
    expect(refused.headers.get('content-type')).toContain(LFS_JSON);
    expect(((await refused.json()) as { message: string }).message).toMatch(/not to the oid: the upload was discarded, push again/);
    // The log is written asynchronously: on a busy machine the line may follow the answer.
    expect(await poll(() => hub.log().includes('LFS UPLOAD DOES NOT MATCH ITS OID'), 5000, 50)).toBe(true);
    expect((await verify(verifyAction, oid, bytes.length)).status).toBe(422);

    expect(fs.existsSync(s3.objectFile(objectKey(oid)))).toBe(false);
    expect(s3.keys().filter((k) => k.startsWith('lfs/staging/'))).toEqual([]);
    const [down] = await batch('alice/py-bad', 'download', [{ oid, size: bytes.length }]);
    expect(down.error?.code).toBe(404);
    expect(down.actions).toBeUndefined();

    const [again] = await batch('alice/py-bad', 'upload', [{ oid, size: bytes.length }]);
    expect((await fetch(again.actions!.upload.href, { method: 'PUT', body: new Uint8Array(bytes) })).status).toBe(200);
    expect((await verify(again.actions!.verify, oid, bytes.length)).status).toBe(200);
    const [got] = await batch('alice/py-bad', 'download', [{ oid, size: bytes.length }]);
    expect(Buffer.from(await (await fetch(got.actions!.download.href)).arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('still gives git-lfs the URL that signs Content-Type and the sha256 checksum, with the header to send', async () => {
    const bytes = crypto.randomBytes(1000);
    const oid = sha256(bytes);
    const [obj] = await batch('alice/lfs', 'upload', [{ oid, size: bytes.length }], GIT_LFS_UA);
    const { upload } = obj.actions!;
    const header = { 'Content-Type': 'application/octet-stream', 'x-amz-checksum-sha256': checksumOf(oid) };
    expect(upload.header).toEqual(header);
    const href = new URL(upload.href);
    expect(href.searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host;x-amz-checksum-sha256');
    expect(sigV4Valid('PUT', href, header, 'S3RVER')).toBe(true);
    // Why the other clients need their own URL: this one fails S3's check for a bare PUT.
    expect(sigV4Valid('PUT', href, {}, 'S3RVER')).toBe(false);
  });

  it('a real git-lfs push sends the signed headers and a fresh clone gets the bytes back', async () => {
    const dir = tempDir('hubgate-s3-headerless-push-');
    ok(await hub.git(['clone', hub.remote('alice/lfs', token), '.'], { cwd: dir }), 'clone');
    ok(await hub.git(['checkout', '-B', 'main'], { cwd: dir }), 'checkout');
    ok(await hub.git(['lfs', 'track', '*.bin'], { cwd: dir }), 'lfs track');
    const bytes = crypto.randomBytes(300_000);
    const oid = sha256(bytes);
    fs.writeFileSync(path.join(dir, 'model.bin'), bytes);
    ok(await hub.git(['add', '.gitattributes', 'model.bin'], { cwd: dir }), 'add');
    ok(await hub.git(['commit', '-q', '-m', 'weights'], { cwd: dir }), 'commit');
    const seen = s3.requests.length;
    ok(await hub.git(['push', 'origin', 'main'], { cwd: dir }), 'push');

    const puts = stagingPuts(seen);
    expect(puts).toHaveLength(1);
    expect(new URL(puts[0].url, s3.endpoint).searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host;x-amz-checksum-sha256');
    expect(puts[0].headers['x-amz-checksum-sha256']).toBe(checksumOf(oid));
    expect(puts[0].headers['content-type']).toBe('application/octet-stream');
    expect(fs.readFileSync(s3.objectFile(objectKey(oid))).equals(bytes)).toBe(true);

    const fresh = tempDir('hubgate-s3-headerless-clone-');
    ok(await hub.git(['clone', hub.remote('alice/lfs', token), '.'], { cwd: fresh }), 'fresh clone');
    expect(fs.readFileSync(path.join(fresh, 'model.bin')).equals(bytes)).toBe(true);
  });

  it('@huggingface/hub uploadFile PUTs the bare bytes to a host-only URL, and the commit links them', async () => {
    const bytes = crypto.randomBytes(120_000);
    const oid = sha256(bytes);
    const seen = s3.requests.length;
    // Git LFS (useXet: false): Xet uploads go through hubgate's CAS instead (test/xet.test.ts).
    await uploadFile({ repo: 'alice/js', hubUrl: hub.url, accessToken: token, file: { path: 'weights.bin', content: new Blob([bytes]) }, useXet: false });

    const puts = stagingPuts(seen);
    expect(puts).toHaveLength(1);
    expect(new URL(puts[0].url, s3.endpoint).searchParams.get('X-Amz-SignedHeaders')).toBe('host');
    expect(Object.keys(puts[0].headers).filter((h) => h.startsWith('x-amz-'))).toEqual([]);
    expect(fs.readFileSync(s3.objectFile(objectKey(oid))).equals(bytes)).toBe(true);

    const dir = tempDir('hubgate-s3-headerless-js-');
    ok(await hub.git(['clone', '-q', hub.remote('alice/js', token), '.'], { cwd: dir }), 'clone');
    expect(sha256(fs.readFileSync(path.join(dir, 'weights.bin')))).toBe(oid);
  });
});
