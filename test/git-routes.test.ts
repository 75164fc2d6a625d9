// The git smart HTTP route table's edges, for the three repo types: a wrong method on a git
// endpoint is a 405 in text/plain (which git prints as "remote:" lines), info/refs without a
// smart service the dumb-HTTP 403; paths match exactly (case, trailing slash), anything else is
// left to the next surface; a bad repo part of the path is a 400.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';

const DUMB = 'hubgate serves git over smart HTTP only: use git 1.6.6 or later (dumb HTTP is not supported)';

describe('git routes', () => {
  let hub: Hubgate;
  beforeAll(async () => {
    hub = await startHubgate();
  });
  afterAll(() => hub?.stop());

  async function call(path: string, method: string) {
    const res = await fetch(`${hub.url}/${path}`, { method });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  }

  for (const repo of ['alice/m', 'alice/m.git', 'datasets/alice/d.git', 'spaces/alice/s']) {
    it(`answers a wrong method with 405 and a dumb-HTTP info/refs with 403, in text/plain (${repo})`, async () => {
      const wrong: [string, string, string][] = [
        ['info/refs?service=git-upload-pack', 'POST', 'use GET for info/refs'],
        ['info/refs', 'DELETE', 'use GET for info/refs'],
        ['git-upload-pack', 'GET', 'use POST for git-upload-pack'],
        ['git-upload-pack', 'PUT', 'use POST for git-upload-pack'],
        ['git-receive-pack', 'GET', 'use POST for git-receive-pack'],
      ];
      for (const [rest, method, message] of wrong) {
        expect(await call(`${repo}/${rest}`, method), `${method} ${rest}`).toEqual({ status: 405, type: 'text/plain; charset=utf-8', text: `${message}\n` });
      }
      expect((await call(`${repo}/git-receive-pack`, 'HEAD')).status).toBe(405);
      // OPTIONS is CORS's, answered before any route (preflight or not).
      expect(await call(`${repo}/info/refs`, 'OPTIONS')).toEqual({ status: 204, type: null, text: '' });
      for (const rest of ['info/refs', 'info/refs?service=git-lfs', 'info/refs?service=upload-pack']) {
        expect(await call(`${repo}/${rest}`, 'GET'), rest).toEqual({ status: 403, type: 'text/plain; charset=utf-8', text: `${DUMB}\n` });
      }
    });

    it(`leaves paths that are not exactly a git endpoint to the next surface (${repo})`, async () => {
      for (const [rest, method] of [['INFO/refs', 'GET'], ['info/refs/', 'GET'], ['Git-Upload-Pack', 'POST'], ['git-upload-pack/', 'POST'], ['info/refs.git', 'GET'], ['x/git-receive-pack', 'POST']]) {
        const r = await call(`${repo}/${rest}`, method);
        expect(r.type, `${method} ${rest}`).not.toMatch(/^text\/plain/);
        expect(r.text, `${method} ${rest}`).not.toMatch(/use (GET|POST) for|dumb HTTP/);
      }
    });
  }

  it('answers a bad repo part of the path with 400 in text/plain', async () => {
    const dots = await call('alice/a..b/info/refs?service=git-upload-pack', 'GET');
    expect(dots).toEqual({ status: 400, type: 'text/plain; charset=utf-8', text: `invalid repo name "a..b": '..' is not allowed\n` });
    const encoding = await call('alice/%ZZ/git-upload-pack', 'POST');
    expect(encoding).toEqual({ status: 400, type: 'text/plain; charset=utf-8', text: 'invalid repository path: bad percent-encoding\n' });
  });

  it('counts git requests under the git route in the metrics', async () => {
    await call('alice/m/git-upload-pack', 'GET');
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toContain(`route="git",method="GET",status="405"`);
  });
});
