// Downloads by resolve (issue 5 item 4): HEAD|GET /{prefix}{ns}/{name}/resolve/{rev}/{path}
// against real hubgate processes, with content pushed by real git + git-lfs, read back with
// fetch (checking the exact headers huggingface_hub reads, hf-wire.md §3.3) and with
// @huggingface/hub's downloadFile, byte for byte. The fs store here, the S3 store at the end.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { downloadFile } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastImport } from './helpers/git-client.js';
import { type Hubgate, type RunResult, startHubgate, tempDir } from './helpers/hubgate.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';
import { rawRequest } from './helpers/wire.js';

/** A token for @huggingface/hub calls, through the client's own option. */
const clientAuth = (token: string | undefined) => (token ? { accessToken: token } : {});

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const quoted = (s: string) => `"${s}"`;

function ok(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout.trim();
}

/** Every response this file saw, to check that none was a 500 and none carried a Xet header. */
const seen: { what: string; status: number; headers: Headers }[] = [];

function resolver(hub: () => Hubgate) {
  return async (urlPath: string, opts: { method?: string; token?: string; headers?: Record<string, string>; redirect?: RequestRedirect } = {}) => {
    const res = await fetch(`${hub().url}${urlPath}`, {
      method: opts.method ?? 'GET',
      redirect: opts.redirect ?? 'manual',
      headers: { ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
    });
    const body = Buffer.from(await res.arrayBuffer());
    seen.push({ what: `${opts.method ?? 'GET'} ${urlPath}`, status: res.status, headers: res.headers });
    return { status: res.status, headers: res.headers, body, url: res.url };
  };
}

/** Clones `repo`, writes `files`, commits and pushes to `branch`; returns the commit and the work tree. */
async function pushFiles(hub: Hubgate, repo: string, token: string, files: Record<string, Buffer | string>, opts: { branch?: string; work?: string } = {}) {
  const work = opts.work ?? tempDir('hubgate-resolve-');
  const git = (args: string[], what: string) => hub.git(args, { cwd: work }).then((r) => ok(r, what));
  if (!opts.work) await git(['clone', '-q', hub.remote(repo, token), '.'], 'clone');
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(work, name)), { recursive: true });
    fs.writeFileSync(path.join(work, name), content);
  }
  await git(['add', '-A'], 'add');
  await git(['commit', '-q', '-m', `add ${Object.keys(files).join(', ')}`], 'commit');
  await git(['push', '-q', 'origin', `HEAD:refs/heads/${opts.branch ?? 'main'}`], 'push');
  return { commit: await git(['rev-parse', 'HEAD'], 'rev-parse'), work };
}

describe('resolve with the fs store', () => {
  let hub: Hubgate;
  let alice: string;
  let bob: string;
  const get = resolver(() => hub);

  // alice/m at main: config.json, README.md, nested/dir/notes.txt, blob.dat (3 MB, plain git),
  // empty.txt, model.safetensors (LFS, by the default .gitattributes).
  const config = Buffer.from('{"model_type": "bert", "hidden_size": 768}\n');
  const readme = Buffer.from('# m\n\n<script>alert(1)</script>\n');
  const notes = Buffer.from('notes in a nested folder\n');
  const blob = crypto.randomBytes(3_000_000);
  const weights = crypto.randomBytes(700_000);
  const featureConfig = Buffer.from('{"model_type": "bert", "branch": "feature/x"}\n');
  let initial: string;
  let main: string;
  let feature: string;
  let work: string;

  beforeAll(async () => {
    // Plain LFS files: not converted to Xet files in the background, so no answer here has Xet
    // headers (git-lfs files read through Xet once converted: test/xet-convert.test.ts).
    hub = await startHubgate({ env: { HUBGATE_XET_CONVERT: 'off' } });
    alice = await hub.userWithToken('alice');
    bob = await hub.userWithToken('bob');
    ok(await hub.git(['lfs', 'install', '--skip-repo']), 'git lfs install');
    for (const args of [['alice/m'], ['alice/secret', '--private'], ['alice/gated', '--gated', 'manual'], ['alice/d', '--type', 'dataset']]) {
      ok(await hub.cli(['repo', 'create', ...args]), `repo create ${args.join(' ')}`);
    }
    initial = ok(await hub.git(['--git-dir', hub.repoDir('alice/m'), 'rev-parse', 'main']), 'rev-parse');
    ({ commit: main, work } = await pushFiles(hub, 'alice/m', alice, {
      'config.json': config,
      'README.md': readme,
      'nested/dir/notes.txt': notes,
      'blob.dat': blob,
      'empty.txt': '',
      'model.safetensors': weights,
      'dir with space/naïve ✓.txt': notes,
    }));
    ({ commit: feature } = await pushFiles(hub, 'alice/m', alice, { 'config.json': featureConfig }, { branch: 'feature/x', work }));
    await pushFiles(hub, 'alice/secret', alice, { 'secret.txt': 'private words\n' });
    await pushFiles(hub, 'alice/gated', alice, { 'gated.txt': 'gated words\n', 'model.safetensors': weights });
    await pushFiles(hub, 'datasets/alice/d', alice, { 'data.csv': 'a,b\n1,2\n' });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('GET and HEAD of a regular file: the bytes, the blob id as ETag, the commit', async () => {
    const blobId = ok(await hub.git(['rev-parse', `${main}:config.json`], { cwd: work }), 'rev-parse');
    const res = await get('/alice/m/resolve/main/config.json');
    expect(res.status).toBe(200);
    expect(res.body.equals(config)).toBe(true);
    expect(res.headers.get('etag')).toBe(quoted(blobId));
    expect(res.headers.get('x-repo-commit')).toBe(main);
    expect(res.headers.get('content-length')).toBe(String(config.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toBe(`inline; filename="config.json"; filename*=UTF-8''config.json`);

    const head = await get('/alice/m/resolve/main/config.json', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    for (const h of ['etag', 'x-repo-commit', 'content-length', 'content-type', 'accept-ranges']) expect(head.headers.get(h), h).toBe(res.headers.get(h));
  });

  it('serves user content as plain text, never HTML, and nested paths and empty files', async () => {
    const card = await get('/alice/m/resolve/main/README.md');
    expect(card.body.equals(readme)).toBe(true);
    expect(card.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(card.headers.get('content-security-policy')).toContain('sandbox');
    const nested = await get('/alice/m/resolve/main/nested/dir/notes.txt');
    expect(nested.status).toBe(200);
    expect(nested.body.equals(notes)).toBe(true);
    const empty = await get('/alice/m/resolve/main/empty.txt');
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-length')).toBe('0');
    expect(empty.body.length).toBe(0);
    const unicode = await get(`/alice/m/resolve/main/dir%20with%20space/${encodeURIComponent('naïve ✓.txt')}`);
    expect(unicode.status).toBe(200);
    expect(unicode.body.equals(notes)).toBe(true);
    expect(unicode.headers.get('content-disposition')).toBe(`inline; filename="na_ve _.txt"; filename*=UTF-8''na%C3%AFve%20%E2%9C%93.txt`);
    const viaClient = await downloadFile({ repo: 'alice/m', path: 'dir with space/naïve ✓.txt', hubUrl: hub.url });
    expect(Buffer.from(await viaClient!.arrayBuffer()).equals(notes)).toBe(true);
    const attachment = await get('/alice/m/resolve/main/README.md?download=true', { method: 'HEAD' });
    expect(attachment.headers.get('content-disposition')).toMatch(/^attachment; filename="README.md"/);
  });

  it('streams a 3 MB file kept in git byte for byte', async () => {
    const res = await get('/alice/m/resolve/main/blob.dat');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.body.length).toBe(blob.length);
    expect(res.body.equals(blob)).toBe(true);
  });

  it('LFS file: HEAD answers 302 with X-Linked-Etag / X-Linked-Size, and the Location gives the exact bytes', async () => {
    const oid = sha256(weights);
    const head = await get('/alice/m/resolve/main/model.safetensors', { method: 'HEAD' });
    expect(head.status).toBe(302);
    expect(head.headers.get('x-linked-etag')).toBe(quoted(oid));
    expect(head.headers.get('etag')).toBe(quoted(oid));
    expect(head.headers.get('x-linked-size')).toBe(String(weights.length));
    expect(head.headers.get('x-repo-commit')).toBe(main);
    const location = head.headers.get('location')!;
    // Absolute, hubgate's own signed fs URL.
    expect(location.startsWith(`${hub.url}/alice/m.git/info/lfs/objects/${oid}?token=`)).toBe(true);

    const direct = await get(location.slice(hub.url.length));
    expect(direct.status).toBe(200);
    expect(direct.body.equals(weights)).toBe(true);
    // @huggingface/hub reads the ETag from the response it was redirected to.
    expect(direct.headers.get('etag')).toBe(quoted(oid));
    const piece = await get(location.slice(hub.url.length), { headers: { Range: 'bytes=100-199' } });
    expect(piece.status).toBe(206);
    expect(piece.body.equals(weights.subarray(100, 200))).toBe(true);

    const followed = await get('/alice/m/resolve/main/model.safetensors', { redirect: 'follow' });
    expect(followed.status).toBe(200);
    expect(followed.body.equals(weights)).toBe(true);
  });

  it("@huggingface/hub's downloadFile gets LFS and regular files byte for byte, at any revision", async () => {
    const hubUrl = hub.url;
    const lfs = await downloadFile({ repo: 'alice/m', path: 'model.safetensors', hubUrl, ...clientAuth(alice) });
    expect(Buffer.from(await lfs!.arrayBuffer()).equals(weights)).toBe(true);
    const big = await downloadFile({ repo: 'alice/m', path: 'blob.dat', revision: main, hubUrl, ...clientAuth(alice) });
    expect(Buffer.from(await big!.arrayBuffer()).equals(blob)).toBe(true);
    const branch = await downloadFile({ repo: 'alice/m', path: 'config.json', revision: 'feature/x', hubUrl, ...clientAuth(bob) });
    expect(Buffer.from(await branch!.arrayBuffer()).equals(featureConfig)).toBe(true);
    const dataset = await downloadFile({ repo: { type: 'dataset', name: 'alice/d' }, path: 'data.csv', hubUrl });
    expect(Buffer.from(await dataset!.arrayBuffer()).toString()).toBe('a,b\n1,2\n');
    // EntryNotFound is its "no such file": null.
    expect(await downloadFile({ repo: 'alice/m', path: 'nope.bin', hubUrl, ...clientAuth(alice) })).toBeNull();
  });

  it("a branch with '/' in its name (as %2F), a full ref name and a commit id as revisions", async () => {
    const branch = await get('/alice/m/resolve/feature%2Fx/config.json');
    expect(branch.status).toBe(200);
    expect(branch.body.equals(featureConfig)).toBe(true);
    expect(branch.headers.get('x-repo-commit')).toBe(feature);
    const full = await get('/alice/m/resolve/refs%2Fheads%2Ffeature%2Fx/config.json');
    expect(full.headers.get('x-repo-commit')).toBe(feature);

    const byId = await get(`/alice/m/resolve/${main}/config.json`);
    expect(byId.status).toBe(200);
    expect(byId.body.equals(config)).toBe(true);
    // The first commit (by hubgate, at repo creation) has .gitattributes only.
    const first = await get(`/alice/m/resolve/${initial}/.gitattributes`);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-repo-commit')).toBe(initial);
    expect(first.body.toString()).toContain('*.safetensors filter=lfs');
    const missingThen = await get(`/alice/m/resolve/${initial}/config.json`);
    expect(missingThen.status).toBe(404);
    expect(missingThen.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(missingThen.headers.get('x-repo-commit')).toBe(initial);
  });

  it('Range requests: 206 with Content-Range, 416 when unsatisfiable; If-None-Match: 304', async () => {
    const part = await get('/alice/m/resolve/main/blob.dat', { headers: { Range: 'bytes=1000000-1000099' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000000-1000099/${blob.length}`);
    expect(part.headers.get('content-length')).toBe('100');
    expect(part.body.equals(blob.subarray(1_000_000, 1_000_100))).toBe(true);
    const suffix = await get('/alice/m/resolve/main/blob.dat', { headers: { Range: 'bytes=-10' } });
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(blob.subarray(blob.length - 10))).toBe(true);
    const open = await get('/alice/m/resolve/main/config.json', { headers: { Range: 'bytes=5-' } });
    expect(open.status).toBe(206);
    expect(open.body.equals(config.subarray(5))).toBe(true);
    const first = await get('/alice/m/resolve/main/config.json', { headers: { Range: 'bytes=0-0' } });
    expect(first.headers.get('content-range')).toBe(`bytes 0-0/${config.length}`);
    expect(first.body.equals(config.subarray(0, 1))).toBe(true);

    const past = await get('/alice/m/resolve/main/config.json', { headers: { Range: `bytes=${config.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${config.length}`);
    expect(past.headers.get('x-error-message')).toContain('Range Not Satisfiable');
    // Several ranges are not served as such: the whole file.
    const several = await get('/alice/m/resolve/main/config.json', { headers: { Range: 'bytes=0-1,5-6' } });
    expect(several.status).toBe(200);
    expect(several.body.equals(config)).toBe(true);

    const etag = (await get('/alice/m/resolve/main/config.json', { method: 'HEAD' })).headers.get('etag')!;
    const cached = await get('/alice/m/resolve/main/config.json', { headers: { 'If-None-Match': etag } });
    expect(cached.status).toBe(304);
    expect(cached.body.length).toBe(0);
    expect(cached.headers.get('x-repo-commit')).toBe(main);
    // The same path on another branch is another blob: no 304.
    expect((await get('/alice/m/resolve/feature%2Fx/config.json', { headers: { 'If-None-Match': etag } })).status).toBe(200);
    const lfsCached = await get('/alice/m/resolve/main/model.safetensors', { headers: { 'If-None-Match': quoted(sha256(weights)) } });
    expect(lfsCached.status).toBe(304);
  });

  it('missing file, folder and revision: EntryNotFound / RevisionNotFound, for GET and HEAD alike', async () => {
    const missing = await get('/alice/m/resolve/main/nope.txt');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(missing.headers.get('x-repo-commit')).toBe(main);
    expect(JSON.parse(missing.body.toString()).error).toContain('nope.txt does not exist');
    const folder = await get('/alice/m/resolve/main/nested/dir', { method: 'HEAD' });
    expect(folder.status).toBe(404);
    expect(folder.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(folder.headers.get('x-error-message')).toContain('is a folder');
    expect(folder.body.length).toBe(0);
    const rev = await get('/alice/m/resolve/no-such-branch/config.json', { method: 'HEAD' });
    expect(rev.status).toBe(404);
    expect(rev.headers.get('x-error-code')).toBe('RevisionNotFound');
    expect(rev.headers.get('x-error-message')).toContain('no-such-branch');
    expect(rev.headers.get('x-repo-commit')).toBeNull();
    const revGet = await get(`/alice/m/resolve/${'0'.repeat(40)}/config.json`);
    expect(revGet.headers.get('x-error-code')).toBe('RevisionNotFound');
  });

  it('an LFS pointer whose object is not linked to the repo: EntryNotFound saying the object is missing', async () => {
    // Written straight into the bare repo (the push policy refuses such pointers over git).
    const oid = sha256(Buffer.from('never uploaded'));
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize 14\n`;
    await fastImport(hub.repoDir('alice/m'), { ref: 'refs/heads/broken', count: 1, from: main, time: 1_700_000_000, path: () => 'missing.bin', file: () => pointer });
    const res = await get('/alice/m/resolve/broken/missing.bin', { method: 'HEAD' });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(res.headers.get('x-error-message')).toContain(`Git LFS file whose object (${oid}) was never uploaded to this repository`);
    // An object linked to another repo is no help either: alice/m's weights from alice/d.
    const otherPointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(weights)}\nsize ${weights.length}\n`;
    await fastImport(hub.repoDir('datasets/alice/d'), { ref: 'refs/heads/borrowed', count: 1, time: 1_700_000_000, path: () => 'w.safetensors', file: () => otherPointer });
    const borrowed = await get('/datasets/alice/d/resolve/borrowed/w.safetensors', { token: alice });
    expect(borrowed.status).toBe(404);
    expect(borrowed.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(borrowed.headers.get('location')).toBeNull();
  });

  it('private repo: 401 RepoNotFound anonymously, 404 RepoNotFound for others, as for a missing repo; the owner downloads', async () => {
    const anonymous = await get('/alice/secret/resolve/main/secret.txt');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('x-error-code')).toBe('RepoNotFound');
    const other = await get('/alice/secret/resolve/main/secret.txt', { token: bob });
    const absent = await get('/alice/absent/resolve/main/secret.txt', { token: bob });
    expect(other.status).toBe(404);
    expect(other.headers.get('x-error-code')).toBe('RepoNotFound');
    expect(absent.status).toBe(404);
    expect(absent.headers.get('x-error-code')).toBe('RepoNotFound');
    expect(other.headers.get('x-error-message')!.replace('secret', 'X')).toBe(absent.headers.get('x-error-message')!.replace('absent', 'X'));
    // Even a missing revision of the hidden repo says only RepoNotFound.
    expect((await get('/alice/secret/resolve/nope/x.txt', { token: bob })).headers.get('x-error-code')).toBe('RepoNotFound');
    const owner = await get('/alice/secret/resolve/main/secret.txt', { token: alice });
    expect(owner.status).toBe(200);
    expect(owner.body.toString()).toBe('private words\n');
    const invalid = await get('/alice/m/resolve/main/config.json', { token: 'hf_not_a_token' });
    expect(invalid.status).toBe(401);
    expect(invalid.headers.get('x-error-message')).toMatch(/^Invalid credentials in Authorization header/);
  });

  it('gated repo: 401 / 403 GatedRepo until access is granted, 403 with the reason after a rejection', async () => {
    const url = '/alice/gated/resolve/main/gated.txt';
    const anonymous = await get(url, { method: 'HEAD' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('x-error-code')).toBe('GatedRepo');
    const before = await get(url, { token: bob });
    expect(before.status).toBe(403);
    expect(before.headers.get('x-error-code')).toBe('GatedRepo');
    expect(before.headers.get('x-error-message')).toContain(`Visit ${hub.url}/alice/gated to ask for access`);
    expect((await get('/alice/gated/resolve/main/model.safetensors', { token: bob, method: 'HEAD' })).status).toBe(403);
    // The author is never gated.
    expect((await get(url, { token: alice })).status).toBe(200);

    const author = (action: string, body: unknown) =>
      fetch(`${hub.url}/api/models/alice/gated/user-access-request/${action}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${alice}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await author('grant', { user: 'bob' })).status).toBe(200);
    const after = await get(url, { token: bob });
    expect(after.status).toBe(200);
    expect(after.body.toString()).toBe('gated words\n');
    const lfs = await downloadFile({ repo: 'alice/gated', path: 'model.safetensors', hubUrl: hub.url, ...clientAuth(bob) });
    expect(Buffer.from(await lfs!.arrayBuffer()).equals(weights)).toBe(true);

    expect((await author('handle', { user: 'bob', status: 'rejected', rejectionReason: 'Students only' })).status).toBe(200);
    const rejected = await get(url, { token: bob });
    expect(rejected.status).toBe(403);
    expect(rejected.headers.get('x-error-code')).toBe('GatedRepo');
    expect(rejected.headers.get('x-error-message')).toContain('rejected by the repository');
    expect(rejected.headers.get('x-error-message')).toContain('Students only');
    await expect(downloadFile({ repo: 'alice/gated', path: 'gated.txt', hubUrl: hub.url, ...clientAuth(bob) })).rejects.toThrow(/Students only/);
  });

  it('bad input is a 400 with a message, before anything reaches git', async () => {
    const cases: [string, RegExp][] = [
      ['/alice/m/resolve/main/nested/../config.json', /'\.' and '\.\.' segments are not allowed/],
      ['/alice/m/resolve/main/%2E%2E/config.json', /'\.' and '\.\.' segments are not allowed/],
      ['/alice/m/resolve/main/nested//dir/notes.txt', /empty path segments/],
      ['/alice/m/resolve/main/nested/dir/', /empty path segments/],
      ['/alice/m/resolve/main/%2Fetc%2Fpasswd', /without a leading '\/'/],
      ['/alice/m/resolve/main/a%00b', /control characters/],
      ['/alice/m/resolve/-c/config.json', /cannot start with '-'/],
      ['/alice/m/resolve/--output=x/config.json', /cannot start with '-'/],
      ['/alice/m/resolve/main~1/config.json', /use a branch, a tag or a commit id/],
      ['/alice/m/resolve/%3A%2Fbert/config.json', /use a branch, a tag or a commit id/],
      ['/alice/m/resolve/main%0Ainfo%20HEAD/config.json', /use a branch, a tag or a commit id/],
      ['/alice/m/resolve/HEAD@%7B1%7D/config.json', /use a branch, a tag or a commit id/],
      [`/alice/m/resolve/${'a'.repeat(300)}/config.json`, /longer than 255/],
      ['/alice/m/resolve/main/%E0%A4%A', /bad percent-encoding/],
      ['/alice/m/resolve/main', /use \/\{repo\}\/resolve\/\{revision\}\/\{path\}/],
      ['/alice/m..x/resolve/main/config.json', /'\.\.' is not allowed/],
    ];
    for (const [urlPath, message] of cases) {
      // rawRequest: fetch would normalize '..' and '//' away.
      const res = await rawRequest(hub.port, { path: urlPath, headers: { Authorization: `Bearer ${alice}` } });
      expect(res.status, urlPath).toBe(400);
      expect(JSON.parse(res.text).error, urlPath).toMatch(message);
      expect(res.headers['x-error-message'], urlPath).toMatch(message);
    }
    // The Hub API's own paths are left to it, even for a namespace called "resolve".
    const api = await rawRequest(hub.port, { path: '/api/models/resolve/main', headers: { Authorization: `Bearer ${alice}` } });
    expect(api.headers['x-error-message'] ?? '').not.toMatch(/resolve\/\{revision\}/);
    const post = await rawRequest(hub.port, { method: 'POST', path: '/alice/m/resolve/main/config.json' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    // Nothing changed: the repo's refs are those pushed.
    const refs = ok(await hub.git(['--git-dir', hub.repoDir('alice/m'), 'for-each-ref', '--format=%(refname)']), 'for-each-ref');
    expect(refs.split('\n').sort()).toEqual(['refs/heads/broken', 'refs/heads/feature/x', 'refs/heads/main']);
  });

  it('the datasets/ prefix reaches datasets only', async () => {
    const res = await get('/datasets/alice/d/resolve/main/data.csv');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('a,b\n1,2\n');
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const asModel = await get('/alice/d/resolve/main/data.csv', { token: alice });
    expect(asModel.status).toBe(404);
    expect(asModel.headers.get('x-error-code')).toBe('RepoNotFound');
  });

  it('never answered a 500 nor sent a Xet header, and logged no error', () => {
    expect(seen.length).toBeGreaterThan(40);
    for (const r of seen) {
      expect(r.status, r.what).toBeLessThan(500);
      expect([...r.headers.keys()].filter((h) => h.startsWith('x-xet')), r.what).toEqual([]);
    }
    const errors = hub.log().split('\n').filter((line) => line.includes('"level":50'));
    expect(errors).toEqual([]);
  });
});

describe('resolve with the s3 store (s3rver)', () => {
  let s3: S3rverHandle;
  let hub: Hubgate;
  let alice: string;
  const get = resolver(() => hub);
  const weights = crypto.randomBytes(1_500_000);

  beforeAll(async () => {
    s3 = await startS3rver();
    hub = await startHubgate({ env: s3.env });
    alice = await hub.userWithToken('alice');
    ok(await hub.cli(['repo', 'create', 'alice/m']), 'repo create');
    ok(await hub.git(['lfs', 'install', '--skip-repo']), 'git lfs install');
    await pushFiles(hub, 'alice/m', alice, { 'model.safetensors': weights, 'config.json': '{}\n' });
  });
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  it('redirects an LFS file to a presigned GET on the bucket, which gives the exact bytes', async () => {
    const oid = sha256(weights);
    const head = await get('/alice/m/resolve/main/model.safetensors', { method: 'HEAD', token: alice });
    expect(head.status).toBe(302);
    expect(head.headers.get('x-linked-etag')).toBe(quoted(oid));
    expect(head.headers.get('x-linked-size')).toBe(String(weights.length));
    const location = new URL(head.headers.get('location')!);
    expect(location.origin).toBe(s3.endpoint);
    expect(location.pathname).toBe(`/${s3.bucket}/lfs/objects/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`);
    expect(location.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    const bytes = Buffer.from(await (await fetch(location)).arrayBuffer());
    expect(bytes.equals(weights)).toBe(true);

    const followed = await get('/alice/m/resolve/main/model.safetensors', { redirect: 'follow', token: alice });
    expect(followed.status).toBe(200);
    expect(new URL(followed.url).origin).toBe(s3.endpoint);
    expect(followed.body.equals(weights)).toBe(true);
    const viaClient = await downloadFile({ repo: 'alice/m', path: 'model.safetensors', hubUrl: hub.url, ...clientAuth(alice) });
    expect(Buffer.from(await viaClient!.arrayBuffer()).equals(weights)).toBe(true);
    // Regular files still come from git.
    expect((await get('/alice/m/resolve/main/config.json')).body.toString()).toBe('{}\n');
  });
});
