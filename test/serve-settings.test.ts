// What a team sets on day one when serving: who may read /metrics (a bearer token, a separate
// address), and a start that fails (bad settings, a port in use, a host that is not this
// machine's) ends with exit status and one line naming the setting, never a stack trace.
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, freePort, type Hubgate, run, startHubgate, tempDir } from './helpers/hubgate.js';

const METRICS_TOKEN = 'metrics-0123456789abcdef';

/** `hubgate serve` with `env` on a fresh data dir, expected to stop by itself. */
async function serveFails(env: NodeJS.ProcessEnv, args: string[] = []) {
  const dataDir = path.join(tempDir(), 'data');
  return run(process.execPath, [BIN, 'serve', '--data', dataDir, ...args], { env: { ...process.env, HUBGATE_HOST: '127.0.0.1', ...env } });
}

/** The single line hubgate printed, with no stack trace around it. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0];
}

describe('/metrics behind HUBGATE_METRICS_TOKEN', () => {
  let hub: Hubgate;
  beforeAll(async () => {
    hub = await startHubgate({ env: { HUBGATE_METRICS_TOKEN: METRICS_TOKEN } });
  });
  afterAll(() => hub?.stop());

  it('answers 401 with a message without the token, or with another one', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${METRICS_TOKEN}x`, `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}`, METRICS_TOKEN]) {
      const r = await fetch(`${hub.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(r.status, authorization).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="hubgate metrics"');
      expect(await r.json()).toEqual({ error: '/metrics needs `Authorization: Bearer TOKEN` with the token set in HUBGATE_METRICS_TOKEN' });
    }
  });

  it('serves the metrics with the token; /healthz stays open', async () => {
    const r = await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/^# TYPE hubgate_http_requests_total counter$/m);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    // The refusals above were counted, under the metrics route.
    const again = await (await fetch(`${hub.url}/metrics`, { headers: { authorization: `bearer ${METRICS_TOKEN}` } })).text();
    expect(again).toMatch(/^hubgate_http_requests_total\{route="metrics",method="GET",status="401"\} 5$/m);
    expect(hub.log()).not.toContain(METRICS_TOKEN);
  });
});

describe('/metrics on HUBGATE_METRICS_LISTEN only', () => {
  let hub: Hubgate;
  let metricsUrl = '';
  beforeAll(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}`;
    hub = await startHubgate({ env: { HUBGATE_METRICS_LISTEN: `127.0.0.1:${port}`, HUBGATE_METRICS_TOKEN: METRICS_TOKEN } });
  });
  afterAll(() => hub?.stop());

  it('answers 404 on the main address, and serves /metrics (with the token) on its own', async () => {
    const main = await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(main.status).toBe(404);
    expect((await fetch(`${metricsUrl}/metrics`)).status).toBe(401);
    const r = await fetch(`${metricsUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    // The main address's requests are what it counts (its /metrics is a 404 of the pages there).
    expect(await r.text()).toMatch(/^hubgate_http_requests_total\{route="[a-z-]+",method="GET",status="404"\} 1$/m);
    // Nothing else is served there.
    for (const p of ['/healthz', '/api/whoami-v2', '/alice/m/info/refs']) expect((await fetch(`${metricsUrl}${p}`)).status, p).toBe(404);
  });
});

describe('settings and addresses hubgate serve cannot use', () => {
  it('refuses bad metrics settings with the setting and what to use (exit 2)', async () => {
    const cases: [NodeJS.ProcessEnv, string][] = [
      [{ HUBGATE_METRICS_TOKEN: 'short' }, 'hubgate: invalid setting HUBGATE_METRICS_TOKEN: use at least 16 characters, such as the output of `openssl rand -hex 32`'],
      [{ HUBGATE_METRICS_TOKEN: 'has a space in it, long enough' }, 'hubgate: invalid setting HUBGATE_METRICS_TOKEN: use printable ASCII characters without spaces'],
      [{ HUBGATE_METRICS_LISTEN: '9100' }, 'hubgate: invalid setting HUBGATE_METRICS_LISTEN: "9100" is not host:port: use an address and a port such as 127.0.0.1:9100 (or [::1]:9100)'],
      [{ HUBGATE_METRICS_LISTEN: '127.0.0.1:70000' }, 'hubgate: invalid setting HUBGATE_METRICS_LISTEN: "127.0.0.1:70000" is not host:port: use an address and a port such as 127.0.0.1:9100 (or [::1]:9100)'],
      [{ HUBGATE_METRICS_LISTEN: '0.0.0.0:8123', HUBGATE_PORT: '8123' }, "hubgate: HUBGATE_METRICS_LISTEN needs a port of its own: 8123 is HUBGATE_PORT's"],
      [{ HUBGATE_SSH_PORT: '8124', HUBGATE_PORT: '8124' }, "hubgate: HUBGATE_SSH_PORT needs a port of its own: 8124 is HUBGATE_PORT's (0 turns SSH off)"],
      [{ HUBGATE_SSH_PORT: '70000' }, 'hubgate: invalid setting HUBGATE_SSH_PORT: Too big: expected number to be <=65535'],
      [{ HUBGATE_SSH_PUBLIC_URL: 'https://hub.example.com' }, 'hubgate: invalid setting HUBGATE_SSH_PUBLIC_URL: use an ssh:// URL with a host and an optional user and port, such as ssh://git@hub.example.com:2222'],
    ];
    for (const [env, message] of cases) {
      const r = await serveFails(env);
      expect(r.code, JSON.stringify(env)).toBe(2);
      expect(oneLine(r.stderr)).toBe(message);
    }
  });

  it('exits 1 naming HUBGATE_PORT when the port is in use, HUBGATE_METRICS_LISTEN or HUBGATE_SSH_PORT when theirs is', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const main = await serveFails({ HUBGATE_PORT: String(port) });
      expect(main.code).toBe(1);
      expect(oneLine(main.stderr)).toBe(`hubgate: HUBGATE_PORT ${port} is in use by another process: stop it or choose another port with HUBGATE_PORT or --port`);
      const flag = await serveFails({}, ['--port', String(port)]);
      expect(flag.code).toBe(1);
      expect(oneLine(flag.stderr)).toContain(`HUBGATE_PORT ${port} is in use`);
      const metrics = await serveFails({ HUBGATE_PORT: String(await freePort()), HUBGATE_METRICS_LISTEN: `127.0.0.1:${port}` });
      expect(metrics.code).toBe(1);
      expect(oneLine(metrics.stderr)).toBe(`hubgate: HUBGATE_METRICS_LISTEN port ${port} is in use by another process: stop it or choose another port with HUBGATE_METRICS_LISTEN`);
      const ssh = await serveFails({ HUBGATE_PORT: String(await freePort()), HUBGATE_SSH_PORT: String(port) });
      expect(ssh.code).toBe(1);
      expect(oneLine(ssh.stderr)).toBe(`hubgate: HUBGATE_SSH_PORT ${port} is in use by another process: stop it or choose another port with HUBGATE_SSH_PORT (0 turns SSH off)`);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  it('exits 1 naming HUBGATE_HOST for an address not on this machine or a name that does not resolve', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address.
    const foreign = await serveFails({ HUBGATE_HOST: '192.0.2.1', HUBGATE_PORT: String(await freePort()) });
    expect(foreign.code).toBe(1);
    expect(oneLine(foreign.stderr)).toBe('hubgate: HUBGATE_HOST 192.0.2.1 is not an address of this machine: use one of its addresses (127.0.0.1, or 0.0.0.0 for all) with HUBGATE_HOST or --host');
    // .invalid never resolves (RFC 2606).
    const unknown = await serveFails({ HUBGATE_HOST: 'hubgate.invalid', HUBGATE_PORT: String(await freePort()) });
    expect(unknown.code).toBe(1);
    expect(oneLine(unknown.stderr)).toBe('hubgate: HUBGATE_HOST hubgate.invalid does not resolve to an address: use an IP address or a name of this machine with HUBGATE_HOST or --host');
  });
});
