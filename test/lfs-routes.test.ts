// The LFS route table's edges, for the three repo types: a wrong method on a known endpoint is a
// 405 (with Allow where the lock API says so), an unknown endpoint a 404, both in the LFS JSON
// format; paths match exactly (case, trailing slash); a bad repo part of the path is a 400.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';

const LFS = 'application/vnd.git-lfs+json';
const UPLOAD_ID = 'abcdefghijklmnop_-12';
const OID = 'a'.repeat(64);

describe('LFS routes', () => {
  let hub: Hubgate;
  beforeAll(async () => {
    hub = await startHubgate();
  });
  afterAll(() => hub?.stop());

  async function call(path: string, method: string) {
    const res = await fetch(`${hub.url}/${path}`, { method, headers: { Accept: LFS } });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type')?.split(';')[0], allow: res.headers.get('allow'), json: text ? JSON.parse(text) : undefined };
  }

  for (const repo of ['alice/m', 'alice/m.git', 'datasets/alice/d.git', 'spaces/alice/s']) {
    it(`answers a wrong method with 405 and an unknown endpoint with 404, in the LFS format (${repo})`, async () => {
      const wrong: [string, string, string, string | null][] = [
        ['objects/batch', 'GET', 'use POST for the batch API', null],
        ['objects/verify', 'PUT', 'use POST to verify', null],
        [`multipart/${UPLOAD_ID}/complete`, 'GET', 'use POST to complete a multipart upload', null],
        ['locks', 'DELETE', 'use GET to list locks or POST to create one', 'GET, POST'],
        ['locks/verify', 'GET', 'use POST to verify locks', 'POST'],
        ['locks/7/unlock', 'GET', 'use POST to unlock', 'POST'],
      ];
      for (const [rest, method, message, allow] of wrong) {
        const r = await call(`${repo}/info/lfs/${rest}`, method);
        expect([r.status, r.type, r.allow, r.json.message], `${method} ${rest}`).toEqual([405, LFS, allow, message]);
        expect(r.json.request_id).toEqual(expect.any(String));
      }
      expect((await call(`${repo}/info/lfs/objects/batch`, 'HEAD')).status).toBe(405);
      for (const [rest, method] of [['nothing/here', 'GET'], [`objects/${OID}`, 'POST'], ['Objects/Batch', 'POST'], ['objects/batch/', 'POST'], ['locks/7', 'GET']]) {
        const r = await call(`${repo}/info/lfs/${rest}`, method);
        expect([r.status, r.type, r.json.message], `${method} ${rest}`).toEqual([404, LFS, `no LFS endpoint ${method} .../info/lfs/${rest}`]);
      }
    });
  }

  it('answers a bad repo part of the path with 400 in the LFS format', async () => {
    const dots = await call('alice/a..b/info/lfs/objects/batch', 'POST');
    expect([dots.status, dots.type, dots.json.message]).toEqual([400, LFS, `invalid repo name "a..b": '..' is not allowed`]);
    const encoding = await call('alice/%ZZ/info/lfs/objects/batch', 'POST');
    expect([encoding.status, encoding.type, encoding.json.message]).toEqual([400, LFS, 'invalid repository path: bad percent-encoding']);
  });
});
