// Uploads by commit (preupload + commit, hf-wire.md §2.4–§2.5) with @huggingface/hub as the
// client against a real hubgate, checked with real git and git-lfs clones; bad input with raw
// requests, each answered 4xx with a message and leaving the branch where it was.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { commit, deleteFile, downloadFile, uploadFile, uploadFiles } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, type Hubgate, requestsLogged, run, startHubgate, tempDir } from './helpers/hubgate.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

const MiB = 1024 ** 2;
const MAX_FILE_SIZE = 1_000_000;
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const blob = (b: Buffer | string) => new Blob([typeof b === 'string' ? Buffer.from(b) : b]);

/** Options for @huggingface/hub calls to `repo` with `token`, as any client code passes them. */
function clientFor(hub: Hubgate, token: string, repo: string) {
  return { repo, hubUrl: hub.url, accessToken: token };
}

describe.each(DATABASES)('uploads by commit through the Hub API, on %s', (db) => {
  let hub: Hubgate;
  let token: string;
  let readToken: string;

  beforeAll(async () => {
    hub = await startHubgate({
      db,
      env: { HUBGATE_LFS_MULTIPART_THRESHOLD: String(6 * MiB), HUBGATE_LFS_MULTIPART_CHUNK: String(5 * MiB), HUBGATE_MAX_FILE_SIZE: String(MAX_FILE_SIZE) },
    });
    token = await hub.userWithToken('alice');
    readToken = (await hub.cli(['token', 'create', 'alice', '--role', 'read'])).stdout.trim();
    for (const repo of ['alice/m', 'alice/mixed', 'alice/folder', 'alice/big', 'alice/race', 'alice/bad']) {
      const created = await hub.cli(['repo', 'create', repo]);
      expect(created.code, created.stderr).toBe(0);
    }
    expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
  });
  afterAll(() => hub?.stop());

  const client = (repo: string) => clientFor(hub, token, repo);

  async function clone(repo: string): Promise<string> {
    const dir = tempDir('hubgate-clone-');
    const r = await hub.git(['clone', '-q', hub.remote(repo, token), '.'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    return dir;
  }

  /** git in the server's bare repo (reads only). */
  async function bare(repo: string, args: string[]): Promise<string> {
    const r = await run('git', ['--git-dir', hub.repoDir(repo), ...args]);
    if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }
  const head = async (repo: string) => (await bare(repo, ['rev-parse', 'main'])).trim();

  it('uploads a small file and an LFS file; a git clone has the same bytes and the author is the caller', async () => {
    const weights = crypto.randomBytes(2 * MiB);
    const readme = '# my model\n';
    const before = await head('alice/m');
    const out = await uploadFiles({
      ...client('alice/m'),
      commitTitle: 'Add weights',
      files: [{ path: 'README.md', content: blob(readme) }, { path: 'model.safetensors', content: blob(weights) }],
    });
    const oid = (await head('alice/m'));
    expect(out?.commit.oid).toBe(oid);
    expect(out?.commit.url).toBe(`${hub.url}/alice/m/commit/${oid}`);
    expect((await bare('alice/m', ['rev-parse', 'main^'])).trim()).toBe(before);
    expect((await bare('alice/m', ['log', '-1', '--format=%an <%ae>|%s', 'main'])).trim()).toBe('alice <alice@example.com>|Add weights');
    // The LFS file is stored as a pointer to an object linked to the repo.
    expect(await bare('alice/m', ['show', 'main:model.safetensors'])).toBe(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(weights)}\nsize ${weights.length}\n`);

    const dir = await clone('alice/m');
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe(readme);
    expect(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(weights)).toBe(true);
  });

  it('commits to a dataset repo, whose commit URL carries the datasets/ prefix', async () => {
    expect((await hub.cli(['repo', 'create', 'alice/d', '--type', 'dataset'])).code).toBe(0);
    const rows = Buffer.from('a,b\n1,2\n');
    const out = await uploadFile({ ...client('datasets/alice/d'), file: { path: 'train.csv', content: blob(rows) } });
    const oid = await bare('datasets/alice/d', ['rev-parse', 'main']);
    expect(out?.commit.url).toBe(`${hub.url}/datasets/alice/d/commit/${oid.trim()}`);
    expect(await bare('datasets/alice/d', ['show', 'main:train.csv'])).toBe(rows.toString());
  });

  it('preupload decides lfs from .gitattributes, size and binary samples, and gives the current oid', async () => {
    const readmeOid = (await bare('alice/m', ['rev-parse', 'main:README.md'])).trim();
    const weightsPointer = await bare('alice/m', ['show', 'main:model.safetensors']);
    const sample = (b: Buffer | string) => Buffer.from(b).subarray(0, 512).toString('base64');
    const res = await fetch(`${hub.url}/api/models/alice/m/preupload/main`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        files: [
          { path: 'README.md', size: 11, sample: sample('# my model\n') },
          { path: 'model.safetensors', size: 10, sample: sample('0123456789') },
          { path: 'notes.txt', size: MAX_FILE_SIZE + 1, sample: sample('text') },
          { path: 'data.raw', size: 4, sample: sample(Buffer.from([1, 0, 2, 3])) },
          { path: 'sub/x.tracked', size: 4, sample: sample('text') },
          { path: 'logs/run.log', size: 4, sample: sample('text') },
        ],
        gitAttributes: '*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.tracked filter=lfs diff=lfs merge=lfs -text\n',
        gitIgnore: '*.log\n',
      }),
    });
    expect(res.status).toBe(200);
    const { files } = await res.json();
    expect(files).toEqual([
      { path: 'README.md', uploadMode: 'regular', shouldIgnore: false, oid: readmeOid },
      { path: 'model.safetensors', uploadMode: 'lfs', shouldIgnore: false, oid: /oid sha256:([0-9a-f]{64})/.exec(weightsPointer)![1] },
      { path: 'notes.txt', uploadMode: 'lfs', shouldIgnore: false },
      { path: 'data.raw', uploadMode: 'lfs', shouldIgnore: false },
      { path: 'sub/x.tracked', uploadMode: 'lfs', shouldIgnore: false },
      { path: 'logs/run.log', uploadMode: 'regular', shouldIgnore: true },
    ]);
  });

  it('a binary file no .gitattributes tracks goes to LFS and is added to .gitattributes, so clones get its content', async () => {
    const data = Buffer.concat([Buffer.from([0, 1, 2]), crypto.randomBytes(3000)]);
    await uploadFile({ ...client('alice/m'), file: { path: 'raw/data [v1].dat', content: blob(data) } });
    const attributes = await bare('alice/m', ['show', 'main:.gitattributes']);
    expect(attributes.split('\n')).toContain('"/raw/data \\\\[v1\\\\].dat" filter=lfs diff=lfs merge=lfs -text');
    expect(await bare('alice/m', ['show', 'main:raw/data [v1].dat'])).toContain(`oid sha256:${sha256(data)}`);
    const dir = await clone('alice/m');
    expect(fs.readFileSync(path.join(dir, 'raw', 'data [v1].dat')).equals(data)).toBe(true);
  });

  it('a commit pushed with git is changed through the API, and the API commit is pulled and pushed on with git', async () => {
    const dir = await clone('alice/mixed');
    fs.writeFileSync(path.join(dir, 'config.json'), '{"a": 1}\n');
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'keep\n');
    expect((await hub.git(['add', '.'], { cwd: dir })).code).toBe(0);
    expect((await hub.git(['commit', '-q', '-m', 'from git'], { cwd: dir })).code).toBe(0);
    const push = await hub.git(['push', '-q', 'origin', 'main'], { cwd: dir });
    expect(push.code, push.stderr).toBe(0);
    const pushed = await head('alice/mixed');

    const out = await uploadFile({ ...client('alice/mixed'), file: { path: 'config.json', content: blob('{"a": 2}\n') }, parentCommit: pushed });
    expect((await bare('alice/mixed', ['rev-parse', 'main^'])).trim()).toBe(pushed);
    expect(out?.commit.oid).toBe(await head('alice/mixed'));

    const pull = await hub.git(['pull', '-q', '--ff-only'], { cwd: dir });
    expect(pull.code, pull.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).toBe('{"a": 2}\n');
    fs.writeFileSync(path.join(dir, 'config.json'), '{"a": 3}\n');
    expect((await hub.git(['commit', '-q', '-am', 'from git again'], { cwd: dir })).code).toBe(0);
    const push2 = await hub.git(['push', '-q', 'origin', 'main'], { cwd: dir });
    expect(push2.code, push2.stderr).toBe(0);
    expect((await bare('alice/mixed', ['log', '--format=%s', 'main'])).trim().split('\n').slice(0, 3)).toEqual(['from git again', 'Add config.json', 'from git']);
    expect(await bare('alice/mixed', ['show', 'main:config.json'])).toBe('{"a": 3}\n');
    expect(await bare('alice/mixed', ['show', 'main:keep.txt'])).toBe('keep\n');
  });

  it('commits a folder of 50 files in one commit', async () => {
    const before = await head('alice/folder');
    const files = Array.from({ length: 50 }, (_, i) => ({ path: `data/part-${String(i).padStart(2, '0')}.txt`, content: `row ${i}\n` }));
    await uploadFiles({ ...client('alice/folder'), files: files.map((f) => ({ path: f.path, content: blob(f.content) })) });
    expect((await bare('alice/folder', ['rev-list', '--count', `${before}..main`])).trim()).toBe('1');
    const listed = (await bare('alice/folder', ['ls-tree', '-r', '--name-only', 'main', 'data/'])).trim().split('\n');
    expect(listed).toEqual(files.map((f) => f.path));
    const dir = await clone('alice/folder');
    for (const f of files) expect(fs.readFileSync(path.join(dir, f.path), 'utf8')).toBe(f.content);

    // deleteFile, then a deletedFolder through the raw API.
    await deleteFile({ ...client('alice/folder'), path: 'data/part-00.txt' });
    expect(await bare('alice/folder', ['ls-tree', '-r', '--name-only', 'main', 'data/'])).not.toContain('part-00.txt');
    const res = await ndjson('alice/folder', [header('drop the folder'), { key: 'deletedFolder', value: { path: 'data/' } }]);
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await bare('alice/folder', ['ls-tree', '-r', '--name-only', 'main'])).trim()).toBe('.gitattributes');
  });

  it('uploads a 12 MiB file in parts (multipart over the 6 MiB threshold) and a clone gets the same bytes', async () => {
    const big = crypto.randomBytes(12 * MiB);
    const logged = (await requestsLogged(hub)).length;
    // Git LFS multipart: without Xet (its default uploads through hubgate's CAS, test/xet.test.ts).
    await uploadFile({ ...client('alice/big'), file: { path: 'big.bin', content: blob(big) }, useXet: false });
    const requests = (await requestsLogged(hub)).slice(logged);
    expect(requests.filter((r) => r.method === 'PUT' && /\/info\/lfs\/multipart\/[^/]+\/\d+$/.test(r.path)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(requests.filter((r) => /\/info\/lfs\/multipart\/[^/]+\/complete$/.test(r.path)).map((r) => r.status)).toEqual([200]);
    const dir = await clone('alice/big');
    expect(sha256(fs.readFileSync(path.join(dir, 'big.bin')))).toBe(sha256(big));
  });

  it('concurrent commits to one branch all land without parentCommit; with the same parentCommit one lands and the others get 412', async () => {
    const before = await head('alice/race');
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => uploadFile({ ...client('alice/race'), file: { path: `file-${i}.txt`, content: blob(`content ${i}\n`) } })),
    );
    const landed = (await bare('alice/race', ['rev-list', `${before}..main`])).trim().split('\n');
    expect(landed).toHaveLength(5);
    expect(new Set(results.map((r) => r!.commit.oid))).toEqual(new Set(landed));
    const names = (await bare('alice/race', ['ls-tree', '--name-only', 'main'])).trim().split('\n');
    for (let i = 0; i < 5; i++) expect(names).toContain(`file-${i}.txt`);

    const parent = await head('alice/race');
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        ndjson('alice/race', [header(`racer ${i}`, parent), { key: 'file', value: { path: `racer-${i}.txt`, content: Buffer.from(`${i}`).toString('base64'), encoding: 'base64' } }]),
      ),
    );
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 412, 412, 412, 412]);
    const refused = answers.find((r) => r.status === 412)!;
    expect(refused.headers.get('x-error-message')).toMatch(/A commit has happened since/);
    expect((await bare('alice/race', ['rev-list', '--count', `${parent}..main`])).trim()).toBe('1');
  });

  it('a push that moves the branch while a commit is checked is kept: the commit is applied again on top, or refused (412) with parentCommit', async () => {
    // A custom pre-receive hook (run for API commits as for pushes) moves main once, as a push
    // landing between the commit's tree being built and its update-ref would.
    const hooks = path.join(hub.repoDir('alice/race'), 'custom_hooks', 'pre-receive.d');
    fs.mkdirSync(hooks, { recursive: true });
    const marker = path.join(tempDir(), 'raced');
    fs.writeFileSync(
      path.join(hooks, '10-race'),
      [
        '#!/bin/sh',
        'echo "custom hook checked it" >&2',
        `[ -e "${marker}" ] && exit 0`,
        `touch "${marker}"`,
        // The push comes from outside: not inside this commit's quarantine, where git refuses ref updates.
        'unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES',
        'head=$(git rev-parse refs/heads/main)',
        'new=$(GIT_AUTHOR_NAME=pusher GIT_AUTHOR_EMAIL=p@x GIT_COMMITTER_NAME=pusher GIT_COMMITTER_EMAIL=p@x git commit-tree "$head^{tree}" -p "$head" -m "pushed meanwhile")',
        'git update-ref refs/heads/main "$new" "$head"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    try {
      const before = await head('alice/race');
      const res = await ndjson('alice/race', [header('after the push'), file('after.txt', 'after\n')]);
      const body = await res.json();
      expect(res.status, body.error).toBe(200);
      expect(body.hookOutput).toContain('custom hook checked it');
      expect(body.commitOid).toBe(await head('alice/race'));
      expect((await bare('alice/race', ['log', '--format=%s', `${before}..main`])).trim().split('\n')).toEqual(['after the push', 'pushed meanwhile']);
      expect(await bare('alice/race', ['show', 'main:after.txt'])).toBe('after\n');

      fs.rmSync(marker);
      const parent = await head('alice/race');
      const refused = await ndjson('alice/race', [header('lost', parent), file('lost.txt')]);
      expect(refused.status).toBe(412);
      expect((await refused.json()).error).toMatch(/A commit has happened since\. Please refresh and try again: branch "main" is at [0-9a-f]{40}, not at parentCommit/);
      expect((await bare('alice/race', ['log', '--format=%s', `${parent}..main`])).trim()).toBe('pushed meanwhile');
    } finally {
      fs.rmSync(hooks, { recursive: true, force: true });
    }
  });

  function header(summary: string, parentCommit?: string) {
    return { key: 'header', value: { summary, description: '', ...(parentCommit ? { parentCommit } : {}) } };
  }

  function ndjson(repo: string, lines: unknown[], opts: { branch?: string; auth?: string } = {}): Promise<Response> {
    return fetch(`${hub.url}/api/models/${repo}/commit/${opts.branch ?? 'main'}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${opts.auth ?? token}`, 'Content-Type': 'application/x-ndjson' },
      body: lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'),
    });
  }

  const file = (p: string, content = 'x') => ({ key: 'file', value: { path: p, content: Buffer.from(content).toString('base64'), encoding: 'base64' } });

  describe('bad input: 4xx with a message, no commit', () => {
    const cases: [string, () => unknown[], number, RegExp][] = [
      ['malformed NDJSON', () => [header('bad'), '{"key": "file", "value": {'], 400, /line 2 of the body is not valid JSON/],
      ['no header first', () => [file('a.txt')], 400, /the first line must be the header/],
      ['an unknown key', () => [header('bad'), { key: 'renameFile', value: { path: 'a' } }], 400, /unknown key "renameFile"/],
      ['a path with ..', () => [header('bad'), file('a/../../etc/passwd')], 400, /has a "\.\." segment/],
      ['an absolute path', () => [header('bad'), file('/etc/passwd')], 400, /is absolute/],
      ['a .git path', () => [header('bad'), file('.git/config')], 400, /names a \.git folder/],
      ['a backslash', () => [header('bad'), file('a\\b.txt')], 400, /backslash/],
      ['an empty segment', () => [header('bad'), file('a//b.txt')], 400, /empty segment/],
      ['a NUL', () => [header('bad'), file('a\0b')], 400, /control character/],
      ['an over-long path', () => [header('bad'), file(`${'d/'.repeat(2100)}x`)], 400, /longer than 4096 bytes/],
      ['a path both file and folder', () => [header('bad'), file('x'), file('x/y')], 400, /"x" is a folder, so it cannot also be a file/],
      ['a file where a folder is', () => [header('bad'), file('.gitattributes/y')], 400, /"\.gitattributes" is a file/],
      ['a lfsFile never uploaded', () => [header('bad'), { key: 'lfsFile', value: { path: 'w.bin', algo: 'sha256', oid: 'a'.repeat(64), size: 5 } }], 400, /lfsFile "w\.bin" \(line 2\): the LFS object sha256:a{64} was not uploaded/],
      ['a regular file over the size limit', () => [header('bad'), file('big.txt', 'x'.repeat(MAX_FILE_SIZE + 10))], 400, /over the 1000000 bytes a file stored in git may have/],
      ['a line over the limit', () => [header('bad'), file('big.txt', 'x'.repeat(16 * MAX_FILE_SIZE))], 413, /longer than \d+ bytes: files this large must be uploaded with Git LFS/],
      ['an LFS pointer to an object the repo does not have, as a regular file', () => [header('bad'), file('p.bin', `version https://git-lfs.github.com/spec/v1\noid sha256:${'b'.repeat(64)}\nsize 12\n`)], 400, /refused by the repository's push policy/],
      ['deleting a file that does not exist', () => [header('bad'), { key: 'deletedFile', value: { path: 'nope.txt' } }], 404, /A file with this name doesn't exist/],
      ['a parentCommit that is no commit', () => [header('bad', 'c'.repeat(40)), file('a.txt')], 400, /parentCommit "c{40}" is not a commit/],
      ['an empty summary', () => [{ key: 'header', value: { summary: ' ' } }, file('a.txt')], 400, /the commit needs a summary/],
      ['more than 1000 deleted folders', () => [header('bad'), ...Array.from({ length: 1001 }, (_, i) => ({ key: 'deletedFolder', value: { path: `d${i}` } }))], 400, /more than 1000 deleted folders in one commit/],
    ];
    it.each(cases)('%s', async (_what, lines, status, message) => {
      const before = await head('alice/bad');
      const res = await ndjson('alice/bad', lines());
      const body = await res.json();
      expect(res.status, body.error).toBe(status);
      expect(body.error).toMatch(message);
      expect(res.headers.get('x-error-message')).toBeTruthy();
      expect(await head('alice/bad')).toBe(before);
    });

    it('a branch that does not exist is a 404 RevisionNotFound', async () => {
      const res = await ndjson('alice/bad', [header('x'), file('a.txt')], { branch: 'nope' });
      expect(res.status).toBe(404);
      expect(res.headers.get('x-error-code')).toBe('RevisionNotFound');
      expect((await res.json()).error).toMatch(/has no branch of that name/);
      expect((await bare('alice/bad', ['for-each-ref', '--format=%(refname)'])).trim()).toBe('refs/heads/main');
    });

    it('a body declared larger than the limit is refused before it is read', async () => {
      const before = await head('alice/bad');
      const answer = await new Promise<{ status: number; message: string }>((resolve, reject) => {
        const req = http.request(`${hub.url}/api/models/alice/bad/commit/main`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-ndjson', 'Content-Length': String(2 * 1024 ** 3) },
        });
        req.on('response', (res) => {
          resolve({ status: res.statusCode!, message: String(res.headers['x-error-message']) });
          req.destroy();
        });
        req.on('error', reject);
        req.write(`${JSON.stringify(header('huge'))}\n`);
      });
      expect(answer.status).toBe(413);
      expect(answer.message).toMatch(/larger than 1073741824 bytes/);
      expect(await head('alice/bad')).toBe(before);
    });

    it('a read token gets 403 on preupload and commit', async () => {
      const before = await head('alice/bad');
      const res = await ndjson('alice/bad', [header('x'), file('a.txt')], { auth: readToken });
      expect(res.status).toBe(403);
      expect(res.headers.get('x-error-message')).toMatch(/read/);
      const pre = await fetch(`${hub.url}/api/models/alice/bad/preupload/main`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${readToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ files: [] }),
      });
      expect(pre.status).toBe(403);
      expect(await head('alice/bad')).toBe(before);
    });

    it('preupload refuses revision expressions before git evaluates them', async () => {
      for (const rev of [':%2Fsome.*regex', 'main~1', 'HEAD%40%7B1%7D', '-h']) {
        const pre = await fetch(`${hub.url}/api/models/alice/bad/preupload/${rev}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ files: [] }),
        });
        expect(pre.status, rev).toBe(400);
        expect(pre.headers.get('x-error-message'), rev).toMatch(/revision/);
      }
    });

    it('a delete of a missing file through @huggingface/hub fails with the Hub\'s message', async () => {
      await expect(
        commit({ ...client('alice/bad'), title: 'x', operations: [{ operation: 'delete', path: 'missing.txt' }] }),
      ).rejects.toThrow(/A file with this name doesn't exist/);
    });
  });
});

describe('uploads by commit with the s3 store: @huggingface/hub PUTs to presigned URLs and never calls verify', () => {
  let s3: S3rverHandle;
  let hub: Hubgate;
  let token: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    hub = await startHubgate({ env: { ...s3.env, HUBGATE_LFS_MULTIPART_THRESHOLD: String(6 * MiB), HUBGATE_LFS_MULTIPART_CHUNK: String(5 * MiB) } });
    token = await hub.userWithToken('alice');
    expect((await hub.cli(['repo', 'create', 'alice/s3'])).code).toBe(0);
    expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
  });
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  it('uploads a basic and a multipart LFS file in one commit; a git clone has the same bytes', async () => {
    const weights = crypto.randomBytes(2 * MiB);
    const big = crypto.randomBytes(12 * MiB);
    await uploadFiles({
      ...clientFor(hub, token, 'alice/s3'),
      files: [{ path: 'model.safetensors', content: blob(weights) }, { path: 'big.bin', content: blob(big) }],
      useXet: false,
    });
    expect(s3.requests.some((r) => r.method === 'PUT' && /partNumber=3/.test(r.url))).toBe(true);
    const dir = tempDir('hubgate-clone-');
    const cloned = await hub.git(['clone', '-q', hub.remote('alice/s3', token), '.'], { cwd: dir });
    expect(cloned.code, cloned.stderr).toBe(0);
    expect(sha256(fs.readFileSync(path.join(dir, 'model.safetensors')))).toBe(sha256(weights));
    expect(sha256(fs.readFileSync(path.join(dir, 'big.bin')))).toBe(sha256(big));
  });

  it('uploads through Xet (its default) into the bucket; downloadFile reads xorb ranges from URLs presigned with their Range; a git clone has the same bytes', async () => {
    const big = crypto.randomBytes(9 * MiB);
    await uploadFiles({ ...clientFor(hub, token, 'alice/s3'), files: [{ path: 'xet.bin', content: blob(big) }] });
    expect(s3.requests.some((r) => r.method === 'PUT' && r.url.includes('/xet/xorbs/'))).toBe(true);
    const back = await downloadFile({ ...clientFor(hub, token, 'alice/s3'), path: 'xet.bin' });
    expect(sha256(Buffer.from(await back!.arrayBuffer()))).toBe(sha256(big));
    // The client's GETs (presigned; hubgate's own reads are signed in headers) carry the Range signed in the URL.
    const ranged = s3.requests.filter((r) => r.method === 'GET' && r.url.includes('/xet/xorbs/') && r.url.includes('X-Amz-Signature='));
    expect(ranged.length).toBeGreaterThan(0);
    expect(ranged.every((r) => /X-Amz-SignedHeaders=host%3Brange/.test(r.url) && /^bytes=\d+-\d+$/.test(String(r.headers.range)))).toBe(true);
    // No LFS copy in the bucket: only xorbs. Non-Xet reads come through hubgate, which streams the reconstruction.
    const oid = sha256(big);
    expect(s3.keys().filter((k) => k.includes(oid))).toEqual([]);
    expect(s3.keys().some((k) => k.includes('xet/xorbs/'))).toBe(true);
    const plain = await fetch(`${hub.url}/alice/s3/resolve/main/xet.bin`, { headers: { Authorization: `Bearer ${token}` }, redirect: 'manual' });
    expect(plain.status).toBe(302);
    const location = plain.headers.get('location')!;
    expect(location.startsWith(`${hub.url}/alice/s3.git/info/lfs/xet-objects/${oid}?`)).toBe(true);
    const whole = await fetch(location);
    expect(whole.headers.get('content-length')).toBe(String(big.length));
    expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(oid);
    const piece = await fetch(location, { headers: { Range: 'bytes=4194000-5000000' } });
    expect(piece.status).toBe(206);
    expect(sha256(Buffer.from(await piece.arrayBuffer()))).toBe(sha256(big.subarray(4194000, 5000001)));
    const dir = tempDir('hubgate-clone-');
    const cloned = await hub.git(['clone', '-q', hub.remote('alice/s3', token), '.'], { cwd: dir });
    expect(cloned.code, cloned.stderr).toBe(0);
    expect(sha256(fs.readFileSync(path.join(dir, 'xet.bin')))).toBe(sha256(big));
    expect(s3.keys().filter((k) => k.includes(oid))).toEqual([]);
  });
});
