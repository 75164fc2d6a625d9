// The gated-repo flow in a real browser (issue 4 item 6): Debian's chromium, driven by
// playwright-core, against a real hubgate. A user signs in, fills a form with every field
// type and sends it; the author accepts on the settings page; the user's token then clones;
// the author downloads the access report.
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

const CARD = `---
license: mit
extra_gated_heading: "Acknowledge license to accept the repository"
extra_gated_prompt: "You agree to not use the model to conduct experiments that cause harm to human subjects."
extra_gated_description: "Our team may take 2-3 days to process your request"
extra_gated_button_content: "Acknowledge license"
extra_gated_fields:
  Company: text
  Country: country
  Specific date: date_picker
  I want to use this model for:
    type: select
    options:
      - Research
      - Education
      - label: Other
        value: other
  I agree to use this model for non-commercial use ONLY: checkbox
---
# A gated model

Weights for research.
`;

describe.skipIf(!haveChromium)('pages in a real browser', () => {
  let hub: Hubgate;
  let browser: Browser;
  let authorToken: string;

  async function signIn(page: Page, name: string, next: string): Promise<void> {
    await page.goto(`${hub.url}/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Password').fill(`${name}-password1`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${hub.url}${next}`);
    expect(await page.locator('header').innerText()).toContain(`Signed in as ${name}`);
  }

  beforeAll(async () => {
    hub = await startHubgate();
    for (const [name, fullname] of [['alice', 'Alice Author'], ['bob', 'Bob Builder']]) {
      const made = await hub.cli(['user', 'create', name, '--email', `${name}@x.io`, '--fullname', fullname, '--password-stdin'], `${name}-password1\n`);
      expect(made.code, made.stderr).toBe(0);
    }
    authorToken = (await hub.cli(['token', 'create', 'alice', '--role', 'write'])).stdout.trim();
    expect((await hub.cli(['repo', 'create', 'alice/model', '--gated', 'manual'])).code).toBe(0);
    const work = tempDir();
    expect((await hub.git(['clone', hub.remote('alice/model', authorToken), '.'], { cwd: work })).code).toBe(0);
    fs.writeFileSync(path.join(work, 'README.md'), CARD);
    expect((await hub.git(['add', 'README.md'], { cwd: work })).code).toBe(0);
    expect((await hub.git(['commit', '-m', 'card'], { cwd: work })).code).toBe(0);
    expect((await hub.git(['push', 'origin', 'main'], { cwd: work })).code).toBe(0);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('sign in, fill every field type, author accepts, the token clones, report downloaded', async () => {
    // The user: signs in from the repo page's link and makes a read token for git.
    const user = await (await browser.newContext()).newPage();
    await user.goto(`${hub.url}/alice/model`);
    await user.getByRole('link', { name: 'Sign in to request access' }).click();
    await user.getByLabel('Username').fill('bob');
    await user.getByLabel('Password').fill('bob-password1');
    await user.getByRole('button', { name: 'Sign in' }).click();
    await user.waitForURL(`${hub.url}/alice/model`);

    await user.goto(`${hub.url}/settings/tokens`);
    await user.getByLabel('Name').fill('git on my laptop');
    await user.getByLabel('read').check();
    await user.getByRole('button', { name: 'Create token' }).click();
    const bobToken = (await user.locator('#new-token').textContent())!.trim();
    expect(bobToken).toMatch(/^hf_[A-Za-z0-9_-]{43}$/);
    const refused = await hub.git(['clone', hub.remote('alice/model', bobToken), 'dir']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('gated repository');

    // The form, as the card describes it.
    await user.goto(`${hub.url}/alice/model`);
    const gate = user.locator('section.gate');
    expect(await gate.getByRole('heading', { name: 'Acknowledge license to accept the repository' }).isVisible()).toBe(true);
    expect(await gate.innerText()).toContain('You agree to not use the model to conduct experiments that cause harm to human subjects.');
    expect(await gate.innerText()).toContain('Our team may take 2-3 days to process your request');
    await user.locator('input[name="f:Company"]').fill('ACME Research');
    await user.locator('select[name="f:Country"]').selectOption('DE');
    await user.locator('input[name="f:Specific date"]').fill('2026-03-01');
    const purpose = user.locator('select[name="f:I want to use this model for"]');
    expect(await purpose.locator('option').allTextContents()).toEqual(['Select an option', 'Research', 'Education', 'Other']);
    await purpose.selectOption({ label: 'Other' });
    await user.getByLabel('I agree to use this model for non-commercial use ONLY').check();
    await user.getByRole('button', { name: 'Acknowledge license' }).click();
    await user.waitForURL(`${hub.url}/alice/model`);
    expect(await gate.innerText()).toContain('Your request to access this repo is pending');
    expect(await user.locator('form.gate-form').count()).toBe(0);

    // The author: reviews the request on the settings page and accepts it.
    const author = await (await browser.newContext({ acceptDownloads: true })).newPage();
    await signIn(author, 'alice', '/alice/model/settings');
    const row = author.locator('table.requests.pending tr[data-user="bob"]');
    const rowText = await row.innerText();
    for (const shown of ['Bob Builder', 'bob@x.io', 'ACME Research', 'DE', '2026-03-01', 'other']) expect(rowText).toContain(shown);
    await row.getByRole('button', { name: 'Accept' }).click();
    await author.waitForURL(`${hub.url}/alice/model/settings?done=accepted`);
    expect(await author.getByRole('status').innerText()).toContain('Request accepted');
    expect(await author.locator('table.requests.accepted tr[data-user="bob"]').count()).toBe(1);

    const accepted = await fetch(`${hub.url}/api/models/alice/model/user-access-request/accepted`, { headers: { Authorization: `Bearer ${authorToken}` } });
    expect(((await accepted.json()) as { user: { user: string } }[]).map((r) => r.user.user)).toEqual(['bob']);
    const work = tempDir();
    const clone = await hub.git(['clone', hub.remote('alice/model', bobToken), 'dir'], { cwd: work });
    expect(clone.code, clone.stderr).toBe(0);
    expect(fs.readFileSync(path.join(work, 'dir', 'README.md'), 'utf8')).toBe(CARD);

    await user.reload();
    expect(await gate.innerText()).toContain('You have been granted access to this repo');

    // The access report, downloaded as a file.
    const [download] = await Promise.all([author.waitForEvent('download'), author.getByRole('link', { name: 'Download user access report' }).click()]);
    expect(download.suggestedFilename()).toBe('alice-model-access-report.json');
    const report = JSON.parse(fs.readFileSync((await download.path())!, 'utf8')) as Record<string, unknown>[];
    expect(report).toHaveLength(1);
    const { time, ...entry } = report[0];
    expect(entry).toEqual({
      user: 'bob',
      fullname: 'Bob Builder',
      status: 'accepted',
      email: 'bob@x.io',
      fields: {
        Company: 'ACME Research',
        Country: 'DE',
        'Specific date': '2026-03-01',
        'I want to use this model for': 'other',
        'I agree to use this model for non-commercial use ONLY': true,
      },
    });
    expect(Math.abs(Date.parse(String(time)) - Date.now())).toBeLessThan(5 * 60_000);
  });
});
