// Bounded work per request and per caller: card metadata too large to parse cheaply, request
// bodies that stall or are declared too large, per-caller limits (git processes, API and LFS
// batch requests, anonymous validate-yaml), and long streams that must not be cut by any of it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, requestsLogged, startHubgate } from './helpers/hubgate.js';
import { basic, bearer, commitAndPush, pkt, rawRequest, wantRequest } from './helpers/wire.js';

/** Short body idle and headers timeouts, one git process per caller. */
let hub: Hubgate;
/** Small request rates (API and LFS batch, anonymous validate-yaml, git requests), 50 connections per IP. */
let rated: Hubgate;
let token: string;
let tip: string;

beforeAll(async () => {
  [hub, rated] = await Promise.all([
    startHubgate({ env: { HUBGATE_BODY_IDLE_TIMEOUT_MS: '1000', HUBGATE_HEADERS_TIMEOUT_MS: '1000', HUBGATE_GIT_PROCESSES_PER_CALLER: '1', HUBGATE_GIT_SLOT_WAIT_MS: '300' } }),
    startHubgate({ env: { HUBGATE_API_REQUESTS_PER_MINUTE: '10', HUBGATE_VALIDATE_YAML_PER_MINUTE: '3', HUBGATE_GIT_REQUESTS_PER_MINUTE: '3', HUBGATE_MAX_CONNECTIONS_PER_IP: '50' } }),
  ]);
  token = await hub.userWithToken('alice');
  const made = await hub.cli(['repo', 'create', 'alice/pub']);
  if (made.code !== 0) throw new Error(made.stderr);
  // Incompressible, so a clone's answer is several MB long.
  tip = (await commitAndPush(hub, 'alice/pub', token, { 'weights.dat': crypto.randomBytes(4 * 1024 * 1024) })).tip;
});
afterAll(async () => {
  await Promise.all([hub?.stop(), rated?.stop()]);
});

interface Exchange {
  /** Everything the server sent, once it closed the connection (or `waitMs` passed). */
  text: string;
  closed: boolean;
}

/**
 * Sends `head` (and `body`, if any) on a raw socket and then nothing more; resolves with what the
 * server sent once it closes the connection or once it has answered (`untilAnswer`), or after
 * `waitMs` (closed: false) so that a server that never answers fails the test instead of hanging it.
 */
function stall(port: number, head: string, body = '', opts: { waitMs?: number; untilAnswer?: boolean } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 10_000);
    socket.on('data', (b) => {
      text += b.toString('latin1');
      // An answer with its body complete (the bodies here are short and sent in one piece).
      if (opts.untilAnswer && /\r\n\r\n[\s\S]+/.test(text)) finish(true);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => {});
    socket.write(head + body);
  });
}

/** Clones, retrying for a few seconds while git processes of earlier requests are still exiting; the last exit code. */
async function cloneSoon(remote: string, gitArgs: string[] = []): Promise<number | null> {
  for (let i = 0; ; i++) {
    const r = await hub.git([...gitArgs, 'clone', '-q', remote, 'c']);
    if (r.code === 0 || i === 20) return r.code;
    await new Promise((res) => setTimeout(res, 250));
  }
}

const requestsLoggedWith = async (h: Hubgate, status: number) => (await requestsLogged(h)).filter((r) => r.status === status);

const healthy = async (h: Hubgate) => (await fetch(`${h.url}/healthz`)).status;

describe('card metadata is parsed with bounded work', () => {
  // 739 KB of small mappings held the event loop 2.5 s per request before.
  const mappings = (bytes: number) => {
    let yaml = '';
    for (let i = 0; yaml.length < bytes; i++) yaml += `k${i}: {a: 1}\n`;
    return `---\n${yaml}---\n# card\n`;
  };

  it('validate-yaml refuses front matter over 256 KB with a 400 that says the limit and what to do', async () => {
    const r = await fetch(`${hub.url}/api/validate-yaml`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: mappings(739 * 1024), repoType: 'model' }) });
    expect(r.status).toBe(400);
    const body = await r.json();
    expect(body.errors[0].message).toBe('README.md front matter is larger than 256 KB: keep the metadata short and move long text into the card body');
  });

  it('validate-yaml refuses more than 10,000 YAML tokens in a smaller front matter, naming the line', async () => {
    const r = await fetch(`${hub.url}/api/validate-yaml`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: mappings(200 * 1024) }) });
    expect(r.status).toBe(400);
    const body = await r.json();
    expect(body.errors[0].message).toMatch(/^README\.md front matter has more than 10000 YAML tokens \(about 1428 lines of "key: value"; the limit is reached at line \d+\): keep the metadata short and move long lists or tables into the card body or a separate file$/);
    // Ordinary metadata is still read.
    const ok = await fetch(`${hub.url}/api/validate-yaml`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: '---\nlicense: mit\ntags: [a, b]\n---\n# card\n' }) });
    expect(ok.status).toBe(200);
  });

  it('a pushed card with too much metadata is not parsed for the repo page and the repo info (no cardData)', async () => {
    await commitAndPush(hub, 'alice/pub', token, { 'README.md': mappings(200 * 1024) }, 'huge card');
    expect((await fetch(`${hub.url}/alice/pub`)).status).toBe(200);
    const info = await fetch(`${hub.url}/api/models/alice/pub`);
    expect(info.status).toBe(200);
    expect((await info.json()).cardData).toBeUndefined();
  });
});

describe('request bodies that stall or are too large', () => {
  it('a body that stops moving is cut with a 408 after the idle timeout, and the server keeps serving', async () => {
    const head = 'POST /api/validate-yaml HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const [cut, health] = await Promise.all([stall(hub.port, head, '{"content": "'), healthy(hub)]);
    expect(health).toBe(200);
    expect(cut.closed).toBe(true);
    expect(cut.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(cut.text).toContain('the request body sent nothing for 1 s, so the request was cut: send the body without pausing, then try again');
  });

  it('headers that never end are cut with a 408 after the headers timeout', async () => {
    const cut = await stall(hub.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(cut.closed).toBe(true);
    expect(cut.text).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a stalled git push body is cut too, and its git process goes away', async () => {
    const head = `POST /alice/pub/git-receive-pack HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(token)}\r\nContent-Type: application/x-git-receive-pack-request\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const first = pkt(`${'0'.repeat(40)} ${tip} refs/heads/stalled\0report-status\n`);
    const cut = await stall(hub.port, head, `${first.length.toString(16)}\r\n${first.toString('latin1')}\r\n`);
    expect(cut.closed).toBe(true);
    expect(cut.text).toMatch(/^HTTP\/1\.1 408 /);
    // The slot of alice's one git process is free again once receive-pack has exited: her clone works.
    expect(await cloneSoon(hub.remote('alice/pub'), ['-c', `http.extraHeader=Authorization: ${basic(token)}`])).toBe(0);
  });

  it.each([
    ['the Hub API (1 MB of JSON)', '/api/repos/create', 'application/json', 50_000_000, 'larger than the 1 MB this route takes: send less JSON in one request'],
    ['validate-yaml (3 MB)', '/api/validate-yaml', 'application/json', 4 * 1024 * 1024, 'larger than the 3 MB this route takes'],
    ['the LFS batch API (4 MB)', '/alice/pub.git/info/lfs/objects/batch', 'application/vnd.git-lfs+json', 5 * 1024 * 1024, 'larger than the 4 MB this route takes: send fewer objects per request'],
    ['a page form (64 KB)', '/login', 'application/x-www-form-urlencoded', 1024 * 1024, 'larger than the 64 KB this route takes'],
  ])('%s: a Content-Length over the limit is answered 413 before any byte of the body is sent', async (_what, route, type, length, message) => {
    const head = `POST ${route} HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer(token)}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`;
    const r = await stall(hub.port, head, '', { untilAnswer: true, waitMs: 5000 });
    expect(r.closed, 'no answer before the body was sent').toBe(true);
    expect(r.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(r.text).toContain(message);
    if (route.includes('/info/lfs/')) expect(r.text).toMatch(/\r\ncontent-type: application\/vnd\.git-lfs\+json/i);
  });
});

describe('streams that take long are not cut by the idle timeout', () => {
  it('a clone whose client reads slowly, pausing longer than the timeout, gets the whole pack', async () => {
    const body = wantRequest(tip);
    const { status, bytes } = await new Promise<{ status: number; bytes: Buffer }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: hub.port, method: 'POST', path: '/alice/pub/git-upload-pack', headers: { authorization: basic(token), 'content-type': 'application/x-git-upload-pack-request' }, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.once('data', (first: Buffer) => {
            chunks.push(first);
            res.pause(); // the server's writes back up: nothing moves for 2.5 s
            setTimeout(() => {
              res.on('data', (c: Buffer) => chunks.push(c));
              res.resume();
            }, 2500);
          });
          res.on('end', () => resolve({ status: res.statusCode!, bytes: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
    expect(bytes.subarray(0, 12).toString('latin1')).toBe('0008NAK\nPACK');
    expect(bytes.length).toBeGreaterThan(4 * 1024 * 1024);
  });

  it('git clone works, and a push whose pre-receive hook computes longer than the timeout lands', async () => {
    const clone = await hub.git(['clone', '-q', hub.remote('alice/pub', token), 'c']);
    expect(clone.code, clone.stderr).toBe(0);
    const hooks = path.join(hub.repoDir('alice/pub'), 'custom_hooks', 'pre-receive.d');
    fs.mkdirSync(hooks, { recursive: true });
    fs.writeFileSync(path.join(hooks, '10-slow'), '#!/bin/sh\ncat >/dev/null\nsleep 2.5\n', { mode: 0o755 });
    try {
      const { tip: pushed } = await commitAndPush(hub, 'alice/pub', token, { 'notes.txt': 'slow hook\n' }, 'after a slow hook');
      const ls = await hub.git(['ls-remote', hub.remote('alice/pub', token), 'refs/heads/main']);
      expect(ls.stdout.split('\t')[0]).toBe(pushed);
    } finally {
      fs.rmSync(hooks, { recursive: true, force: true });
    }
  });
});

describe('per-caller limits', () => {
  /** Keeps one upload-pack process of alice's busy, its request trickling in a byte at a time. */
  function holdGitProcess(): { stop: () => void; started: Promise<void> } {
    const body = wantRequest(tip);
    const socket = net.connect(hub.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`POST /alice/pub/git-upload-pack HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(token)}\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: ${body.length + 100}\r\n\r\n`);
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < body.length) socket.write(body.subarray(sent, ++sent));
    }, 200);
    return {
      stop: () => {
        clearInterval(timer);
        socket.destroy();
      },
      // The process starts once the request is through the access checks.
      started: new Promise((r) => setTimeout(r, 500)),
    };
  }

  // git sends credentials only after a 401, so clones of a public repo are anonymous (counted by
  // address) unless the token goes in a header from the start, as it does here for alice.
  it('git: one caller at its process limit gets 429 with Retry-After (readable in git), others still clone', async () => {
    const asAlice = ['-c', `http.extraHeader=Authorization: ${basic(token)}`];
    const held = holdGitProcess();
    try {
      await held.started;
      const refs = await rawRequest(hub.port, { path: '/alice/pub/info/refs?service=git-upload-pack', headers: { authorization: basic(token) } });
      expect(refs.status).toBe(429);
      expect(refs.headers['retry-after']).toBe('10');
      expect(refs.headers['content-type']).toBe('text/plain; charset=utf-8');
      const message = 'too many git requests at once: at most 1 git processes run at a time for user alice and none came free within 0.3 s; wait for your other clones and pushes to finish, then try again';
      expect(refs.text).toBe(`${message}\n`);
      const clone = await hub.git([...asAlice, 'clone', '-q', hub.remote('alice/pub'), 'c']);
      expect(clone.code).not.toBe(0);
      expect(clone.stderr).toContain(`remote: ${message}`);
      // An upload-pack POST gets git's own error packet, which git prints as "fatal: remote error: ...".
      const post = await rawRequest(hub.port, {
        method: 'POST',
        path: '/alice/pub/git-upload-pack',
        headers: { authorization: basic(token), 'content-type': 'application/x-git-upload-pack-request' },
        body: wantRequest(tip),
      });
      expect(post.headers['retry-after']).toBe('10');
      expect(post.text).toBe(pkt(`ERR ${message}\n`).toString());
      // Anyone else (here: anonymous callers from this address) is not held up.
      const anonymous = await hub.git(['clone', '-q', hub.remote('alice/pub'), 'c']);
      expect(anonymous.code, anonymous.stderr).toBe(0);
    } finally {
      held.stop();
    }
    // The slot is given back when the holder goes away.
    const again = await cloneSoon(hub.remote('alice/pub'), asAlice);
    expect(again).toBe(0);
  });

  it('git: a burst over the process limit waits for slots instead of failing', async () => {
    const queued = await startHubgate({ env: { HUBGATE_GIT_PROCESSES_PER_CALLER: '1', HUBGATE_GIT_SLOT_WAIT_MS: '60000' } });
    try {
      const user = await queued.userWithToken('alice');
      expect((await queued.cli(['repo', 'create', 'alice/pub'])).code).toBe(0);
      await commitAndPush(queued, 'alice/pub', user, { 'weights.dat': crypto.randomBytes(2 * 1024 * 1024) });
      // Four clones at once by one user with one process slot: each waits its turn, none gets 429.
      const clones = await Promise.all(
        [1, 2, 3, 4].map(() => queued.git(['-c', `http.extraHeader=Authorization: ${basic(user)}`, 'clone', '-q', queued.remote('alice/pub'), 'c'])),
      );
      expect(clones.map((c) => c.code)).toEqual([0, 0, 0, 0]);
      expect(await requestsLoggedWith(queued, 429)).toEqual([]);
    } finally {
      await queued.stop();
    }
  });

  it('anonymous validate-yaml: per address per minute; a token still gets through', async () => {
    const rtoken = await rated.userWithToken('bob');
    const validate = (auth?: string) =>
      fetch(`${rated.url}/api/validate-yaml`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: JSON.stringify({ content: '---\nlicense: mit\n---\n' }) });
    for (let i = 0; i < 3; i++) expect((await validate()).status).toBe(200);
    const refused = await validate();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await refused.json()).error).toMatch(/^too many anonymous validate-yaml requests from your address: at most 3 a minute; retry in \d+ s, or send a token/);
    expect((await validate(bearer(rtoken))).status).toBe(200);
  });

  it('API and LFS batch requests: per caller per minute, 429 in each format; other callers go on', async () => {
    const rtoken = await rated.userWithToken('carol');
    const made = await rated.cli(['repo', 'create', 'carol/pub']);
    expect(made.code, made.stderr).toBe(0);
    // The anonymous caller (this address) has 10 a minute; the validate-yaml test above refused one but used 3.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await fetch(`${rated.url}/api/models/carol/pub`)).status);
    expect(statuses.slice(0, 7)).toEqual(Array(7).fill(200));
    expect(statuses[7]).toBe(429);
    const api = await fetch(`${rated.url}/api/models/carol/pub`);
    expect(api.status).toBe(429);
    expect(Number(api.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(api.headers.get('x-error-message')).toMatch(/^too many requests: at most 10 API and LFS batch requests a minute for your address; retry in \d+ s$/);
    const batch = await fetch(`${rated.url}/carol/pub.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { accept: 'application/vnd.git-lfs+json', 'content-type': 'application/vnd.git-lfs+json' },
      body: JSON.stringify({ operation: 'download', transfers: ['basic'], objects: [{ oid: 'a'.repeat(64), size: 1 }] }),
    });
    expect(batch.status).toBe(429);
    expect(batch.headers.get('content-type')).toMatch(/^application\/vnd\.git-lfs\+json\b/);
    expect(batch.headers.get('retry-after')).toBeTruthy();
    expect((await batch.json()).message).toMatch(/^too many requests: at most 10 API and LFS batch requests a minute/);
    // Another caller is counted on its own.
    expect((await fetch(`${rated.url}/api/models/carol/pub`, { headers: { authorization: bearer(rtoken) } })).status).toBe(200);
    expect(await healthy(rated)).toBe(200);
  });

  it('git requests: per caller per minute (each starts a process)', async () => {
    const dtoken = await rated.userWithToken('dave');
    const made = await rated.cli(['repo', 'create', 'dave/pub']);
    expect(made.code, made.stderr).toBe(0);
    const refs = (headers: Record<string, string> = {}) => rawRequest(rated.port, { path: '/dave/pub/info/refs?service=git-upload-pack', headers });
    for (let i = 0; i < 3; i++) expect((await refs()).status).toBe(200);
    const refused = await refs();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.text).toMatch(/^too many git requests: at most 3 a minute for your address; try again in \d+ s\n$/);
    const clone = await rated.git(['clone', '-q', rated.remote('dave/pub'), 'c']);
    expect(clone.stderr).toMatch(/^remote: too many git requests: at most 3 a minute for your address/m);
    // dave's token, sent from the start, is counted apart from the address.
    expect((await refs({ authorization: basic(dtoken) })).status).toBe(200);
  });

  it('connections: one address holds at most the cap; more are closed at once, and it serves again once they go', async () => {
    const sockets = Array.from({ length: 60 }, () => net.connect(rated.port, '127.0.0.1').on('error', () => {}));
    let closed = 0;
    for (const s of sockets) s.on('close', () => closed++);
    try {
      await new Promise((r) => setTimeout(r, 1000));
      // 50 at most are held (this process's own pooled fetch connections count too).
      expect(closed).toBeGreaterThanOrEqual(10);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(await healthy(rated)).toBe(200);
  });
});

describe('idle keep-alive connections', () => {
  it('stay open longer than a busy client may take between requests (6 s), even with a short headers timeout', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () => new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
      const req = http.get(`${hub.url}/healthz`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
      });
      req.on('error', reject);
    });
    try {
      expect(await get()).toEqual({ status: 200, reused: false });
      await new Promise((r) => setTimeout(r, 6000));
      // Node's default (5 s) would have closed it: the client then opens a new one, or, busy, writes into the closed one.
      expect(await get()).toEqual({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  }, 20_000);
});
