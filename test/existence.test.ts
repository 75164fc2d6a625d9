// Existence checks and file metadata (issue 12 items 6 and 7) against real hubgate processes, with
// content pushed by real git + git-lfs: @huggingface/hub's repoExists, fileExists, checkRepoAccess,
// fileDownloadInfo, downloadFile with ranges and parseSafetensorsMetadata; raw HTTP of the shapes
// huggingface_hub's repo_exists / revision_exists / file_exists / get_hf_file_metadata /
// HfFileSystem / get_safetensors_metadata read (hf_raise_for_status maps X-Error-Code); ranged
// reads of LFS files through resolve's redirect (fs store, then S3); the Xet token routes; and
// uploadFiles with its default options (Xet offered, Git LFS used).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { checkRepoAccess, downloadFile, fileDownloadInfo, fileExists, HubApiError, parseSafetensorsMetadata, repoExists, uploadFiles } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, type RunResult, requestsLogged, startHubgate, tempDir } from './helpers/hubgate.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const quoted = (s: string) => `"${s}"`;

function ok(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout.trim();
}

/** A safetensors file: the header's length (u64, little-endian), the JSON header (padded with spaces to 8 bytes), the tensors' bytes. */
function safetensors(tensors: Record<string, { dtype: 'F32' | 'F16'; shape: number[] }>, metadata: Record<string, string>) {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const size = t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'F32' ? 4 : 2);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return { bytes: Buffer.concat([length, Buffer.from(json), crypto.randomBytes(offset)]), header: JSON.parse(json) as Record<string, unknown> };
}

/** Clones `repo`, writes `files`, commits and pushes main; returns the commit. */
async function pushFiles(hub: Hubgate, repo: string, token: string, files: Record<string, Buffer | string>, before?: (work: string) => void) {
  const work = tempDir('hubgate-exist-');
  const git = (args: string[], what: string) => hub.git(args, { cwd: work }).then((r) => ok(r, what));
  await git(['clone', '-q', hub.remote(repo, token), '.'], 'clone');
  before?.(work);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(work, name)), { recursive: true });
    fs.writeFileSync(path.join(work, name), content);
  }
  await git(['add', '-A'], 'add');
  await git(['commit', '-q', '-m', `add ${Object.keys(files).join(', ')}`], 'commit');
  await git(['push', '-q', 'origin', 'HEAD:refs/heads/main'], 'push');
  return git(['rev-parse', 'HEAD'], 'rev-parse');
}

/** A fetch for @huggingface/hub that records what the client asked and what it got (after redirects). */
function recordingFetch() {
  const calls: { method: string; url: string; range: string | null; status: number; finalUrl: string }[] = [];
  const recorded: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push({ method: init?.method ?? 'GET', url, range: new Headers(init?.headers).get('range'), status: res.status, finalUrl: res.url });
    return res;
  };
  return { calls, fetch: recorded };
}

/** Every response of the raw requests in this file, to check that none carried anything of Xet. */
const seen: { what: string; headers: Headers; body: Buffer }[] = [];

function requester(hub: () => Hubgate) {
  return async (urlPath: string, opts: { method?: string; token?: string; headers?: Record<string, string>; redirect?: RequestRedirect; body?: string } = {}) => {
    const res = await fetch(`${hub().url}${urlPath}`, {
      method: opts.method ?? 'GET',
      redirect: opts.redirect ?? 'manual',
      headers: { ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
      body: opts.body,
    });
    const body = Buffer.from(await res.arrayBuffer());
    seen.push({ what: `${opts.method ?? 'GET'} ${urlPath}`, headers: res.headers, body });
    const json = () => JSON.parse(body.toString());
    return { status: res.status, headers: res.headers, body, json, url: res.url };
  };
}

describe('existence and metadata with the fs store', () => {
  let hub: Hubgate;
  let alice: string;
  let bob: string;
  let bobRead: string;
  let main: string;
  const http = requester(() => hub);
  const as = (token?: string) => ({ hubUrl: hub.url, ...(token ? { accessToken: token } : {}) });

  // alice/m: model.safetensors (Git LFS, by the default .gitattributes), plain/model.safetensors
  // (kept in git by a .gitattributes line), config.json.
  const lfsTensors = safetensors({ 'embed.weight': { dtype: 'F32', shape: [64, 1024] }, 'head.bias': { dtype: 'F16', shape: [10] } }, { format: 'pt' });
  const gitTensors = safetensors({ w: { dtype: 'F32', shape: [2, 3] } }, { format: 'np' });
  const config = '{"model_type": "bert"}\n';

  beforeAll(async () => {
    // Xet storage off: what hubgate sends when it speaks Git LFS only (test/xet.test.ts: Xet on).
    hub = await startHubgate({ env: { HUBGATE_XET: 'off' } });
    alice = await hub.userWithToken('alice');
    bob = await hub.userWithToken('bob');
    bobRead = ok(await hub.cli(['token', 'create', 'bob', '--role', 'read']), 'token create');
    ok(await hub.git(['lfs', 'install', '--skip-repo']), 'git lfs install');
    for (const args of [['alice/m'], ['alice/priv', '--private'], ['alice/gated', '--gated', 'manual'], ['alice/up'], ['alice/d', '--type', 'dataset']]) {
      ok(await hub.cli(['repo', 'create', ...args]), `repo create ${args.join(' ')}`);
    }
    main = await pushFiles(hub, 'alice/m', alice, { 'model.safetensors': lfsTensors.bytes, 'plain/model.safetensors': gitTensors.bytes, 'config.json': config }, (work) =>
      fs.appendFileSync(path.join(work, '.gitattributes'), 'plain/*.safetensors -filter -diff -merge\n'),
    );
    await pushFiles(hub, 'alice/priv', alice, { 'model.safetensors': lfsTensors.bytes });
    await pushFiles(hub, 'alice/gated', alice, { 'model.safetensors': lfsTensors.bytes, 'config.json': config });
    await pushFiles(hub, 'datasets/alice/d', alice, { 'data.csv': 'a,b\n1,2\n' });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('the two safetensors files are stored as intended: one as a Git LFS pointer, one in git', async () => {
    const show = (p: string) => hub.git(['--git-dir', hub.repoDir('alice/m'), 'cat-file', '-p', `main:${p}`]).then((r) => ok(r, 'cat-file'));
    expect(await show('model.safetensors')).toContain(`oid sha256:${sha256(lfsTensors.bytes)}`);
    expect((await hub.git(['--git-dir', hub.repoDir('alice/m'), 'cat-file', '-s', 'main:plain/model.safetensors'])).stdout.trim()).toBe(String(gitTensors.bytes.length));
  });

  it('repoExists and checkRepoAccess: public, gated and own private repos exist; a private repo of someone else and a missing one do not', async () => {
    expect(await repoExists({ repo: 'alice/m', ...as() })).toBe(true);
    expect(await repoExists({ repo: 'alice/m', ...as(bob) })).toBe(true);
    expect(await repoExists({ repo: { type: 'dataset', name: 'alice/d' }, ...as() })).toBe(true);
    expect(await repoExists({ repo: 'alice/d', ...as() })).toBe(false); // a model of that name does not exist
    // A gated repo's metadata is visible: it exists, as huggingface_hub's repo_exists says too.
    expect(await repoExists({ repo: 'alice/gated', ...as(bob) })).toBe(true);
    expect(await repoExists({ repo: 'alice/gated', ...as() })).toBe(true);
    expect(await repoExists({ repo: 'alice/priv', ...as(alice) })).toBe(true);
    expect(await repoExists({ repo: 'alice/priv', ...as(bob) })).toBe(false); // 404
    expect(await repoExists({ repo: 'alice/priv', ...as() })).toBe(false); // 401
    expect(await repoExists({ repo: 'alice/absent', ...as(bob) })).toBe(false);

    await checkRepoAccess({ repo: 'alice/m', ...as(bob) });
    await checkRepoAccess({ repo: 'alice/gated', ...as(bob) });
    await checkRepoAccess({ repo: 'alice/priv', ...as(alice) });
    const denied = await checkRepoAccess({ repo: 'alice/priv', ...as(bob) }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(HubApiError);
    expect((denied as HubApiError).statusCode).toBe(404);
    expect((denied as HubApiError).message).toContain('Repository not found: alice/priv');
    const anonymous = await checkRepoAccess({ repo: 'alice/priv', ...as() }).catch((e: unknown) => e);
    expect((anonymous as HubApiError).statusCode).toBe(401);
    const missing = await checkRepoAccess({ repo: 'alice/absent', ...as(bob) }).catch((e: unknown) => e);
    expect((missing as HubApiError).statusCode).toBe(404);
  });

  it('fileExists (HEAD .../raw/{rev}/{path}): files in git and in LFS exist; missing files, revisions, repos and hidden repos do not; a gated repo is an error', async () => {
    const { calls, fetch: recorded } = recordingFetch();
    const exists = (repo: string, p: string, token?: string, revision?: string) => fileExists({ repo, path: p, revision, fetch: recorded, ...as(token) });
    expect(await exists('alice/m', 'config.json')).toBe(true);
    expect(await exists('alice/m', 'model.safetensors')).toBe(true);
    expect(await exists('alice/m', 'plain/model.safetensors', bob)).toBe(true);
    expect(await exists('alice/m', 'config.json', undefined, main)).toBe(true);
    expect(await exists('alice/m', 'nope.json')).toBe(false);
    expect(await exists('alice/m', 'plain')).toBe(false); // a folder is no file
    expect(await exists('alice/m', 'config.json', undefined, 'no-such-branch')).toBe(false);
    expect(await exists('alice/absent', 'config.json', bob)).toBe(false);
    expect(await exists('alice/priv', 'model.safetensors', bob)).toBe(false);
    expect(await exists('alice/priv', 'model.safetensors', alice)).toBe(true);
    expect(await exists('datasets/alice/d', 'data.csv')).toBe(true);
    expect(calls.every((c) => c.method === 'HEAD' && new URL(c.url).pathname.includes('/raw/'))).toBe(true);
    // The files of a gated repo are closed to bob until his request is accepted: the client raises
    // the 403 (HEAD answers carry no body, so it reports the status rather than a JSON parse error).
    const gated = await exists('alice/gated', 'config.json', bob).catch((e: unknown) => e);
    expect(gated).toBeInstanceOf(HubApiError);
    expect((gated as HubApiError).statusCode).toBe(403);
    expect(await exists('alice/gated', 'config.json', alice)).toBe(true);
  });

  it('raw answers the file as git stores it: a Git LFS file is its pointer, never a redirect', async () => {
    const pointer = await http('/alice/m/raw/main/model.safetensors');
    expect(pointer.status).toBe(200);
    expect(pointer.body.toString()).toBe(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(lfsTensors.bytes)}\nsize ${lfsTensors.bytes.length}\n`);
    expect(pointer.headers.get('x-repo-commit')).toBe(main);
    expect(pointer.headers.get('location')).toBeNull();
    const head = await http('/alice/m/raw/main/config.json', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(config.length));
    expect(head.body.length).toBe(0);
    const piece = await http('/alice/m/raw/main/plain/model.safetensors', { headers: { Range: 'bytes=0-7' } });
    expect(piece.status).toBe(206);
    expect(piece.body.equals(gitTensors.bytes.subarray(0, 8))).toBe(true);
    expect((await http('/alice/m/raw/main/config.json', { method: 'POST' })).status).toBe(405);
    expect((await http('/alice/m/raw/main')).status).toBe(400);
  });

  it('parseSafetensorsMetadata reads the header by ranges, for a Git LFS file (through the redirect) and for a file in git', async () => {
    const { calls, fetch: recorded } = recordingFetch();
    const before = (await requestsLogged(hub)).length;
    const lfs = await parseSafetensorsMetadata({ repo: 'alice/m', fetch: recorded, computeParametersCount: true, ...as(bob) });
    expect(lfs.sharded).toBe(false);
    if (lfs.sharded) return;
    expect(lfs.header).toEqual(lfsTensors.header);
    expect(lfs.parameterCount).toEqual({ F32: 64 * 1024, F16: 10 });
    expect(lfs.filepaths).toEqual(['model.safetensors']);
    // It found the file with fileExists, then read the 8-byte length and the header as ranges.
    expect(calls.map((c) => c.range).filter(Boolean)).toEqual(expect.arrayContaining(['bytes=0-7', `bytes=8-${7 + Number(lfsTensors.bytes.readBigUInt64LE(0))}`]));
    expect(calls.filter((c) => c.range === 'bytes=0-7').every((c) => c.status === 206)).toBe(true);
    // resolve answered 302 and the fs store's signed URL the ranges, with 206.
    const logged = (await requestsLogged(hub)).slice(before);
    expect(logged.some((r) => r.path.startsWith('/alice/m/resolve/main/model.safetensors') && r.status === 302)).toBe(true);
    expect(logged.filter((r) => r.path.includes('/info/lfs/objects/') && r.status === 206).length).toBeGreaterThanOrEqual(2);
    expect(logged.some((r) => r.path.includes('/info/lfs/objects/') && r.status === 200)).toBe(false); // never the whole object

    const inGit = await parseSafetensorsMetadata({ repo: 'alice/m', path: 'plain/model.safetensors', computeParametersCount: true, ...as() });
    expect(inGit.sharded).toBe(false);
    if (inGit.sharded) return;
    expect(inGit.header).toEqual(gitTensors.header);
    expect(inGit.parameterCount).toEqual({ F32: 6 });

    // A repo without model.safetensors is no safetensors repo, as on the Hub.
    await expect(parseSafetensorsMetadata({ repo: 'alice/absent', ...as(bob) })).rejects.toThrow();
  });

  it('fileDownloadInfo and ranged downloadFile: size and ETag for LFS and git files, exact bytes of any slice', async () => {
    const lfsInfo = await fileDownloadInfo({ repo: 'alice/m', path: 'model.safetensors', ...as() });
    expect(lfsInfo).toMatchObject({ size: lfsTensors.bytes.length, etag: quoted(sha256(lfsTensors.bytes)) });
    const gitInfo = await fileDownloadInfo({ repo: 'alice/m', path: 'config.json', ...as() });
    expect(gitInfo?.size).toBe(config.length);
    expect(gitInfo?.etag).toMatch(/^"[0-9a-f]{40}"$/);
    expect(await fileDownloadInfo({ repo: 'alice/m', path: 'nope.bin', ...as() })).toBeNull();

    const blob = await downloadFile({ repo: 'alice/m', path: 'model.safetensors', ...as(bob) });
    expect(blob?.size).toBe(lfsTensors.bytes.length);
    const slice = Buffer.from(await blob!.slice(100_000, 100_100).arrayBuffer());
    expect(slice.equals(lfsTensors.bytes.subarray(100_000, 100_100))).toBe(true);
    const tail = Buffer.from(await blob!.slice(lfsTensors.bytes.length - 10).arrayBuffer());
    expect(tail.equals(lfsTensors.bytes.subarray(-10))).toBe(true);
  });

  it('ranged reads through resolve as HfFileSystem and get_safetensors_metadata send them: 206 with Content-Range, through the redirect for LFS files', async () => {
    const size = lfsTensors.bytes.length;
    for (const file of ['model.safetensors', 'plain/model.safetensors']) {
      const bytes = file === 'model.safetensors' ? lfsTensors.bytes : gitTensors.bytes;
      const first = await http(`/alice/m/resolve/main/${file}`, { headers: { Range: 'bytes=0-7' }, redirect: 'follow' });
      expect(first.status).toBe(206);
      expect(first.headers.get('content-range')).toBe(`bytes 0-7/${bytes.length}`);
      expect(first.body.equals(bytes.subarray(0, 8))).toBe(true);
      // get_safetensors_metadata asks for the first 100 kB whatever the file's size.
      const big = await http(`/alice/m/resolve/main/${file}`, { headers: { Range: 'bytes=0-100000' }, redirect: 'follow' });
      expect(big.status).toBe(206);
      const end = Math.min(100_000, bytes.length - 1);
      expect(big.headers.get('content-range')).toBe(`bytes 0-${end}/${bytes.length}`);
      expect(big.body.equals(bytes.subarray(0, end + 1))).toBe(true);
    }
    // HfFileSystem reads blocks as `bytes=start-(end-1)`.
    const block = await http('/alice/m/resolve/main/model.safetensors', { headers: { Range: `bytes=${size - 5000}-${size - 1}` }, redirect: 'follow', token: bob });
    expect(block.status).toBe(206);
    expect(block.body.equals(lfsTensors.bytes.subarray(size - 5000))).toBe(true);
    // Past the end: 416 from the store too.
    const past = await http('/alice/m/resolve/main/model.safetensors', { headers: { Range: `bytes=${size}-` }, redirect: 'follow' });
    expect(past.status).toBe(416);
  });

  it('HEAD of resolve as get_hf_file_metadata reads it: commit, ETag or X-Linked-Etag, size, Location, no body', async () => {
    const lfs = await http('/alice/m/resolve/main/model.safetensors', { method: 'HEAD', headers: { 'Accept-Encoding': 'identity' } });
    expect(lfs.status).toBe(302);
    expect(lfs.headers.get('x-repo-commit')).toBe(main);
    expect(lfs.headers.get('x-linked-etag')).toBe(quoted(sha256(lfsTensors.bytes)));
    expect(lfs.headers.get('x-linked-size')).toBe(String(lfsTensors.bytes.length));
    expect(new URL(lfs.headers.get('location')!).origin).toBe(hub.url);
    expect(lfs.body.length).toBe(0);
    const plain = await http('/alice/m/resolve/main/config.json', { method: 'HEAD' });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('x-repo-commit')).toBe(main);
    expect(plain.headers.get('etag')).toMatch(/^"[0-9a-f]{40}"$/);
    expect(plain.headers.get('content-length')).toBe(String(config.length));
    expect(plain.headers.get('x-linked-size')).toBeNull();
    expect(plain.body.length).toBe(0);
  });

  it("every error shape huggingface_hub maps: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo, by GET and by HEAD (headers only)", async () => {
    type Case = [what: string, url: string, token: string | undefined, status: number, code: string | null, message: RegExp];
    const cases: Case[] = [
      // repo_exists / repo_info
      ['missing repo', '/api/models/alice/absent', bob, 404, 'RepoNotFound', /Repository not found/],
      ['missing repo, anonymous', '/api/models/alice/absent', undefined, 401, 'RepoNotFound', /./],
      ['private repo of another', '/api/models/alice/priv', bob, 404, 'RepoNotFound', /Repository not found/],
      ['private repo, anonymous', '/api/models/alice/priv', undefined, 401, 'RepoNotFound', /./],
      // revision_exists
      ['missing revision', '/api/models/alice/m/revision/no-such-branch', bob, 404, 'RevisionNotFound', /no-such-branch/],
      ['missing revision of a hidden repo', '/api/models/alice/priv/revision/no-such-branch', bob, 404, 'RepoNotFound', /Repository not found/],
      // file_exists / get_hf_file_metadata
      ['missing file', '/alice/m/resolve/main/nope.bin', bob, 404, 'EntryNotFound', /nope\.bin does not exist/],
      ['missing revision (resolve)', '/alice/m/resolve/no-such-branch/config.json', bob, 404, 'RevisionNotFound', /no-such-branch/],
      ['missing repo (resolve)', '/alice/absent/resolve/main/config.json', bob, 404, 'RepoNotFound', /Repository not found/],
      ['private file of another', '/alice/priv/resolve/main/model.safetensors', bob, 404, 'RepoNotFound', /Repository not found/],
      ['gated file', '/alice/gated/resolve/main/config.json', bob, 403, 'GatedRepo', /gated/],
      ['gated file, anonymous', '/alice/gated/resolve/main/config.json', undefined, 401, 'GatedRepo', /gated/],
      // HfFileSystem: ls (tree) and info (paths-info) on a gated repo
      ['gated tree', '/api/models/alice/gated/tree/main', bob, 403, 'GatedRepo', /gated/],
      ['missing folder', '/api/models/alice/m/tree/main/nope', bob, 404, 'EntryNotFound', /nope/],
      ['tree of a missing revision', '/api/models/alice/m/tree/no-such-branch', bob, 404, 'RevisionNotFound', /no-such-branch/],
      ['bad token', '/api/models/alice/m', 'hf_not_a_token', 401, null, /^Invalid credentials in Authorization header/],
    ];
    for (const [what, url, token, status, code, message] of cases) {
      const get = await http(url, { token });
      expect([what, get.status, get.headers.get('x-error-code')]).toEqual([what, status, code]);
      expect(get.headers.get('x-error-message'), what).toMatch(message);
      expect(get.headers.get('content-type'), what).toMatch(/^application\/json/);
      expect(get.json().error, what).toBeTruthy();
      const head = await http(url, { token, method: 'HEAD' });
      expect([what, head.status, head.headers.get('x-error-code'), head.headers.get('x-error-message')]).toEqual([what, status, code, get.headers.get('x-error-message')]);
      expect(head.body.length, what).toBe(0);
      expect(head.headers.get('content-type'), what).toBeNull();
    }
    // A gated repo's info is visible (repo_exists is True, as huggingface_hub expects: it catches GatedRepoError only for files).
    expect((await http('/api/models/alice/gated', { token: bob })).status).toBe(200);
    expect((await http(`/api/models/alice/m/revision/${main}`, { token: bob })).json().sha).toBe(main);
  });

  it('HfFileSystem shapes: ls through the tree with expand, info through paths-info', async () => {
    const tree = await http('/api/models/alice/m/tree/main?recursive=true&expand=true', { token: bob });
    expect(tree.status).toBe(200);
    const entries = tree.json() as { path: string; type: string; size: number; lfs?: { oid: string; size: number }; lastCommit?: { id: string } }[];
    const weights = entries.find((e) => e.path === 'model.safetensors')!;
    expect(weights).toMatchObject({ type: 'file', size: lfsTensors.bytes.length, lfs: { oid: sha256(lfsTensors.bytes), size: lfsTensors.bytes.length } });
    expect(weights.lastCommit?.id).toBe(main);
    expect(entries.find((e) => e.path === 'plain')?.type).toBe('directory');
    const info = await http('/api/models/alice/m/paths-info/main', {
      method: 'POST',
      token: bob,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'paths=plain%2Fmodel.safetensors&paths=nope&expand=True',
    });
    expect(info.status).toBe(200);
    expect(info.json()).toMatchObject([{ type: 'file', path: 'plain/model.safetensors', size: gitTensors.bytes.length }]);
  });

  it('Xet off: token routes answer, after the guard, a 501 that says to set HF_HUB_DISABLE_XET=1 (or useXet: false); no CAS', async () => {
    for (const url of ['/api/models/alice/m/xet-write-token/main', '/api/models/alice/m/xet-write-token/None', '/api/models/alice/m/xet-write-token', '/api/datasets/alice/d/xet-write-token/main']) {
      const r = await http(url, { token: alice });
      expect([url, r.status]).toEqual([url, 501]);
      expect(r.headers.get('x-error-message')).toContain('HF_HUB_DISABLE_XET=1');
      expect(r.headers.get('x-error-message')).toContain('useXet: false');
      expect(r.json().error).toBe(r.headers.get('x-error-message'));
    }
    const read = await http('/api/models/alice/m/xet-read-token/main');
    expect(read.status).toBe(501);
    expect(read.json().error).toContain('HF_HUB_DISABLE_XET=1');
    // Access first: the same answers as any route that needs read or write.
    const denials: [string, string | undefined, number, string | null][] = [
      ['/api/models/alice/m/xet-write-token/main', undefined, 401, null],
      ['/api/models/alice/m/xet-write-token/main', bob, 403, null],
      ['/api/models/alice/m/xet-write-token/main', bobRead, 403, null],
      ['/api/models/alice/priv/xet-read-token/main', bob, 404, 'RepoNotFound'],
      ['/api/models/alice/absent/xet-write-token/main', bob, 404, 'RepoNotFound'],
      ['/api/models/alice/gated/xet-read-token/main', bob, 403, 'GatedRepo'],
    ];
    for (const [url, token, status, code] of denials) {
      const r = await http(url, { token });
      expect([url, token === undefined, r.status, r.headers.get('x-error-code')]).toEqual([url, token === undefined, status, code]);
    }
    expect((await http('/api/models/alice/priv/xet-write-token/main', { token: alice })).status).toBe(501);
    // With Xet off there is no CAS: its paths are no route.
    expect((await http('/cas/v1/shards', { method: 'POST', token: alice, body: 'x' })).status).toBe(404);
    expect((await http(`/cas/v2/reconstructions/${'ab'.repeat(32)}`, { token: alice })).status).toBe(404);
  });

  it('repo info reports xetEnabled: false, by default and when expand asks for it; expand[] as repoExists spells it selects fields', async () => {
    const full = await http('/api/models/alice/m', { token: bob });
    expect(full.json().xetEnabled).toBe(false);
    const expanded = await http('/api/models/alice/m?expand=xetEnabled', { token: bob });
    expect(expanded.json().xetEnabled).toBe(false);
    expect(expanded.json().siblings).toBeUndefined();
    const bracket = await http('/api/models/alice/m?expand[]=likes');
    expect(bracket.status).toBe(200);
    expect(bracket.json().likes).toBe(0);
    expect(bracket.json().siblings).toBeUndefined();
    expect((await http('/api/models/alice/m/revision/main?blobs=true')).json().xetEnabled).toBe(false);
  });

  it('uploadFiles with its default options offers Xet to the LFS batch, gets basic, and uploads through Git LFS', async () => {
    const { calls, fetch: recorded } = recordingFetch();
    const batchBodies: { transfers?: string[] }[] = [];
    const spy: typeof fetch = async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (url.endsWith('/info/lfs/objects/batch') && typeof init?.body === 'string') batchBodies.push(JSON.parse(init.body));
      return recorded(input, init);
    };
    const weights = safetensors({ w: { dtype: 'F32', shape: [300, 300] } }, { format: 'pt' }).bytes;
    const out = await uploadFiles({
      repo: 'alice/up',
      fetch: spy,
      files: [
        { path: 'model.safetensors', content: new Blob([weights]) },
        { path: 'config.json', content: new Blob([config]) },
      ],
      ...as(alice),
    });
    expect(out?.commit.oid).toMatch(/^[0-9a-f]{40}$/);
    expect(batchBodies).toHaveLength(1);
    expect(batchBodies[0].transfers).toContain('xet');
    expect(calls.some((c) => c.url.includes('xet'))).toBe(false);
    const pointer = await http('/alice/up/raw/main/model.safetensors');
    expect(pointer.body.toString()).toContain(`oid sha256:${sha256(weights)}`);
    const back = await downloadFile({ repo: 'alice/up', path: 'model.safetensors', ...as(alice) });
    expect(Buffer.from(await back!.arrayBuffer()).equals(weights)).toBe(true);
  });

  it('CORS: browsers may read every header the client needs, on resolve, raw and the API', async () => {
    const needed = ['X-Repo-Commit', 'X-Linked-Etag', 'X-Linked-Size', 'X-Error-Code', 'X-Error-Message', 'ETag', 'Content-Range', 'Link', 'X-Total-Count'];
    for (const url of ['/alice/m/resolve/main/config.json', '/alice/m/raw/main/config.json', '/api/models/alice/m']) {
      const r = await http(url, { method: 'HEAD', headers: { Origin: 'http://app.example' } });
      expect(r.headers.get('access-control-allow-origin')).toBe('*');
      const exposed = r.headers.get('access-control-expose-headers')!.split(',').map((h) => h.trim().toLowerCase());
      for (const h of needed) expect(exposed, `${url} ${h}`).toContain(h.toLowerCase());
      const preflight = await http(url, { method: 'OPTIONS', headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range, authorization' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Range/);
    }
  });

  it('never sent anything of Xet: no X-Xet-* header, no xetHash, no xetEnabled: true', () => {
    expect(seen.length).toBeGreaterThan(50);
    for (const r of seen) {
      expect([...r.headers.keys()].filter((h) => h.startsWith('x-xet')), r.what).toEqual([]);
      const text = r.body.toString('latin1');
      expect(text.includes('xetHash'), r.what).toBe(false);
      expect(/"xetEnabled":\s*true/.test(text), r.what).toBe(false);
    }
    const errors = hub.log().split('\n').filter((line) => line.includes('"level":50'));
    expect(errors).toEqual([]);
  });
});

describe('ranged reads of LFS files through resolve with the s3 store (s3rver)', () => {
  let s3: S3rverHandle;
  let hub: Hubgate;
  let alice: string;
  const http = requester(() => hub);
  const tensors = safetensors({ w: { dtype: 'F32', shape: [128, 512] } }, { format: 'pt' });

  beforeAll(async () => {
    s3 = await startS3rver();
    hub = await startHubgate({ env: s3.env });
    alice = await hub.userWithToken('alice');
    ok(await hub.cli(['repo', 'create', 'alice/m']), 'repo create');
    ok(await hub.git(['lfs', 'install', '--skip-repo']), 'git lfs install');
    await pushFiles(hub, 'alice/m', alice, { 'model.safetensors': tensors.bytes });
  });
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  it('the presigned GET honours Range: 206 with Content-Range, and parseSafetensorsMetadata reads the header', async () => {
    const first = await http('/alice/m/resolve/main/model.safetensors', { headers: { Range: 'bytes=0-7' }, redirect: 'follow', token: alice });
    expect(new URL(first.url).origin).toBe(s3.endpoint);
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-7/${tensors.bytes.length}`);
    expect(first.body.equals(tensors.bytes.subarray(0, 8))).toBe(true);
    const parsed = await parseSafetensorsMetadata({ repo: 'alice/m', hubUrl: hub.url, accessToken: alice, computeParametersCount: true });
    expect(parsed.sharded).toBe(false);
    if (parsed.sharded) return;
    expect(parsed.header).toEqual(tensors.header);
    expect(parsed.parameterCount).toEqual({ F32: 128 * 512 });
    expect(await fileExists({ repo: 'alice/m', path: 'model.safetensors', hubUrl: hub.url, accessToken: alice })).toBe(true);
  });
});
