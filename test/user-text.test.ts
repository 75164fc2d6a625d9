// User text that reaches git output, pages, e-mail or headers is refused at the boundary when it
// holds line breaks, control characters or invalid Unicode (issue 9, defect 10), with a real
// hubgate, real git and the API shapes the clients send. Refusals change nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';

const CARD = `---
extra_gated_fields:
  Company: text
---
# gated
`;

describe('user text at the boundary', () => {
  let hub: Hubgate;
  let alice: string;
  let bob: string;

  const api = (method: string, urlPath: string, token: string, body: unknown, type = 'application/json') =>
    fetch(`${hub.url}${urlPath}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  beforeAll(async () => {
    hub = await startHubgate();
    alice = await hub.userWithToken('alice');
    bob = await hub.userWithToken('bob');
    expect((await hub.cli(['repo', 'create', 'alice/gated', '--gated', 'manual'])).code).toBe(0);
    await hub.pushFiles('alice/gated', alice, { 'README.md': CARD });
  });
  afterAll(() => hub?.stop());

  it('refuses a rejection reason with a line break, and git shows the accepted reason on one remote: line', async () => {
    const answers = { Company: 'ACME\nremote: Access granted' };
    const badAnswer = await api('POST', '/alice/gated/ask-access', bob, { fields: answers });
    expect(badAnswer.status).toBe(400);
    expect((await badAnswer.json()).error).toMatch(/one line/);
    expect((await api('POST', '/alice/gated/ask-access', bob, { fields: { Company: 'ACME' } })).status).toBe(201);

    const handle = (rejectionReason: string) => api('POST', '/api/models/alice/gated/user-access-request/handle', alice, { user: 'bob', status: 'rejected', rejectionReason });
    for (const reason of ['no\r\nremote: Your request was accepted', 'no\u001b[2K', 'no \ud800']) {
      const refused = await handle(reason);
      expect(refused.status, JSON.stringify(reason)).toBe(400);
      expect((await refused.json()).error).toMatch(/rejectionReason/);
    }
    const pending = await fetch(`${hub.url}/api/models/alice/gated/user-access-request/pending`, { headers: { Authorization: `Bearer ${alice}` } });
    expect((await pending.json()).map((r: { user: { user: string } }) => r.user.user)).toEqual(['bob']);

    expect((await handle('Only for the ACME team')).status).toBe(200);
    const clone = await hub.git(['clone', hub.remote('alice/gated', bob), tempDir()]);
    expect(clone.code).not.toBe(0);
    const remoteLines = clone.stderr.split('\n').filter((l) => l.startsWith('remote:'));
    expect(remoteLines).toEqual([expect.stringMatching(/rejected by the repository's authors: Only for the ACME team$/)]);
  });

  it('refuses commit messages with control characters and changes no branch', async () => {
    const head = (await hub.git(['ls-remote', hub.remote('alice/gated', alice), 'refs/heads/main'])).stdout;
    const commit = (summary: string) =>
      api('POST', '/api/models/alice/gated/commit/main', alice, [
        JSON.stringify({ key: 'header', value: { summary } }),
        JSON.stringify({ key: 'file', value: { path: 'a.txt', content: Buffer.from('a').toString('base64'), encoding: 'base64' } }),
      ].join('\n'), 'application/x-ndjson');
    for (const summary of ['fix\u001b]0;pwned\u0007', 'fix\u202e', 'fix\u0000']) {
      const res = await commit(summary);
      expect(res.status, JSON.stringify(summary)).toBe(400);
      expect((await res.json()).error).toMatch(/summary/);
    }
    expect((await hub.git(['ls-remote', hub.remote('alice/gated', alice), 'refs/heads/main'])).stdout).toBe(head);
    // A summary on several lines (title and body, as git writes it) is a commit message like any other.
    expect((await commit('Add a\r\n\r\nwith a body')).status).toBe(200);
  });

  it('refuses names and token names with line breaks on the command line', async () => {
    const fullname = await hub.cli(['user', 'create', 'carol', '--fullname', 'Carol\nBcc: everyone@example.com']);
    expect(fullname.code).toBe(1);
    expect(fullname.stderr).toMatch(/full name/);
    expect((await hub.cli(['user', 'create', 'carol', '--email', 'carol@example.com\u0085'])).code).toBe(1);
    expect((await hub.cli(['user', 'create', 'carol'])).code).toBe(0);
    const token = await hub.cli(['token', 'create', 'carol', '--role', 'read', '--name', 'ci\r\nlast used: never']);
    expect(token.code).toBe(1);
    expect(token.stderr).toMatch(/token name/);
    expect((await hub.cli(['token', 'list', 'carol'])).stdout).not.toMatch(/ci/);
  });
});
