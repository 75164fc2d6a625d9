// Adding and deleting files from the browser (issue 13 item 2): the editor, streamed uploads of one
// or many files (large ones to Git LFS, with the server's memory bounded), deleting a file; each a
// commit through the commit service, so push policy applies; CSRF checked before the body is stored;
// only writers. Then the same upload with the s3 store (s3rver).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './helpers/browser.js';
import { installCustomHook } from './helpers/git-client.js';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

const MiB = 1024 ** 2;
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Posts a multipart form with the browser's cookies (fields and files in the order given). */
async function postForm(b: Browser, base: string, urlPath: string, parts: [string, string | Blob, string?][]): Promise<Response> {
  const form = new FormData();
  for (const [name, value, filename] of parts) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, value, filename);
  }
  return fetch(`${base}${urlPath}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { Cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    body: form,
  });
}

/** The hubgate process's peak resident memory so far (bytes), from /proc. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

async function userWithPassword(hub: Hubgate, name: string): Promise<void> {
  const made = await hub.cli(['user', 'create', name, '--email', `${name}@x.io`, '--password-stdin'], `${name}-password1\n`);
  expect(made.code, made.stderr).toBe(0);
}

async function signedIn(hub: Hubgate, name: string): Promise<Browser> {
  const b = new Browser(hub.url);
  expect((await b.signIn(name, `${name}-password1`)).status).toBe(303);
  return b;
}

async function git(hub: Hubgate, args: string[], cwd?: string): Promise<string> {
  const r = await hub.git(args, cwd ? { cwd } : {});
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** A fresh clone of the repo with a token, without LFS smudging (pointers stay pointers). */
async function clone(hub: Hubgate, repo: string, token: string): Promise<string> {
  const dir = tempDir('hubgate-web-clone-');
  await git(hub, ['clone', '--quiet', hub.remote(repo, token), dir], dir);
  return dir;
}

function webUploadDirs(hub: Hubgate): string[] {
  const tmp = path.join(hub.dataDir, 'tmp');
  return fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((n) => n.startsWith('web-')) : [];
}

describe('adding and deleting files from the browser', () => {
  let hub: Hubgate;
  let token: string;
  let alice: Browser;

  const head = async (repo: string) => (await git(hub, ['rev-parse', 'refs/heads/main'], hub.repoDir(repo))).trim();

  beforeAll(async () => {
    hub = await startHubgate({ env: { GIT_LFS_SKIP_SMUDGE: '1' } });
    for (const name of ['alice', 'bob']) await userWithPassword(hub, name);
    token = (await hub.cli(['token', 'create', 'alice', '--role', 'write'])).stdout.trim();
    expect((await hub.cli(['repo', 'create', 'alice/model'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/secret', '--private'])).code).toBe(0);
    alice = await signedIn(hub, 'alice');
  });
  afterAll(() => hub?.stop());

  it('creates a file in the editor: one commit with the message, then the blob page', async () => {
    const page = await alice.get('/alice/model/new/main/docs');
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain('value="docs/"');
    expect(text).toContain('enctype="multipart/form-data"');
    const csrf = /name="csrf" value="([^"]+)"/.exec(text)![1];
    const res = await postForm(alice, hub.url, '/alice/model/new/main/docs', [
      ['csrf', csrf], ['filename', 'docs/hello.md'], ['content', '# Hello\r\nfrom the editor\r\n'], ['summary', 'Add a greeting'], ['description', 'Written in the browser.'],
    ]);
    expect(res.status, await res.text()).toBe(303);
    expect(res.headers.get('location')).toBe('/alice/model/blob/main/docs/hello.md');

    const dir = await clone(hub, 'alice/model', token);
    expect(fs.readFileSync(path.join(dir, 'docs/hello.md'), 'utf8')).toBe('# Hello\nfrom the editor\n');
    expect(await git(hub, ['log', '-1', '--format=%an%n%B'], dir)).toBe('alice\nAdd a greeting\n\nWritten in the browser.\n\n');
  });

  it('uploads a 20 MB safetensors (to LFS) and two small files in one commit; the LFS object downloads byte-identical', async () => {
    const big = crypto.randomBytes(20 * MiB);
    const csrf = await alice.csrf('/alice/model/upload/main');
    const before = await head('alice/model');
    const res = await postForm(alice, hub.url, '/alice/model/upload/main', [
      ['csrf', csrf],
      ['files', new Blob([big]), 'model.safetensors'],
      ['files', new Blob(['{"a": 1}\n']), 'config.json'],
      ['files', new Blob(['hello\n']), 'notes.txt'],
      ['summary', 'Upload the weights'],
      ['description', ''],
    ]);
    expect(res.status, await res.text()).toBe(303);
    expect(res.headers.get('location')).toBe('/alice/model/tree/main');

    const dir = await clone(hub, 'alice/model', token);
    expect((await git(hub, ['rev-parse', 'HEAD~1'], dir)).trim()).toBe(before);
    expect(await git(hub, ['log', '-1', '--format=%s'], dir)).toBe('Upload the weights\n');
    const pointer = fs.readFileSync(path.join(dir, 'model.safetensors'), 'utf8');
    expect(pointer).toBe(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(big)}\nsize ${big.length}\n`);
    expect(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).toBe('{"a": 1}\n');
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('hello\n');

    const got = await fetch(`${hub.url}/alice/model/resolve/main/model.safetensors`, { headers: { Authorization: `Bearer ${token}` } });
    expect(got.status).toBe(200);
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(big));
    expect(webUploadDirs(hub)).toEqual([]);
  });

  it('streams a 200 MB upload: the server\'s peak memory grows far less than the file', async () => {
    const file = path.join(tempDir('hubgate-web-big-'), 'big.bin');
    const block = crypto.randomBytes(MiB);
    const out = fs.openSync(file, 'w');
    for (let i = 0; i < 200; i++) fs.writeSync(out, block);
    fs.writeSync(out, crypto.randomBytes(1234));
    fs.closeSync(out);
    const csrf = await alice.csrf('/alice/model/upload/main/weights');
    const peakBefore = peakRss(hub.process.pid!);
    const res = await postForm(alice, hub.url, '/alice/model/upload/main/weights', [['csrf', csrf], ['files', await fs.openAsBlob(file), 'big.bin']]);
    expect(res.status, await res.text()).toBe(303);
    const grew = peakRss(hub.process.pid!) - peakBefore;
    expect(grew).toBeLessThan(100 * MiB);

    const got = await fetch(`${hub.url}/alice/model/resolve/main/weights/big.bin`, { headers: { Authorization: `Bearer ${token}` } });
    expect(got.status).toBe(200);
    const hash = crypto.createHash('sha256');
    for await (const chunk of got.body!) hash.update(chunk);
    expect(hash.digest('hex')).toBe(sha256(fs.readFileSync(file)));
  }, 120_000);

  it('a push policy refusal is an error page, and nothing changes', async () => {
    installCustomHook(hub.repoDir('alice/model'), 'no-web', '#!/bin/sh\necho "uploads are frozen today" >&2\nexit 1\n');
    try {
      const before = await head('alice/model');
      const csrf = await alice.csrf('/alice/model/upload/main');
      const up = await postForm(alice, hub.url, '/alice/model/upload/main', [['csrf', csrf], ['files', new Blob(['x\n']), 'x.txt']]);
      expect(up.status).toBe(400);
      const page = await up.text();
      expect(page).toContain('Commit refused');
      expect(page).toContain('uploads are frozen today');

      const edit = await postForm(alice, hub.url, '/alice/model/new/main', [['csrf', csrf], ['filename', 'y.md'], ['content', 'kept'], ['summary', 'Add y']]);
      expect(edit.status).toBe(400);
      const form = await edit.text();
      expect(form).toContain('uploads are frozen today');
      expect(form).toContain('>kept</textarea>'); // the form again, with what was written

      const del = await alice.post('/alice/model/delete/main/notes.txt', { csrf, summary: '' });
      expect(del.status).toBe(400);
      expect(await head('alice/model')).toBe(before);
      expect(webUploadDirs(hub)).toEqual([]);
    } finally {
      fs.rmSync(path.join(hub.repoDir('alice/model'), 'custom_hooks'), { recursive: true, force: true });
    }
  });

  it('only writers: a reader and an outsider get the 404 page, anonymous posts are refused', async () => {
    const bob = await signedIn(hub, 'bob');
    const bobCsrf = await bob.csrf('/');
    for (const url of ['/alice/model/upload/main', '/alice/model/new/main', '/alice/model/delete/main/notes.txt', '/alice/secret/upload/main']) {
      expect((await bob.get(url)).status, url).toBe(404);
    }
    const before = await head('alice/model');
    const up = await postForm(bob, hub.url, '/alice/model/upload/main', [['csrf', bobCsrf], ['files', new Blob(['x']), 'x.txt']]);
    expect(up.status).toBe(404);
    expect((await bob.post('/alice/model/delete/main/notes.txt', { csrf: bobCsrf })).status).toBe(404);
    const anonymous = await fetch(`${hub.url}/alice/model/upload/main`, { method: 'POST', body: new FormData(), redirect: 'manual' });
    expect(anonymous.status).toBe(403);
    expect((await fetch(`${hub.url}/alice/model/upload/main`, { redirect: 'manual' })).status).toBe(404);
    expect(await head('alice/model')).toBe(before);
  });

  it('refuses a form without its CSRF token first, before storing anything of the body', async () => {
    const before = await head('alice/model');
    const csrf = await alice.csrf('/alice/model/upload/main');
    const body = new Blob([crypto.randomBytes(8 * MiB)]);
    // The file before the token, no token, a wrong token in the query: all refused.
    for (const [url, parts] of [
      ['/alice/model/upload/main', [['files', body, 'a.bin'], ['csrf', csrf]]],
      ['/alice/model/upload/main', [['files', body, 'a.bin']]],
      ['/alice/model/upload/main?csrf=wrong', [['csrf', csrf], ['files', body, 'a.bin']]],
      ['/alice/model/new/main', [['filename', 'z.md'], ['csrf', csrf], ['content', 'z']]],
    ] as [string, [string, string | Blob, string?][]][]) {
      const res = await postForm(alice, hub.url, url, parts);
      expect(res.status, url).toBe(403);
      expect(await res.text()).toContain('Form refused');
      expect(webUploadDirs(hub)).toEqual([]);
    }
    // The token in the query string is enough on its own.
    const ok = await postForm(alice, hub.url, `/alice/model/upload/main?csrf=${encodeURIComponent(csrf)}`, [['files', new Blob(['q\n']), 'q.txt']]);
    expect(ok.status).toBe(303);
    expect(await head('alice/model')).not.toBe(before);
  });

  it('deletes a file: a confirmation page, then a commit without it', async () => {
    const page = await alice.get('/alice/model/delete/main/notes.txt');
    expect(page.status).toBe(200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1];
    const res = await alice.post('/alice/model/delete/main/notes.txt', { csrf, summary: '', description: '' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/alice/model/tree/main');
    const dir = await clone(hub, 'alice/model', token);
    expect(fs.existsSync(path.join(dir, 'notes.txt'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'config.json'))).toBe(true);
    expect(await git(hub, ['log', '-1', '--format=%s'], dir)).toBe('Delete notes.txt\n');
    // A file that is not there: the form again with the reason.
    const again = await alice.post('/alice/model/delete/main/notes.txt', { csrf, summary: '' });
    expect(again.status).toBe(404);
    expect(await again.text()).toContain('doesn');
  });
});

describe('uploads from the browser with the s3 store (s3rver)', () => {
  let s3: S3rverHandle;
  let hub: Hubgate;

  beforeAll(async () => {
    s3 = await startS3rver();
    hub = await startHubgate({ env: { ...s3.env, GIT_LFS_SKIP_SMUDGE: '1' } });
    await userWithPassword(hub, 'alice');
    expect((await hub.cli(['repo', 'create', 'alice/model'])).code).toBe(0);
  });
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  it('puts the LFS file into the bucket from the server and links it; it downloads byte-identical', async () => {
    const token = (await hub.cli(['token', 'create', 'alice', '--role', 'write'])).stdout.trim();
    const alice = await signedIn(hub, 'alice');
    const big = crypto.randomBytes(6 * MiB + 3);
    const csrf = await alice.csrf('/alice/model/upload/main');
    const res = await postForm(alice, hub.url, '/alice/model/upload/main', [['csrf', csrf], ['files', new Blob([big]), 'model.safetensors'], ['summary', 'Weights']]);
    expect(res.status, await res.text()).toBe(303);
    const oid = sha256(big);
    expect(s3.keys()).toContain(`lfs/objects/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`);
    expect(s3.keys().filter((k) => k.startsWith('lfs/staging/'))).toEqual([]);
    const got = await fetch(`${hub.url}/alice/model/resolve/main/model.safetensors`, { headers: { Authorization: `Bearer ${token}` } });
    expect(got.status).toBe(200);
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(oid);
  });
});
