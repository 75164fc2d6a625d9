// The access matrix of design §3 through the wire: every kind of caller against public and
// private, user- and org-owned repos, reading and writing, first as raw HTTP (exact status per
// cell) and then with the real git client for a representative subset. Refused writes must
// leave every ref on the server as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';
import { basic, bearer, commitAndPush, createBranchRequest, inBatches, rawRequest, type RawResponse, refsOf, wantRequest } from './helpers/wire.js';

const CHALLENGE = 'Basic realm="hubgate"';
const PASSWORD = 'correct horse battery staple';
// Well-formed (hf_ + 43 base64url characters) but never issued.
const UNKNOWN_TOKEN = `hf_${'A'.repeat(20)}unknownTokenXYZ${'b'.repeat(8)}`;

type Caller =
  | 'anonymous'
  | 'unknown-token'
  | 'password'
  | 'revoked-token'
  | 'owner-read-token'
  | 'owner-write-token'
  | 'org-read-member'
  | 'org-write-member'
  | 'org-write-member-read-token'
  | 'org-admin-member'
  | 'non-member';
type RepoKey = 'alice/pub' | 'alice/priv' | 'acme/pub' | 'acme/priv';
const REPOS: RepoKey[] = ['alice/pub', 'alice/priv', 'acme/pub', 'acme/priv'];

// Expected status of each cell: [read, write] per repo, in REPOS order. '403r' is a 403 whose
// message names the token's read role; a plain '403' is a role the caller does not hold.
type Cell = '200' | '401' | '403' | '403r' | '404';
const MATRIX: Record<Caller, [Cell, Cell][]> = {
  //                              alice/pub        alice/priv       acme/pub          acme/priv
  anonymous: /*               */ [['200', '401'], ['401', '401'], ['200', '401'], ['401', '401']],
  'unknown-token': /*         */ [['401', '401'], ['401', '401'], ['401', '401'], ['401', '401']],
  password: /*                */ [['401', '401'], ['401', '401'], ['401', '401'], ['401', '401']],
  'revoked-token': /*         */ [['401', '401'], ['401', '401'], ['401', '401'], ['401', '401']],
  'owner-read-token': /*      */ [['200', '403r'], ['200', '403r'], ['200', '403'], ['404', '404']],
  'owner-write-token': /*     */ [['200', '200'], ['200', '200'], ['200', '403'], ['404', '404']],
  'org-read-member': /*       */ [['200', '403'], ['404', '404'], ['200', '403'], ['200', '403']],
  'org-write-member': /*      */ [['200', '403'], ['404', '404'], ['200', '200'], ['200', '200']],
  'org-write-member-read-token': [['200', '403'], ['404', '404'], ['200', '403r'], ['200', '403r']],
  'org-admin-member': /*      */ [['200', '403'], ['404', '404'], ['200', '200'], ['200', '200']],
  'non-member': /*            */ [['200', '403'], ['404', '404'], ['200', '403'], ['404', '404']],
};

let hub: Hubgate;
/** The secret each caller sends as the Basic password (undefined: no Authorization header). */
const secret: Partial<Record<Caller, string>> = {};
/** The commit each repo's main points at after seeding. */
const seedOf = {} as Record<RepoKey, string>;
let cellCounter = 0;

const dirOf = (repo: string) => hub.repoDir(repo);
const authHeaders = (who: Caller, scheme: 'basic' | 'bearer' = 'basic'): Record<string, string> => {
  if (who === 'anonymous') return {};
  const s = secret[who]!;
  if (who === 'password') return { authorization: scheme === 'basic' ? basic(s, 'alice') : bearer(s) };
  return { authorization: scheme === 'basic' ? basic(s) : bearer(s) };
};

function infoRefs(repo: string, service: 'upload-pack' | 'receive-pack', headers: Record<string, string>): Promise<RawResponse> {
  return rawRequest(hub.port, { path: `/${repo}/info/refs?service=git-${service}`, headers });
}
function rpc(repo: string, service: 'upload-pack' | 'receive-pack', headers: Record<string, string>, body: Buffer): Promise<RawResponse> {
  return rawRequest(hub.port, {
    method: 'POST',
    path: `/${repo}/git-${service}`,
    headers: { ...headers, 'content-type': `application/x-git-${service}-request` },
    body,
  });
}

/** The status line of a cell plus what goes with it: a challenge on 401 only, the read role named on '403r'. */
function expectAnswer(r: RawResponse, cell: Cell, what: string): void {
  const status = Number(cell.slice(0, 3));
  expect(r.status, `${what}: ${r.text}`).toBe(status);
  if (status === 401) expect(r.headers['www-authenticate'], what).toBe(CHALLENGE);
  else expect(r.headers['www-authenticate'], what).toBeUndefined();
  if (cell === '403r') expect(r.text, what).toMatch(/read role/);
  if (cell === '403') expect(r.text, what).not.toMatch(/read role/);
}

/** A hidden repo must be answered exactly like a repo that does not exist (only the id differs). */
async function expectSameAsMissing(r: RawResponse, repo: string, again: (missing: string) => Promise<RawResponse>): Promise<void> {
  const missing = `${repo.split('/')[0]}/no-such-repo`;
  const m = await again(missing);
  expect(r.status).toBe(m.status);
  expect(r.text.split(repo).join('<repo>')).toBe(m.text.split(missing).join('<repo>'));
  for (const h of ['content-type', 'x-error-code', 'www-authenticate']) expect(r.headers[h], h).toBe(m.headers[h]);
}

beforeAll(async () => {
  hub = await startHubgate();
  const cli = async (args: string[], input?: string) => {
    const r = await hub.cli(args, input);
    if (r.code !== 0) throw new Error(`hubgate ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  await cli(['user', 'create', 'alice', '--password-stdin'], `${PASSWORD}\n`);
  await inBatches(
    [['org', 'create', 'acme'], ...['reader', 'writer', 'boss', 'stranger'].map((u) => ['user', 'create', u])],
    3,
    (args) => cli(args),
  );
  const tokenOf = (user: string, role: 'read' | 'write') => ['token', 'create', user, '--role', role];
  const out = await inBatches(
    [
      tokenOf('alice', 'write'),
      tokenOf('alice', 'read'),
      [...tokenOf('alice', 'write'), '--name', 'to be revoked'],
      tokenOf('reader', 'write'),
      tokenOf('writer', 'write'),
      tokenOf('writer', 'read'),
      tokenOf('boss', 'write'),
      tokenOf('stranger', 'write'),
      ['org', 'add', 'acme', 'reader', '--role', 'read'],
      ['org', 'add', 'acme', 'writer', '--role', 'write'],
      ['org', 'add', 'acme', 'boss', '--role', 'admin'],
      ['repo', 'create', 'alice/pub'],
      ['repo', 'create', 'alice/priv', '--private'],
      ['repo', 'create', 'acme/pub'],
      ['repo', 'create', 'acme/priv', '--private'],
    ],
    3,
    (args) => cli(args),
  );
  [secret['owner-write-token'], secret['owner-read-token'], secret['revoked-token'], secret['org-read-member'], secret['org-write-member'], secret['org-write-member-read-token'], secret['org-admin-member'], secret['non-member']] = out;
  secret.password = PASSWORD;
  secret['unknown-token'] = UNKNOWN_TOKEN;
  expect(UNKNOWN_TOKEN).toMatch(/^hf_[A-Za-z0-9_-]{43}$/);
  const doomed = (await cli(['token', 'list', 'alice'])).split('\n').filter((l) => l.endsWith('\tto be revoked'));
  expect(doomed).toHaveLength(1);
  await cli(['token', 'revoke', doomed[0].split('\t')[0]]);

  // One commit on main of each repo, pushed by someone allowed to.
  for (const repo of REPOS) {
    const token = repo.startsWith('alice/') ? secret['owner-write-token']! : secret['org-write-member']!;
    seedOf[repo] = (await commitAndPush(hub, repo, token, { 'README.md': `# ${repo}\n` }, 'seed')).tip;
  }
});
afterAll(() => hub?.stop());

const CELLS = (Object.keys(MATRIX) as Caller[]).flatMap((who) =>
  REPOS.flatMap((repo, i) => [
    { who, repo, action: 'read' as const, cell: MATRIX[who][i][0] },
    { who, repo, action: 'write' as const, cell: MATRIX[who][i][1] },
  ]),
);

describe('raw HTTP', () => {
  it.each(CELLS)('$who $action $repo -> $cell', async ({ who, repo, action, cell }) => {
    const headers = authHeaders(who);
    const seed = seedOf[repo];
    if (action === 'read') {
      const adv = await infoRefs(repo, 'upload-pack', headers);
      expectAnswer(adv, cell, 'GET info/refs?service=git-upload-pack');
      const fetched = await rpc(repo, 'upload-pack', headers, wantRequest(seed));
      expectAnswer(fetched, cell, 'POST git-upload-pack');
      if (cell === '200') {
        expect(adv.headers['content-type']).toBe('application/x-git-upload-pack-advertisement');
        expect(adv.text).toContain(`${seed} refs/heads/main`);
        expect(fetched.headers['content-type']).toBe('application/x-git-upload-pack-result');
        expect(fetched.body.subarray(0, 12).toString('latin1')).toBe('0008NAK\nPACK');
      } else {
        expect(adv.text).not.toContain(seed);
        expect(fetched.body.includes('PACK')).toBe(false);
      }
      if (cell === '404' || (cell === '401' && who === 'anonymous' && repo.endsWith('/priv'))) {
        await expectSameAsMissing(adv, repo, (m) => infoRefs(m, 'upload-pack', headers));
        await expectSameAsMissing(fetched, repo, (m) => rpc(m, 'upload-pack', headers, wantRequest(seed)));
      }
      return;
    }

    const before = await refsOf(dirOf(repo));
    const adv = await infoRefs(repo, 'receive-pack', headers);
    expectAnswer(adv, cell, 'GET info/refs?service=git-receive-pack');
    const branch = `refs/heads/cell-${++cellCounter}`;
    const pushed = await rpc(repo, 'receive-pack', headers, createBranchRequest(seed, branch));
    expectAnswer(pushed, cell, 'POST git-receive-pack');
    const after = await refsOf(dirOf(repo));
    if (cell === '200') {
      expect(adv.headers['content-type']).toBe('application/x-git-receive-pack-advertisement');
      expect(pushed.text).toContain('unpack ok');
      expect(pushed.text).toContain(`ok ${branch}`);
      expect(after).toBe(`${before}${branch} ${seed}\n`.split('\n').filter(Boolean).sort().join('\n') + '\n');
    } else {
      expect(after).toBe(before);
      expect(after).not.toContain(branch);
    }
    if (cell === '404' || (cell === '401' && who === 'anonymous' && repo.endsWith('/priv'))) {
      await expectSameAsMissing(adv, repo, (m) => infoRefs(m, 'receive-pack', headers));
      await expectSameAsMissing(pushed, repo, (m) => rpc(m, 'receive-pack', headers, createBranchRequest(seed, branch)));
    }
  });

  it('a repo that does not exist: 404 for a signed-in caller, 401 with a challenge for an anonymous one', async () => {
    const seed = seedOf['alice/pub'];
    for (const repo of ['alice/ghost', 'acme/ghost', 'nobody/ghost', 'datasets/alice/pub', 'spaces/acme/pub']) {
      for (const service of ['upload-pack', 'receive-pack'] as const) {
        const signedIn = authHeaders('owner-write-token');
        expectAnswer(await infoRefs(repo, service, signedIn), '404', `${repo} ${service} signed in`);
        const body = service === 'upload-pack' ? wantRequest(seed) : createBranchRequest(seed, 'refs/heads/ghost');
        const post = await rpc(repo, service, signedIn, body);
        expectAnswer(post, '404', `${repo} POST ${service}`);
        expect(post.headers['x-error-code']).toBe('RepoNotFound');
        expectAnswer(await infoRefs(repo, service, {}), '401', `${repo} ${service} anonymous`);
        expectAnswer(await rpc(repo, service, {}, body), '401', `${repo} POST ${service} anonymous`);
      }
    }
  });

  const TOKEN_CALLERS = (Object.keys(MATRIX) as Caller[]).filter((c) => c !== 'anonymous');
  it.each(TOKEN_CALLERS)('Authorization: Bearer works exactly like the Basic password for %s', async (who) => {
    for (const [i, repo] of REPOS.entries()) {
      const [read, write] = MATRIX[who][i];
      expectAnswer(await infoRefs(repo, 'upload-pack', authHeaders(who, 'bearer')), read, `${repo} read`);
      expectAnswer(await infoRefs(repo, 'receive-pack', authHeaders(who, 'bearer')), write, `${repo} write`);
    }
  });

  it('repo ids are case-insensitive like the Hub’s, and a case variant of a hidden repo is still hidden', async () => {
    // The account is spelled Carol, the repo Model; the directory on disk has that spelling.
    const carol = await hub.userWithToken('Carol');
    const made = await hub.cli(['repo', 'create', 'carol/Model', '--private']);
    expect(made.stdout).toBe('created model Carol/Model (private)\n');
    const { tip } = await commitAndPush(hub, 'Carol/Model', carol, {}, 'canonical');
    for (const spelling of ['carol/model', 'CAROL/MODEL', 'Carol/Model']) {
      const clone = await hub.git(['clone', '-q', hub.remote(spelling, carol), 'c']);
      expect(clone.code, `${spelling}: ${clone.stderr}`).toBe(0);
      const adv = await infoRefs(spelling, 'receive-pack', { authorization: basic(carol) });
      expect(adv.status, spelling).toBe(200);
      expect(adv.text).toContain(`${tip} refs/heads/main`);
    }
    const pushed = await commitAndPush(hub, 'carol/model', carol, {}, 'lower-case url');
    expect(await refsOf(dirOf('Carol/Model'))).toContain(`refs/heads/main ${pushed.tip}`);
    // Someone who may not see it gets the not-found answer in the spelling they asked for.
    const stranger = authHeaders('non-member');
    const hidden = await infoRefs('carol/model', 'upload-pack', stranger);
    expectAnswer(hidden, '404', 'case variant, stranger');
    await expectSameAsMissing(hidden, 'carol/model', (m) => infoRefs(m, 'upload-pack', stranger));
    const anon = await infoRefs('CAROL/model', 'upload-pack', {});
    expectAnswer(anon, '401', 'case variant, anonymous');
    await expectSameAsMissing(anon, 'CAROL/model', (m) => infoRefs(m, 'upload-pack', {}));
    expect(hub.log()).not.toMatch(/directory is missing/);
  });

  it('a token as the Basic username with an empty password works like the password', async () => {
    const authorization = `Basic ${Buffer.from(`${secret['owner-write-token']}:`).toString('base64')}`;
    expectAnswer(await infoRefs('alice/priv', 'receive-pack', { authorization }), '200', authorization);
    expectAnswer(await rpc('alice/priv', 'upload-pack', { authorization }, wantRequest(seedOf['alice/priv'])), '200', authorization);
    // A read token in the username is still capped at read.
    const read = `Basic ${Buffer.from(`${secret['owner-read-token']}:`).toString('base64')}`;
    expectAnswer(await infoRefs('alice/priv', 'receive-pack', { authorization: read }), '403r', 'read token as username');
    // A password in the username is no better than in the password field.
    const pw = `Basic ${Buffer.from(`${PASSWORD}:`).toString('base64')}`;
    expectAnswer(await infoRefs('alice/pub', 'upload-pack', { authorization: pw }), '401', 'password as username');
  });
});

describe('real git', () => {
  type CloneRow = { who: Caller; repo: RepoKey; expect: 'ok' | 'auth-failed' | 'prompt' | 'not-found' };
  const CLONES: CloneRow[] = [
    { who: 'anonymous', repo: 'alice/pub', expect: 'ok' },
    { who: 'anonymous', repo: 'alice/priv', expect: 'prompt' },
    { who: 'anonymous', repo: 'acme/priv', expect: 'prompt' },
    // git sends credentials only after a 401, so an unknown token on a public repo never reaches the server: use a private one.
    { who: 'unknown-token', repo: 'acme/priv', expect: 'auth-failed' },
    { who: 'password', repo: 'alice/priv', expect: 'auth-failed' },
    { who: 'revoked-token', repo: 'alice/priv', expect: 'auth-failed' },
    { who: 'owner-read-token', repo: 'alice/priv', expect: 'ok' },
    { who: 'owner-write-token', repo: 'alice/priv', expect: 'ok' },
    { who: 'org-read-member', repo: 'acme/priv', expect: 'ok' },
    { who: 'non-member', repo: 'alice/pub', expect: 'ok' },
    { who: 'non-member', repo: 'alice/priv', expect: 'not-found' },
    { who: 'non-member', repo: 'acme/priv', expect: 'not-found' },
    { who: 'owner-write-token', repo: 'acme/priv', expect: 'not-found' },
  ];

  it.each(CLONES)('$who clones $repo: $expect', async ({ who, repo, expect: outcome }) => {
    const url = who === 'password' ? hub.remote(repo).replace('://', `://alice:${encodeURIComponent(PASSWORD)}@`) : hub.remote(repo, secret[who]);
    const r = await hub.git(['clone', url, 'c']);
    if (outcome === 'ok') {
      expect(r.code, r.stderr).toBe(0);
      return;
    }
    expect(r.code).not.toBe(0);
    if (outcome === 'auth-failed') expect(r.stderr).toMatch(/fatal: Authentication failed for/);
    if (outcome === 'prompt') expect(r.stderr).toMatch(/could not read Username .*terminal prompts disabled/);
    if (outcome === 'not-found') {
      expect(r.stderr).toMatch(/remote: Repository not found: /);
      expect(r.stderr).toMatch(/fatal: repository '.*' not found/);
    }
    if (who === 'password') expect(r.stderr).toMatch(/web passwords do not work/);
  });

  it('clones with the token in the URL username alone (http://TOKEN@host/...) and with a Bearer header', async () => {
    const token = secret['owner-write-token']!;
    const asUser = await hub.git(['clone', hub.remote('alice/priv').replace('://', `://${token}@`), 'c']);
    expect(asUser.code, asUser.stderr).toBe(0);
    const withBearer = await hub.git(['-c', `http.extraHeader=Authorization: Bearer ${token}`, 'clone', hub.remote('alice/priv'), 'c']);
    expect(withBearer.code, withBearer.stderr).toBe(0);
    const readBearer = await hub.git(['-c', `http.extraHeader=Authorization: Bearer ${secret['owner-read-token']}`, 'clone', hub.remote('acme/priv'), 'c']);
    expect(readBearer.code).not.toBe(0);
    expect(readBearer.stderr).toMatch(/not found/);
  });

  type PushRow = { who: Caller; repo: RepoKey; expect: 'ok' | RegExp };
  const PUSHES: PushRow[] = [
    { who: 'owner-write-token', repo: 'alice/priv', expect: 'ok' },
    { who: 'owner-write-token', repo: 'alice/pub', expect: 'ok' },
    { who: 'org-write-member', repo: 'acme/priv', expect: 'ok' },
    { who: 'org-admin-member', repo: 'acme/pub', expect: 'ok' },
    { who: 'owner-read-token', repo: 'alice/pub', expect: /remote: Your token has the read role[^\n]*\n.*error: 403/s },
    { who: 'org-write-member-read-token', repo: 'acme/priv', expect: /remote: Your token has the read role[^\n]*\n.*error: 403/s },
    { who: 'org-read-member', repo: 'acme/pub', expect: /remote: You do not have write access to acme\/pub[^\n]*\n.*error: 403/s },
    { who: 'non-member', repo: 'alice/pub', expect: /remote: You do not have write access to alice\/pub/ },
    { who: 'non-member', repo: 'alice/priv', expect: /fatal: repository '.*' not found/ },
    { who: 'anonymous', repo: 'alice/pub', expect: /could not read Username/ },
    { who: 'revoked-token', repo: 'alice/pub', expect: /Authentication failed/ },
    { who: 'password', repo: 'alice/priv', expect: /Authentication failed/ },
    { who: 'unknown-token', repo: 'acme/pub', expect: /Authentication failed/ },
  ];

  it.each(PUSHES)('$who pushes to $repo: $expect', async ({ who, repo, expect: outcome }) => {
    const work = tempDir('hubgate-matrix-push-');
    const maintainer = repo.startsWith('alice/') ? secret['owner-write-token'] : secret['org-admin-member'];
    const setup = await hub.git(['clone', '-q', hub.remote(repo, maintainer), '.'], { cwd: work });
    expect(setup.code, setup.stderr).toBe(0);
    await hub.git(['commit', '-q', '--allow-empty', '-m', `push by ${who}`], { cwd: work });
    const tip = (await hub.git(['rev-parse', 'HEAD'], { cwd: work })).stdout.trim();
    const branch = `git-${who}`;
    const url = who === 'password' ? hub.remote(repo).replace('://', `://alice:${encodeURIComponent(PASSWORD)}@`) : hub.remote(repo, secret[who]);

    const before = await refsOf(dirOf(repo));
    // Both a new branch and an update of main: neither may land when the push is refused.
    const r = await hub.git(['push', url, `HEAD:refs/heads/${branch}`, 'HEAD:refs/heads/main'], { cwd: work });
    const after = await refsOf(dirOf(repo));
    if (outcome === 'ok') {
      expect(r.code, r.stderr).toBe(0);
      expect(after).toContain(`refs/heads/${branch} ${tip}`);
      expect(after).toContain(`refs/heads/main ${tip}`);
    } else {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(outcome);
      expect(after).toBe(before);
      expect(after).not.toContain(tip);
    }
  });
});
