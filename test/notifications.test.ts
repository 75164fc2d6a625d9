// Notifications of gated-repo access requests (issue 4 item 7): a real SMTP server
// (smtp-server on loopback) receives what hubgate sends; recipients are read from the SMTP
// envelope. New pending requests go to the notifications email, the owner, or an org's first
// five admins, at once or in the daily digest; decisions go to the requester; without SMTP the
// messages land in DATA/outbox.jsonl; a mail server that is down never fails or slows a request.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, freePort, type Hubgate, run, startHubgate, tempDir } from './helpers/hubgate.js';
import { type Received, receive, sleep, startSmtp } from './helpers/smtp.js';

const api = (hub: Hubgate, method: string, urlPath: string, token: string, body?: unknown) =>
  fetch(`${hub.url}${urlPath}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function ok(res: Promise<Response>, status = 200): Promise<unknown> {
  const r = await res;
  const text = await r.text();
  expect(r.status, text).toBe(status);
  return text ? JSON.parse(text) : null;
}

async function cli(hub: { cli(args: string[]): ReturnType<typeof run> }, ...args: string[]): Promise<string> {
  const r = await hub.cli(args);
  expect(r.code, `hubgate ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.trim();
}

const PUBLIC_URL = 'https://hub.example.org';
const SENDER = 'gatekeeper@example.org';

describe('notifications by SMTP', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let hub: Hubgate;
  const tokens: Record<string, string> = {};
  const ask = (repoPath: string, who: string, fields: Record<string, unknown> = {}) => ok(api(hub, 'POST', `/${repoPath}/ask-access`, tokens[who], { fields }), 201);
  const handle = (plural: string, repoId: string, who: string, body: unknown) => ok(api(hub, 'POST', `/api/${plural}/${repoId}/user-access-request/handle`, tokens[who], body));
  const grant = (plural: string, repoId: string, who: string, user: string) => ok(api(hub, 'POST', `/api/${plural}/${repoId}/user-access-request/grant`, tokens[who], { user }));
  const settings = (plural: string, repoId: string, who: string, body: unknown) => ok(api(hub, 'PUT', `/api/${plural}/${repoId}/settings`, tokens[who], body));
  const about = (subject: string) => (m: Received) => m.subject === subject;

  beforeAll(async () => {
    // The mail server wants the login given in HUBGATE_SMTP_URL.
    smtp = await startSmtp({ user: 'hubgate', pass: 'mail-pa55' });
    hub = await startHubgate({ env: { HUBGATE_SMTP_URL: `smtp://hubgate:mail-pa55@127.0.0.1:${smtp.port}`, HUBGATE_SMTP_FROM: SENDER, HUBGATE_PUBLIC_URL: PUBLIC_URL } });
    // Seven admins with an email, created a1..a7 but made admins in the order a7..a1, after an
    // admin without an email and after members with lesser roles.
    const admins = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'];
    await Promise.all([...admins, 'writer', 'reader'].map((u) => cli(hub, 'user', 'create', u, '--email', `${u}@example.com`)));
    await cli(hub, 'user', 'create', 'noemail');
    await cli(hub, 'org', 'create', 'acme');
    await cli(hub, 'org', 'add', 'acme', 'writer', '--role', 'write');
    await cli(hub, 'org', 'add', 'acme', 'noemail', '--role', 'admin');
    await cli(hub, 'org', 'add', 'acme', 'reader', '--role', 'read');
    for (const a of [...admins].reverse()) await cli(hub, 'org', 'add', 'acme', a, '--role', 'admin');
    await Promise.all([
      ...['a1', 'noemail'].map(async (u) => (tokens[u] = await cli(hub, 'token', 'create', u, '--role', 'write'))),
      ...['alice', 'bob', 'carol', 'dave'].map(async (u) => (tokens[u] = await hub.userWithToken(u))),
      ...['acme/gated', 'acme/custom'].map((r) => cli(hub, 'repo', 'create', r, '--gated', 'manual')),
    ]);
    await Promise.all([
      cli(hub, 'repo', 'create', 'alice/decide', '--gated', 'manual'),
      cli(hub, 'repo', 'create', 'alice/data', '--type', 'dataset', '--gated', 'manual'),
    ]);

    // A card with a form, so the message can show the answers.
    const work = tempDir();
    expect((await hub.git(['clone', hub.remote('acme/gated', tokens.a1), '.'], { cwd: work })).code).toBe(0);
    fs.writeFileSync(path.join(work, 'README.md'), '---\nextra_gated_fields:\n  Company: text\n---\n# Gated\n');
    expect((await hub.git(['add', 'README.md'], { cwd: work })).code).toBe(0);
    expect((await hub.git(['commit', '-m', 'card'], { cwd: work })).code).toBe(0);
    const push = await hub.git(['push', 'origin', 'main'], { cwd: work });
    expect(push.code, push.stderr).toBe(0);
  });
  afterAll(async () => {
    await hub?.stop();
    await smtp?.close();
  });

  it('an org repo notifies its first five admins with an email, in membership order, at once', async () => {
    expect(await settings('models', 'acme/gated', 'a1', { notificationsFrequency: 'instant' })).toMatchObject({ notificationsEmail: null, notificationsFrequency: 'instant' });
    await ask('acme/gated', 'bob', { Company: 'ACME Research' });

    const got = await receive(smtp.mails, about('New access request to acme/gated'), 5);
    expect(got.map((m) => m.to)).toEqual([['a7@example.com'], ['a6@example.com'], ['a5@example.com'], ['a4@example.com'], ['a3@example.com']]);
    for (const m of got) {
      expect(m.from).toBe(SENDER);
      expect(m.text).toContain('bob asked for access to the gated model acme/gated.');
      expect(m.text).toContain('Company: ACME Research');
      expect(m.text).toContain(`${PUBLIC_URL}/acme/gated/settings`);
    }
    // Writers, readers and the other admins heard nothing.
    const everyone = smtp.mails.flatMap((m) => m.to);
    for (const other of ['a1@example.com', 'a2@example.com', 'writer@example.com', 'reader@example.com']) expect(everyone).not.toContain(other);
  });

  it('a notifications email replaces the default recipients', async () => {
    expect(await settings('models', 'acme/custom', 'a1', { notificationsEmail: 'reviewers@example.org', notificationsFrequency: 'instant' })).toMatchObject({
      notificationsEmail: 'reviewers@example.org',
    });
    await ask('acme/custom', 'bob');
    const got = await receive(smtp.mails, about('New access request to acme/custom'));
    expect(got.map((m) => m.to)).toEqual([['reviewers@example.org']]);
  });

  it("a user's repo notifies its owner, with the dataset's address and settings page", async () => {
    await settings('datasets', 'alice/data', 'alice', { notificationsFrequency: 'instant' });
    await ask('datasets/alice/data', 'carol');
    const [m, ...more] = await receive(smtp.mails, about('New access request to datasets/alice/data'));
    expect(more).toEqual([]);
    expect(m.to).toEqual(['alice@example.com']);
    expect(m.text).toContain('carol asked for access to the gated dataset datasets/alice/data.');
    expect(m.text).toContain(`Review access requests (accept or reject): ${PUBLIC_URL}/datasets/alice/data/settings`);

    // Accepting tells carol.
    await handle('datasets', 'alice/data', 'alice', { user: 'carol', status: 'accepted' });
    const [accepted] = await receive(smtp.mails, (x) => x.to.includes('carol@example.com'));
    expect(accepted.subject).toBe('You now have access to datasets/alice/data');
    expect(accepted.text).toContain(`${PUBLIC_URL}/datasets/alice/data`);
  });

  it('grant, reject with the reason, and accept notify the requester; cancel does not', async () => {
    const toDave = (x: Received) => x.to.includes('dave@example.com');
    await grant('models', 'alice/decide', 'alice', 'dave');
    let got = await receive(smtp.mails, toDave, 1);
    expect(got.map((m) => m.subject)).toEqual(['You now have access to alice/decide']);
    expect(got[0].text).toContain('you now have access to alice/decide');
    expect(got[0].text).toContain(`${PUBLIC_URL}/alice/decide`);

    await handle('models', 'alice/decide', 'alice', { user: 'dave', status: 'rejected', rejectionReason: 'Only for members of the ACME project.' });
    got = await receive(smtp.mails, toDave, 2);
    expect(got.map((m) => m.subject)).toEqual(['You now have access to alice/decide', 'Your request to access alice/decide has been rejected']);
    expect(got[1].text).toContain("Your request to access this repo has been rejected by the repo's authors.");
    expect(got[1].text).toContain('Reason: Only for members of the ACME project.');

    // Cancel (back to pending) tells no one; accepting again does.
    await handle('models', 'alice/decide', 'alice', { user: 'dave', status: 'pending' });
    await handle('models', 'alice/decide', 'alice', { user: 'dave', status: 'accepted' });
    got = await receive(smtp.mails, toDave, 3);
    expect(got.map((m) => m.subject)).toEqual([
      'You now have access to alice/decide',
      'Your request to access alice/decide has been rejected',
      'You now have access to alice/decide',
    ]);
    // The authors of a daily repo heard nothing about any of this.
    expect(smtp.mails.filter((m) => m.subject.includes('alice/decide') && m.to.includes('alice@example.com'))).toEqual([]);
  });

  it('a user without an email is not notified, and nothing fails', async () => {
    const before = smtp.mails.length;
    expect(await grant('models', 'alice/decide', 'alice', 'noemail')).toMatchObject({ status: 'accepted' });
    await sleep(500);
    expect(smtp.mails.length).toBe(before);
    expect(hub.log()).not.toContain('sending a notification failed');
    expect(hub.log()).not.toContain('preparing a notification failed');
    expect(hub.log()).toContain('notification sent');
    expect(hub.log()).not.toContain('mail-pa55');
  });
});

describe('the daily digest', () => {
  const INTERVAL = 5000;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let hub: Hubgate;
  const dataDir = path.join(tempDir(), 'data');
  const tokens: Record<string, string> = {};
  const env = () => ({ HUBGATE_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, HUBGATE_DIGEST_INTERVAL_MS: String(INTERVAL) });
  const offline = (...args: string[]) => run(process.execPath, [BIN, ...args, '--data', dataDir]);
  const ask = (who: string) => ok(api(hub, 'POST', '/alice/daily/ask-access', tokens[who], { fields: {} }), 201);
  const digests = () => smtp.mails.filter((m) => m.subject.endsWith(' to alice/daily'));

  beforeAll(async () => {
    smtp = await startSmtp();
    // Everything is set up before hubgate starts, so the first digest is a known interval away.
    // alice first and alone: the first command creates the database.
    const user = async (u: string) => {
      expect((await offline('user', 'create', u, '--email', `${u}@example.com`)).code).toBe(0);
      tokens[u] = (await offline('token', 'create', u, '--role', 'write')).stdout.trim();
    };
    await user('alice');
    const repo = async () => {
      const r = await offline('repo', 'create', 'alice/daily', '--gated', 'manual');
      expect(r.code, r.stderr).toBe(0);
    };
    await Promise.all([user('bob'), user('carol'), user('dave'), repo()]);
    hub = await startHubgate({ dataDir, env: env() });
  });
  afterAll(async () => {
    await hub?.stop();
    await smtp?.close();
  });

  it('sends nothing at once, then one message per repo listing the requests since the last digest', async () => {
    const started = Date.now();
    await ask('bob');
    await ask('carol');
    await sleep(1000);
    expect(Date.now() - started, 'the check ran before the first digest was due').toBeLessThan(INTERVAL - 1000);
    expect(smtp.mails).toEqual([]);

    const [digest, ...more] = await receive(smtp.mails, (m) => m.subject.endsWith(' to alice/daily'), 1, INTERVAL + 3000);
    expect(more).toEqual([]);
    expect(digest.to).toEqual(['alice@example.com']);
    expect(digest.subject).toBe('2 new access requests to alice/daily');
    expect(digest.text).toMatch(/- bob, \d{4}-\d\d-\d\dT/);
    expect(digest.text).toMatch(/- carol, \d{4}-\d\d-\d\dT/);
    expect(digest.text).toContain(`${hub.url}/alice/daily/settings`); // no public URL: the listening address
  });

  it('a digest that fell due while hubgate was down goes out at start, with only the new requests', async () => {
    await ask('dave');
    await hub.stop();
    expect(digests()).toHaveLength(1); // dave waits for the next digest
    // A day "passed" while hubgate was down: the last digest, kept in the database, is a day old.
    const sqlite = new SQLite(path.join(dataDir, 'hubgate.sqlite'));
    sqlite.prepare(`update jobs set last_run_at = ? where name = 'digest'`).run(new Date(Date.now() - 86_400_000).toISOString());
    sqlite.close();
    const restarted = Date.now();
    hub = await startHubgate({ dataDir, env: env() });
    const got = await receive(smtp.mails, (m) => m.subject.endsWith(' to alice/daily'), 2, 3000);
    expect(Date.now() - restarted).toBeLessThan(INTERVAL);
    expect(got.map((m) => m.subject)).toEqual(['2 new access requests to alice/daily', '1 new access request to alice/daily']);
    expect(got[1].text).toContain('- dave, ');
    expect(got[1].text).not.toContain('bob');
    expect(got[1].to).toEqual(['alice@example.com']);
  });
});

describe('without HUBGATE_SMTP_URL: the outbox file', () => {
  let hub: Hubgate;
  beforeAll(async () => {
    hub = await startHubgate();
  });
  afterAll(() => hub?.stop());

  it('appends one JSON line per message to DATA/outbox.jsonl', async () => {
    const alice = await hub.userWithToken('alice');
    const bob = await hub.userWithToken('bob');
    await cli(hub, 'repo', 'create', 'alice/model', '--gated', 'manual');
    await ok(api(hub, 'PUT', '/api/models/alice/model/settings', alice, { notificationsFrequency: 'instant' }));
    await ok(api(hub, 'POST', '/alice/model/ask-access', bob, { fields: {} }), 201);
    await ok(api(hub, 'POST', '/api/models/alice/model/user-access-request/handle', alice, { user: 'bob', status: 'rejected', rejectionReason: 'No.' }));

    const outbox = path.join(hub.dataDir, 'outbox.jsonl');
    const deadline = Date.now() + 5000;
    const lines = () => (fs.existsSync(outbox) ? fs.readFileSync(outbox, 'utf8').split('\n').filter(Boolean) : []);
    while (lines().length < 2 && Date.now() < deadline) await sleep(50);
    await sleep(300);
    const entries = lines().map((l) => JSON.parse(l) as Record<string, string>);
    expect(entries.map((e) => Object.keys(e).sort())).toEqual([['at', 'subject', 'text', 'to'], ['at', 'subject', 'text', 'to']]);
    expect(entries.map((e) => [e.to, e.subject])).toEqual([
      ['alice@example.com', 'New access request to alice/model'],
      ['bob@example.com', 'Your request to access alice/model has been rejected'],
    ]);
    expect(entries[0].text).toContain(`${hub.url}/alice/model/settings`);
    expect(entries[1].text).toContain('Reason: No.');
    expect(Date.parse(entries[1].at)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('a mail server that is down', () => {
  let hub: Hubgate;
  let blackhole: net.Server;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    // Accepts connections and never says a word: the worst kind of mail server.
    blackhole = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    const port = await freePort();
    await new Promise<void>((resolve) => blackhole.listen(port, '127.0.0.1', resolve));
    hub = await startHubgate({ env: { HUBGATE_SMTP_URL: `smtp://hubgate:s3cret-pa55@127.0.0.1:${port}` } });
  });
  afterAll(async () => {
    await hub?.stop();
    blackhole?.close();
  });

  it('neither fails nor slows the request; the failure is logged without the credentials', async () => {
    const alice = await hub.userWithToken('alice');
    const bob = await hub.userWithToken('bob');
    await cli(hub, 'repo', 'create', 'alice/model', '--gated', 'manual');
    await ok(api(hub, 'PUT', '/api/models/alice/model/settings', alice, { notificationsFrequency: 'instant' }));

    let t = Date.now();
    await ok(api(hub, 'POST', '/alice/model/ask-access', bob, { fields: {} }), 201);
    expect(Date.now() - t).toBeLessThan(1000);
    t = Date.now();
    expect(await ok(api(hub, 'POST', '/api/models/alice/model/user-access-request/handle', alice, { user: 'bob', status: 'accepted' }))).toMatchObject({ status: 'accepted' });
    expect(Date.now() - t).toBeLessThan(1000);
    expect(sockets.size).toBeGreaterThan(0); // hubgate did try

    // The server hangs up: hubgate logs the failure and carries on.
    for (const s of sockets) s.destroy();
    const deadline = Date.now() + 5000;
    while (!hub.log().includes('sending a notification failed') && Date.now() < deadline) await sleep(50);
    expect(hub.log()).toContain('sending a notification failed');
    expect(hub.log()).not.toContain('s3cret-pa55');
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
  });
});

describe('settings', () => {
  const BAD: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['HUBGATE_SMTP_URL=http://...', { HUBGATE_SMTP_URL: 'http://hubgate:s3cret-pa55@mail.internal' }, /HUBGATE_SMTP_URL: use an smtp:\/\/ or smtps:\/\/ URL/],
    ['HUBGATE_SMTP_URL=nonsense', { HUBGATE_SMTP_URL: 's3cret-pa55' }, /HUBGATE_SMTP_URL/],
    ['HUBGATE_SMTP_FROM=not-an-address', { HUBGATE_SMTP_FROM: 'not-an-address' }, /HUBGATE_SMTP_FROM: use an email address/],
    ['HUBGATE_DIGEST_INTERVAL_MS=soon', { HUBGATE_DIGEST_INTERVAL_MS: 'soon' }, /HUBGATE_DIGEST_INTERVAL_MS/],
  ];
  it.concurrent.for(BAD)('serve with %s exits 2 naming the setting', async ([, env, message], { expect }) => {
    const data = path.join(tempDir(), 'data');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'serve', '--data', data, '--port', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b) => (stderr += b));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toContain('s3cret-pa55'); // the URL may hold the mail password
  });
});
