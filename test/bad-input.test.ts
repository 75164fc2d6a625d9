// What hostile or broken input does to hubgate: requests that skip authentication, repo names
// that try to leave the data directory, aborted and malformed bodies, dumb HTTP, and bad
// command lines and settings. Nothing may be created or changed, nothing may answer 500, and
// the server must keep serving.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type Hubgate, run, startHubgate, tempDir } from './helpers/hubgate.js';
import { basic, commitAndPush, createBranchRequest, FLUSH, listTree, pkt, rawRequest, refsOf, settledTree, wantRequest, ZERO_ID } from './helpers/wire.js';

let hub: Hubgate;
let token: string;
let mainOf: Record<'alice/pub' | 'alice/priv', string>;
let reposRoot: string;
const MARKER = `pwned${crypto.randomBytes(4).toString('hex')}`;

const owner = () => ({ authorization: basic(token) });
const refsNow = () => Promise.all([refsOf(hub.repoDir('alice/pub')), refsOf(hub.repoDir('alice/priv'))]);

beforeAll(async () => {
  hub = await startHubgate();
  token = await hub.userWithToken('alice');
  for (const args of [['repo', 'create', 'alice/pub'], ['repo', 'create', 'alice/priv', '--private']]) {
    const r = await hub.cli(args);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  // A few MB of incompressible content, so a clone's response is long enough to be cut off mid-way.
  const weights = crypto.randomBytes(3 * 1024 * 1024);
  const tips: Record<string, string> = {};
  for (const repo of ['alice/pub', 'alice/priv']) tips[repo] = (await commitAndPush(hub, repo, token, { 'weights.dat': weights })).tip;
  mainOf = tips as typeof mainOf;
  reposRoot = path.join(hub.dataDir, 'repos');
  // Background maintenance after those pushes must be done before trees are compared.
  await settledTree(reposRoot);
});
afterAll(() => hub?.stop());

describe('requests that skip authentication', () => {
  it('an unauthenticated POST straight to git-receive-pack gets 401 and creates no branch', async () => {
    for (const repo of ['alice/pub', 'alice/priv'] as const) {
      const before = await refsOf(hub.repoDir(repo));
      for (const headers of [{}, { authorization: basic(`hf_${'Z'.repeat(43)}`) }, { authorization: 'Basic !!!not-base64' }]) {
        const r = await rawRequest(hub.port, {
          method: 'POST',
          path: `/${repo}/git-receive-pack`,
          headers: { ...headers, 'content-type': 'application/x-git-receive-pack-request' },
          body: createBranchRequest(mainOf[repo], 'refs/heads/sneaky'),
        });
        expect(r.status, r.text).toBe(401);
        expect(r.headers['www-authenticate']).toBe('Basic realm="hubgate"');
        expect(r.text).not.toContain('unpack');
      }
      expect(await refsOf(hub.repoDir(repo))).toBe(before);
    }
  });

  it('an unauthenticated POST to git-upload-pack of a private repo gets 401 and no pack', async () => {
    const r = await rawRequest(hub.port, {
      method: 'POST',
      path: '/alice/priv/git-upload-pack',
      headers: { 'content-type': 'application/x-git-upload-pack-request' },
      body: wantRequest(mainOf['alice/priv']),
    });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm="hubgate"');
    expect(r.body.includes('PACK')).toBe(false);
    // The same request with the owner's token is served (so the 401 above is not an accident of the body).
    const ok = await rawRequest(hub.port, {
      method: 'POST',
      path: '/alice/priv/git-upload-pack',
      headers: { ...owner(), 'content-type': 'application/x-git-upload-pack-request' },
      body: wantRequest(mainOf['alice/priv']),
    });
    expect(ok.status).toBe(200);
    expect(ok.body.subarray(0, 12).toString('latin1')).toBe('0008NAK\nPACK');
  });
});

describe('repo names that are not names', () => {
  const long = 'a'.repeat(300);
  const ROWS: [method: 'GET' | 'POST', rawPath: string, status: 400 | 404][] = [
    ['GET', '/alice/../info/refs?service=git-upload-pack', 400],
    ['GET', '/../pub/info/refs?service=git-upload-pack', 400],
    ['GET', '/../../etc/info/refs?service=git-upload-pack', 404],
    ['GET', '/alice/pub/../../etc/info/refs?service=git-upload-pack', 404],
    ['GET', '/alice/pub/info/refs/../../../x?service=git-upload-pack', 404],
    ['GET', '/alice/%2e%2e/info/refs?service=git-receive-pack', 400],
    ['GET', '/alice/%2E%2E/info/refs?service=git-upload-pack', 400],
    ['POST', '/%2e%2e/%2e%2e/git-receive-pack', 400],
    ['POST', `/alice/..%2f..%2f..%2f${MARKER}/git-receive-pack`, 400],
    ['POST', `/alice/%2e%2e%2f%2e%2e%2f${MARKER}/git-receive-pack`, 400],
    ['GET', `/alice/..%5c..%5c${MARKER}/info/refs?service=git-receive-pack`, 400],
    ['POST', `/datasets/alice/%2e%2e/git-receive-pack`, 400],
    ['GET', '/alice/pub%00/info/refs?service=git-upload-pack', 400],
    ['GET', '/alice%00/pub/info/refs?service=git-upload-pack', 400],
    ['POST', '/alice/pub%00.git/git-receive-pack', 400],
    ['GET', '//etc/passwd', 404],
    ['GET', '//etc/passwd/info/refs?service=git-upload-pack', 404],
    ['GET', '/%2Fetc%2Fpasswd/x/info/refs?service=git-upload-pack', 400],
    ['GET', '/%2Fetc/passwd/info/refs?service=git-upload-pack', 400],
    ['POST', `/alice/%2Ftmp%2F${MARKER}/git-receive-pack`, 400],
    ['POST', `/alice/${long}/git-receive-pack`, 400],
    ['GET', `/${long}/pub/info/refs?service=git-upload-pack`, 400],
    ['GET', `/alice/${'b'.repeat(97)}/info/refs?service=git-upload-pack`, 400],
    ['GET', '/alice/.pub/info/refs?service=git-upload-pack', 400],
    ['GET', '/alice/pub.git.git/info/refs?service=git-upload-pack', 400],
    ['GET', '/alice/%ZZ/info/refs?service=git-upload-pack', 400],
    ['GET', '/models/alice/pub/info/refs?service=git-upload-pack', 404],
    ['GET', '/foo/bar/baz/info/refs?service=git-upload-pack', 404],
    ['POST', '/foo/bar/baz/git-receive-pack', 404],
    ['GET', '/datasets/../alice/pub/info/refs?service=git-upload-pack', 404],
  ];
  let before: string[];
  let beforeRefs: string[];
  beforeAll(async () => {
    before = listTree(reposRoot);
    beforeRefs = await refsNow();
  });

  it.each(ROWS)('%s %s -> %i, nothing on disk', async (method, rawPath, status) => {
    // An authorized caller with a body that would create a branch: the name check must stop it anyway.
    const r = await rawRequest(hub.port, {
      method,
      path: rawPath,
      headers: { ...owner(), ...(method === 'POST' ? { 'content-type': 'application/x-git-receive-pack-request' } : {}) },
      body: method === 'POST' ? createBranchRequest(mainOf['alice/pub'], 'refs/heads/escaped') : undefined,
    });
    expect(r.status, r.text).toBe(status);
    expect(r.text).not.toContain(hub.dataDir);
    expect(listTree(reposRoot)).toStrictEqual(before);
    expect(fs.readdirSync(path.dirname(hub.dataDir))).toStrictEqual(['data']);
    expect(listTree(path.dirname(hub.dataDir)).filter((p) => p.includes(MARKER))).toStrictEqual([]);
    expect(fs.existsSync(path.join('/tmp', MARKER))).toBe(false);
    expect(await refsNow()).toStrictEqual(beforeRefs);
  });
});

/** Sends a request's head and a few bytes of a body announced as 100000 bytes, then drops the connection. */
function abandonedRequest(rawPath: string, headers: Record<string, string>, partial: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(hub.port, '127.0.0.1', () => {
      const head = Object.entries({ host: `127.0.0.1:${hub.port}`, 'content-length': '100000', ...headers })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`POST ${rawPath} HTTP/1.1\r\n${head}\r\n`);
      socket.write(partial);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
    socket.on('error', reject);
  });
}

/** git processes the server has started and not yet reaped. */
async function gitChildren(): Promise<string[]> {
  const r = await run('ps', ['-o', 'pid=,args=', '--ppid', String(hub.process.pid)]);
  return r.stdout.split('\n').filter((l) => /\bgit\b/.test(l));
}
async function noGitChildrenLeft(): Promise<void> {
  // Past the server's own SIGKILL fallback (5 s after SIGTERM), with room for a loaded machine.
  const deadline = Date.now() + 10_000;
  while ((await gitChildren()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(await gitChildren()).toStrictEqual([]);
}

describe('aborted and malformed requests', () => {
  it('requests abandoned mid-body neither crash the server nor change anything, and their git processes go away', async () => {
    const before = await refsNow();
    const upload = { 'content-type': 'application/x-git-upload-pack-request' };
    const receive = { ...owner(), 'content-type': 'application/x-git-receive-pack-request' };
    const pushStart = createBranchRequest(mainOf['alice/pub'], 'refs/heads/half').subarray(0, 60);
    // Commands, flush, and the start of a pack that promises an object that never comes: receive-pack is unpacking when the client goes.
    const packHead = Buffer.alloc(12);
    packHead.write('PACK', 0, 'latin1');
    packHead.writeUInt32BE(2, 4);
    packHead.writeUInt32BE(1, 8);
    const midPack = Buffer.concat([pkt(`${ZERO_ID} ${'2'.repeat(40)} refs/heads/half\0report-status\n`), FLUSH, packHead, Buffer.from([0x95, 0x0a])]);
    await Promise.all([
      ...Array.from({ length: 4 }, () => abandonedRequest('/alice/pub/git-upload-pack', upload, pkt(`want ${mainOf['alice/pub']}\n`))),
      ...Array.from({ length: 2 }, () => abandonedRequest('/alice/pub/git-receive-pack', receive, pushStart)),
      ...Array.from({ length: 2 }, () => abandonedRequest('/alice/pub/git-receive-pack', receive, midPack)),
      abandonedRequest('/alice/pub/git-upload-pack', { ...upload, 'content-encoding': 'gzip' }, zlib.gzipSync(wantRequest(mainOf['alice/pub'])).subarray(0, 20)),
    ]);
    expect(hub.process.exitCode).toBeNull();
    await noGitChildrenLeft();
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    const clone = await hub.git(['clone', '-q', hub.remote('alice/pub'), 'c']);
    expect(clone.code, clone.stderr).toBe(0);
    expect(await refsNow()).toStrictEqual(before);
    expect(hub.log()).not.toMatch(/unhandled error|uncaught/i);
    // No quarantine or lock files left behind by the pushes that never finished...
    expect(listTree(hub.repoDir('alice/pub')).filter((p) => /incoming|\.lock$/.test(p))).toStrictEqual([]);
    // ...and the next push goes through.
    mainOf['alice/pub'] = (await commitAndPush(hub, 'alice/pub', token, {}, 'after the aborted pushes')).tip;
    await settledTree(reposRoot);
  });

  it('a client that goes away in the middle of a pack does not take the server with it', async () => {
    const socket = net.connect(hub.port, '127.0.0.1');
    const body = wantRequest(mainOf['alice/pub']);
    socket.write(
      `POST /alice/pub/git-upload-pack HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-git-upload-pack-request\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    socket.write(body);
    // Read until some of the pack has arrived, then hang up while the server is still sending.
    const got = await new Promise<number>((resolve, reject) => {
      let n = 0;
      socket.on('data', (b: Buffer) => {
        n += b.length;
        if (n > 64 * 1024) {
          socket.destroy();
          resolve(n);
        }
      });
      socket.on('error', reject);
      socket.on('end', () => reject(new Error(`response ended after ${n} bytes, before the client hung up`)));
    });
    expect(got).toBeGreaterThan(64 * 1024);
    expect(hub.process.exitCode).toBeNull();
    await noGitChildrenLeft();
    const clone = await hub.git(['clone', '-q', hub.remote('alice/pub'), 'c']);
    expect(clone.code, clone.stderr).toBe(0);
  });

  it('a POST with the wrong Content-Type gets 415 and changes nothing', async () => {
    const before = await refsNow();
    for (const contentType of ['text/plain', 'application/x-git-receive-pack-request', undefined]) {
      const r = await rawRequest(hub.port, {
        method: 'POST',
        path: '/alice/pub/git-upload-pack',
        headers: contentType ? { 'content-type': contentType } : {},
        body: wantRequest(mainOf['alice/pub']),
      });
      expect(r.status, String(contentType)).toBe(415);
      expect(r.text).toMatch(/application\/x-git-upload-pack-request/);
    }
    const push = await rawRequest(hub.port, {
      method: 'POST',
      path: '/alice/pub/git-receive-pack',
      headers: { ...owner(), 'content-type': 'application/x-git-upload-pack-request' },
      body: createBranchRequest(mainOf['alice/pub'], 'refs/heads/wrong-type'),
    });
    expect(push.status).toBe(415);
    expect(await refsNow()).toStrictEqual(before);
  });

  const GARBAGE: [name: string, body: () => Buffer][] = [
    ['an empty body', () => Buffer.alloc(0)],
    ['random bytes', () => crypto.randomBytes(777)],
    ['text', () => Buffer.from('GET / HTTP/1.0\r\n\r\n')],
    ['a truncated pkt-line', () => Buffer.from('0032want')],
    ['a pkt-line longer than the body', () => Buffer.from('ffff0000')],
    ['a want without an object id', () => Buffer.concat([pkt('want nonsense\n'), FLUSH, pkt('done\n')])],
    ['a command without its flush', () => pkt(`${ZERO_ID} ${'1'.repeat(40)} refs/heads/zz\0report-status\n`)],
  ];
  it.each(GARBAGE)('%s with the right Content-Type is a 4xx, never a 500, for both services', async (_name, body) => {
    const before = await refsNow();
    for (const service of ['upload-pack', 'receive-pack'] as const) {
      const r = await rawRequest(hub.port, {
        method: 'POST',
        path: `/alice/pub/git-${service}`,
        headers: { ...owner(), 'content-type': `application/x-git-${service}-request` },
        body: body(),
      });
      expect(r.status, `${service}: ${r.text}`).toBeGreaterThanOrEqual(400);
      expect(r.status, `${service}: ${r.text}`).toBeLessThan(500);
    }
    expect(await refsNow()).toStrictEqual(before);
    expect(hub.process.exitCode).toBeNull();
  });

  it('a push whose pack is garbage is refused by git and moves no ref', async () => {
    const before = await refsNow();
    const r = await rawRequest(hub.port, {
      method: 'POST',
      path: '/alice/pub/git-receive-pack',
      headers: { ...owner(), 'content-type': 'application/x-git-receive-pack-request' },
      body: Buffer.concat([pkt(`${ZERO_ID} ${'1'.repeat(40)} refs/heads/junk\0report-status\n`), FLUSH, Buffer.from('PACK\0\0\0\u0002garbage')]),
    });
    expect(r.status).toBeLessThan(500);
    // git answers in its own protocol: the unpack failed and the ref was not updated.
    if (r.status === 200) expect(r.text).toMatch(/ng refs\/heads\/junk/);
    expect(await refsNow()).toStrictEqual(before);
  });

  it('a bad gzip body with Content-Encoding: gzip gets 400; a good one is served', async () => {
    const before = await refsNow();
    for (const service of ['upload-pack', 'receive-pack'] as const) {
      const r = await rawRequest(hub.port, {
        method: 'POST',
        path: `/alice/pub/git-${service}`,
        headers: { ...owner(), 'content-type': `application/x-git-${service}-request`, 'content-encoding': 'gzip' },
        body: Buffer.from('this is not gzip at all, it only says it is'),
      });
      expect(r.status, r.text).toBe(400);
      expect(r.text).toMatch(/gzip/);
    }
    // A gzip stream cut short.
    const cut = await rawRequest(hub.port, {
      method: 'POST',
      path: '/alice/pub/git-upload-pack',
      headers: { 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'gzip' },
      body: zlib.gzipSync(wantRequest(mainOf['alice/pub'])).subarray(0, 25),
    });
    expect(cut.status).toBeGreaterThanOrEqual(400);
    expect(cut.status).toBeLessThan(500);
    const good = await rawRequest(hub.port, {
      method: 'POST',
      path: '/alice/pub/git-upload-pack',
      headers: { 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'gzip' },
      body: zlib.gzipSync(wantRequest(mainOf['alice/pub'])),
    });
    expect(good.status).toBe(200);
    expect(good.body.subarray(0, 12).toString('latin1')).toBe('0008NAK\nPACK');
    const br = await rawRequest(hub.port, {
      method: 'POST',
      path: '/alice/pub/git-upload-pack',
      headers: { 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'br' },
      body: wantRequest(mainOf['alice/pub']),
    });
    expect(br.status).toBe(415);
    expect(await refsNow()).toStrictEqual(before);
  });

  it('dumb HTTP is not served: info/refs without ?service is 403 and a dumb clone fails', async () => {
    for (const repo of ['alice/pub', 'alice/priv', 'alice/missing']) {
      const r = await rawRequest(hub.port, { path: `/${repo}/info/refs`, headers: owner() });
      expect(r.status, repo).toBe(403);
      expect(r.text).toMatch(/smart HTTP/);
      expect(r.text).not.toContain(mainOf['alice/pub']);
    }
    // The files a dumb client would fetch exist on disk (repack writes objects/info/packs) but are not served.
    for (const file of ['HEAD', 'objects/info/packs', 'refs/heads/main', 'config']) {
      const r = await rawRequest(hub.port, { path: `/alice/pub/${file}`, headers: owner() });
      expect(r.status, file).toBe(404);
      const g = await rawRequest(hub.port, { path: `/alice/pub.git/${file}`, headers: owner() });
      expect(g.status, `.git/${file}`).toBe(404);
    }
    const dumb = await hub.git(['clone', hub.remote('alice/pub', token), 'c'], { env: { GIT_SMART_HTTP: '0' } });
    expect(dumb.code).not.toBe(0);
    expect(dumb.stderr).toMatch(/403/);
  });
});

describe('command line', () => {
  const one = (stderr: string) => stderr.replace(/\n$/, '').split('\n');

  const USAGE: [what: string, args: string[]][] = [
    ['a name with ..', ['repo', 'create', 'alice/../x']],
    ['a name that is ..', ['repo', 'create', 'alice/..']],
    ['a 300-character name', ['repo', 'create', `alice/${'x'.repeat(300)}`]],
    ['a 300-character namespace', ['repo', 'create', `${'x'.repeat(300)}/x`]],
    ['an unknown type', ['repo', 'create', 'alice/x', '--type', 'foo']],
    ['an absolute path', ['repo', 'create', '/etc/passwd']],
    ['a name ending in .git', ['repo', 'create', 'alice/x.git']],
    ['no namespace', ['repo', 'create', 'x']],
    ['a reserved namespace', ['repo', 'create', 'api/x']],
    ['an unknown gated mode', ['repo', 'create', 'alice/x', '--gated', 'sometimes']],
    ['an unknown gate mode', ['repo', 'gate', 'alice/pub', 'sometimes']],
    ['an unknown command', ['frobnicate']],
    ['an unknown subcommand', ['repo', 'destroy', 'alice/pub']],
    ['a missing argument', ['user', 'create']],
    ['a token role that does not exist', ['token', 'create', 'alice', '--role', 'admin']],
    ['a token id that is not a number', ['token', 'revoke', 'abc']],
  ];
  // Independent processes that change nothing: run them side by side.
  it.concurrent.for(USAGE)('%s is a usage error: exit 2, one line, nothing on disk', async ([, args], { expect }) => {
    const before = listTree(reposRoot);
    const r = await hub.cli(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(one(r.stderr)).toHaveLength(1);
    expect(r.stderr.trim()).not.toBe('');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(listTree(reposRoot)).toStrictEqual(before);
  });

  const ERRORS: [what: string, args: string[], says: RegExp][] = [
    ['a namespace that does not exist', ['repo', 'create', 'ghost/x'], /ghost.*hubgate (user|org) create/],
    ['a repo that already exists', ['repo', 'create', 'alice/pub'], /alice\/pub.*already exists/],
    ['a duplicate user', ['user', 'create', 'alice'], /already taken/],
    ['a user named like an existing one but in capitals', ['user', 'create', 'ALICE'], /already taken/],
    ['a token id that does not exist', ['token', 'revoke', '999'], /999.*token list/],
    ['a token for a user who does not exist', ['token', 'create', 'ghost', '--role', 'read'], /ghost.*hubgate user create/],
    ['gating a repo that does not exist', ['repo', 'gate', 'alice/ghost', 'auto'], /alice\/ghost/],
  ];
  it.concurrent.for(ERRORS)('%s: exit 1 with one line that says what to do', async ([, args, says], { expect }) => {
    const before = listTree(reposRoot);
    const refs = await refsNow();
    const r = await hub.cli(args);
    expect(r.code, r.stderr).toBe(1);
    expect(one(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(says);
    expect(r.stdout).toBe('');
    expect(listTree(reposRoot)).toStrictEqual(before);
    expect(await refsNow()).toStrictEqual(refs);
  });

  /** `hubgate serve` that must refuse to start; killed if it starts anyway. */
  function serve(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; stdout: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b) => (stdout += b));
      child.stderr.on('data', (b) => (stderr += b));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr, stdout });
      });
    });
  }

  const SETTINGS: [what: string, args: string[], env: NodeJS.ProcessEnv, names: RegExp][] = [
    ['HUBGATE_PORT=abc', [], { HUBGATE_PORT: 'abc' }, /HUBGATE_PORT/],
    ['HUBGATE_PORT=70000', [], { HUBGATE_PORT: '70000' }, /HUBGATE_PORT/],
    ['--port abc', ['--port', 'abc'], {}, /--port|HUBGATE_PORT/],
    ['--public-url notaurl', ['--public-url', 'notaurl'], {}, /--public-url|HUBGATE_PUBLIC_URL/],
    ['HUBGATE_PUBLIC_URL=ftp://x', [], { HUBGATE_PUBLIC_URL: 'ftp://example.com' }, /HUBGATE_PUBLIC_URL/],
  ];
  it.concurrent.for(SETTINGS)('serve with %s exits 2 with one line naming the setting, before touching the data directory', async ([, args, env, names], { expect }) => {
    const data = path.join(tempDir('hubgate-bad-settings-'), 'data');
    const r = await serve(['--data', data, '--host', '127.0.0.1', ...args], { HUBGATE_PORT: '0', ...env });
    expect(r.code, r.stderr + r.stdout).toBe(2);
    expect(one(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(names);
    expect(fs.existsSync(data)).toBe(false);
  });
});
