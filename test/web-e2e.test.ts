// The repository on the web, end to end in a real browser (issue 13): Debian's chromium, driven
// by playwright-core, against a real hubgate. The owner signs in, creates a private model on /new,
// writes its card in the web editor, uploads a 20 MB LFS file and two small files in one commit;
// the Files, History and commit pages show what git then clones; search and every tab hide the
// repo from outsiders until it is made public; a gated repo shows its card but not its files; an
// org admin adds a member on the org settings page; a refreshed token's old secret stops working.
// User text with markup (card, file name, commit message, branch, full names) must stay inert on
// every page that shows it. Screenshots of each tab are left in .ci/artifacts/web-e2e/.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from './helpers/git-client.js';
import { type Hubgate, ROOT, startHubgate, tempDir } from './helpers/hubgate.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

const SHOTS = path.join(ROOT, '.ci', 'artifacts', 'web-e2e');

// Markup that would run if a page did not escape it.
const XSS_IMG = '<img src=x onerror=alert(1)>';
const XSS_SCRIPT = '<script>alert(2)</script>';
const XSS_FILE = `${XSS_IMG}.txt`;
const XSS_SUMMARY = `${XSS_SCRIPT} summary"'`;
const XSS_DESCRIPTION = `<img src=x onerror=alert(3)> description ${XSS_SCRIPT}`;
// git check-ref-format allows < > " ( ) = and '/' (no spaces): a branch that closes an attribute and opens an img.
const XSS_BRANCH = '"><img/src/onerror=alert(4)>';
const XSS_ORG_FULLNAME = `ACME ${XSS_SCRIPT}${XSS_IMG}`;
const XSS_USER_FULLNAME = `Bob ${XSS_IMG}`;

const CARD = `---
license: apache-2.0
pipeline_tag: text-generation
tags:
  - e2e-test
  - safetensors
---
# An end-to-end model

Weights in **safetensors**, made for the browser test.

| file | what |
| --- | --- |
| model.safetensors | the weights |

${XSS_SCRIPT}

${XSS_IMG}

[click me](javascript:alert(5)) and <a href="javascript:alert(6)">this</a>
`;

const GATED_CARD = `---
license: mit
extra_gated_prompt: "Tell us who you are. <img src=x onerror=alert(7)>"
extra_gated_button_content: "Request access"
extra_gated_fields:
  Company: text
---
# A gated model
`;

describe.skipIf(!haveChromium)('the repository on the web, end to end', () => {
  let hub: Hubgate;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** Every dialog any page opened (alert, confirm, prompt): injected script ran. */
  const dialogs: string[] = [];
  /** Shared between the steps, in story order. */
  const s = {} as {
    alice: Page;
    bob: Page;
    anon: Page;
    carol: Page;
    files: { name: string; bytes: Buffer }[];
    readmeCommit: string;
    uploadCommit: string;
    historyIds: string[];
    token: string;
    tokenName: string;
    gatedCommit: string;
    /** The sizes the Files tab shows, by name. */
    shownSizes: Map<string, string>;
  };

  async function pageFor(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()} on ${page.url()}`);
      void dialog.dismiss().catch(() => {});
    });
    return page;
  }

  async function signIn(page: Page, name: string, next = '/'): Promise<void> {
    await page.goto(`${hub.url}/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Password').fill(`${name}-password1`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${hub.url}${next}`);
    expect(await page.locator('header').innerText()).toContain(`Signed in as ${name}`);
  }

  /**
   * Elements that could run script or take the page elsewhere: any on* attribute, a javascript: or
   * data: URL, a script element that is not one of hubgate's own (/static/ or carrying a nonce),
   * frames, plugin objects, <base> and <meta http-equiv> (refresh, CSP).
   */
  async function activeContent(page: Page): Promise<string[]> {
    return page.evaluate(() => {
      const doc = (globalThis as any).document;
      const found: string[] = [];
      for (const el of Array.from(doc.querySelectorAll('*')) as any[]) {
        const tag = String(el.tagName).toLowerCase();
        for (const attr of Array.from(el.attributes) as any[]) {
          if (/^on/i.test(attr.name)) found.push(`${tag}[${attr.name}]`);
          if (/^(href|src|action|formaction|xlink:href|data)$/i.test(attr.name) && /^\s*(javascript|vbscript):/i.test(attr.value)) found.push(`${tag}[${attr.name}=${attr.value}]`);
          if (/^(href|action|formaction|xlink:href|data)$/i.test(attr.name) && /^\s*data:/i.test(attr.value)) found.push(`${tag}[${attr.name}=${attr.value}]`);
        }
        if (tag === 'script') {
          const src = el.getAttribute('src');
          const own = src !== null && new URL(src, doc.baseURI).origin === (globalThis as any).location.origin && new URL(src, doc.baseURI).pathname.startsWith('/static/');
          if (!own && !el.hasAttribute('nonce')) found.push(`script ${String(el.outerHTML).slice(0, 80)}`);
        }
        if (['iframe', 'frame', 'object', 'embed', 'base'].includes(tag) || (tag === 'meta' && el.hasAttribute('http-equiv') && !/^content-type$/i.test(el.getAttribute('http-equiv')))) {
          found.push(`${tag} ${String(el.outerHTML).slice(0, 80)}`);
        }
      }
      return found;
    });
  }

  /** Loads `url` and checks its status and that nothing on it could run script. */
  async function visit(page: Page, url: string, status = 200): Promise<void> {
    const res = await page.goto(`${hub.url}${url}`);
    expect(res?.status(), `${url}: ${await page.locator('main').innerText().catch(() => '')}`).toBe(status);
    expect(await activeContent(page), url).toEqual([]);
    expect(dialogs, url).toEqual([]);
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  }

  /** The text of `main` (the page's own content, not the header). */
  const mainText = (page: Page) => page.locator('main').innerText();

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    for (const f of fs.readdirSync(SHOTS)) if (f.endsWith('.png')) fs.rmSync(path.join(SHOTS, f));

    // The browser starts while hubgate and its accounts are set up (afterAll closes it whatever fails).
    const launching = chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }).then((b) => (browser = b));
    launching.catch(() => {});
    hub = await startHubgate();
    const cli = async (args: string[], input?: string) => {
      const r = await hub.cli(args, input);
      expect(r.code, `hubgate ${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout.trim();
    };
    const people: [string, string][] = [['alice', 'Alice Author'], ['bob', XSS_USER_FULLNAME], ['carol', 'Carol Admin']];
    await Promise.all(people.map(([name, fullname]) => cli(['user', 'create', name, '--email', `${name}@x.io`, '--fullname', fullname, '--password-stdin'], `${name}-password1\n`)));
    await Promise.all([
      (async () => {
        // The organization (its full name is free text), its admin and its private repo.
        await cli(['org', 'create', 'acme', '--fullname', XSS_ORG_FULLNAME]);
        await cli(['org', 'add', 'acme', 'carol', '--role', 'admin']);
        const [, carolToken] = await Promise.all([cli(['repo', 'create', 'acme/secret-plans', '--private']), cli(['token', 'create', 'carol', '--role', 'write'])]);
        await hub.pushFiles('acme/secret-plans', carolToken, { 'README.md': '# Secret plans\n', 'plans.txt': 'world domination\n' }, 'the plans');
      })(),
      (async () => {
        // The gated repo, with files an outsider must not learn the names of.
        const [, aliceToken] = await Promise.all([cli(['repo', 'create', 'alice/gated-model', '--gated', 'manual']), cli(['token', 'create', 'alice', '--role', 'write'])]);
        s.gatedCommit = await hub.pushFiles('alice/gated-model', aliceToken, { 'README.md': GATED_CARD, 'hidden-weights.bin': 'w'.repeat(100), 'hidden/notes.txt': 'notes\n' }, 'hidden commit title');
      })(),
    ]);
    await launching;
    [s.alice, s.bob, s.carol, s.anon] = await Promise.all([pageFor(), pageFor(), pageFor(), pageFor()]);
    await Promise.all([signIn(s.alice, 'alice'), signIn(s.bob, 'bob'), signIn(s.carol, 'carol')]);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await hub?.stop();
  });

  it('creates a private model on /new and writes its card in the web editor', async () => {
    const { alice } = s;
    await visit(alice, '/');
    await alice.getByRole('link', { name: 'New repository' }).click();
    await alice.waitForURL(`${hub.url}/new`);
    await alice.getByLabel('Type').selectOption('model');
    await alice.getByLabel('Owner').selectOption('alice');
    await alice.getByLabel('Name').fill('e2e-model');
    await alice.getByRole('radio', { name: /Private/ }).check();
    await alice.getByRole('button', { name: 'Create repository' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model`);
    expect(await alice.locator('.repo-header h1').innerText()).toMatch(/alice\/e2e-model\s*private/);

    // Files tab → Add file: the web editor on the default branch.
    await alice.locator('nav.tabs').getByRole('link', { name: 'Files' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/tree/main`);
    await alice.getByRole('link', { name: 'Add file' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/new/main`);
    await alice.getByLabel('File name').fill('README.md');
    await alice.getByLabel('Content').fill(CARD);
    await alice.getByLabel('Summary').fill('Add the model card');
    await alice.getByRole('button', { name: 'Commit new file to main' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/blob/main/README.md`);
    expect(await activeContent(alice)).toEqual([]);

    // The card: front matter as metadata, markdown rendered, the markup attempts as text.
    await visit(alice, '/alice/e2e-model');
    const metadata = await alice.locator('dl.metadata').innerText();
    for (const shown of ['apache-2.0', 'text-generation', 'e2e-test', 'safetensors']) expect(metadata).toContain(shown);
    const card = alice.locator('article.markdown');
    expect(await card.getByRole('heading', { name: 'An end-to-end model' }).isVisible()).toBe(true);
    expect(await card.locator('strong').first().innerText()).toBe('safetensors');
    expect(await card.locator('table td').first().innerText()).toBe('model.safetensors');
    const cardText = await card.innerText();
    expect(cardText).toContain(XSS_SCRIPT);
    expect(cardText).toContain(XSS_IMG);
    expect(await card.locator('script, img').count()).toBe(0);
    await shot(alice, 'card');
  });

  it('uploads a 20 MB LFS file and two small files in one commit', async () => {
    const { alice } = s;
    const dir = tempDir('hubgate-e2e-upload-');
    s.files = [
      { name: 'model.safetensors', bytes: crypto.randomBytes(20 * 1024 * 1024) },
      { name: 'config.json', bytes: Buffer.from(`${JSON.stringify({ hidden_size: 64, layers: 2 }, null, 2)}\n`) },
      { name: 'vocab.txt', bytes: Buffer.from('hello\nworld\n') },
    ];
    for (const f of s.files) fs.writeFileSync(path.join(dir, f.name), f.bytes);

    await visit(alice, '/alice/e2e-model/tree/main');
    await alice.getByRole('link', { name: 'Upload files' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/upload/main`);
    await alice.getByLabel('Files').setInputFiles(s.files.map((f) => path.join(dir, f.name)));
    await alice.getByLabel('Summary').fill('Upload the weights');
    await alice.getByRole('button', { name: 'Commit changes to main' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/tree/main`, { timeout: 60_000 });

    // The Files tab: every file with its size (in bytes in the title), the LFS badge on the weights only.
    const rows = alice.locator('table.files tbody tr');
    const listed = new Map<string, { size: string; title: string; lfs: number }>();
    for (const row of await rows.all()) {
      listed.set(await row.locator('td.name a').innerText(), {
        size: await row.locator('td.size').innerText(),
        title: (await row.locator('td.size').getAttribute('title')) ?? '',
        lfs: await row.locator('.badge.lfs').count(),
      });
    }
    expect([...listed.keys()].sort()).toEqual(['.gitattributes', 'README.md', ...s.files.map((f) => f.name)].sort());
    for (const f of s.files) {
      const entry = listed.get(f.name)!;
      expect(entry.title).toBe(`${f.bytes.length} bytes`);
      expect(entry.lfs, f.name).toBe(f.name === 'model.safetensors' ? 1 : 0);
    }
    expect(listed.get('model.safetensors')!.size).toBe(`${Math.round(s.files[0].bytes.length / 1e6)} MB`);
    s.shownSizes = new Map([...listed].map(([name, entry]) => [name, entry.size]));
    expect(listed.get('README.md')!.title).toBe(`${Buffer.byteLength(CARD)} bytes`);
    await shot(alice, 'files');

    // The weights' page: LFS, its size and its sha256.
    await alice.getByRole('link', { name: 'model.safetensors' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/blob/main/model.safetensors`);
    const blob = await mainText(alice);
    expect(blob).toContain('This file is stored with Git LFS');
    expect(blob).toContain(`(${s.files[0].bytes.length} bytes)`);
    expect(blob).toContain(crypto.createHash('sha256').update(s.files[0].bytes).digest('hex'));
    await shot(alice, 'blob');
  });

  it('History lists both commits and the commit page shows the README diff', async () => {
    const { alice } = s;
    await visit(alice, '/alice/e2e-model');
    await alice.locator('nav.tabs').getByRole('link', { name: 'History' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/commits/main`);
    const items = alice.locator('li.commit');
    const titles = await items.locator('a.commit-title').allInnerTexts();
    s.historyIds = (await items.locator('a.sha').evaluateAll((links) => links.map((a) => (a as any).getAttribute('href') as string))).map((href) => href.split('/').pop()!);
    // Newest first: the upload, the card, the repo's first commit (.gitattributes).
    expect(titles.slice(0, 2)).toEqual(['Upload the weights', 'Add the model card']);
    expect(titles).toHaveLength(3);
    expect(await alice.locator('h2').first().innerText()).toBe(`History: ${titles.length} commits`);
    for (const id of s.historyIds) expect(id).toMatch(/^[0-9a-f]{40}$/);
    [s.uploadCommit, s.readmeCommit] = s.historyIds;
    await shot(alice, 'history');

    await alice.getByRole('link', { name: 'Add the model card' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/commit/${s.readmeCommit}`);
    expect(await alice.locator('h2.commit-title').innerText()).toBe('Add the model card');
    expect(await alice.locator('dd.author').innerText()).toContain('alice');
    const file = alice.locator('section.diff-file');
    expect(await file.count()).toBe(1);
    expect(await file.locator('h3').innerText()).toMatch(/README\.md\s+added/);
    const added = await file.locator('tr.add td:last-child').allInnerTexts();
    expect(added).toEqual(CARD.replace(/\n$/, '').split('\n').map((line) => `+${line}`));
    expect(await file.locator('tr.del').count()).toBe(0);
    await shot(alice, 'commit');

    // The upload commit: one commit with all three files, the weights as an LFS file.
    await visit(alice, `/alice/e2e-model/commit/${s.uploadCommit}`);
    const changed = await alice.locator('section.diff-file h3 .file-path').allInnerTexts();
    expect(changed.sort()).toEqual(s.files.map((f) => f.name).sort());
    // Each new file's size as the Files tab shows it (the same units on both pages).
    for (const f of s.files) {
      const note = await alice.locator('section.diff-file', { hasText: f.name }).locator('.diff-note').allInnerTexts();
      if (f.name === 'model.safetensors') {
        expect(note).toEqual([`LFS file, size — → ${s.shownSizes.get(f.name)} (sha256 ${crypto.createHash('sha256').update(f.bytes).digest('hex')})`]);
      } else {
        expect(note).toEqual([]);
      }
    }
  });

  it('git clones the same commits and bytes with a token made on the tokens page', async () => {
    const { alice } = s;
    await visit(alice, '/settings/tokens');
    s.tokenName = 'laptop git';
    await alice.getByLabel('Name').fill(s.tokenName);
    await alice.getByLabel('write').check();
    await alice.getByRole('button', { name: 'Create token' }).click();
    s.token = (await alice.locator('#new-token').innerText()).trim();
    expect(s.token).toMatch(/^hf_[A-Za-z0-9_-]{43}$/);

    ok(await hub.git(['lfs', 'install', '--skip-repo']), 'git lfs install');
    const work = tempDir('hubgate-e2e-clone-');
    ok(await hub.git(['clone', '--quiet', hub.remote('alice/e2e-model', s.token), 'repo'], { cwd: work }), 'git clone');
    const clone = path.join(work, 'repo');
    const log = ok(await hub.git(['log', '--format=%H', 'main'], { cwd: clone }), 'git log').trim().split('\n');
    expect(log).toEqual(s.historyIds);
    const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
    for (const f of s.files) expect(sha(fs.readFileSync(path.join(clone, f.name))), f.name).toBe(sha(f.bytes));
    expect(fs.readFileSync(path.join(clone, 'README.md'), 'utf8')).toBe(CARD);
    const lfsFiles = ok(await hub.git(['lfs', 'ls-files', '--name-only'], { cwd: clone }), 'git lfs ls-files').trim().split('\n');
    expect(lfsFiles).toEqual(['model.safetensors']);
  });

  it('search finds the private repo for its owner only', async () => {
    const { alice, bob, anon } = s;
    await visit(alice, '/models');
    await alice.getByLabel('Search').fill('e2e-model');
    await alice.getByRole('button', { name: 'Search' }).click();
    await alice.waitForURL(/\/models\?q=e2e-model/);
    expect(await alice.locator('ul.repos li').evaluateAll((li) => li.map((l) => (l as any).dataset.repo))).toEqual(['/alice/e2e-model']);
    expect(await activeContent(alice)).toEqual([]);
    // The clone's LFS download is counted (written every 2 s): the count, in words that agree with it.
    let downloads: RegExpExecArray | null = null;
    await expect
      .poll(async () => {
        await alice.reload();
        downloads = /· (\d+) (downloads?)\b/.exec(await alice.locator('ul.repos li').innerText());
        return downloads !== null;
      }, { timeout: 15_000, interval: 500 })
      .toBe(true);
    expect(downloads![2]).toBe(Number(downloads![1]) === 1 ? 'download' : 'downloads');
    await shot(alice, 'search');
    for (const outsider of [bob, anon]) {
      await visit(outsider, '/models?q=e2e-model');
      expect(await outsider.locator('ul.repos li').count()).toBe(0);
      await visit(outsider, '/models?q=alice');
      expect(await outsider.locator('ul.repos li').evaluateAll((li) => li.map((l) => (l as any).dataset.repo))).toEqual(['/alice/gated-model']);
    }
  });

  it('outsiders get the 404 page on every tab of the private repo, as for a missing one', async () => {
    const tabs = (repo: string) => [
      `/${repo}`,
      `/${repo}/tree/main`,
      `/${repo}/blob/main/model.safetensors`,
      `/${repo}/commits/main`,
      `/${repo}/commit/${s.readmeCommit}`,
      `/${repo}/commit/${s.readmeCommit}.diff`,
      `/${repo}/settings`,
      `/${repo}/new/main`,
      `/${repo}/upload/main`,
      `/${repo}/delete/main/config.json`,
    ];
    const missing = tabs('alice/never-created');
    for (const outsider of [s.bob, s.anon]) {
      for (const [i, url] of tabs('alice/e2e-model').entries()) {
        await visit(outsider, url, 404);
        expect(await outsider.locator('main h1').innerText(), url).toBe('Not found');
        const hidden = await outsider.locator('main').innerHTML();
        for (const secret of ['safetensors', 'Add the model card', 'Upload the weights', 'e2e']) expect(hidden, url).not.toContain(secret);
        const title = await outsider.title();
        await visit(outsider, missing[i], 404);
        expect(await outsider.locator('main').innerHTML(), `${url} looks like ${missing[i]}`).toBe(hidden);
        expect(await outsider.title(), url).toBe(title);
      }
    }
  });

  it('the owner makes it public in Settings, then outsiders see it', async () => {
    const { alice, bob, anon } = s;
    await visit(alice, '/alice/e2e-model');
    await alice.locator('nav.tabs').getByRole('link', { name: 'Settings' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/settings`);
    expect(await mainText(alice)).toContain('This repo is private');
    await shot(alice, 'settings');
    await alice.getByRole('button', { name: 'Make public' }).click();
    await alice.waitForURL(/\/alice\/e2e-model\/settings\?done=/);
    expect(await mainText(alice)).toContain('This repo is public');

    for (const outsider of [bob, anon]) {
      await visit(outsider, '/alice/e2e-model');
      expect(await outsider.locator('.repo-header h1').innerText()).toBe('alice/e2e-model');
      expect(await outsider.locator('nav.tabs a').allInnerTexts()).toEqual(['Model card', 'Files', 'History']);
      await visit(outsider, '/alice/e2e-model/tree/main');
      expect(await outsider.locator('table.files td.name a').allInnerTexts()).toContain('model.safetensors');
      expect(await outsider.getByRole('link', { name: 'Upload files' }).count()).toBe(0);
      await visit(outsider, '/models?q=e2e-model');
      expect(await outsider.locator('ul.repos li').count()).toBe(1);
      // Still no writer's pages.
      for (const url of ['/alice/e2e-model/settings', '/alice/e2e-model/new/main', '/alice/e2e-model/upload/main', '/alice/e2e-model/delete/main/config.json']) await visit(outsider, url, 404);
    }
  });

  it('a gated repo shows its card to outsiders, not its files', async () => {
    for (const outsider of [s.bob, s.anon]) {
      await visit(outsider, '/alice/gated-model');
      expect(await outsider.locator('article.markdown h1').innerText()).toBe('A gated model');
      expect(await outsider.locator('section.gate').count()).toBe(1);
      for (const secret of ['hidden-weights', 'notes.txt', 'hidden commit title']) expect(await outsider.locator('main').innerHTML()).not.toContain(secret);
      for (const url of ['/alice/gated-model/tree/main', '/alice/gated-model/tree/main/hidden', '/alice/gated-model/blob/main/hidden-weights.bin', '/alice/gated-model/commits/main', `/alice/gated-model/commit/${s.gatedCommit}`, `/alice/gated-model/commit/${s.gatedCommit}.diff`]) {
        const res = await outsider.goto(`${hub.url}${url}`);
        expect([401, 403], url).toContain(res?.status());
        expect(await outsider.locator('main h1').innerText(), url).toBe('Access needed');
        expect(await outsider.locator('main a[href="/alice/gated-model"]').count(), url).toBe(1);
        // (The header's sign-in link carries the address itself; the page's own content names nothing.)
        const shown = await outsider.locator('main').innerHTML();
        for (const secret of ['hidden-weights', 'notes.txt', 'hidden commit title']) expect(shown, url).not.toContain(secret);
        expect(await outsider.title(), url).not.toContain('hidden');
        expect(await activeContent(outsider)).toEqual([]);
      }
    }
    // The gate's prompt (card text) and the answers to its form (the requester's text) stay text on the author's review.
    const { bob, alice } = s;
    await visit(bob, '/alice/gated-model');
    expect(await bob.locator('section.gate').innerText()).toContain('Tell us who you are. <img src=x onerror=alert(7)>');
    await bob.locator('input[name="f:Company"]').fill(XSS_SCRIPT);
    await bob.getByRole('button', { name: 'Request access' }).click();
    await bob.waitForURL(`${hub.url}/alice/gated-model`);
    expect(await bob.locator('section.gate').innerText()).toContain('pending');
    expect(await activeContent(bob)).toEqual([]);
    await visit(bob, '/alice/gated-model/tree/main', 403);
    await visit(alice, '/alice/gated-model/settings');
    const request = alice.locator('table.requests.pending tr[data-user="bob"]');
    expect(await request.innerText()).toContain(XSS_USER_FULLNAME);
    expect(await request.innerText()).toContain(XSS_SCRIPT);
    // Its author sees the files.
    await visit(s.alice, '/alice/gated-model/tree/main');
    expect(await s.alice.locator('table.files td.name a').allInnerTexts()).toEqual(['hidden/', '.gitattributes', 'README.md', 'hidden-weights.bin']);
  });

  it("an org admin adds a member on the org settings page, who then sees the org's private repo", async () => {
    const { bob, carol } = s;
    await visit(bob, '/acme/secret-plans', 404);
    await visit(carol, '/acme');
    expect(await carol.locator('main h1').innerText()).toContain(XSS_ORG_FULLNAME);
    await carol.getByRole('link', { name: 'Organization settings' }).click();
    await carol.waitForURL(`${hub.url}/organizations/acme/settings`);
    await carol.locator('form.stack').getByLabel('Username').fill('bob');
    await carol.locator('form.stack').getByLabel('Role').selectOption('read');
    await carol.getByRole('button', { name: 'Add member' }).click();
    await carol.waitForURL(`${hub.url}/organizations/acme/settings?done=added`);
    expect(await carol.getByRole('status').innerText()).toContain('Member added');
    const row = carol.locator('tr[data-user="bob"]');
    expect(await row.innerText()).toContain(XSS_USER_FULLNAME);
    expect(await row.getByLabel('Role of bob').inputValue()).toBe('read');
    expect(await activeContent(carol)).toEqual([]);
    await shot(carol, 'org-settings');

    await visit(bob, '/acme/secret-plans');
    expect(await bob.locator('.repo-header h1').innerText()).toMatch(/acme\/secret-plans\s*private/);
    await visit(bob, '/acme/secret-plans/tree/main');
    expect(await bob.locator('table.files td.name a').allInnerTexts()).toContain('plans.txt');
    // No writer's pages for a read member, nor the org's settings.
    await visit(bob, '/acme/secret-plans/upload/main', 404);
    await visit(bob, '/organizations/acme/settings', 404);
    // Bob's home lists the org by its full name, as text; the org page lists him as a member.
    await visit(bob, '/');
    expect(await bob.locator('ul.orgs').innerText()).toContain(XSS_ORG_FULLNAME);
    expect(await bob.locator('main h1').innerText()).toBe(`Welcome, ${XSS_USER_FULLNAME}`);
    await visit(bob, '/settings/profile');
    await visit(bob, '/bob');
    expect(await bob.locator('main h1').innerText()).toContain(XSS_USER_FULLNAME);
    await visit(bob, '/acme');
    expect(await bob.locator('li[data-member="bob"]').innerText()).toContain(XSS_USER_FULLNAME);
    expect(await bob.locator('ul.repos li').evaluateAll((li) => li.map((l) => (l as any).dataset.repo))).toEqual(['/acme/secret-plans']);
  });

  it('markup in file names, commit messages and branch names stays text', async () => {
    const { alice } = s;
    // Files whose names hold markup, quotes and non-ASCII letters, uploaded from the upload page into a folder:
    // each keeps its name (browsers send '"' as %22 and the rest of the name as UTF-8).
    const uploads = tempDir('hubgate-e2e-names-');
    const oddNames = [`say "hi" <svg onload=alert(8)>.txt`, 'modèle-日本語.txt'];
    for (const name of oddNames) fs.writeFileSync(path.join(uploads, name), `${name}\n`);
    await visit(alice, '/alice/e2e-model/upload/main/docs');
    await alice.getByLabel('Files').setInputFiles(oddNames.map((name) => path.join(uploads, name)));
    await alice.getByRole('button', { name: 'Commit changes to main' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/tree/main/docs`);
    expect(await activeContent(alice)).toEqual([]);
    expect((await alice.locator('table.files td.name a').allInnerTexts()).sort()).toEqual([...oddNames].sort());
    for (const name of oddNames) {
      await alice.getByRole('link', { name, exact: true }).click();
      await alice.waitForURL(`${hub.url}/alice/e2e-model/blob/main/docs/${encodeURIComponent(name)}`);
      expect(await alice.locator('table.code td.src').allInnerTexts()).toEqual([name]);
      expect(await activeContent(alice)).toEqual([]);
      await alice.goBack();
    }

    // A file whose name is markup, committed from the web editor with markup in its message.
    await visit(alice, '/alice/e2e-model/new/main');
    await alice.getByLabel('File name').fill(XSS_FILE);
    await alice.getByLabel('Content').fill(`${XSS_SCRIPT}\n${XSS_IMG}\n`);
    await alice.getByLabel('Summary').fill(XSS_SUMMARY);
    await alice.getByLabel('Extended description').fill(XSS_DESCRIPTION);
    await alice.getByRole('button', { name: 'Commit new file to main' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/blob/main/${encodeURIComponent(XSS_FILE)}`);
    expect(await activeContent(alice)).toEqual([]);
    expect(await alice.locator('.crumbs strong').innerText()).toBe(XSS_FILE);
    expect(await alice.locator('table.code td.src').allInnerTexts()).toEqual([XSS_SCRIPT, XSS_IMG]);

    // A branch whose name is markup, pushed with git, with markup in its commit message too.
    const work = tempDir('hubgate-e2e-branch-');
    ok(await hub.git(['check-ref-format', '--branch', XSS_BRANCH]), 'git check-ref-format');
    ok(await hub.git(['clone', '--quiet', hub.remote('alice/e2e-model', s.token), 'repo'], { cwd: work }), 'git clone');
    const clone = path.join(work, 'repo');
    ok(await hub.git(['checkout', '--quiet', '-b', XSS_BRANCH], { cwd: clone }), 'git checkout -b');
    fs.writeFileSync(path.join(clone, 'branch.txt'), 'on the branch\n');
    ok(await hub.git(['add', 'branch.txt'], { cwd: clone }), 'git add');
    ok(await hub.git(['commit', '--quiet', '-m', `${XSS_IMG} from git`, '-m', XSS_SCRIPT], { cwd: clone }), 'git commit');
    ok(await hub.git(['push', '--quiet', 'origin', XSS_BRANCH], { cwd: clone }), 'git push');
    const branchCommit = ok(await hub.git(['rev-parse', 'HEAD'], { cwd: clone })).trim();
    const mainCommit = ok(await hub.git(['rev-parse', 'origin/main'], { cwd: clone })).trim();

    // The Files tab on main: the file name and the message as text; the branch switcher lists the branch as text.
    await visit(alice, '/alice/e2e-model/tree/main');
    const xssRow = alice.locator('table.files tbody tr', { hasText: XSS_FILE });
    expect(await xssRow.locator('td.name a').innerText()).toBe(XSS_FILE);
    expect(await xssRow.locator('td.last a').innerText()).toBe(XSS_SUMMARY);
    await alice.locator('details.refs summary').click();
    expect(await alice.locator('details.refs li a').allInnerTexts()).toEqual([XSS_BRANCH, 'main'].sort());
    expect(await activeContent(alice)).toEqual([]);
    // Switching to the branch through the switcher.
    await alice.locator('details.refs li a', { hasText: XSS_BRANCH }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/tree/${encodeURIComponent(XSS_BRANCH)}`);
    expect(await alice.locator('details.refs summary code').innerText()).toBe(XSS_BRANCH);
    expect(await alice.locator('table.files td.name a').allInnerTexts()).toContain('branch.txt');
    expect(await activeContent(alice)).toEqual([]);
    // The branch's Add file and Upload files pages, reached from its Files tab.
    await alice.getByRole('link', { name: 'Add file' }).click();
    await alice.waitForURL(`${hub.url}/alice/e2e-model/new/${encodeURIComponent(XSS_BRANCH)}`);
    expect(await activeContent(alice)).toEqual([]);
    expect(await alice.getByRole('button', { name: `Commit new file to ${XSS_BRANCH}` }).count()).toBe(1);
    await visit(alice, `/alice/e2e-model/upload/${encodeURIComponent(XSS_BRANCH)}`);
    expect(await alice.getByRole('button', { name: `Commit changes to ${XSS_BRANCH}` }).count()).toBe(1);
    await visit(alice, `/alice/e2e-model/blob/${encodeURIComponent(XSS_BRANCH)}/branch.txt`);
    expect(await alice.locator('details.refs summary code').innerText()).toBe(XSS_BRANCH);

    // History of each branch and the commit pages.
    await visit(alice, '/alice/e2e-model/commits/main');
    expect(await alice.locator('li.commit a.commit-title').first().innerText()).toBe(XSS_SUMMARY);
    expect(await alice.locator('li.commit a.sha').first().getAttribute('href')).toBe(`/alice/e2e-model/commit/${mainCommit}`);
    await visit(alice, `/alice/e2e-model/commits/${encodeURIComponent(XSS_BRANCH)}`);
    expect(await alice.locator('main code').first().innerText()).toBe(XSS_BRANCH);
    expect(await alice.locator('li.commit a.commit-title').first().innerText()).toBe(`${XSS_IMG} from git`);
    await visit(alice, `/alice/e2e-model/commits/main/${encodeURIComponent(XSS_FILE)}`);
    expect(await alice.locator('li.commit').count()).toBe(1);
    await visit(alice, `/alice/e2e-model/commit/${mainCommit}`);
    expect(await alice.locator('h2.commit-title').innerText()).toBe(XSS_SUMMARY);
    expect(await alice.locator('pre.commit-message').innerText()).toContain(XSS_DESCRIPTION);
    expect(await alice.locator('section.diff-file .file-path').innerText()).toBe(XSS_FILE);
    await visit(alice, `/alice/e2e-model/commit/${branchCommit}`);
    expect(await alice.locator('pre.commit-message').innerText()).toContain(XSS_SCRIPT);
    await visit(alice, `/alice/e2e-model/commit/${encodeURIComponent(XSS_BRANCH)}`);
    expect(await alice.locator('dd code').first().innerText()).toBe(branchCommit);

    // Pages that show names and full names, and a search for markup (echoed in the search box).
    await visit(alice, `/models?q=${encodeURIComponent(`"${XSS_SCRIPT}${XSS_IMG}`)}&author=${encodeURIComponent(XSS_IMG)}`);
    expect(await alice.getByLabel('Search').inputValue()).toBe(`"${XSS_SCRIPT}${XSS_IMG}`);
    expect(await alice.getByLabel('Author').inputValue()).toBe(XSS_IMG);
    for (const url of ['/', '/alice', '/acme', '/models?q=e2e', '/alice/e2e-model', '/alice/e2e-model/settings']) await visit(alice, url);
    for (const url of ['/acme', '/organizations/acme/settings', '/acme/secret-plans']) await visit(s.carol, url);
    for (const url of ['/', '/acme', '/alice/e2e-model/tree/main', `/alice/e2e-model/tree/${encodeURIComponent(XSS_BRANCH)}`]) await visit(s.anon, url);
    expect(dialogs).toEqual([]);
  });

  it("refreshing a token on the tokens page: the old secret fails, the new one works", async () => {
    const { alice } = s;
    const whoami = (token: string) => fetch(`${hub.url}/api/whoami-v2`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await whoami(s.token)).status).toBe(200);
    await visit(alice, '/settings/tokens');
    const row = alice.locator('table.tokens tbody tr', { hasText: s.tokenName });
    expect(await row.count()).toBe(1);
    await row.getByRole('button', { name: 'Refresh' }).click();
    await alice.waitForURL(/\/settings\/tokens\/\d+\/refresh$/);
    expect(await alice.getByRole('status').innerText()).toContain(`The new secret of your token ${s.tokenName}`);
    const fresh = (await alice.locator('#new-token').innerText()).trim();
    expect(fresh).toMatch(/^hf_[A-Za-z0-9_-]{43}$/);
    expect(fresh).not.toBe(s.token);
    expect((await whoami(s.token)).status).toBe(401);
    const res = await whoami(fresh);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { name: string }).name).toBe('alice');
    await shot(alice, 'tokens');

    // Every tab left its screenshot.
    expect(fs.readdirSync(SHOTS).filter((f) => f.endsWith('.png')).sort()).toEqual(
      ['blob', 'card', 'commit', 'files', 'history', 'org-settings', 'search', 'settings', 'tokens'].map((n) => `${n}.png`),
    );
    expect(dialogs).toEqual([]);
  });
});
