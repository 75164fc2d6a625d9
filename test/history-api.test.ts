// A repo's history and refs through the Hub API (issue 12 items 2 and 3): @huggingface/hub's
// listCommits and countCommits against a repo of more than a hundred commits pushed with real git,
// pagination through Link with X-Total-Count, the path filter, revisions that are tags, commit ids
// and branches with '/', who wrote each commit; list_repo_refs' shape with branches and both kinds
// of tags; and the answers for unknown revisions, gated and private repos.
import fs from 'node:fs';
import path from 'node:path';
import { countCommits, listCommits, uploadFile } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastImport } from './helpers/git-client.js';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';

const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
/** Commits written by fast-import on top of the repo's initial commit; every tenth changes weights/model.txt. */
const IMPORTED = 150;
const TOUCHING_WEIGHTS = 15;
/** The initial commit, the imported ones and one by alice. */
const TOTAL = IMPORTED + 2;

describe('Hub API: commits and refs', () => {
  let hub: Hubgate;
  const tok: Record<string, string> = {};
  /** The commits of alice/long's main, newest first, as the server's git lists them. */
  let history: string[];
  let featureTip: string;

  const as = (who?: string) => ({ hubUrl: hub.url, ...(who ? { accessToken: tok[who] } : {}) });
  const get = (urlPath: string, who?: string) => fetch(urlPath.startsWith('http') ? urlPath : `${hub.url}${urlPath}`, { headers: who ? { Authorization: `Bearer ${tok[who]}` } : {} });

  async function cli(args: string[]): Promise<string> {
    const r = await hub.cli(args);
    if (r.code !== 0) throw new Error(`hubgate ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  }

  async function must(args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
    const r = await hub.git(args, { cwd, env });
    if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  }

  const serverGit = (repo: string, args: string[]) => must(['--git-dir', hub.repoDir(repo), ...args], tempDir());
  const nextLink = (res: Response) => /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];

  beforeAll(async () => {
    hub = await startHubgate();
    await cli(['user', 'create', 'alice', '--email', 'alice@example.com']);
    tok.alice = await cli(['token', 'create', 'alice', '--role', 'write']);
    tok.bob = await hub.userWithToken('bob');
    // dave has no email: his API commits carry dave@hubgate.
    await cli(['user', 'create', 'dave']);
    tok.dave = await cli(['token', 'create', 'dave', '--role', 'write']);
    await cli(['repo', 'create', 'alice/long']);
    await cli(['repo', 'create', 'alice/gated', '--gated', 'manual']);
    await cli(['repo', 'create', 'alice/secret', '--private']);
    await cli(['repo', 'create', 'alice/data', '--type', 'dataset']);
    await cli(['repo', 'create', 'dave/notes']);

    // One push of a long linear history (fast-import), a commit by alice on top, a branch with '/' and two tags.
    const work = tempDir('hubgate-history-');
    await must(['clone', '-q', hub.remote('alice/long', tok.alice), '.'], work);
    const initial = await must(['rev-parse', 'HEAD'], work);
    await fastImport(work, { ref: 'refs/heads/main', from: initial, count: IMPORTED, time: 1_700_000_000, path: (i) => (i % 10 === 0 ? 'weights/model.txt' : `file-${i}.txt`) });
    await must(['reset', '-q', '--hard', 'main'], work);
    fs.writeFileSync(path.join(work, 'README.md'), '# long\n');
    await must(['add', 'README.md'], work);
    await must(['commit', '-q', '-m', 'Add a card <b>&</b>', '-m', 'With a body.\n\nTwo paragraphs.'], work, { GIT_AUTHOR_NAME: 'Alice L.', GIT_AUTHOR_EMAIL: 'Alice@Example.com' });
    featureTip = await must(['rev-parse', 'HEAD~100'], work);
    await must(['tag', 'v1-light', 'HEAD~50'], work);
    await must(['tag', '-a', 'v2-annotated', '-m', 'release', 'HEAD~20'], work);
    await must(['push', '-q', 'origin', 'main', `${featureTip}:refs/heads/feature/x`, 'v1-light', 'v2-annotated'], work);
    history = (await serverGit('alice/long', ['rev-list', 'main'])).split('\n');

    await hub.pushFiles('alice/gated', tok.alice, { 'a.txt': 'a\n' });
    await hub.pushFiles('alice/secret', tok.alice, { 'a.txt': 'a\n' });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  describe('commits', () => {
    it('countCommits and listCommits of @huggingface/hub see the whole history, in git log order', async () => {
      expect(history).toHaveLength(TOTAL);
      expect(await countCommits({ repo: 'alice/long', ...as('alice') })).toBe(TOTAL);
      expect(await countCommits({ repo: 'alice/long', ...as() })).toBe(TOTAL);

      const listed = [];
      for await (const c of listCommits({ repo: 'alice/long', ...as('alice') })) listed.push(c);
      expect(listed.map((c) => c.oid)).toEqual(history);
      // Pages of 30 (the client follows Link) give the same.
      const small = [];
      for await (const c of listCommits({ repo: 'alice/long', batchSize: 30, ...as('bob') })) small.push(c.oid);
      expect(small).toEqual(history);

      expect(listed[0]).toMatchObject({ title: 'Add a card <b>&</b>', message: 'With a body.\n\nTwo paragraphs.', authors: [{ username: 'alice' }] });
      expect(listed[0].date).toBeInstanceOf(Date);
      expect(listed[1]).toMatchObject({ title: `file-${IMPORTED - 1}`, message: '', authors: [{ username: 'Test Author' }] });
      expect(listed[1].date.toISOString()).toBe(new Date((1_700_000_000 + IMPORTED - 1) * 1000).toISOString());
      expect(listed.at(-1)).toMatchObject({ oid: history.at(-1), title: 'initial commit', message: '' });
    });

    it('pages with limit and p, the next page in Link, the total in X-Total-Count, in the shape huggingface_hub reads', async () => {
      const first = await get('/api/models/alice/long/commits/main?limit=100', 'alice');
      expect(first.status).toBe(200);
      expect(first.headers.get('x-total-count')).toBe(String(TOTAL));
      const page1 = (await first.json()) as Record<string, any>[];
      expect(page1.map((c) => c.id)).toEqual(history.slice(0, 100));
      expect(Object.keys(page1[0]).sort()).toEqual(['authors', 'date', 'id', 'message', 'title']);
      expect(page1[0].date).toMatch(ISO_Z);
      expect(page1[0].authors).toEqual([{ user: 'alice' }]);
      const next = nextLink(first)!;
      expect(next).toBe(`${hub.url}/api/models/alice/long/commits/${history[0]}?limit=100&p=1`);
      const second = await get(next, 'alice');
      expect(second.headers.get('x-total-count')).toBe(String(TOTAL));
      expect(((await second.json()) as Record<string, any>[]).map((c) => c.id)).toEqual(history.slice(100));
      expect(nextLink(second)).toBeUndefined();

      // Without limit: pages of 50, as huggingface_hub's paginate asks for them.
      const byDefault = await get('/api/models/alice/long/commits/main');
      expect(((await byDefault.json()) as unknown[]).length).toBe(50);
      expect(nextLink(byDefault)).toContain('limit=50&p=1');
      // countCommits' request: one commit, the total in the header.
      const one = await get('/api/models/alice/long/commits/main?limit=1');
      expect(((await one.json()) as unknown[]).length).toBe(1);
      expect(one.headers.get('x-total-count')).toBe(String(TOTAL));
      // Past the end: an empty page, no Link.
      const past = await get('/api/models/alice/long/commits/main?limit=100&p=5');
      expect(await past.json()).toEqual([]);
      expect(past.headers.get('link')).toBeNull();
      // formatted=True asks for expand[]=formatted: HTML title and message.
      const formatted = (await (await get('/api/models/alice/long/commits/main?limit=1&expand%5B%5D=formatted')).json()) as Record<string, any>[];
      expect(formatted[0].formatted).toEqual({ title: 'Add a card &#60;b&#62;&#38;&#60;/b&#62;', message: 'With a body.<br><br>Two paragraphs.' });
    });

    it('filters by path: the commits that changed a file or a folder, counted alike', async () => {
      const expected = (await serverGit('alice/long', ['rev-list', 'main', '--', 'weights/model.txt'])).split('\n');
      expect(expected).toHaveLength(TOUCHING_WEIGHTS);
      for (const p of ['weights/model.txt', 'weights', 'weights/']) {
        const res = await get(`/api/models/alice/long/commits/main?path=${encodeURIComponent(p)}&limit=10`);
        expect(res.headers.get('x-total-count')).toBe(String(TOUCHING_WEIGHTS));
        expect(((await res.json()) as Record<string, any>[]).map((c) => c.id)).toEqual(expected.slice(0, 10));
        const rest = await get(nextLink(res)!);
        expect(((await rest.json()) as Record<string, any>[]).map((c) => c.id)).toEqual(expected.slice(10));
      }
      const none = await get('/api/models/alice/long/commits/main?path=missing.txt');
      expect(none.headers.get('x-total-count')).toBe('0');
      expect(await none.json()).toEqual([]);
      // Pathspec magic is a path like any other.
      for (const p of [':(glob)*', '*.txt', 'file-*']) {
        const magic = await get(`/api/models/alice/long/commits/main?path=${encodeURIComponent(p)}`);
        expect(magic.status).toBe(200);
        expect(magic.headers.get('x-total-count')).toBe('0');
      }
      const bad = await get('/api/models/alice/long/commits/main?path=../x');
      expect(bad.status).toBe(400);
      expect(bad.headers.get('x-error-message')).toBeTruthy();
    });

    it('lists from a tag, a commit id, and a branch with "/" however the client spells it', async () => {
      const fromFeature = TOTAL - 100;
      expect(await countCommits({ repo: 'alice/long', revision: 'feature/x', ...as() })).toBe(fromFeature);
      const encoded = await get('/api/models/alice/long/commits/feature%2Fx?limit=1');
      expect(encoded.headers.get('x-total-count')).toBe(String(fromFeature));
      expect(((await encoded.json()) as Record<string, any>[])[0].id).toBe(featureTip);
      expect(await countCommits({ repo: 'alice/long', revision: featureTip, ...as() })).toBe(fromFeature);
      expect(await countCommits({ repo: 'alice/long', revision: 'v1-light', ...as() })).toBe(TOTAL - 50);
      expect(await countCommits({ repo: 'alice/long', revision: 'v2-annotated', ...as() })).toBe(TOTAL - 20);
      const tagged = (await (await get('/api/models/alice/long/commits/v2-annotated?limit=1')).json()) as Record<string, any>[];
      expect(tagged[0].id).toBe(history[20]);
    });

    it('names hubgate users: API commits by {user}@hubgate, pushes by a registered email; datasets too', async () => {
      await uploadFile({ repo: 'dave/notes', file: { path: 'n.txt', content: new Blob(['n\n']) }, ...as('dave') });
      const commits = [];
      for await (const c of listCommits({ repo: 'dave/notes', ...as('dave') })) commits.push(c);
      expect(commits.map((c) => c.authors)).toEqual([[{ username: 'dave', avatarUrl: undefined }], [{ username: 'hubgate', avatarUrl: undefined }]]);

      const data = await get('/api/datasets/alice/data/commits/main');
      expect(data.status).toBe(200);
      expect(((await data.json()) as Record<string, any>[]).map((c) => c.title)).toEqual(['initial commit']);
      expect(await countCommits({ repo: { type: 'dataset', name: 'alice/data' }, ...as() })).toBe(1);
    });

    it('answers 404 RevisionNotFound for an unknown revision, 400 for a revision expression, RepoNotFound for no repo', async () => {
      for (const rev of ['nope', 'refs%2Fheads%2Fnope', '0123456789abcdef0123456789abcdef01234567']) {
        const res = await get(`/api/models/alice/long/commits/${rev}`, 'alice');
        expect(res.status).toBe(404);
        expect(res.headers.get('x-error-code')).toBe('RevisionNotFound');
        expect(((await res.json()) as Record<string, string>).error).toMatch(/not a branch, tag or commit of alice\/long/);
      }
      await expect(countCommits({ repo: 'alice/long', revision: 'nope', ...as() })).rejects.toThrow(/nope/);
      for (const rev of ['main~1', 'HEAD%40%7B1%7D', 'a..b', '-n']) {
        const res = await get(`/api/models/alice/long/commits/${rev}`);
        expect(res.status).toBe(400);
      }
      for (const q of ['limit=0', 'limit=1001', 'limit=x', 'p=-1']) expect((await get(`/api/models/alice/long/commits/main?${q}`)).status).toBe(400);
      const missing = await get('/api/models/alice/none/commits/main', 'alice');
      expect(missing.status).toBe(404);
      expect(missing.headers.get('x-error-code')).toBe('RepoNotFound');
    });

    it('applies the gate (403 GatedRepo, 401 anonymous) and hides private repos (404) from outsiders', async () => {
      const gated = await get('/api/models/alice/gated/commits/main', 'bob');
      expect(gated.status).toBe(403);
      expect(gated.headers.get('x-error-code')).toBe('GatedRepo');
      await expect(countCommits({ repo: 'alice/gated', ...as('bob') })).rejects.toThrow();
      expect((await get('/api/models/alice/gated/commits/main')).status).toBe(401);
      expect(await countCommits({ repo: 'alice/gated', ...as('alice') })).toBe(2);

      // As the Hub: 404 to a signed-in outsider, 401 (asking for a token) to anyone anonymous; RepoNotFound both.
      for (const [who, status] of [['bob', 404], [undefined, 401]] as const) {
        const res = await get('/api/models/alice/secret/commits/main', who);
        expect(res.status).toBe(status);
        expect(res.headers.get('x-error-code')).toBe('RepoNotFound');
        expect(res.headers.get('x-total-count')).toBeNull();
      }
      expect(await countCommits({ repo: 'alice/secret', ...as('alice') })).toBe(2);
    });
  });

  describe('refs', () => {
    it('lists branches and tags with the commit each leads to (an annotated tag: the tagged commit); four keys always', async () => {
      const res = await get('/api/models/alice/long/refs');
      expect(res.status).toBe(200);
      const refs = (await res.json()) as Record<string, Record<string, string>[]>;
      expect(Object.keys(refs).sort()).toEqual(['branches', 'converts', 'pullRequests', 'tags']);
      expect(refs.branches).toEqual([
        { name: 'feature/x', ref: 'refs/heads/feature/x', targetCommit: featureTip },
        { name: 'main', ref: 'refs/heads/main', targetCommit: history[0] },
      ]);
      const tagObject = await serverGit('alice/long', ['rev-parse', 'refs/tags/v2-annotated']);
      expect(tagObject).not.toBe(history[20]);
      expect(refs.tags).toEqual([
        { name: 'v1-light', ref: 'refs/tags/v1-light', targetCommit: history[50] },
        { name: 'v2-annotated', ref: 'refs/tags/v2-annotated', targetCommit: history[20] },
      ]);
      expect(refs.converts).toEqual([]);
      expect(refs.pullRequests).toEqual([]);

      for (const q of ['include_prs=1', 'include_prs=True']) {
        const withPrs = (await (await get(`/api/models/alice/long/refs?${q}`, 'alice')).json()) as Record<string, unknown[]>;
        expect(withPrs).toEqual(refs);
      }
      const data = (await (await get('/api/datasets/alice/data/refs')).json()) as Record<string, Record<string, string>[]>;
      expect(data).toMatchObject({ branches: [{ name: 'main', ref: 'refs/heads/main' }], tags: [], converts: [], pullRequests: [] });
    });

    it('applies the gate and hides private repos as the other routes do', async () => {
      const gated = await get('/api/models/alice/gated/refs', 'bob');
      expect(gated.status).toBe(403);
      expect(gated.headers.get('x-error-code')).toBe('GatedRepo');
      expect((await get('/api/models/alice/gated/refs', 'alice')).status).toBe(200);
      for (const [who, status] of [['bob', 404], [undefined, 401]] as const) {
        const res = await get('/api/models/alice/secret/refs', who);
        expect(res.status).toBe(status);
        expect(res.headers.get('x-error-code')).toBe('RepoNotFound');
      }
      const secret = (await (await get('/api/models/alice/secret/refs', 'alice')).json()) as Record<string, unknown[]>;
      expect(secret.branches).toHaveLength(1);
      expect((await get('/api/models/alice/none/refs', 'alice')).status).toBe(404);
    });
  });
});
