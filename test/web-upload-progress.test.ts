// The upload page in a real browser (Debian's chromium, driven by playwright-core): with
// JavaScript, the page's own script (an external file under the pages' CSP, no inline script)
// sends the form with XMLHttpRequest, shows a <progress> of the bytes sent, then goes where the
// server's redirect went, or shows the refusal's message; without JavaScript the plain form posts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

const MiB = 1024 ** 2;

describe.skipIf(!haveChromium)('the upload page in a real browser', () => {
  let hub: Hubgate;
  let browser: Browser;
  let work: string;

  const git = async (args: string[]) => {
    const r = await hub.git(['--git-dir', hub.repoDir('alice/model'), ...args]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  async function signedInPage(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${hub.url}/login?next=${encodeURIComponent('/alice/model/upload/main')}`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-password1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${hub.url}/alice/model/upload/main`);
    return page;
  }

  function file(name: string, bytes: number): string {
    const p = path.join(work, name);
    fs.writeFileSync(p, crypto.randomBytes(bytes));
    return p;
  }

  beforeAll(async () => {
    hub = await startHubgate();
    const made = await hub.cli(['user', 'create', 'alice', '--email', 'alice@x.io', '--password-stdin'], 'alice-password1\n');
    expect(made.code, made.stderr).toBe(0);
    expect((await hub.cli(['repo', 'create', 'alice/model'])).code).toBe(0);
    work = tempDir('hubgate-upload-files-');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('the script is a hashed, long-cached static file, allowed by the CSP without inline scripts', async () => {
    const context = await browser.newContext();
    const page = await signedInPage(context);
    const src = await page.locator('script').getAttribute('src');
    expect(src).toMatch(/^\/static\/upload\.[0-9a-f]{16}\.js$/);
    expect(await page.locator('script:not([src])').count()).toBe(0);
    const stylesheet = await page.locator('link[rel=stylesheet]').getAttribute('href');
    expect(stylesheet).toMatch(/^\/static\/hubgate\.[0-9a-f]{16}\.css$/);
    await context.close();

    for (const [url, type] of [[src!, 'text/javascript'], [stylesheet!, 'text/css']]) {
      const res = await fetch(`${hub.url}${url}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const body = await res.text();
      // The hash in the URL is the content's: a changed file gets a new URL.
      expect(url).toContain(crypto.createHash('sha256').update(body).digest('hex').slice(0, 16));
    }
    expect((await fetch(`${hub.url}${src!.replace(/\.[0-9a-f]{16}\./, '.0000000000000000.')}`)).status).toBe(404);
    const csp = (await fetch(`${hub.url}/login`)).headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('with JavaScript: a 30 MB upload shows its progress up to the end, then the Files tab lists the commit', async () => {
    const before = await git(['rev-parse', 'refs/heads/main']);
    const big = file('weights.bin', 30 * MiB);
    const context = await browser.newContext();
    const page = await signedInPage(context);
    const errors: string[] = [];
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
    page.on('pageerror', (err) => errors.push(String(err)));
    // Every change of the <progress> element, recorded as it happens (the binding survives the navigation).
    const seen: { value: number; max: number }[] = [];
    await page.exposeFunction('recordProgress', (value: number, max: number) => void seen.push({ value, max }));
    await page.evaluate(() => {
      const record = (window as unknown as { recordProgress: (v: number, m: number) => void }).recordProgress;
      new MutationObserver((changes) => {
        for (const c of changes) if (c.target instanceof HTMLProgressElement) record(c.target.value, c.target.max);
      }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['value', 'max'] });
    });
    const posts: string[] = [];
    page.on('request', (r) => r.method() === 'POST' && posts.push(r.resourceType()));

    await page.locator('input[type=file]').setInputFiles(big);
    await page.getByLabel('Summary').fill('Weights from the browser');
    await page.getByRole('button', { name: /Commit changes/ }).click();
    await page.waitForURL(`${hub.url}/alice/model/tree/main`, { timeout: 120_000 });

    // The script sent the form (an XHR, not a navigation), and the bar reached its end: every byte sent.
    expect(posts).toEqual(['xhr']);
    const last = seen.at(-1)!;
    expect(last.max).toBeGreaterThan(30 * MiB);
    expect(last.value).toBe(last.max);
    const ofTotal = seen.filter((s) => s.max === last.max).map((s) => s.value);
    expect(ofTotal).toEqual([...ofTotal].sort((a, b) => a - b));
    expect(errors).toEqual([]);

    // The commit landed: the Files tab lists the file (in LFS), and the branch moved.
    const row = page.locator('table.files tr', { hasText: 'weights.bin' });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.innerText()).toContain('LFS');
    expect(await git(['rev-parse', 'refs/heads/main'])).not.toBe(before);
    expect(await git(['log', '-1', '--format=%s', 'refs/heads/main'])).toBe('Weights from the browser');
    await context.close();
  });

  it('with JavaScript: a refused commit shows the refusal on the page, and the form can be sent again', async () => {
    const before = await git(['rev-parse', 'refs/heads/main']);
    const context = await browser.newContext();
    const page = await signedInPage(context);
    await page.locator('input[type=file]').setInputFiles(file('notes.txt', 1000));
    // A control character in the summary: the commit service refuses it (400 "Commit refused").
    await page.getByLabel('Summary').fill('bad \u0007 summary');
    await page.getByRole('button', { name: /Commit changes/ }).click();
    const alert = page.locator('p.notice.error[role=alert]');
    await alert.waitFor({ state: 'visible' });
    expect(await alert.innerText()).toMatch(/^Commit refused: .*summary/);
    expect(page.url()).toBe(`${hub.url}/alice/model/upload/main`);
    expect(await page.getByRole('button', { name: /Commit changes/ }).isEnabled()).toBe(true);
    expect(await git(['rev-parse', 'refs/heads/main'])).toBe(before);
    await context.close();
  });

  it('without JavaScript: the plain form posts, and the Files tab lists the commit', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await signedInPage(context);
    await page.locator('input[type=file]').setInputFiles(file('plain.bin', 3 * MiB));
    await page.getByLabel('Summary').fill('Without scripts');
    const posts: string[] = [];
    page.on('request', (r) => r.method() === 'POST' && posts.push(r.resourceType()));
    await page.getByRole('button', { name: /Commit changes/ }).click();
    await page.waitForURL(`${hub.url}/alice/model/tree/main`, { timeout: 60_000 });
    expect(posts).toEqual(['document']);
    expect(await page.locator('progress').count()).toBe(0);
    expect(await page.locator('table.files tr', { hasText: 'plain.bin' }).count()).toBe(1);
    expect(await git(['log', '-1', '--format=%s', 'refs/heads/main'])).toBe('Without scripts');
    await context.close();
  });
});
