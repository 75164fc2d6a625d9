// The repo's Model card and Files tabs over plain HTTP: the card rendered from Markdown with its
// metadata, XSS in a README inert, tree listings (sizes, LFS badge, pagination, last commits),
// file views (text, image, LFS, HTML as text), a branch with '/', and access (private: the 404
// page; gated: the card visible, the files refused).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { Browser } from './helpers/browser.js';
import { git, ok } from './helpers/git-client.js';

const CARD = `---
license: apache-2.0
pipeline_tag: text-classification
library_name: transformers
tags:
  - tag-one
  - "<b>tag</b>"
datasets: [squad]
language: en
---
# My model

Read [the docs](docs/guide.md) and see ![diagram](img/diagram.png).

<script>alert("card")</script>

<img src=x onerror="alert(1)">

[click](javascript:alert(1)) [home](https://example.com/)

<a href="javascript:alert(2)" onclick="alert(3)">raw</a>
`;

const SHA = 'a'.repeat(64);
const POINTER = `version https://git-lfs.github.com/spec/v1\noid sha256:${SHA}\nsize 20000000\n`;
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

/** One commit on `ref` of `files` (written straight into the bare repo with git fast-import). */
async function importCommit(repoDir: string, ref: string, files: Record<string, string | Buffer>, message: string, from?: string): Promise<string> {
  const parts: Buffer[] = [];
  const put = (s: string | Buffer) => parts.push(typeof s === 'string' ? Buffer.from(s) : s);
  const data = (b: Buffer) => {
    put(`data ${b.length}\n`);
    put(b);
    put('\n');
  };
  put(`commit ${ref}\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n`);
  data(Buffer.from(message));
  if (from) put(`from ${from}\n`);
  for (const [path, content] of Object.entries(files)) {
    put(`M 644 inline ${path}\n`);
    data(typeof content === 'string' ? Buffer.from(content) : content);
  }
  put('done\n');
  ok(await git(['fast-import', '--quiet', '--done', '--force'], repoDir, { input: Buffer.concat(parts) }), 'git fast-import');
  return ok(await git(['rev-parse', ref], repoDir)).trim();
}

describe('web: model card and files', () => {
  let hub: Hubgate;
  const browser = () => new Browser(hub.url);

  async function signedIn(name: string): Promise<Browser> {
    const b = browser();
    expect((await b.signIn(name, `${name}-password1`)).status).toBe(303);
    return b;
  }
  const text = async (b: Browser, path: string, status = 200) => {
    const res = await b.get(path);
    const body = await res.text();
    expect(res.status, `${path}: ${body.slice(0, 500)}`).toBe(status);
    return body;
  };

  beforeAll(async () => {
    hub = await startHubgate();
    for (const name of ['alice', 'bob']) {
      const made = await hub.cli(['user', 'create', name, '--email', `${name}@x.io`, '--password-stdin'], `${name}-password1\n`);
      expect(made.code, made.stderr).toBe(0);
    }
    expect((await hub.cli(['repo', 'create', 'alice/model'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/secret', '--private'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/gated', '--gated', 'manual'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/big'])).code).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/data', '--type', 'dataset'])).code).toBe(0);

    const dir = hub.repoDir('alice/model');
    const first = await importCommit(dir, 'refs/heads/main', { 'README.md': CARD, 'docs/guide.md': '# Guide\n' }, 'Add card');
    const main = await importCommit(
      dir,
      'refs/heads/main',
      {
        'config.json': '{"a": 1}\n',
        'model.safetensors': POINTER,
        'img/diagram.png': PNG,
        'page.html': '<html><script>alert("page")</script><h1>x</h1></html>\n',
        'icon.svg': '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>\n',
        'blob.bin': Buffer.from([0, 1, 2, 3, 0, 255]),
        'big.txt': 'x'.repeat(1024 * 1024 + 10),
      },
      'Add weights <b>bold</b>',
      first,
    );
    await importCommit(dir, 'refs/heads/feature/x', { 'feature.txt': 'on the feature branch\n' }, 'Feature work', main);
    await importCommit(hub.repoDir('alice/secret'), 'refs/heads/main', { 'README.md': '# Secret\n', 'w.txt': 'secret\n' }, 'init');
    await importCommit(hub.repoDir('alice/gated'), 'refs/heads/main', { 'README.md': '---\nlicense: mit\n---\n# Gated card\n', 'w.txt': 'gated\n' }, 'init');
    const many: Record<string, string> = {};
    for (let i = 0; i < 2500; i++) many[`files/f${String(i).padStart(5, '0')}.txt`] = `${i}\n`;
    await importCommit(hub.repoDir('alice/big'), 'refs/heads/main', many, 'many files');
  }, 120_000);
  afterAll(() => hub?.stop());

  it('renders the card from Markdown, its metadata as a list, relative links to the repo, XSS inert', async () => {
    const page = await text(browser(), '/alice/model');
    expect(page).toContain('<h1>My model</h1>');
    expect(page).toContain('<dl class="metadata">');
    expect(page).toContain('<span class="tag">apache-2.0</span>');
    expect(page).toContain('<span class="tag">text-classification</span>');
    expect(page).toContain('<span class="tag">transformers</span>');
    expect(page).toContain('<span class="tag">squad</span>');
    expect(page).toContain('<span class="tag">&lt;b&gt;tag&lt;/b&gt;</span>');
    expect(page).not.toContain('pipeline_tag:'); // the front matter is not shown as text
    expect(page).toContain('href="/alice/model/blob/main/docs/guide.md"');
    expect(page).toContain('src="/alice/model/resolve/main/img/diagram.png"');
    expect(page).toContain('href="https://example.com/"');
    // Inert: no script element, no handler, no javascript: URL.
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/<img[^>]*onerror/i);
    expect(page).not.toMatch(/<[a-z][^<>]*\son\w+=/i); // handlers only in escaped text, never in a tag
    expect(page).not.toMatch(/<a[^<>]*href="javascript:/i);
    expect(page).toContain('&lt;script&gt;');
    // The header's tabs; Settings only for writers.
    expect(page).toContain('href="/alice/model/tree/main">Files</a>');
    expect(page).toContain('href="/alice/model/commits/main">History</a>');
    expect(page).not.toContain('href="/alice/model/settings"');
    const own = await text(await signedIn('alice'), '/alice/model');
    expect(own).toContain('href="/alice/model/settings">Settings</a>');
  });

  it('lists a folder: sizes, the LFS badge, last commits, folders linked, a branch/tag switcher', async () => {
    const page = await text(browser(), '/alice/model/tree/main');
    expect(page).toContain('href="/alice/model/tree/main/docs"');
    expect(page).toContain('href="/alice/model/blob/main/config.json"');
    expect(page).toMatch(/model\.safetensors<\/a><span class="badge lfs">LFS<\/span>/);
    expect(page).toContain('20 MB');
    expect(page).toContain('9 Bytes'); // config.json
    expect(page).toContain('Add weights &lt;b&gt;bold&lt;/b&gt;');
    expect(page).toContain('>Add card</a>'); // README.md's and docs/'s last commit
    expect(page).toContain('href="/alice/model/tree/feature%2Fx"');
    const sub = await text(browser(), '/alice/model/tree/main/docs');
    expect(sub).toContain('href="/alice/model/blob/main/docs/guide.md"');
    expect(sub).toContain('<strong>docs</strong>');
    await text(browser(), '/alice/model/tree/nope', 404);
    await text(browser(), '/alice/model/tree/main/missing', 404);
  });

  it('serves the Files tab of datasets under their prefix, with the Dataset card tab', async () => {
    const page = await text(browser(), '/datasets/alice/data/tree/main');
    expect(page).toContain('href="/datasets/alice/data/blob/main/.gitattributes"');
    expect(page).toContain('href="/datasets/alice/data">Dataset card</a>');
    expect(await text(browser(), '/datasets/alice/data/blob/main/.gitattributes')).toContain('<td class="ln">');
    await text(browser(), '/datasets/alice/model/tree/main', 404);
  });

  it('paginates a folder of 2,500 entries by 1,000 with a next link', async () => {
    const b = browser();
    const first = await text(b, '/alice/big/tree/main/files');
    expect(first.match(/<tr><td class="name">/g)).toHaveLength(1000);
    expect(first).toContain('f00000.txt');
    expect(first).not.toContain('f01000.txt');
    expect(first).toContain('href="/alice/big/tree/main/files?page=2"');
    const third = await text(b, '/alice/big/tree/main/files?page=3');
    expect(third.match(/<tr><td class="name">/g)).toHaveLength(500);
    expect(third).toContain('f02499.txt');
    expect(third).not.toContain('rel="next"');
    const started = performance.now();
    await text(b, '/alice/big/tree/main/files?page=2');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('shows files: text with line numbers, images, LFS details, binary and large files as downloads, HTML and SVG as text', async () => {
    const b = browser();
    const json = await text(b, '/alice/model/blob/main/config.json');
    expect(json).toContain('<td class="ln"><a href="#L1">1</a></td><td class="src">{&quot;a&quot;: 1}</td>');
    const image = await text(b, '/alice/model/blob/main/img/diagram.png');
    expect(image).toContain('<img class="shown" src="/alice/model/resolve/main/img/diagram.png"');
    const lfs = await text(b, '/alice/model/blob/main/model.safetensors');
    expect(lfs).toContain(SHA);
    expect(lfs).toContain('20000000 bytes');
    expect(lfs).toContain('href="/alice/model/resolve/main/model.safetensors?download=true"');
    const bin = await text(b, '/alice/model/blob/main/blob.bin');
    expect(bin).toContain('binary file');
    const big = await text(b, '/alice/model/blob/main/big.txt');
    expect(big).toContain('too large to show');
    for (const file of ['page.html', 'icon.svg']) {
      const res = await b.get(`/alice/model/blob/main/${file}`);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
      const page = await res.text();
      expect(page).not.toMatch(/<script|<svg|<[a-z][^<>]*\sonload=/i);
      expect(page).toContain('&lt;');
    }
    // A folder's blob URL goes to its listing, a file's tree URL to its view.
    expect((await b.get('/alice/model/blob/main/docs')).headers.get('location')).toBe('/alice/model/tree/main/docs');
    expect((await b.get('/alice/model/tree/main/config.json')).headers.get('location')).toBe('/alice/model/blob/main/config.json');
  });

  it('takes a branch with a slash, percent-encoded as in resolve URLs', async () => {
    const b = browser();
    const tree = await text(b, '/alice/model/tree/feature%2Fx');
    expect(tree).toContain('href="/alice/model/blob/feature%2Fx/feature.txt"');
    const file = await text(b, '/alice/model/blob/feature%2Fx/feature.txt');
    expect(file).toContain('on the feature branch');
    await text(b, '/alice/model/blob/main/feature.txt', 404);
  });

  it('private repo: the 404 page for outsiders on the tree and blob URLs; its owner sees them', async () => {
    const bob = await signedIn('bob');
    for (const b of [browser(), bob]) {
      for (const path of ['/alice/secret/tree/main', '/alice/secret/blob/main/w.txt', '/alice/nothing/tree/main']) {
        const page = await text(b, path, 404);
        expect(page).toContain('There is no page here');
      }
    }
    const alice = await signedIn('alice');
    expect(await text(alice, '/alice/secret/blob/main/w.txt')).toContain('secret');
  });

  it('gated repo: the card is visible, the files say access is needed', async () => {
    const bob = await signedIn('bob');
    expect(await text(bob, '/alice/gated')).toContain('<h1>Gated card</h1>');
    const files = await text(bob, '/alice/gated/tree/main', 403);
    expect(files).toContain('Access needed');
    expect(files).toContain('href="/alice/gated"');
    expect(files).not.toContain('w.txt');
    await text(bob, '/alice/gated/blob/main/w.txt', 403);
    await text(browser(), '/alice/gated/tree/main', 401);
    expect(await text(await signedIn('alice'), '/alice/gated/tree/main')).toContain('w.txt');
  });

  it("resolve reads the web session (GET and HEAD), so a private or gated repo's images and downloads load on its pages for who may read them", async () => {
    const alice = await signedIn('alice');
    const bob = await signedIn('bob');
    const file = '/alice/secret/resolve/main/w.txt';
    const got = await alice.get(file);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('secret\n');
    expect((await alice.request('HEAD', file)).status).toBe(200);
    // Outsiders get the answer for a missing repo: 404 signed in, 401 anonymous (as the Hub answers both).
    expect((await bob.get(file)).status).toBe(404);
    expect((await bob.get('/alice/nothing/resolve/main/w.txt')).status).toBe(404);
    expect((await browser().get(file)).status).toBe(401);
    // Gated: the owner reads; a signed-in user without access is refused as with a token.
    expect((await alice.get('/alice/gated/resolve/main/w.txt')).status).toBe(200);
    expect((await bob.get('/alice/gated/resolve/main/w.txt')).status).toBe(403);
    // A session is for reading only: it never makes a write through the API.
    expect((await alice.request('POST', '/api/models/alice/secret/commit/main')).status).toBe(401);
    // A forged or ended session is anonymous.
    const forged = browser();
    forged.cookies.set('hubgate_session', 'x'.repeat(43));
    expect((await forged.get(file)).status).toBe(401);
    const csrf = await alice.csrf('/');
    await alice.post('/logout', { csrf });
    expect((await alice.get(file)).status).toBe(401);
  });
});
