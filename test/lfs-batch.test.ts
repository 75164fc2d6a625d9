// The Git LFS batch API and the fs store's transfers, against a real hubgate (default fs store):
// real git + git-lfs for push and clone, raw fetch for the protocol's shapes and its edges.
// Every answer is checked never to be a 500, and the server log must hold no error lines.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, type Hubgate, type RunResult, settledLog, startHubgate, tempDir } from './helpers/hubgate.js';
import { basic, listTree, rawRequest } from './helpers/wire.js';

const LFS = 'application/vnd.git-lfs+json';
const MiB = 1024 ** 2;

let hub: Hubgate;
/** alice's write token, alice's read token, bob's write token. */
let alice: string;
let aliceRead: string;
let bob: string;
/** Every status hubgate answered in this file, to check that none was a 500. */
const statuses: { what: string; status: number }[] = [];

/** The media type of a Content-Type header, parameters (charset) left out. */
const mediaType = (h: Headers) => (h.get('content-type') ?? '').split(';')[0].trim();
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const objOf = (b: Buffer) => ({ oid: sha256(b), size: b.length });

function ok(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

function seen(what: string, status: number): number {
  statuses.push({ what, status });
  expect(status, `${what} answered ${status}`).toBeLessThan(500);
  return status;
}

interface LfsResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** POSTs a batch request (or any body) to REPO's batch endpoint. */
async function batch(
  repo: string,
  body: unknown,
  opts: { token?: string | null; contentType?: string; raw?: string } = {},
): Promise<LfsResponse> {
  const token = opts.token === undefined ? alice : opts.token;
  const headers: Record<string, string> = { Accept: LFS, 'Content-Type': opts.contentType ?? LFS };
  if (token) headers.Authorization = basic(token);
  const res = await fetch(`${hub.url}/${repo}.git/info/lfs/objects/batch`, { method: 'POST', headers, body: opts.raw ?? JSON.stringify(body) });
  const text = await res.text();
  seen(`batch ${repo}`, res.status);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

const upload = (repo: string, objects: unknown[], extra: Record<string, unknown> = {}, token?: string | null) =>
  batch(repo, { operation: 'upload', transfers: ['basic'], objects, hash_algo: 'sha256', ...extra }, { token });
const download = (repo: string, objects: unknown[], token?: string | null) =>
  batch(repo, { operation: 'download', transfers: ['basic'], objects, hash_algo: 'sha256' }, { token });

/** PUTs bytes to an upload action exactly as git-lfs does: the action's headers, no Authorization. */
async function put(action: { href: string; header?: Record<string, string> }, bytes: Buffer): Promise<number> {
  const res = await fetch(action.href, { method: 'PUT', headers: action.header ?? {}, body: new Uint8Array(bytes) });
  await res.arrayBuffer();
  return seen(`PUT ${new URL(action.href).pathname}`, res.status);
}

/** POSTs to a verify action, no Authorization header. */
async function verify(action: { href: string; header?: Record<string, string> }, oid: string, size: number): Promise<LfsResponse> {
  const res = await fetch(action.href, {
    method: 'POST',
    headers: { ...(action.header ?? {}), Accept: LFS, 'Content-Type': LFS },
    body: JSON.stringify({ oid, size }),
  });
  const text = await res.text();
  seen(`verify ${new URL(action.href).pathname}`, res.status);
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined, text };
}

/** The whole protocol flow a client follows: batch, PUT to the href, verify. */
async function uploadFlow(repo: string, bytes: Buffer, token = alice): Promise<void> {
  const { oid, size } = objOf(bytes);
  const r = await upload(repo, [{ oid, size }], {}, token);
  expect(r.status, r.text).toBe(200);
  const actions = r.body.objects[0].actions;
  expect(actions?.upload, r.text).toBeDefined();
  expect(await put(actions.upload, bytes)).toBe(200);
  const v = await verify(actions.verify, oid, size);
  expect(v.status, v.text).toBe(200);
}

/** The bytes behind a download action, fetched without an Authorization header. */
async function fetchDownload(repo: string, oid: string, size: number, token = alice): Promise<Buffer> {
  const r = await download(repo, [{ oid, size }], token);
  expect(r.status, r.text).toBe(200);
  const action = r.body.objects[0].actions?.download;
  expect(action, r.text).toBeDefined();
  const res = await fetch(action.href, { headers: action.header ?? {} });
  seen('GET download', res.status);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

const objectFile = (oid: string) => path.join(hub.dataDir, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
/** The upload id inside a signed href's token. */
const uploadIdOf = (href: string) => JSON.parse(Buffer.from(new URL(href).searchParams.get('token')!.split('.')[0], 'base64url').toString()).u as string;

/** Nothing of an upload is left on disk: no object for the oid, no staged file, no temp file. */
function expectNothingStored(oid: string, href?: string): void {
  expect(fs.existsSync(objectFile(oid)), `object ${oid} was stored`).toBe(false);
  const staging = listTree(path.join(hub.dataDir, 'lfs', 'staging'));
  if (href) expect(staging.filter((f) => f.startsWith(uploadIdOf(href)))).toEqual([]);
  expect(listTree(path.join(hub.dataDir, 'lfs', 'tmp'))).toEqual([]);
}

function expectLfsError(r: LfsResponse, status: number): void {
  expect(r.status, r.text).toBe(status);
  expect(mediaType(r.headers)).toBe(LFS);
  expect(typeof r.body?.message, r.text).toBe('string');
  expect(r.body.message.length).toBeGreaterThan(0);
  expect(typeof r.body.request_id, r.text).toBe('string');
  expect(r.body.request_id.length).toBeGreaterThan(0);
  expect(r.body.objects).toBeUndefined();
}

/** The requests in hubgate's log (request lines), once the log has settled. */
async function requestsLogged(): Promise<{ method: string; path: string; status: number }[]> {
  return (await settledLog(hub))
    .split('\n')
    .flatMap((line) => {
      try {
        const e = JSON.parse(line);
        return e.req && e.res ? [{ method: e.req.method, path: e.req.path ?? e.req.url, status: e.res.statusCode }] : [];
      } catch {
        return [];
      }
    });
}

// Every flow on each database: uploads, verify, links and downloads are rows.
describe.each(DATABASES)('on %s', (db) => {
  beforeAll(async () => {
    hub = await startHubgate({ db });
    // CLI calls are separate processes: run those that do not depend on each other together.
    [alice, bob] = await Promise.all([hub.userWithToken('alice'), hub.userWithToken('bob')]);
    const creates = [
      ['repo', 'create', 'alice/a'],
      ['repo', 'create', 'alice/a2'],
      ['repo', 'create', 'alice/priv', '--private'],
      ['repo', 'create', 'alice/d', '--type', 'dataset'],
      ['repo', 'create', 'bob/b'],
    ];
    [aliceRead] = await Promise.all([
      hub.userWithToken('alice', 'read'),
      ...creates.map(async (args) => ok(await hub.cli(args), args.join(' '))),
      // The tests' HOME has no git-lfs filters yet.
      hub.git(['lfs', 'install', '--skip-repo']).then((r) => ok(r, 'git lfs install')),
    ]);
  });
  afterAll(() => hub?.stop());

  describe('real git-lfs through the batch API', () => {
    /** A clone of REPO with a committed, LFS-tracked random file at data.bin; returns the clone and the bytes. */
    async function commitLfsFile(repo: string, size: number): Promise<{ dir: string; bytes: Buffer }> {
      const dir = tempDir('hubgate-lfs-batch-');
      ok(await hub.git(['clone', hub.remote(repo, alice), '.'], { cwd: dir }), 'clone');
      ok(await hub.git(['checkout', '-B', 'main'], { cwd: dir }), 'checkout');
      ok(await hub.git(['lfs', 'track', '*.bin'], { cwd: dir }), 'lfs track');
      const bytes = crypto.randomBytes(size);
      fs.writeFileSync(path.join(dir, 'data.bin'), bytes);
      ok(await hub.git(['add', '.gitattributes', 'data.bin'], { cwd: dir }), 'add');
      ok(await hub.git(['commit', '-q', '-m', 'lfs file'], { cwd: dir }), 'commit');
      // The committed blob is a pointer, not the bytes.
      const pointer = ok(await hub.git(['cat-file', '-p', 'HEAD:data.bin'], { cwd: dir }), 'cat-file');
      expect(pointer).toContain(`oid sha256:${sha256(bytes)}`);
      return { dir, bytes };
    }

    async function pushAndClone(repo: string): Promise<void> {
      const { dir, bytes } = await commitLfsFile(repo, 3 * MiB);
      const { oid, size } = objOf(bytes);
      const putsBefore = (await requestsLogged()).filter((r) => r.method === 'PUT').length;
      ok(await hub.git(['push', 'origin', 'main'], { cwd: dir }), 'push');
      const puts = (await requestsLogged()).filter((r) => r.method === 'PUT');
      expect(puts.slice(putsBefore).filter((r) => r.path === `/${repo}.git/info/lfs/objects/${oid}` && r.status === 200)).toHaveLength(1);
      expect(fs.readFileSync(objectFile(oid)).equals(bytes)).toBe(true);

      const fresh = tempDir('hubgate-lfs-batch-clone-');
      ok(await hub.git(['clone', hub.remote(repo, alice), '.'], { cwd: fresh }), 'fresh clone');
      const cloned = fs.readFileSync(path.join(fresh, 'data.bin'));
      expect(cloned.length).toBe(size);
      expect(cloned.equals(bytes)).toBe(true);

      // Pushing the object again uploads nothing: the batch answers it without actions.
      const again = await upload(repo, [{ oid, size }]);
      expect(again.status).toBe(200);
      expect(again.body.objects).toEqual([{ oid, size }]);
      const batchPath = `/${repo}.git/info/lfs/objects/batch`;
      const before = await requestsLogged();
      // By object id: by ref, git-lfs sees the remote has the branch already and asks nothing.
      ok(await hub.git(['lfs', 'push', '--object-id', 'origin', oid], { cwd: dir }), 'lfs push');
      const during = (await requestsLogged()).slice(before.length);
      // git-lfs asked the batch API about the object, and sent no bytes.
      expect(during.filter((r) => r.method === 'POST' && r.path === batchPath && r.status === 200).length).toBeGreaterThan(0);
      expect(during.filter((r) => r.method === 'PUT')).toEqual([]);
    }

    it('pushes a 3 MB file to a model repo; a fresh clone has the same bytes; pushing again uploads nothing', async () => {
      await pushAndClone('alice/a');
    });

    it('works the same for a dataset repo (datasets/alice/d)', async () => {
      await pushAndClone('datasets/alice/d');
    });
  });

  describe('batch response shapes', () => {
    it('an upload gets basic, sha256, upload + verify actions with expires_in and authenticated: true', async () => {
      const { oid, size } = objOf(crypto.randomBytes(100));
      const r = await upload('alice/a', [{ oid, size }]);
      expect(r.status, r.text).toBe(200);
      expect(mediaType(r.headers)).toBe(LFS);
      expect(r.body.transfer).toBe('basic');
      expect(r.body.hash_algo).toBe('sha256');
      expect(r.body.objects).toHaveLength(1);
      const o = r.body.objects[0];
      expect(o).toMatchObject({ oid, size, authenticated: true });
      expect(o.error).toBeUndefined();
      expect(Object.keys(o.actions).sort()).toEqual(['upload', 'verify']);
      for (const name of ['upload', 'verify']) {
        const a = o.actions[name];
        expect(a.href).toMatch(new RegExp(`^${hub.url}/alice/a\\.git/info/lfs/`));
        expect(Number.isInteger(a.expires_in)).toBe(true);
        expect(a.expires_in).toBeGreaterThan(0);
        expect(a.header?.Authorization).toBeUndefined();
      }
    });

    it('accepts hash_algo "sha_256" and Content-Type with a charset', async () => {
      const { oid, size } = objOf(crypto.randomBytes(10));
      const r = await batch('alice/a', { operation: 'upload', objects: [{ oid, size }], hash_algo: 'sha_256' }, { contentType: `${LFS}; charset=utf-8` });
      expect(r.status, r.text).toBe(200);
      expect(r.body.hash_algo).toBe('sha256');
      expect(r.body.objects[0].error).toBeUndefined();
      expect(r.body.objects[0].actions.upload).toBeDefined();
    });

    it('answers an unsupported hash_algo with a per-object 409 inside a 200', async () => {
      const objects = [objOf(crypto.randomBytes(10)), objOf(crypto.randomBytes(11))];
      for (const operation of ['upload', 'download']) {
        const r = await batch('alice/a', { operation, objects, hash_algo: 'sha512' });
        expect(r.status, r.text).toBe(200);
        expect(r.body.objects).toHaveLength(2);
        for (const o of r.body.objects) {
          expect(o.error?.code, JSON.stringify(o)).toBe(409);
          expect(o.actions).toBeUndefined();
        }
      }
    });

    it('ignores unknown transfer names and picks basic', async () => {
      const { oid, size } = objOf(crypto.randomBytes(10));
      const r = await batch('alice/a', { operation: 'upload', transfers: ['lfs-standalone-file', 'basic', 'ssh'], objects: [{ oid, size }], hash_algo: 'sha256' });
      expect(r.status, r.text).toBe(200);
      expect(r.body.transfer).toBe('basic');
      expect(r.body.objects[0].actions.upload).toBeDefined();
      // Without transfers at all, basic is assumed.
      const none = await batch('alice/a', { operation: 'upload', objects: [{ oid, size }] });
      expect(none.status, none.text).toBe(200);
      expect(none.body.transfer).toBe('basic');
    });

    it('accepts ref as {}, null, {"name":"refs/heads/main"} and {"name":"main"}, or missing', async () => {
      const { oid, size } = objOf(crypto.randomBytes(10));
      for (const ref of [{}, null, { name: 'refs/heads/main' }, { name: 'main' }, undefined]) {
        const r = await batch('alice/a', { operation: 'upload', transfers: ['basic'], ref, objects: [{ oid, size }], hash_algo: 'sha256' });
        expect(r.status, `${JSON.stringify(ref)}: ${r.text}`).toBe(200);
        expect(r.body.objects[0].actions.upload).toBeDefined();
      }
    });

    it('answers a download of a missing object with a per-object 404 inside a 200', async () => {
      const { oid, size } = objOf(crypto.randomBytes(10));
      const r = await download('alice/a', [{ oid, size }]);
      expect(r.status, r.text).toBe(200);
      expect(mediaType(r.headers)).toBe(LFS);
      expect(r.body.objects).toHaveLength(1);
      expect(r.body.objects[0]).toMatchObject({ oid, error: { code: 404 } });
      expect(r.body.objects[0].actions).toBeUndefined();
    });

    const BAD: [string, unknown, unknown][] = [
      ['an uppercase oid', 'A'.repeat(64), 5],
      ['a 63-character oid', 'a'.repeat(63), 5],
      ['an oid with path characters', '../../etc/passwd', 5],
      ['a negative size', 'b'.repeat(64), -1],
      ['a float size', 'c'.repeat(64), 1.5],
      ['a string size', 'd'.repeat(64), '5'],
      ['a missing size', 'e'.repeat(64), undefined],
      ['a missing oid', undefined, 5],
      ['a null oid', null, 5],
    ];

    it('gives bad oids and sizes a per-object 422, while the valid objects of the batch get actions', async () => {
      const good = crypto.randomBytes(64);
      const valid = objOf(good);
      const objects = [valid, ...BAD.map(([, oid, size]) => ({ oid, size }))];
      const up = await upload('alice/a', objects);
      expect(up.status, up.text).toBe(200);
      expect(up.body.objects).toHaveLength(objects.length);
      expect(up.body.objects[0].error).toBeUndefined();
      expect(up.body.objects[0].actions.upload).toBeDefined();
      BAD.forEach(([what], i) => {
        const o = up.body.objects[i + 1];
        expect(o.error?.code, `${what}: ${JSON.stringify(o)}`).toBe(422);
        expect(o.actions, what).toBeUndefined();
      });

      // The valid object goes up; a download batch mixing it with the bad ones serves it alone.
      expect(await put(up.body.objects[0].actions.upload, good)).toBe(200);
      expect((await verify(up.body.objects[0].actions.verify, valid.oid, valid.size)).status).toBe(200);
      const down = await download('alice/a', objects);
      expect(down.status, down.text).toBe(200);
      expect(down.body.objects[0].actions.download).toBeDefined();
      BAD.forEach(([what], i) => expect(down.body.objects[i + 1].error?.code, what).toBe(422));
      // Nothing was written for the path-like oid anywhere near the data directory.
      expect(fs.existsSync(path.join(hub.dataDir, 'lfs', 'etc'))).toBe(false);
      expect(listTree(path.join(hub.dataDir, 'lfs', 'objects')).filter((f) => /passwd|\.\./.test(f))).toEqual([]);
    });
  });

  describe('whole-batch errors', () => {
    const one = () => [objOf(crypto.randomBytes(10))];

    it('anonymous on a private repo: 401 with LFS-Authenticate', async () => {
      for (const operation of ['download', 'upload']) {
        const r = await batch('alice/priv', { operation, objects: one() }, { token: null });
        expectLfsError(r, 401);
        expect(r.headers.get('lfs-authenticate')).toMatch(/^Basic /);
      }
    });

    it('a read token uploading: 403 whose message names the read role', async () => {
      const r = await upload('alice/a', one(), {}, aliceRead);
      expectLfsError(r, 403);
      expect(r.body.message).toMatch(/read role/);
      // The same token may download.
      const d = await download('alice/a', one(), aliceRead);
      expect(d.status, d.text).toBe(200);
    });

    it('a non-member on a private repo: 404', async () => {
      for (const operation of ['download', 'upload']) expectLfsError(await batch('alice/priv', { operation, objects: one() }, { token: bob }), 404);
      // The owner reaches it.
      expect((await download('alice/priv', one())).status).toBe(200);
    });

    it('1001 objects: 413 (1000 is fine)', async () => {
      const many = (n: number) => Array.from({ length: n }, (_, i) => ({ oid: sha256(Buffer.from(`object ${i}`)), size: i }));
      expectLfsError(await download('alice/a', many(1001)), 413);
      const r = await download('alice/a', many(1000));
      expect(r.status, r.text.slice(0, 300)).toBe(200);
      expect(r.body.objects).toHaveLength(1000);
    });

    it('malformed JSON: 400', async () => {
      expectLfsError(await batch('alice/a', null, { raw: '{"operation": "upload", "objects": [' }), 400);
    });

    it('operation "delete": 422', async () => {
      expectLfsError(await batch('alice/a', { operation: 'delete', objects: one() }), 422);
    });

    it('Content-Type text/plain: 415', async () => {
      expectLfsError(await batch('alice/a', { operation: 'upload', objects: one() }, { contentType: 'text/plain' }), 415);
    });
  });

  describe('transfer URLs authorize themselves', () => {
    it('the upload href works without an Authorization header; a tampered token gets 401 and stores nothing', async () => {
      const bytes = crypto.randomBytes(2048);
      const { oid, size } = objOf(bytes);
      const r = await upload('alice/a', [{ oid, size }]);
      const { upload: up, verify: ver } = r.body.objects[0].actions;
      const token = new URL(up.href).searchParams.get('token')!;
      const [body, sig] = token.split('.');
      const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
      for (const tampered of [`${flip(body, 5)}.${sig}`, `${body}.${flip(sig, 10)}`, `${body}.`, 'garbage']) {
        const href = new URL(up.href);
        href.searchParams.set('token', tampered);
        expect(await put({ href: href.toString(), header: up.header }, bytes), tampered).toBe(401);
        expectNothingStored(oid, up.href);
      }
      // Verify with a tampered token: 401, and nothing is linked.
      const badVerify = new URL(ver.href);
      badVerify.searchParams.set('token', flip(new URL(ver.href).searchParams.get('token')!, 3));
      expect((await verify({ href: badVerify.toString() }, oid, size)).status).toBe(401);
      expect((await download('alice/a', [{ oid, size }])).body.objects[0].error?.code).toBe(404);

      // The untouched href, with no Authorization header, works.
      expect(up.header?.Authorization).toBeUndefined();
      expect(await put(up, bytes)).toBe(200);
      expect((await verify(ver, oid, size)).status).toBe(200);
      expect((await fetchDownload('alice/a', oid, size)).equals(bytes)).toBe(true);
    });

    it("an href signed for one repo does not work on another repo's path", async () => {
      const bytes = crypto.randomBytes(1024);
      const { oid, size } = objOf(bytes);
      const r = await upload('alice/a', [{ oid, size }]);
      const { upload: up, verify: ver } = r.body.objects[0].actions;
      for (const other of ['alice/a2', 'bob/b', 'datasets/alice/a']) {
        const moved = up.href.replace('/alice/a.git/', `/${other}.git/`);
        expect(moved).not.toBe(up.href);
        expect(await put({ href: moved, header: up.header }, bytes), other).toBe(401);
        expectNothingStored(oid, up.href);
        expect((await verify({ href: ver.href.replace('/alice/a.git/', `/${other}.git/`) }, oid, size)).status, other).toBe(401);
      }
      // The download href of alice/a's object is no good on bob/b's path either.
      expect(await put(up, bytes)).toBe(200);
      expect((await verify(ver, oid, size)).status).toBe(200);
      const d = await download('alice/a', [{ oid, size }]);
      const href = d.body.objects[0].actions.download.href as string;
      const res = await fetch(href.replace('/alice/a.git/', '/bob/b.git/'));
      seen('GET download on another repo', res.status);
      expect(res.status).toBe(401);
      expect(Buffer.from(await res.arrayBuffer()).includes(bytes.subarray(0, 64))).toBe(false);
    });
  });

  describe('corrupt uploads', () => {
    it('bytes that do not hash to the oid: 400, nothing kept, verify 404, not downloadable', async () => {
      const real = crypto.randomBytes(4096);
      const { oid, size } = objOf(real);
      const r = await upload('alice/a', [{ oid, size }]);
      const { upload: up, verify: ver } = r.body.objects[0].actions;
      const wrong = Buffer.from(real);
      wrong[100] ^= 0xff;
      expect(await put(up, wrong)).toBe(400);
      expectNothingStored(oid, up.href);
      const v = await verify(ver, oid, size);
      expect(v.status, v.text).toBe(404);
      expectNothingStored(oid, up.href);
      const d = await download('alice/a', [{ oid, size }]);
      expect(d.body.objects[0]).toMatchObject({ oid, error: { code: 404 } });
      // Another upload batch still asks for the bytes.
      expect((await upload('alice/a', [{ oid, size }])).body.objects[0].actions?.upload).toBeDefined();
    });

    it('the right bytes with the wrong Content-Length: 400, nothing kept', async () => {
      const bytes = crypto.randomBytes(4096);
      const { oid, size } = objOf(bytes);
      const r = await upload('alice/a', [{ oid, size }]);
      const { upload: up, verify: ver } = r.body.objects[0].actions;
      const url = new URL(up.href);
      for (const length of [size + 10, size - 1]) {
        const res = await rawRequest(hub.port, {
          method: 'PUT',
          path: url.pathname + url.search,
          headers: { ...up.header, 'Content-Length': String(length), Connection: 'close' },
          body: bytes,
        });
        seen(`PUT with Content-Length ${length}`, res.status);
        expect(res.status, `Content-Length ${length}: ${res.text}`).toBe(400);
        expectNothingStored(oid, up.href);
      }
      expect((await verify(ver, oid, size)).status).toBe(404);
      expect((await download('alice/a', [{ oid, size }])).body.objects[0].error?.code).toBe(404);
    });
  });

  describe('per-repo ownership', () => {
    it("another repo cannot download alice's object; it must upload the bytes itself", async () => {
      // alice pushes X to alice/a with real git-lfs.
      const dir = tempDir('hubgate-lfs-owner-');
      ok(await hub.git(['clone', hub.remote('alice/a', alice), '.'], { cwd: dir }), 'clone');
      ok(await hub.git(['lfs', 'track', '*.bin'], { cwd: dir }), 'lfs track');
      const bytes = crypto.randomBytes(300 * 1024);
      const { oid, size } = objOf(bytes);
      fs.writeFileSync(path.join(dir, 'x.bin'), bytes);
      ok(await hub.git(['add', '.gitattributes', 'x.bin'], { cwd: dir }), 'add');
      ok(await hub.git(['commit', '-q', '-m', 'x'], { cwd: dir }), 'commit');
      ok(await hub.git(['push', 'origin', 'HEAD:main'], { cwd: dir }), 'push');
      expect((await fetchDownload('alice/a', oid, size)).equals(bytes)).toBe(true);

      // bob's repo does not have X.
      const d = await download('bob/b', [{ oid, size }], bob);
      expect(d.status, d.text).toBe(200);
      expect(d.body.objects[0]).toMatchObject({ oid, error: { code: 404 } });
      expect(d.body.objects[0].actions).toBeUndefined();

      // Asked to upload X, bob/b gets upload actions: the bytes must be sent again.
      const u = await upload('bob/b', [{ oid, size }], {}, bob);
      expect(u.status, u.text).toBe(200);
      const { upload: up, verify: ver } = u.body.objects[0].actions ?? {};
      expect(up).toBeDefined();
      expect(ver).toBeDefined();
      // Verifying without sending the bytes does not hand the object over.
      expect((await verify(ver, oid, size)).status).toBe(404);
      expect((await download('bob/b', [{ oid, size }], bob)).body.objects[0].error?.code).toBe(404);
      // Wrong bytes are refused even though the store holds the oid.
      expect(await put(up, crypto.randomBytes(size))).toBe(400);
      expect((await verify(ver, oid, size)).status).toBe(404);

      expect(await put(up, bytes)).toBe(200);
      expect((await verify(ver, oid, size)).status).toBe(200);
      expect((await fetchDownload('bob/b', oid, size, bob)).equals(bytes)).toBe(true);
      // alice still has it, and the store holds one copy.
      expect((await fetchDownload('alice/a', oid, size)).equals(bytes)).toBe(true);
      expect(fs.readFileSync(objectFile(oid)).equals(bytes)).toBe(true);
    });
  });

  describe('verify links only confirmed objects', () => {
    it('verify before the PUT: 404 and not downloadable; a wrong size: 422', async () => {
      const bytes = crypto.randomBytes(5000);
      const { oid, size } = objOf(bytes);
      const r = await upload('alice/a', [{ oid, size }]);
      const { upload: up, verify: ver } = r.body.objects[0].actions;
      const early = await verify(ver, oid, size);
      expect(early.status, early.text).toBe(404);
      expect(mediaType(early.headers)).toBe(LFS);
      expect((await download('alice/a', [{ oid, size }])).body.objects[0].error?.code).toBe(404);

      expect(await put(up, bytes)).toBe(200);
      // Uploaded but not verified: still not downloadable.
      expect((await download('alice/a', [{ oid, size }])).body.objects[0].error?.code).toBe(404);
      for (const wrong of [size + 1, size - 1, 0]) {
        const v = await verify(ver, oid, wrong);
        expect(v.status, `size ${wrong}: ${v.text}`).toBe(422);
      }
      expect((await download('alice/a', [{ oid, size }])).body.objects[0].error?.code).toBe(404);
      // Verify for another oid with this upload's link: not this upload.
      expect((await verify(ver, sha256(Buffer.from('other')), size)).status).toBe(404);

      expect((await verify(ver, oid, size)).status).toBe(200);
      // Verify is idempotent.
      expect((await verify(ver, oid, size)).status).toBe(200);
      expect((await fetchDownload('alice/a', oid, size)).equals(bytes)).toBe(true);
    });

    it('verifies sent at once for one upload (a client retrying) all succeed', async () => {
      const bytes = crypto.randomBytes(200 * 1024);
      const { oid, size } = objOf(bytes);
      const r = await upload('alice/a', [{ oid, size }]);
      const { upload: up, verify: ver } = r.body.objects[0].actions;
      expect(await put(up, bytes)).toBe(200);
      const results = await Promise.all(Array.from({ length: 6 }, () => verify(ver, oid, size)));
      expect(results.map((v) => `${v.status} ${v.text}`)).toEqual(results.map(() => `200 ${JSON.stringify({ message: 'ok' })}`));
      expect((await fetchDownload('alice/a', oid, size)).equals(bytes)).toBe(true);
      expect(listTree(path.join(hub.dataDir, 'lfs', 'staging')).filter((f) => f.startsWith(uploadIdOf(up.href)))).toEqual([]);
    });
  });

  describe('downloads', () => {
    it('serves a Range request with 206 and the right bytes', async () => {
      const bytes = crypto.randomBytes(1000);
      const { oid, size } = objOf(bytes);
      await uploadFlow('alice/a', bytes);
      const d = await download('alice/a', [{ oid, size }]);
      const action = d.body.objects[0].actions.download;
      expect(d.body.objects[0].authenticated).toBe(true);
      expect(action.expires_in).toBeGreaterThan(0);
      const res = await fetch(action.href, { headers: { ...(action.header ?? {}), Range: 'bytes=10-19' } });
      seen('GET range', res.status);
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes 10-19/${size}`);
      const got = Buffer.from(await res.arrayBuffer());
      expect(got.equals(bytes.subarray(10, 20))).toBe(true);
      // A range past the end is 416 with the size, not a missing object.
      const past = await fetch(action.href, { headers: { Range: `bytes=${size}-${size + 100}` } });
      seen('GET range past the end', past.status);
      expect(past.status).toBe(416);
      expect(past.headers.get('content-range')).toBe(`bytes */${size}`);
      await past.arrayBuffer();
      // The whole object, for comparison.
      const full = await fetch(action.href);
      seen('GET full', full.status);
      expect(full.status).toBe(200);
      expect(Buffer.from(await full.arrayBuffer()).equals(bytes)).toBe(true);
    });
  
    it('sends an object larger than one read whole and in ranges across reads; HEAD, 304, and a client leaving mid-body leave no file open', async () => {
      // 2.5 reads of 1 MiB plus a bit: the last read is short, ranges cross read boundaries.
      const bytes = crypto.randomBytes(5 * MiB / 2 + 123);
      const { oid, size } = objOf(bytes);
      await uploadFlow('alice/a', bytes);
      const href = (await download('alice/a', [{ oid, size }])).body.objects[0].actions.download.href;
      const openFiles = () => fs.readdirSync(`/proc/${hub.process.pid}/fd`).filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/${hub.process.pid}/fd/${fd}`).endsWith(oid);
        } catch {
          return false;
        }
      }).length;
  
      const whole = await fetch(href);
      expect(whole.status).toBe(200);
      expect(whole.headers.get('content-length')).toBe(String(size));
      expect(whole.headers.get('etag')).toBe(`"${oid}"`);
      expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(oid);
      for (const [start, end] of [[MiB - 1, MiB], [MiB - 10, 2 * MiB + 10], [0, size - 1], [size - 1, size - 1]]) {
        const res = await fetch(href, { headers: { Range: `bytes=${start}-${end}` } });
        expect(res.status).toBe(206);
        expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
        expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(start, end + 1))).toBe(true);
      }
      // If-Range naming another version: the whole object.
      const other = await fetch(href, { headers: { Range: 'bytes=0-9', 'If-Range': '"0000"' } });
      expect(other.status).toBe(200);
      expect((await other.arrayBuffer()).byteLength).toBe(size);
      const head = await fetch(href, { method: 'HEAD' });
      expect([head.status, head.headers.get('content-length'), (await head.arrayBuffer()).byteLength]).toEqual([200, String(size), 0]);
      const cached = await fetch(href, { headers: { 'If-None-Match': `"${oid}"` } });
      expect([cached.status, (await cached.arrayBuffer()).byteLength]).toEqual([304, 0]);
  
      // Clients that read a little and go away: the server closes the object every time.
      for (let i = 0; i < 5; i++) {
        const ctrl = new AbortController();
        const res = await fetch(href, { signal: ctrl.signal });
        const reader = res.body!.getReader();
        await reader.read();
        ctrl.abort();
        await reader.read().catch(() => {});
      }
      await expect.poll(openFiles, { timeout: 5000 }).toBe(0);
      expect(sha256(Buffer.from(await (await fetch(href)).arrayBuffer()))).toBe(oid);
    });
  });

  describe('the server', () => {
    it('never answered 500, logged no errors, and keeps serving', async () => {
      expect(statuses.length).toBeGreaterThan(50);
      expect(statuses.filter((s) => s.status >= 500)).toEqual([]);
      expect((await requestsLogged()).filter((r) => r.status >= 500)).toEqual([]);
      const errorLines = hub.log().split('\n').filter((l) => /"level":(50|60)/.test(l));
      expect(errorLines).toEqual([]);
      expect(hub.process.exitCode).toBeNull();
      expect((await fetch(`${hub.url}/healthz`)).ok).toBe(true);
      // And still does LFS.
      await uploadFlow('alice/a', crypto.randomBytes(77));
    });
  });
});
