// Downloads offloaded to nginx (HUBGATE_ACCEL_REDIRECT): a real nginx, configured with the
// snippet of docs/operations.md, proxies to hubgate; hubgate authorises each download and answers
// X-Accel-Redirect, nginx sends the bytes. Checked: the bytes (sha256) and the headers clients
// read, Range, refusals of private repos, the internal location unreachable from outside, and
// from nginx's access log that hubgate sent no body byte of the downloads.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type Hubgate, run, startHubgate, tempDir } from './helpers/hubgate.js';
import { NGINX, type Nginx, startNginx } from './helpers/nginx.js';

if (!NGINX) console.warn('accel-redirect.test.ts: nginx is not installed, so the X-Accel-Redirect tests are skipped (apt-get install nginx)');

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const sha1Blob = (b: Buffer) => crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

/** nginx in front of hubgate, with the internal location of docs/operations.md and an access log of what each side sent. */
function startAccelNginx(hubPort: number, dataDir: string): Promise<Nginx> {
  return startNginx({
    logFormat: '$request_method $request_uri $status $body_bytes_sent upstream=$upstream_response_length',
    server: `    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    location / {
      proxy_pass http://127.0.0.1:${hubPort};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Connection "";
    }
    location ~ "^/internal/((?:lfs/objects|cache/blobs)/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{40,64})$" {
      internal;
      alias ${dataDir}/$1;
      etag off;
      if_modified_since off;
      add_header ETag $upstream_http_etag always;
      add_header X-Repo-Commit $upstream_http_x_repo_commit always;
      add_header X-Content-Type-Options $upstream_http_x_content_type_options always;
      add_header Content-Security-Policy $upstream_http_content_security_policy always;
    }`,
  });
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await fetch(url, { method, headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe.skipIf(!NGINX)('downloads sent by nginx (HUBGATE_ACCEL_REDIRECT)', () => {
  let hub: Hubgate;
  let nginx: Nginx;
  let alice: string;
  let main: string;
  const blob = crypto.randomBytes(400_000);
  const weights = crypto.randomBytes(1_500_000);
  const secret = crypto.randomBytes(200_000);

  beforeAll(async () => {
    hub = await startHubgate({ env: { HUBGATE_ACCEL_REDIRECT: '/internal/' } });
    alice = await hub.userWithToken('alice');
    expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/secret', '--private'])).code).toBe(0);
    main = await hub.pushFiles('alice/m', alice, { 'blob.dat': blob, 'model.safetensors': weights });
    await hub.pushFiles('alice/secret', alice, { 'secret.dat': secret });
    nginx = await startAccelNginx(hub.port, hub.dataDir);
  });
  afterAll(async () => {
    await nginx?.stop();
    await hub?.stop();
  });

  /** The access-log lines of requests to `uri` (path and query as sent). */
  const logged = (uri: string) =>
    fs.readFileSync(nginx.accessLog, 'utf8').split('\n').filter((line) => line.split(' ')[1] === uri);

  it('a git file: the bytes and the headers, sent by nginx and not by hubgate', async () => {
    const r = await get(`${nginx.url}/alice/m/resolve/main/blob.dat`);
    expect(r.status).toBe(200);
    expect(sha256(r.body)).toBe(sha256(blob));
    expect(r.headers.get('content-length')).toBe(String(blob.length));
    expect(r.headers.get('etag')).toBe(`"${sha1Blob(blob)}"`);
    expect(r.headers.get('x-repo-commit')).toBe(main);
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(r.headers.get('content-disposition')).toContain('filename="blob.dat"');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-accel-redirect')).toBeNull();
    // hubgate answered the redirect with an empty body; nginx sent the file.
    const lines = logged('/alice/m/resolve/main/blob.dat');
    expect(lines.length).toBe(1);
    expect(lines[0]).toBe(`GET /alice/m/resolve/main/blob.dat 200 ${blob.length} upstream=0`);

    // Asked directly, hubgate sends only the redirect.
    const direct = await get(`${hub.url}/alice/m/resolve/main/blob.dat`);
    expect(direct.headers.get('x-accel-redirect')).toBe(`/internal/cache/blobs/${sha1Blob(blob).slice(0, 2)}/${sha1Blob(blob).slice(2, 4)}/${sha1Blob(blob)}`);
    expect(direct.body.length).toBe(0);
    // HEAD is answered by hubgate itself, with the length.
    const head = await get(`${nginx.url}/alice/m/resolve/main/blob.dat`, {}, 'HEAD');
    expect(head.headers.get('content-length')).toBe(String(blob.length));
    expect(head.headers.get('etag')).toBe(`"${sha1Blob(blob)}"`);
  });

  it('Range on a git file and on an LFS object: 206 with the exact bytes', async () => {
    const part = await get(`${nginx.url}/alice/m/resolve/main/blob.dat`, { Range: 'bytes=1000-1999' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${blob.length}`);
    expect(part.body.equals(blob.subarray(1000, 2000))).toBe(true);
    const tail = await get(`${nginx.url}/alice/m/resolve/main/blob.dat`, { Range: 'bytes=-10' });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(blob.subarray(blob.length - 10))).toBe(true);
    // Unsatisfiable: hubgate's own 416.
    expect((await get(`${nginx.url}/alice/m/resolve/main/blob.dat`, { Range: `bytes=${blob.length}-` })).status).toBe(416);

    const redirect = await get(`${nginx.url}/alice/m/resolve/main/model.safetensors`);
    const object = new URL(redirect.headers.get('location')!, nginx.url).href;
    const piece = await get(object, { Range: 'bytes=500000-599999' });
    expect(piece.status).toBe(206);
    expect(piece.body.equals(weights.subarray(500_000, 600_000))).toBe(true);
  });

  it('an LFS file: the 302 with the linked headers, then the object from nginx byte for byte', async () => {
    const redirect = await get(`${nginx.url}/alice/m/resolve/main/model.safetensors`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('x-linked-etag')).toBe(`"${sha256(weights)}"`);
    expect(redirect.headers.get('x-linked-size')).toBe(String(weights.length));
    const location = new URL(redirect.headers.get('location')!, nginx.url);
    expect(location.origin).toBe(nginx.url);
    const r = await get(location.href);
    expect(r.status).toBe(200);
    expect(sha256(r.body)).toBe(sha256(weights));
    expect(r.headers.get('etag')).toBe(`"${sha256(weights)}"`);
    const lines = logged(location.pathname + location.search);
    expect(lines.some((line) => line.endsWith(` 200 ${weights.length} upstream=0`))).toBe(true);
    // A link whose signature does not hold is refused by hubgate, not sent by nginx.
    const forged = new URL(location.href);
    forged.searchParams.set('token', 'x');
    expect((await get(forged.href)).status).toBe(401);
  });

  it('a private repo is still refused through nginx; its owner downloads it', async () => {
    const anonymous = await get(`${nginx.url}/alice/secret/resolve/main/secret.dat`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.includes(secret.subarray(0, 64))).toBe(false);
    const owner = await get(`${nginx.url}/alice/secret/resolve/main/secret.dat`, { Authorization: `Bearer ${alice}` });
    expect(owner.status).toBe(200);
    expect(sha256(owner.body)).toBe(sha256(secret));
    // Now the copy exists; its internal path is not reachable from outside, nor proxied to hubgate.
    const oid = sha1Blob(secret);
    const internal = await get(`${nginx.url}/internal/cache/blobs/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`);
    expect(internal.status).toBe(404);
    expect(internal.body.includes(secret.subarray(0, 64))).toBe(false);
  });
});

describe('the settings of file serving', () => {
  it('refuses an accel location that is not a path ending in "/", and a negative cache size (exit 2)', async () => {
    const cases: [NodeJS.ProcessEnv, string][] = [
      [{ HUBGATE_ACCEL_REDIRECT: 'internal/' }, 'hubgate: invalid setting HUBGATE_ACCEL_REDIRECT: use a path of the proxy\'s internal location that starts and ends with "/", such as /internal/'],
      [{ HUBGATE_ACCEL_REDIRECT: '/internal' }, 'hubgate: invalid setting HUBGATE_ACCEL_REDIRECT: use a path of the proxy\'s internal location that starts and ends with "/", such as /internal/'],
      [{ HUBGATE_ACCEL_REDIRECT: '/a b/' }, 'hubgate: invalid setting HUBGATE_ACCEL_REDIRECT: use a path of the proxy\'s internal location that starts and ends with "/", such as /internal/'],
    ];
    for (const [env, message] of cases) {
      const r = await run(process.execPath, [BIN, 'serve', '--data', path.join(tempDir(), 'data')], { env: { ...process.env, HUBGATE_HOST: '127.0.0.1', ...env } });
      expect(r.code, JSON.stringify(env)).toBe(2);
      expect(r.stderr.trim()).toBe(message);
    }
    const negative = await run(process.execPath, [BIN, 'serve', '--data', path.join(tempDir(), 'data')], { env: { ...process.env, HUBGATE_HOST: '127.0.0.1', HUBGATE_BLOB_CACHE_SIZE: '-1' } });
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain('invalid setting HUBGATE_BLOB_CACHE_SIZE');
  });
});
