// Operations: /healthz, /metrics (Prometheus text, counted from real clones and pushes), and
// the server log, which must never hold a credential however it was sent.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';
import { basic, bearer, commitAndPush, rawRequest, wantRequest } from './helpers/wire.js';

let hub: Hubgate;
let token: string;
let readToken: string;
let tip: string;
const PASSWORD = 'hunter2hunter2';
const BLOB = 256 * 1024;

/** Sum of the samples of `name` whose labels include all of `labels` (0 when there are none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

async function metrics(): Promise<string> {
  const r = await fetch(`${hub.url}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return r.text();
}

beforeAll(async () => {
  hub = await startHubgate();
  token = await hub.userWithToken('alice');
  for (const args of [
    ['repo', 'create', 'alice/m'],
    ['repo', 'create', 'alice/p', '--private'],
    ['token', 'create', 'alice', '--role', 'read'],
  ]) {
    const r = await hub.cli(args);
    if (r.code !== 0) throw new Error(r.stderr);
    if (args[0] === 'token') readToken = r.stdout.trim();
  }
  // Incompressible content of a known size, so the bytes a clone is served have a floor.
  const blob = crypto.randomBytes(BLOB);
  for (const repo of ['alice/m', 'alice/p']) tip = (await commitAndPush(hub, repo, token, { 'blob.dat': blob })).tip;
});
afterAll(() => hub?.stop());

describe('/healthz', () => {
  it('answers 200 with JSON, without credentials', async () => {
    const r = await fetch(`${hub.url}/healthz`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await r.json()).toStrictEqual({ status: 'ok' });
  });
});

describe('/metrics', () => {
  it('is Prometheus text with hubgate’s own metrics declared', async () => {
    const text = await metrics();
    expect(text).toMatch(/^# TYPE hubgate_http_requests_total counter$/m);
    expect(text).toMatch(/^# TYPE hubgate_git_service_duration_seconds histogram$/m);
    expect(text).toMatch(/^# TYPE hubgate_git_bytes_served_total counter$/m);
    // Every non-comment line is a sample: name{labels} value.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEInfNa]+$/);
    }
  });

  it('counts git requests by route and status exactly', async () => {
    const before = await metrics();
    const ok = { route: 'git', method: 'GET', status: '200' };
    const denied = { route: 'git', method: 'GET', status: '401' };
    const missing = { route: 'git', method: 'GET', status: '404' };
    for (let i = 0; i < 3; i++) await (await fetch(`${hub.url}/alice/m/info/refs?service=git-upload-pack`)).arrayBuffer();
    for (let i = 0; i < 2; i++) await (await fetch(`${hub.url}/alice/p/info/refs?service=git-upload-pack`)).arrayBuffer();
    await (await fetch(`${hub.url}/alice/none/info/refs?service=git-upload-pack`, { headers: { authorization: basic(token) } })).arrayBuffer();
    await (await fetch(`${hub.url}/healthz`)).arrayBuffer();
    const after = await metrics();
    expect(sample(after, 'hubgate_http_requests_total', ok) - sample(before, 'hubgate_http_requests_total', ok)).toBe(3);
    expect(sample(after, 'hubgate_http_requests_total', denied) - sample(before, 'hubgate_http_requests_total', denied)).toBe(2);
    expect(sample(after, 'hubgate_http_requests_total', missing) - sample(before, 'hubgate_http_requests_total', missing)).toBe(1);
    const health = { route: 'healthz', status: '200' };
    expect(sample(after, 'hubgate_http_requests_total', health) - sample(before, 'hubgate_http_requests_total', health)).toBe(1);
  });

  it('after a clone: POSTs counted with route="git", upload-pack timed, and at least the pack’s bytes served', async () => {
    const before = await metrics();
    const clone = await hub.git(['clone', '-q', hub.remote('alice/m', token), 'c']);
    expect(clone.code, clone.stderr).toBe(0);
    const after = await metrics();
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);

    expect(delta('hubgate_http_requests_total', { route: 'git', method: 'GET', status: '200' })).toBe(1);
    expect(delta('hubgate_http_requests_total', { route: 'git', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(1);
    // Advertisement + at least one RPC, each a git process, all successful.
    expect(delta('hubgate_git_service_duration_seconds_count', { service: 'upload-pack', outcome: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(delta('hubgate_git_service_duration_seconds_sum', { service: 'upload-pack' })).toBeGreaterThan(0);
    expect(delta('hubgate_git_service_duration_seconds_bucket', { service: 'upload-pack', outcome: 'ok', le: '+Inf' })).toBe(
      delta('hubgate_git_service_duration_seconds_count', { service: 'upload-pack', outcome: 'ok' }),
    );
    // The blob is random, so the pack cannot be smaller than it.
    expect(delta('hubgate_git_bytes_served_total', { service: 'upload-pack' })).toBeGreaterThanOrEqual(BLOB);
    expect(sample(after, 'hubgate_git_bytes_served_total', { service: 'upload-pack' })).toBeGreaterThan(0);
  });

  it('after a push: receive-pack timed; a refused push is counted as 403 and starts no git process', async () => {
    const work = tempDir('hubgate-ops-push-');
    await hub.git(['clone', '-q', hub.remote('alice/m', token), '.'], { cwd: work });
    await hub.git(['commit', '-q', '--allow-empty', '-m', 'more'], { cwd: work });
    const before = await metrics();
    const push = await hub.git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    expect(push.code, push.stderr).toBe(0);
    const refused = await hub.git(['push', hub.remote('alice/m', readToken), 'HEAD:refs/heads/other'], { cwd: work });
    expect(refused.code).not.toBe(0);
    const after = await metrics();
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('hubgate_git_service_duration_seconds_count', { service: 'receive-pack', outcome: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(delta('hubgate_git_service_duration_seconds_count', { service: 'receive-pack' })).toBe(
      delta('hubgate_git_service_duration_seconds_count', { service: 'receive-pack', outcome: 'ok' }),
    );
    expect(delta('hubgate_http_requests_total', { route: 'git', method: 'GET', status: '403' })).toBeGreaterThanOrEqual(1);
    expect(delta('hubgate_http_requests_total', { route: 'git', method: 'POST', status: '403' })).toBe(0);
  });
});

describe('the server log', () => {
  it('holds no credential however it was sent, yet records the requests', async () => {
    const unknown = `hf_${crypto.randomBytes(32).toString('base64url')}`;
    const revoked = (await hub.cli(['token', 'create', 'alice', '--role', 'write', '--name', 'soon revoked'])).stdout.trim();
    const list = (await hub.cli(['token', 'list', 'alice'])).stdout;
    const revokedId = list.split('\n').find((l) => l.endsWith('\tsoon revoked'))!.split('\t')[0];
    expect((await hub.cli(['token', 'revoke', revokedId])).code).toBe(0);

    const logStart = hub.log().length;
    // git with the token as the Basic password, as the username alone, and as a Bearer header.
    const clones = [
      await hub.git(['clone', '-q', hub.remote('alice/p', token), 'c']),
      await hub.git(['clone', '-q', hub.remote('alice/p').replace('://', `://${token}@`), 'c']),
      await hub.git(['-c', `http.extraHeader=Authorization: Bearer ${token}`, 'clone', '-q', hub.remote('alice/p'), 'c']),
    ];
    for (const c of clones) expect(c.code, c.stderr).toBe(0);
    const work = tempDir('hubgate-ops-log-');
    await hub.git(['clone', '-q', hub.remote('alice/p', token), '.'], { cwd: work });
    await hub.git(['commit', '-q', '--allow-empty', '-m', 'log test'], { cwd: work });
    const pushed = await hub.git(['-c', `http.extraHeader=Authorization: Bearer ${token}`, 'push', '-q', hub.remote('alice/p'), 'HEAD:main'], { cwd: work });
    expect(pushed.code, pushed.stderr).toBe(0);
    // Refused credentials, a failing git service, a bad body, and a token in the query string.
    await hub.git(['clone', hub.remote('alice/p', unknown), 'c']);
    await hub.git(['clone', hub.remote('alice/p', revoked), 'c']);
    await hub.git(['clone', hub.remote('alice/p').replace('://', `://alice:${PASSWORD}@`), 'c']);
    await hub.git(['push', hub.remote('alice/p', readToken), 'HEAD:refs/heads/x'], { cwd: work });
    const rpc = (headers: Record<string, string>, body: Buffer, query = '') =>
      rawRequest(hub.port, {
        method: 'POST',
        path: `/alice/p/git-upload-pack${query}`,
        headers: { 'content-type': 'application/x-git-upload-pack-request', ...headers },
        body,
      });
    expect((await rpc({ authorization: bearer(token) }, Buffer.from('garbage'))).status).toBe(400);
    expect((await rpc({ authorization: basic(token), 'content-encoding': 'gzip' }, Buffer.from('not gzip'))).status).toBe(400);
    expect((await rpc({ authorization: `Token ${token}` }, wantRequest(tip))).status).toBe(401);
    expect((await rpc({ authorization: bearer(token) }, wantRequest(tip), `?access_token=${token}&token=${readToken}`)).status).toBe(200);
    expect((await rawRequest(hub.port, { path: `/alice/p/info/refs?service=git-upload-pack&secret=${token}`, headers: { authorization: basic(readToken) } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));

    const log = hub.log().slice(logStart);
    const lines = log.split('\n').filter(Boolean);
    // pino: one JSON object per line.
    const entries = lines.map((l) => JSON.parse(l) as { req?: { method: string; path: string }; user?: string; msg: string });
    // The requests were logged (so the checks below are about a log that has them)...
    expect(entries.some((e) => e.req?.path === '/alice/p/git-upload-pack' && e.user === 'alice')).toBe(true);
    expect(entries.some((e) => e.req?.path === '/alice/p/git-receive-pack' && e.user === 'alice')).toBe(true);
    expect(entries.some((e) => e.msg === 'git service failed')).toBe(true);
    expect(entries.some((e) => e.req?.path === '/alice/p/info/refs' && e.user === 'alice')).toBe(true);
    // ...and no credential in any form.
    const forms = (s: string) => [s, s.slice(3), Buffer.from(`x:${s}`).toString('base64'), Buffer.from(`${s}:`).toString('base64'), Buffer.from(s).toString('base64')];
    for (const secret of [token, readToken, revoked, unknown]) {
      for (const form of forms(secret)) expect(log, `log holds ${form}`).not.toContain(form);
    }
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
    expect(log).not.toMatch(/"authorization"\s*:\s*"(?!\[redacted\])/i);
    expect(log).not.toMatch(/\b(Basic|Bearer) [A-Za-z0-9+/=_-]{8,}/);
    // Nor in the whole log since start (setup pushes carried the token too).
    for (const form of forms(token)) expect(hub.log()).not.toContain(form);
  });
});

describe('the request lines', () => {
  it('are pino lines: its fields in its order, the path as sent (escaped), without the query, the user when there is one', async () => {
    const logStart = hub.log().length;
    // A path with characters JSON must escape (a quote, a backslash) and non-ASCII bytes.
    const odd = '/alice/m/resolve/main/a"b\\c%C3%A9?token=never-logged';
    expect((await rawRequest(hub.port, { method: 'HEAD', path: odd })).status).toBe(404);
    expect((await rawRequest(hub.port, { path: '/alice/p/resolve/main/blob.dat', headers: { authorization: bearer(token) } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    const entries = hub.log().slice(logStart).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    const anonymous = entries.find((e) => e.req?.method === 'HEAD');
    const user = entries.find((e) => e.req?.path === '/alice/p/resolve/main/blob.dat');
    expect(Object.keys(anonymous!)).toEqual(['level', 'time', 'pid', 'hostname', 'req', 'res', 'responseTime', 'msg']);
    expect(anonymous).toMatchObject({ level: 30, pid: hub.process.pid, req: { method: 'HEAD', path: '/alice/m/resolve/main/a"b\\c%C3%A9', remoteAddress: '127.0.0.1' }, res: { statusCode: 404 }, msg: 'request completed' });
    expect(Math.abs(anonymous!.time - Date.now())).toBeLessThan(60_000);
    expect(Object.keys(user!)).toEqual(['level', 'time', 'pid', 'hostname', 'req', 'res', 'responseTime', 'user', 'msg']);
    expect(user).toMatchObject({ req: { method: 'GET' }, res: { statusCode: 200 }, user: 'alice', msg: 'request completed' });
    expect(typeof user!.responseTime).toBe('number');
    expect(hub.log()).not.toContain('never-logged');
  });
});

describe('start-up', () => {
  it('empties the trash a repo deletion left behind when the server stopped halfway', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const leftover = path.join(dataDir, 'trash', '7-leftover', 'objects');
    fs.mkdirSync(leftover, { recursive: true });
    fs.writeFileSync(path.join(leftover, 'pack'), 'x');
    const restarted = await startHubgate({ dataDir });
    try {
      for (let i = 0; i < 100 && fs.existsSync(path.join(dataDir, 'trash')); i++) await new Promise((r) => setTimeout(r, 20));
      expect(fs.existsSync(path.join(dataDir, 'trash'))).toBe(false);
      expect(fs.existsSync(path.join(dataDir, 'repos'))).toBe(true);
    } finally {
      await restarted.stop();
    }
  });
});
