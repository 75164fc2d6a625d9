// Listings and search (issue 12 item 1): GET /api/models, /api/datasets, /api/spaces driven by
// @huggingface/hub's listModels / listDatasets / listSpaces and by raw HTTP for the shapes
// huggingface_hub (Python) reads; private repos never listed to outsiders in any sort order or
// page; filters by the card's tags; the download counter and sort=downloads.
import { createHash } from 'node:crypto';
import { createRepo, listDatasets, listModels, listSpaces, uploadFile } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { poll } from './helpers/git-client.js';
import { lfsClient } from './helpers/lfs-client.js';

const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface Repo {
  id: string;
  type: 'model' | 'dataset' | 'space';
  owner: string;
  private: boolean;
  gated?: 'auto' | 'manual';
}

// alice admins acme, bob reads in acme, carol is in no organization.
const REPOS: Repo[] = [
  { id: 'alice/alpha-model', type: 'model', owner: 'alice', private: false },
  { id: 'alice/secret-model', type: 'model', owner: 'alice', private: true },
  { id: 'alice/gated-model', type: 'model', owner: 'alice', private: false, gated: 'manual' },
  { id: 'acme/org-model', type: 'model', owner: 'acme', private: false, gated: 'auto' },
  { id: 'acme/org-private', type: 'model', owner: 'acme', private: true },
  { id: 'acme/AlPhA-two', type: 'model', owner: 'acme', private: false },
  { id: 'bob/bob-model', type: 'model', owner: 'bob', private: false },
  { id: 'bob/bob-hidden', type: 'model', owner: 'bob', private: true },
  { id: 'carol/carol-private', type: 'model', owner: 'carol', private: true },
  { id: 'alice/alpha-data', type: 'dataset', owner: 'alice', private: false },
  { id: 'acme/priv-data', type: 'dataset', owner: 'acme', private: true },
  { id: 'alice/demo-space', type: 'space', owner: 'alice', private: false },
  { id: 'carol/hidden-space', type: 'space', owner: 'carol', private: true },
];
const CALLERS = [undefined, 'alice', 'aliceRead', 'bob', 'carol'] as const;
const MEMBER_OF: Record<string, string[]> = { alice: ['alice', 'acme'], aliceRead: ['alice', 'acme'], bob: ['bob', 'acme'], carol: ['carol'] };

/** What decide(view) allows: public repos to anyone; private ones to the owner and the owning org's members. */
function visible(who: string | undefined, type: Repo['type']): string[] {
  return REPOS.filter((r) => r.type === type && (!r.private || (who !== undefined && MEMBER_OF[who].includes(r.owner))))
    .map((r) => r.id)
    .sort();
}

const CARD = `---
license: mit
library_name: transformers
pipeline_tag: text-classification
tags:
- demo
- sentiment
language: en
datasets:
- alice/alpha-data
---
# Alpha
`;

describe('repo listings and search', () => {
  let hub: Hubgate;
  const tok: Record<string, string> = {};
  const as = (who?: string) => ({ hubUrl: hub.url, ...(who ? { accessToken: tok[who] } : {}) });
  const get = (urlPath: string, who?: string, init: RequestInit = {}) =>
    fetch(urlPath.startsWith('http') ? urlPath : `${hub.url}${urlPath}`, { ...init, headers: { ...(who ? { Authorization: `Bearer ${tok[who]}` } : {}), ...(init.headers as Record<string, string>) } });

  /** Every item of a listing, following Link headers; also the number of pages. */
  async function everything(urlPath: string, who?: string): Promise<{ items: Record<string, any>[]; pages: number }> {
    const items: Record<string, any>[] = [];
    let url: string | undefined = urlPath;
    let pages = 0;
    while (url) {
      const res = await get(url, who);
      expect(res.status, url).toBe(200);
      items.push(...((await res.json()) as Record<string, any>[]));
      pages++;
      const link = res.headers.get('link');
      url = link ? /<([^>]+)>;\s*rel="next"/.exec(link)![1] : undefined;
      expect(pages).toBeLessThan(100);
    }
    return { items, pages };
  }

  beforeAll(async () => {
    hub = await startHubgate();
    const cli = async (args: string[]) => {
      const r = await hub.cli(args);
      if (r.code !== 0) throw new Error(`hubgate ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    tok.alice = await hub.userWithToken('alice');
    tok.aliceRead = await hub.userWithToken('alice', 'read');
    tok.bob = await hub.userWithToken('bob');
    tok.carol = await hub.userWithToken('carol');
    await cli(['org', 'create', 'acme']);
    await cli(['org', 'add', 'acme', 'alice', '--role', 'admin']);
    await cli(['org', 'add', 'acme', 'bob', '--role', 'read']);
    const writer: Record<string, string> = { alice: 'alice', acme: 'alice', bob: 'bob', carol: 'carol' };
    for (const r of REPOS) {
      await createRepo({ ...as(writer[r.owner]), repo: { type: r.type, name: r.id }, private: r.private, ...(r.type === 'space' ? { sdk: 'static' } : {}) } as Parameters<typeof createRepo>[0]);
      if (r.gated) {
        const res = await get(`/api/${r.type}s/${r.id}/settings`, writer[r.owner], { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ gated: r.gated }) });
        expect(res.status).toBe(200);
      }
    }
    // A card pushed with git, another committed through the API. Commit times have whole seconds:
    // the push comes a second after the repos' first commits, so it sorts first by lastModified.
    await new Promise((r) => setTimeout(r, 1100));
    await hub.pushFiles('alice/alpha-model', tok.alice, { 'README.md': CARD, 'config.json': '{"a": 1}\n' });
    await uploadFile({
      ...as('alice'),
      repo: { type: 'dataset', name: 'alice/alpha-data' },
      file: { path: 'README.md', content: new Blob(['---\nlicense: apache-2.0\ntask_categories:\n- text-classification\nlanguage:\n- en\n- fr\n---\n']) },
    });
  }, 120_000);
  afterAll(async () => {
    await hub?.stop();
  });

  it('lists what each caller may view, with @huggingface/hub', async () => {
    for (const who of CALLERS) {
      const models = [];
      for await (const m of listModels(as(who))) models.push(m.name);
      expect(models.sort(), `models as ${who}`).toEqual(visible(who, 'model'));
      const datasets = [];
      for await (const d of listDatasets(as(who))) datasets.push(d.name);
      expect(datasets.sort(), `datasets as ${who}`).toEqual(visible(who, 'dataset'));
      const spaces = [];
      for await (const s of listSpaces(as(who))) spaces.push(s.name);
      expect(spaces.sort(), `spaces as ${who}`).toEqual(visible(who, 'space'));
    }
  });

  it('never lists a private repo to an outsider, in any sort, direction or page', async () => {
    for (const who of CALLERS) {
      const expected = visible(who, 'model');
      for (const sort of ['lastModified', 'createdAt', 'id', 'downloads', 'likes', 'trending_score']) {
        for (const direction of ['-1', '1']) {
          for (const limit of [1, 2, 5]) {
            const { items, pages } = await everything(`/api/models?sort=${sort}&direction=${direction}&limit=${limit}`, who);
            const ids = items.map((i) => i.id);
            expect(ids.length, 'no repeats').toBe(new Set(ids).size);
            expect([...ids].sort(), `${who} ${sort} ${direction} ${limit}`).toEqual(expected);
            expect(pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / limit));
          }
        }
      }
    }
  });

  it('sorts by id, createdAt and lastModified in both directions', async () => {
    const ids = (await (await get('/api/models?sort=id&direction=1')).json()).map((i: any) => i.id);
    expect(ids).toEqual([...ids].sort((a: string, b: string) => a.toLowerCase().localeCompare(b.toLowerCase())));
    const created = (await (await get('/api/models?sort=createdAt', 'alice')).json()).map((i: any) => i.createdAt);
    expect(created).toEqual([...created].sort().reverse());
    // The last one pushed to; its listing is refreshed in the background after the push.
    const first = async () => (await (await get('/api/models?sort=lastModified')).json())[0].id;
    expect(await poll(async () => (await first()) === 'alice/alpha-model', 5000, 50)).toBe(true);
  });

  it('searches ids case-insensitively, with the author and with short terms', async () => {
    const names = async (params: Parameters<typeof listModels>[0]) => {
      const out = [];
      for await (const m of listModels(params)) out.push(m.name);
      return out.sort();
    };
    expect(await names({ ...as(), search: { query: 'ALPHA' } })).toEqual(['acme/AlPhA-two', 'alice/alpha-model']);
    expect(await names({ ...as(), search: { query: 'alpha', owner: 'acme' } })).toEqual(['acme/AlPhA-two']);
    expect(await names({ ...as('bob'), search: { owner: 'acme' } })).toEqual(['acme/AlPhA-two', 'acme/org-model', 'acme/org-private']);
    expect(await names({ ...as(), search: { owner: 'acme' } })).toEqual(['acme/AlPhA-two', 'acme/org-model']);
    // Shorter than a trigram, and across the '/'.
    expect(await names({ ...as(), search: { query: 'bo' } })).toEqual(['bob/bob-model']);
    expect(await names({ ...as('carol'), search: { query: 'l/c' } })).toEqual(['carol/carol-private']);
    expect(await names({ ...as(), search: { query: 'e/alpha-m' } })).toEqual(['alice/alpha-model']);
    expect(await names({ ...as(), search: { query: 'secret' } })).toEqual([]);
    expect(await names({ ...as('alice'), search: { query: 'secret' } })).toEqual(['alice/secret-model']);
    // Two search values (huggingface_hub's model_name and search) must both match.
    const both = await (await get('/api/models?search=alpha&search=model')).json();
    expect(both.map((i: any) => i.id)).toEqual(['alice/alpha-model']);
    expect(await (await get('/api/models?search=%25')).json()).toEqual([]);
  });

  it('filters by the tags of the card, all of them', async () => {
    const ids = async (query: string, who?: string) => (await (await get(`/api/models?${query}`, who)).json()).map((i: any) => i.id).sort();
    expect(await ids('filter=license:mit')).toEqual(['alice/alpha-model']);
    expect(await ids('filter=LICENSE:MIT&filter=transformers&filter=text-classification&filter=en&filter=dataset:alice/alpha-data')).toEqual(['alice/alpha-model']);
    expect(await ids('filter=license:mit&filter=pytorch')).toEqual([]);
    expect(await ids('pipeline_tag=text-classification')).toEqual(['alice/alpha-model']);
    expect(await ids('gated=true')).toEqual(['acme/org-model', 'alice/gated-model']);
    const tagged = [];
    for await (const m of listModels({ ...as(), search: { tags: ['demo', 'sentiment'] } })) tagged.push(m.name);
    expect(tagged).toEqual(['alice/alpha-model']);
    const datasets = [];
    for await (const d of listDatasets({ ...as(), search: { tags: ['license:apache-2.0', 'task_categories:text-classification', 'language:fr'] } })) datasets.push(d.name);
    expect(datasets).toEqual(['alice/alpha-data']);
  });

  it('answers the shapes huggingface_hub and @huggingface/hub read', async () => {
    const res = await get('/api/models?search=alpha-model&full=true&cardData=true');
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const [item] = (await res.json()) as Record<string, any>[];
    expect(item).toMatchObject({
      id: 'alice/alpha-model', modelId: 'alice/alpha-model', author: 'alice', private: false, gated: false, disabled: false,
      likes: 0, downloads: expect.any(Number), pipeline_tag: 'text-classification', library_name: 'transformers',
      cardData: { license: 'mit', library_name: 'transformers', tags: ['demo', 'sentiment'] },
    });
    expect(item._id).toMatch(/^\d+$/);
    expect(item.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(item.lastModified).toMatch(ISO_Z);
    expect(item.createdAt).toMatch(ISO_Z);
    expect(item.tags).toEqual(['transformers', 'demo', 'sentiment', 'text-classification', 'en', 'dataset:alice/alpha-data', 'license:mit']);
    expect(item.siblings.map((s: any) => s.rfilename).sort()).toEqual(['.gitattributes', 'README.md', 'config.json']);
    // The info of the same repo agrees with the listing.
    const info = (await (await get('/api/models/alice/alpha-model')).json()) as Record<string, any>;
    expect(info).toMatchObject({ sha: item.sha, tags: item.tags, pipeline_tag: 'text-classification', library_name: 'transformers', lastModified: item.lastModified });

    // Without full: no sha, siblings or card.
    const [plain] = (await (await get('/api/models?search=alpha-model')).json()) as Record<string, any>[];
    expect(plain).not.toHaveProperty('siblings');
    expect(plain).not.toHaveProperty('cardData');
    expect(plain).toHaveProperty('gated', false);
    const [gated] = (await (await get('/api/models?search=gated-model')).json()) as Record<string, any>[];
    expect(gated.gated).toBe('manual');

    // expand: only _id, id and the fields asked for (expand and expand[] alike).
    const [expanded] = (await (await get('/api/models?search=alpha-model&expand=downloads&expand[]=sha&expand=tags')).json()) as Record<string, any>[];
    expect(Object.keys(expanded).sort()).toEqual(['_id', 'downloads', 'id', 'sha', 'tags']);
    const [space] = (await (await get('/api/spaces?expand=sdk&expand=likes&expand=private&expand=lastModified')).json()) as Record<string, any>[];
    expect(Object.keys(space).sort()).toEqual(['_id', 'id', 'lastModified', 'likes', 'private']);

    // @huggingface/hub's parsed fields.
    const models = [];
    for await (const m of listModels({ ...as(), search: { query: 'alpha-model' }, additionalFields: ['author', 'tags', 'library_name', 'createdAt'] })) models.push(m);
    expect(models[0]).toMatchObject({ name: 'alice/alpha-model', private: false, task: 'text-classification', gated: false, likes: 0, author: 'alice', library_name: 'transformers' });
    expect(models[0].updatedAt.getTime()).toBe(Date.parse(item.lastModified));
    expect(models[0].id).toBe(item._id);
  });

  it('pages with Link: @huggingface/hub follows it, and limit stops it', async () => {
    // The client asks for pages of min(limit, 500): ask the server for pages of 2 by rewriting its first URL.
    const small: typeof fetch = (input, init) => fetch(String(input).replace(/([?&])limit=\d+/, '$1limit=2'), init);
    const urls: string[] = [];
    const spy: typeof fetch = (input, init) => {
      urls.push(String(input));
      return small(input, init);
    };
    const all = [];
    for await (const m of listModels({ ...as('alice'), fetch: spy, sort: 'createdAt' } as Parameters<typeof listModels>[0])) all.push(m.name);
    expect(all.sort()).toEqual(visible('alice', 'model'));
    expect(urls.length).toBe(Math.ceil(all.length / 2));
    expect(urls[1]).toMatch(/[?&]cursor=/);
    const three = [];
    for await (const m of listModels({ ...as(), limit: 3 })) three.push(m.name);
    expect(three).toHaveLength(3);
    // Larger limits are served in pages of at most 1000, with a Link to the rest.
    expect((await get('/api/models?limit=5000')).status).toBe(200);
  });

  it('counts downloads (GET from the first byte, LFS batch downloads) and sorts by them', async () => {
    const before = (await (await get('/api/models/bob/bob-model')).json()).downloads;
    expect(before).toBe(0);
    await hub.pushFiles('bob/bob-model', tok.bob, { 'weights.bin': 'x'.repeat(100) });
    const lfsBytes = Buffer.from('lfs object bytes for the counter');
    const lfs = { oid: createHash('sha256').update(lfsBytes).digest('hex'), size: lfsBytes.length };
    await uploadFile({ ...as('bob'), repo: 'bob/bob-model', file: { path: 'model.safetensors', content: new Blob([lfsBytes]) } });
    const file = '/bob/bob-model/resolve/main/weights.bin';
    expect((await get(file)).status).toBe(200); // 1
    expect((await get(file, undefined, { headers: { Range: 'bytes=0-9' } })).status).toBe(206); // 2
    expect((await get(file, undefined, { headers: { Range: 'bytes=10-' } })).status).toBe(206); // a later piece: not counted
    expect((await get(file, undefined, { headers: { Range: 'bytes=0-0' } })).status).toBe(206); // a probe: not counted
    expect((await get(file, undefined, { method: 'HEAD' })).status).toBe(200); // not counted
    const redirect = await get('/bob/bob-model/resolve/main/model.safetensors', undefined, { redirect: 'manual' });
    expect(redirect.status).toBe(302); // 3
    const batch = await lfsClient(hub, tok.carol, 'bob/bob-model').batch('download', [lfs, { oid: 'a'.repeat(64), size: 1 }]);
    expect(batch.status).toBe(200); // 4 (the missing object is not a download)
    expect((await get('/api/models/bob/bob-model')).status).toBe(200);
    expect((await (await get('/api/models/bob/bob-model')).json()).downloads).toBe(4);
    const byDownloads = await (await get('/api/models?sort=downloads&limit=1')).json();
    expect(byDownloads[0]).toMatchObject({ id: 'bob/bob-model', downloads: 4 });
    const ascending = await (await get('/api/models?sort=downloads&direction=1')).json();
    expect(ascending.at(-1).id).toBe('bob/bob-model');
  });

  it('refuses bad input with a 4xx and a message, and bad credentials with 401', async () => {
    for (const query of ['sort=stars', 'direction=2', 'limit=0', 'limit=abc', 'cursor=garbage', `search=${'x'.repeat(300)}`]) {
      const res = await get(`/api/models?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers.get('x-error-message'), query).toBeTruthy();
    }
    const res = await fetch(`${hub.url}/api/models`, { headers: { Authorization: 'Bearer hf_not_a_real_token_at_all_000000' } });
    expect(res.status).toBe(401);
  });

  it('forgets deleted repos and shows new ones at once', async () => {
    await createRepo({ ...as('carol'), repo: { type: 'model', name: 'carol/fresh-zebra' } });
    expect((await (await get('/api/models?search=zebra')).json()).map((i: any) => i.id)).toEqual(['carol/fresh-zebra']);
    const del = await get('/api/repos/delete', 'carol', { method: 'DELETE', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'fresh-zebra', organization: 'carol', type: 'model' }) });
    expect(del.status).toBe(200);
    expect(await (await get('/api/models?search=zebra')).json()).toEqual([]);
  });
});
