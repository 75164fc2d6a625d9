// The Hub API and resolve route tables' edges, as they answered before the tables: an unknown
// /api path or a wrong method on a known one is a JSON 404 with X-Error-Code RouteNotFound saying
// hubgate does not serve it (never RepoNotFound, which clients report as a missing repo); other
// unknown paths are the app's JSON 404; a bad repo part of the path
// is a 400 (Express's own message for a bad percent-encoding in an /api path); paths match
// case-insensitively for the API and with a trailing slash; resolve answers a wrong method with
// 405 naming GET and HEAD before looking at the path, checks the revision and file path itself
// (percent-encoded revisions like refs%2Fpr%2F1 included), and renders denials as the API does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';

type Case = [method: string, path: string, who: 'alice' | 'anyone', body: unknown, status: number, error?: string, headers?: Record<string, string>];

const CHALLENGE = { 'www-authenticate': 'Basic realm="hubgate"' };
const UNKNOWN_TYPE = 'unknown repo type "foo": use models, datasets or spaces';
const DOTS = `invalid repo name "a..b": '..' is not allowed`;
const NOT_FOUND = 'Not found';
/** The 404 of an /api route hubgate does not serve: its message names the method and path. */
const UNSERVED = 'unserved';
const unserved = (method: string, path: string) =>
  `hubgate does not serve ${method} ${path}: it implements only part of the Hub API (the routes are listed under "HTTP routes" in hubgate's README)`;

const API: Case[] = [
  // Unknown paths and wrong methods fall through to the JSON 404 (RouteNotFound under /api).
  ['GET', '/api', 'anyone', undefined, 404, UNSERVED],
  ['GET', '/api/nope', 'anyone', undefined, 404, UNSERVED],
  ['GET', '/api/foo/alice/m', 'anyone', undefined, 404, UNSERVED],
  ['GET', '/API/Models/alice/m/', 'anyone', undefined, 404, UNSERVED],
  ['GET', '/api/foo/alice/m/tree/main', 'anyone', undefined, 404, UNSERVED],
  ['GET', '/api/models/alice/m/commit/main', 'alice', undefined, 404, UNSERVED],
  ['PUT', '/api/models/alice/m/commit/main', 'alice', undefined, 404, UNSERVED],
  ['GET', '/api/models/alice/m/settings', 'alice', undefined, 404, UNSERVED],
  ['POST', '/api/models/alice/m/settings', 'alice', {}, 404, UNSERVED],
  ['GET', '/api/models/alice/m/user-access-request/bogus', 'alice', undefined, 404, UNSERVED],
  ['POST', '/api/models/alice/m/user-access-request/pending', 'alice', {}, 404, UNSERVED],
  ['PUT', '/api/repos/create', 'alice', {}, 404, UNSERVED],
  ['GET', '/api/repos/create', 'alice', undefined, 404, UNSERVED],
  ['POST', '/api/repos/delete', 'alice', {}, 404, UNSERVED],
  ['GET', '/api/repos/delete', 'alice', undefined, 404, UNSERVED],
  ['POST', '/api/whoami-v2', 'anyone', undefined, 404, UNSERVED],
  ['GET', '/api/validate-yaml', 'anyone', undefined, 404, UNSERVED],
  ['PUT', '/api/validate-yaml', 'anyone', { content: '' }, 404, UNSERVED],
  ['POST', '/api/models/alice/m/tree/main', 'anyone', undefined, 404, UNSERVED],
  ['GET', '/api/models/alice/m/paths-info/main', 'anyone', undefined, 404, UNSERVED],
  ['POST', '/api/models/alice/m/paths-info/main/x', 'anyone', { paths: ['.gitattributes'] }, 404, UNSERVED],
  ['DELETE', '/api/models/alice/m', 'anyone', undefined, 404, UNSERVED],
  ['POST', '/api/models/alice/m/ask-access', 'alice', {}, 404, UNSERVED],
  ['GET', '/alice/m/ask-access', 'alice', undefined, 404, NOT_FOUND],
  ['GET', '/api/models/resolve/main/x', 'anyone', undefined, 404, UNSERVED],
  ['POST', '/api/models/alice/m/refs', 'alice', {}, 404, UNSERVED],
  ['GET', '/api/foo/alice/m/refs', 'anyone', undefined, 404, UNSERVED],
  ['GET', '/api/foo/alice/m/commits/main', 'anyone', undefined, 404, UNSERVED],
  ['POST', '/api/models/alice/m/commits/main', 'alice', {}, 404, UNSERVED],
  // Bad repo parts of the path: 400 (an unknown type too, except where repo info would be).
  ['GET', '/api/models/alice/a..b', 'anyone', undefined, 400, DOTS],
  ['GET', '/api/models/alice/%ZZ', 'anyone', undefined, 400, "Failed to decode param '%ZZ'"],
  ['GET', '/api/models/alice/m/tree/main/x%ZZ', 'anyone', undefined, 400, "Failed to decode param 'x%ZZ'"],
  ['POST', '/api/foo/alice/m/commit/main', 'alice', undefined, 400, UNKNOWN_TYPE],
  ['POST', '/api/models/alice/a..b/commit/main', 'alice', undefined, 400, DOTS],
  ['PUT', '/api/foo/alice/m/settings', 'alice', {}, 400, UNKNOWN_TYPE],
  ['GET', '/api/foo/alice/m/user-access-request/pending', 'alice', undefined, 400, UNKNOWN_TYPE],
  ['POST', '/alice/a..b/ask-access', 'alice', {}, 400, DOTS],
  ['POST', '/alice/%ZZ/ask-access', 'alice', {}, 400, 'invalid repository path: bad percent-encoding'],
  // The guard's denials, rendered with X-Error-Code; what the routes answer when allowed.
  ['GET', '/api/models/alice/nope', 'anyone', undefined, 401, 'Repository not found or authentication required: sign in with a hubgate access token to reach alice/nope', { 'x-error-code': 'RepoNotFound', ...CHALLENGE }],
  ['GET', '/api/models/alice/nope', 'alice', undefined, 404, 'Repository not found: alice/nope', { 'x-error-code': 'RepoNotFound' }],
  ['GET', '/api/models/alice/m/user-access-request/pending', 'anyone', undefined, 401, 'Authentication required: use a hubgate access token with the write role as the password to write to alice/m', CHALLENGE],
  ['GET', '/api/models/alice/m/user-access-request/pending', 'alice', undefined, 200],
  ['POST', '/alice/m/ask-access', 'anyone', {}, 401, 'Sign in to ask for access: send a hubgate access token as a Bearer token', CHALLENGE],
  ['POST', '/datasets/alice/ask-access', 'alice', {}, 404, 'Repository not found: datasets/alice', { 'x-error-code': 'RepoNotFound' }],
  ['GET', '/api/whoami-v2/', 'anyone', undefined, 401, 'Authentication required: send a hubgate access token as `Authorization: Bearer TOKEN`', CHALLENGE],
  ['GET', '/API/WHOAMI-V2', 'anyone', undefined, 401, 'Authentication required: send a hubgate access token as `Authorization: Bearer TOKEN`', CHALLENGE],
  ['GET', '/api/models/alice/m', 'anyone', undefined, 200],
  ['GET', '/api/models/alice/m/tree/main', 'anyone', undefined, 200],
  ['GET', '/api/models/alice/m/commits/main', 'anyone', undefined, 200],
  ['GET', '/api/models/alice/m/refs/', 'anyone', undefined, 200],
  ['GET', '/api/models/alice/m/commits/refs%2Fpr%2F1', 'anyone', undefined, 404, 'Invalid rev id: refs/pr/1 is not a branch, tag or commit of alice/m', { 'x-error-code': 'RevisionNotFound' }],
  ['POST', '/api/models/alice/m/paths-info/main', 'anyone', { paths: ['.gitattributes'] }, 200],
  ['GET', '/api/models/alice/m/revision/refs%2Fpr%2F1', 'anyone', undefined, 404, 'Invalid rev id: refs/pr/1 is not a branch, tag or commit of alice/m', { 'x-error-code': 'RevisionNotFound' }],
  ['GET', '/api/models/alice/m/revision/a/b', 'anyone', undefined, 404, 'Invalid rev id: a/b is not a branch, tag or commit of alice/m', { 'x-error-code': 'RevisionNotFound' }],
];

const NOT_GET = 'use GET or HEAD to download a file';
const RESOLVE: Case[] = [
  ['POST', '/alice/m/resolve/main/x', 'anyone', undefined, 405, NOT_GET, { allow: 'GET, HEAD' }],
  ['POST', '/alice/a..b/resolve/main/x', 'anyone', undefined, 405, NOT_GET, { allow: 'GET, HEAD' }],
  ['DELETE', '/alice/m/resolve', 'anyone', undefined, 405, NOT_GET, { allow: 'GET, HEAD' }],
  ['GET', '/alice/a..b/resolve/main/x', 'anyone', undefined, 400, DOTS],
  ['GET', '/alice/%ZZ/resolve/main/x', 'anyone', undefined, 400, 'invalid repository path: bad percent-encoding'],
  ['GET', '/alice/m/resolve/%ZZ/x', 'anyone', undefined, 400, 'invalid resolve URL: bad percent-encoding'],
  ['GET', '/alice/m/resolve/main/', 'anyone', undefined, 400, 'use /{repo}/resolve/{revision}/{path}'],
  ['GET', '/alice/m/resolve', 'anyone', undefined, 400, 'use /{repo}/resolve/{revision}/{path}'],
  ['GET', '/alice/m/RESOLVE/main/x', 'anyone', undefined, 404, NOT_FOUND],
  ['GET', '/alice/nope/resolve/main/x', 'anyone', undefined, 401, 'Repository not found or authentication required: sign in with a hubgate access token to reach alice/nope', { 'x-error-code': 'RepoNotFound', ...CHALLENGE }],
  ['GET', '/datasets/alice/resolve/main/x', 'anyone', undefined, 401, 'Repository not found or authentication required: sign in with a hubgate access token to reach datasets/alice', { 'x-error-code': 'RepoNotFound', ...CHALLENGE }],
  ['GET', '/alice/m/resolve/main/x', 'anyone', undefined, 404, 'Entry not found: x does not exist at revision main of alice/m', { 'x-error-code': 'EntryNotFound' }],
  ['GET', '/alice/m.git/resolve/main/x', 'anyone', undefined, 404, 'Entry not found: x does not exist at revision main of alice/m', { 'x-error-code': 'EntryNotFound' }],
  ['GET', '/alice/m/resolve/main/a/b%2Fc', 'anyone', undefined, 404, 'Entry not found: a/b/c does not exist at revision main of alice/m', { 'x-error-code': 'EntryNotFound' }],
  ['GET', '/alice/m/resolve/refs%2Fpr%2F1/x', 'anyone', undefined, 404, 'Invalid rev id: refs/pr/1 is not a branch, tag or commit of alice/m', { 'x-error-code': 'RevisionNotFound' }],
  ['GET', '/alice/m/resolve/main/.gitattributes', 'anyone', undefined, 200],
  ['GET', '/Alice/M/resolve/main/%2Egitattributes', 'anyone', undefined, 200],
];

describe('API and resolve routes', () => {
  let hub: Hubgate;
  let token = '';
  beforeAll(async () => {
    hub = await startHubgate();
    const cli = async (args: string[]) => {
      const r = await hub.cli(args);
      if (r.code !== 0) throw new Error(`hubgate ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    await cli(['user', 'create', 'alice', '--email', 'alice@example.com']);
    token = await cli(['token', 'create', 'alice', '--role', 'write']);
    await cli(['repo', 'create', 'alice/m']);
  });
  afterAll(() => hub?.stop());

  async function check([method, path, who, body, status, pinned, pinnedHeaders = {}]: Case) {
    const error = pinned === UNSERVED ? unserved(method, path) : pinned;
    const headers = pinned === UNSERVED ? { 'x-error-code': 'RouteNotFound', ...pinnedHeaders } : pinnedHeaders;
    const res = await fetch(`${hub.url}${path}`, {
      method,
      headers: { ...(who === 'alice' ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const what = `${method} ${path} as ${who}`;
    expect(res.status, what).toBe(status);
    if (status < 300) return void (await res.arrayBuffer());
    expect(res.headers.get('content-type'), what).toBe('application/json; charset=utf-8');
    expect(await res.json(), what).toEqual({ error });
    const expected: Record<string, string | null> = { 'x-error-code': null, 'x-error-message': error!, allow: null, 'www-authenticate': null, ...headers };
    // The app's 404 for unknown paths has no X-Error-Message.
    if (error === NOT_FOUND && status === 404) expected['x-error-message'] = null;
    for (const [name, value] of Object.entries(expected)) expect(res.headers.get(name), `${what}: ${name}`).toBe(value);
  }

  it('answers the API table edges as before', async () => {
    for (const c of API) await check(c);
  });

  it('answers the resolve table edges as before, HEAD included', async () => {
    for (const c of RESOLVE) await check(c);
    const head = await fetch(`${hub.url}/alice/m/resolve/main/x`, { method: 'HEAD' });
    expect([head.status, head.headers.get('x-error-code'), head.headers.get('x-error-message')]).toEqual([404, 'EntryNotFound', 'Entry not found: x does not exist at revision main of alice/m']);
  });
});
