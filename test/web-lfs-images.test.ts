// Images stored in Git LFS, shown by the pages in a real browser (Debian's chromium, driven by
// playwright-core): a card's README image and the blob page of the image. Both are resolve URLs;
// with the s3 store they redirect to a presigned URL on the bucket's origin, which the pages'
// Content-Security-Policy must allow (the bytes never pass through hubgate). With the fs store
// hubgate serves the bytes itself (same origin). An image uploaded through Xet has no LFS copy:
// with either store hubgate streams it from its xorbs (same origin).
import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { type Browser, chromium } from 'playwright-core';
import { uploadFiles } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

/** A real PNG of `width` x `height` RGB pixels (a gradient), encoded here. */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3); // filter byte 0, then pixels
    for (let x = 0; x < width; x++) row.set([(x * 255) / width, (y * 255) / height, 128], 1 + x * 3);
    rows.push(row);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

const WIDTH = 37;
const HEIGHT = 23;
const IMAGE = png(WIDTH, HEIGHT);
const OID = crypto.createHash('sha256').update(IMAGE).digest('hex');
const CARD = '---\nlicense: mit\n---\n# Pictures\n\n![the logo](images/logo.png)\n';

interface Shown {
  /** naturalWidth x naturalHeight of each image matching the selector. */
  sizes: string[];
  /** CSP violations seen by the page (securitypolicyviolation events) and the console's refusals. */
  violations: string[];
  /** Origins of every image request the page made (after redirects). */
  imageOrigins: string[];
}

describe.skipIf(!haveChromium)('LFS images on the pages in a real browser', () => {
  let browser: Browser;
  let s3: S3rverHandle;
  let s3Hub: Hubgate;
  let fsHub: Hubgate;

  /** Starts hubgate, pushes a public repo with the PNG in LFS and a card showing it. */
  async function publish(hub: Hubgate): Promise<void> {
    const token = await hub.userWithToken('alice');
    const made = await hub.cli(['repo', 'create', 'alice/pics']);
    expect(made.code, made.stderr).toBe(0);
    const lfs = await hub.git(['lfs', 'install', '--skip-repo']);
    expect(lfs.code, lfs.stderr).toBe(0);
    await hub.pushFiles('alice/pics', token, {
      '.gitattributes': '*.png filter=lfs diff=lfs merge=lfs -text\n',
      'images/logo.png': IMAGE,
      'README.md': CARD,
    }, 'card with a picture');
    // The repo holds a pointer, not the bytes.
    const blob = await hub.git(['--git-dir', hub.repoDir('alice/pics'), 'cat-file', '-p', 'main:images/logo.png']);
    expect(blob.stdout).toContain(`oid sha256:${OID}`);
  }

  /** Loads `url` and reports the images matching `selector` once every image has settled. */
  async function show(url: string, selector: string): Promise<Shown> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    const imageOrigins: string[] = [];
    page.on('console', (msg) => {
      if (/Refused to load|Content Security Policy/i.test(msg.text())) violations.push(msg.text());
    });
    page.on('requestfinished', (req) => {
      if (req.resourceType() === 'image') imageOrigins.push(new URL(req.url()).origin);
    });
    // Registered before any of the page's own content loads (init scripts are not the page's scripts).
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = seen;
      document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const res = await page.goto(url);
    expect(res?.status()).toBe(200);
    await page.waitForFunction(() => [...document.images].every((img) => img.complete), undefined, { timeout: 15_000 });
    const sizes = await page.locator(selector).evaluateAll((imgs) => (imgs as HTMLImageElement[]).map((img) => `${img.naturalWidth}x${img.naturalHeight}`));
    violations.push(...(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)));
    await context.close();
    return { sizes, violations, imageOrigins };
  }

  beforeAll(async () => {
    s3 = await startS3rver();
    s3Hub = await startHubgate({ env: s3.env });
    fsHub = await startHubgate();
    await publish(s3Hub);
    await publish(fsHub);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await s3Hub?.stop();
    await fsHub?.stop();
    await s3?.stop();
  });

  it("s3 store: the pages' policy allows images from the bucket's origin, nothing else from it", async () => {
    const res = await fetch(`${s3Hub.url}/alice/pics`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(new RegExp(`img-src 'self' ${s3.endpoint.replace(/[.]/g, '\\.')};`));
    // The rest of the policy is unchanged: no scripts from elsewhere, nothing else from the bucket.
    expect(csp.split(';').filter((d) => d.includes(s3.endpoint))).toHaveLength(1);
    expect(csp).toContain("default-src 'none'");
    // The fs store serves images from hubgate itself: nothing beyond 'self'.
    const fsCsp = (await fetch(`${fsHub.url}/alice/pics`)).headers.get('content-security-policy') ?? '';
    expect(fsCsp).toContain("img-src 'self';");
  });

  it('s3 store: the card and the blob page show the LFS image from the bucket, with no CSP violation', async () => {
    const key = `lfs/objects/${OID.slice(0, 2)}/${OID.slice(2, 4)}/${OID}`;
    expect(s3.keys()).toContain(key);
    const before = s3.requests.filter((r) => r.method === 'GET' && r.url.includes(key)).length;

    const card = await show(`${s3Hub.url}/alice/pics`, '.markdown img');
    expect(card.violations).toEqual([]);
    expect(card.sizes).toEqual([`${WIDTH}x${HEIGHT}`]);
    expect(card.imageOrigins).toContain(s3.endpoint);

    const blob = await show(`${s3Hub.url}/alice/pics/blob/main/images/logo.png`, 'img.shown');
    expect(blob.violations).toEqual([]);
    expect(blob.sizes).toEqual([`${WIDTH}x${HEIGHT}`]);
    expect(blob.imageOrigins).toContain(s3.endpoint);

    // The browser fetched the bytes from the bucket itself, once per page.
    const gets = s3.requests.filter((r) => r.method === 'GET' && r.url.includes(key)).length - before;
    expect(gets).toBeGreaterThanOrEqual(2);
  });

  it('an image uploaded through Xet (no LFS copy, with either store) shows on the card and the blob page, served by hubgate', async () => {
    // Another picture than alice/pics' (whose bytes git-lfs stored): these are only in xorbs.
    const image = png(41, 29);
    const oid = crypto.createHash('sha256').update(image).digest('hex');
    for (const hub of [fsHub, s3Hub]) {
      const token = await hub.userWithToken('alice');
      expect((await hub.cli(['repo', 'create', 'alice/xpics'])).code).toBe(0);
      await uploadFiles({
        repo: 'alice/xpics', hubUrl: hub.url, accessToken: token,
        files: [{ path: 'images/logo.png', content: new Blob([image]) }, { path: 'README.md', content: new Blob([CARD]) }],
      });
      const info = await fetch(`${hub.url}/alice/xpics/resolve/main/images/logo.png`, { headers: { Accept: 'application/vnd.xet-fileinfo+json', Range: 'bytes=0-0' } });
      expect(info.headers.get('x-xet-hash'), 'uploaded through Xet').toMatch(/^[0-9a-f]{64}$/);
      expect(info.headers.get('x-linked-etag')).toBe(`"${oid}"`);
      if (hub === s3Hub) expect(s3.keys().filter((k) => k.includes(oid))).toEqual([]);
      else expect(fs.existsSync(`${hub.dataDir}/lfs/objects/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`)).toBe(false);
      const card = await show(`${hub.url}/alice/xpics`, '.markdown img');
      expect(card.violations).toEqual([]);
      expect(card.sizes).toEqual(['41x29']);
      expect(new Set(card.imageOrigins)).toEqual(new Set([hub.url]));
      const blob = await show(`${hub.url}/alice/xpics/blob/main/images/logo.png`, 'img.shown');
      expect(blob.violations).toEqual([]);
      expect(blob.sizes).toEqual(['41x29']);
      expect(new Set(blob.imageOrigins)).toEqual(new Set([hub.url]));
    }
  });

  it('fs store: the card and the blob page show the LFS image from hubgate itself', async () => {
    const card = await show(`${fsHub.url}/alice/pics`, '.markdown img');
    expect(card.violations).toEqual([]);
    expect(card.sizes).toEqual([`${WIDTH}x${HEIGHT}`]);
    expect(new Set(card.imageOrigins)).toEqual(new Set([fsHub.url]));

    const blob = await show(`${fsHub.url}/alice/pics/blob/main/images/logo.png`, 'img.shown');
    expect(blob.violations).toEqual([]);
    expect(blob.sizes).toEqual([`${WIDTH}x${HEIGHT}`]);
    expect(new Set(blob.imageOrigins)).toEqual(new Set([fsHub.url]));
  });
});
