// The History and Commit pages (issue 13): "History: N commits" with pages of 50 and links between
// them over a history of more than 60 commits pushed in one fast-import push, the path filter,
// branches with '/'; a commit's message, author, parents and diff (text lines, an added binary
// file's sizes, an LFS file's sizes and sha256 instead of its pointer text), a huge diff cut with
// a link to the raw .diff; commit messages and file names that try XSS render inert; private repos
// are the 404 page for outsiders, gated repos' history is refused until access is granted.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { uploadFile } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './helpers/browser.js';
import { fastImport } from './helpers/git-client.js';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';

const IMPORTED = 70;
/** Imported commits that changed weights/model.txt (every tenth). */
const TOUCHING_WEIGHTS = 7;
const XSS_MESSAGE = '<script>alert("msg")</script><img src=x onerror=alert(1)>';
const XSS_FILE = '"><img src=x onerror=alert(2)>.txt';
const HUGE_LINES = 10_000;

describe('History and Commit pages', () => {
  let hub: Hubgate;
  const tok: Record<string, string> = {};
  const commits: Record<string, string> = {};

  async function must(args: string[], cwd: string): Promise<string> {
    const r = await hub.git(args, { cwd });
    if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  }

  async function user(name: string): Promise<void> {
    const made = await hub.cli(['user', 'create', name, '--email', `${name}@x.io`, '--password-stdin'], `${name}-password1\n`);
    expect(made.code, made.stderr).toBe(0);
    tok[name] = (await hub.cli(['token', 'create', name, '--role', 'write'])).stdout.trim();
  }

  async function signedIn(name: string): Promise<Browser> {
    const b = new Browser(hub.url);
    expect((await b.signIn(name, `${name}-password1`)).status).toBe(303);
    return b;
  }

  const page = async (b: Browser, urlPath: string, status = 200) => {
    const res = await b.get(urlPath);
    const text = await res.text();
    expect(res.status, text).toBe(status);
    return { res, text };
  };

  beforeAll(async () => {
    hub = await startHubgate();
    for (const name of ['alice', 'bob']) await user(name);
    for (const args of [['alice/long'], ['alice/secret', '--private'], ['alice/gated', '--gated', 'manual']]) {
      const r = await hub.cli(['repo', 'create', ...args]);
      expect(r.code, r.stderr).toBe(0);
    }

    // One push of a long history, then a branch with '/'.
    const work = tempDir('hubgate-web-history-');
    await must(['clone', '-q', hub.remote('alice/long', tok.alice), '.'], work);
    const initial = await must(['rev-parse', 'HEAD'], work);
    await fastImport(work, { ref: 'refs/heads/main', from: initial, count: IMPORTED, time: 1_700_000_000, path: (i) => (i % 10 === 0 ? 'weights/model.txt' : `file-${i}.txt`) });
    await must(['push', '-q', 'origin', 'main', 'main~5:refs/heads/feature/x'], work);

    commits.textBefore = await hub.pushFiles('alice/long', tok.alice, { 'notes.txt': 'line one\nline two\nline three\n' }, 'Add notes');
    commits.text = await hub.pushFiles('alice/long', tok.alice, { 'notes.txt': 'line one\nline <b>2</b> & more\nline three\n' }, 'Change the second line');
    commits.binary = await hub.pushFiles('alice/long', tok.alice, { 'blob.bin': Buffer.from([0, 1, 2, 3, 0, 255, 0, 7]) }, 'Add a binary file');
    commits.xss = await hub.pushFiles('alice/long', tok.alice, { [XSS_FILE]: '<script>alert(3)</script>\n' }, XSS_MESSAGE);
    // LFS: two versions of a .safetensors file through the Hub API (the server stores pointers).
    const weights1 = crypto.randomBytes(3000);
    const weights2 = crypto.randomBytes(5000);
    await uploadFile({ repo: 'alice/long', hubUrl: hub.url, accessToken: tok.alice, file: { path: 'model.safetensors', content: new Blob([weights1]) } });
    const second = await uploadFile({ repo: 'alice/long', hubUrl: hub.url, accessToken: tok.alice, file: { path: 'model.safetensors', content: new Blob([weights2]) }, commitTitle: 'Update weights' });
    commits.lfs = second!.commit.oid;
    commits.lfsSha = crypto.createHash('sha256').update(weights2).digest('hex');
    commits.huge = await hub.pushFiles('alice/long', tok.alice, { 'huge.txt': Array.from({ length: HUGE_LINES }, (_, i) => `huge line ${i}`).join('\n') + '\n' }, 'A huge file');

    commits.secret = await hub.pushFiles('alice/secret', tok.alice, { 'a.txt': 'secret\n' }, 'Secret stuff');
    commits.gated = await hub.pushFiles('alice/gated', tok.alice, { 'a.txt': 'gated\n' }, 'Gated stuff');
  });
  afterAll(async () => {
    await hub?.stop();
  });

  // The initial commit, the imported ones and those pushed after.
  const TOTAL = 1 + IMPORTED + 7;

  it('History shows "History: N commits", pages of 50 newest first, and links between the pages', async () => {
    const b = new Browser(hub.url);
    const first = await page(b, '/alice/long/commits/main');
    expect(first.res.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    expect(first.text).toContain(`History: ${TOTAL} commits`);
    expect(first.text.match(/<li class="commit">/g)).toHaveLength(50);
    expect(first.text).toContain(`href="/alice/long/commit/${commits.huge}"`);
    expect(first.text).toContain('A huge file');
    expect(first.text).toContain(`<code>${commits.huge.slice(0, 7)}</code>`);
    // Commits through the API name their author as the hubgate user.
    expect(first.text).toMatch(/<span class="author">alice<\/span>/);
    expect(first.text).not.toContain('rel="prev"');
    const older = /<a rel="next" href="([^"]+)">/.exec(first.text)![1];
    expect(older).toBe('/alice/long/commits/main?p=1');

    const second = await page(b, older);
    expect(second.text.match(/<li class="commit">/g)).toHaveLength(TOTAL - 50);
    expect(second.text).not.toContain('rel="next"');
    expect(/<a rel="prev" href="([^"]+)">/.exec(second.text)![1]).toBe('/alice/long/commits/main');
    // Past the end: an empty page that links back.
    expect((await page(b, '/alice/long/commits/main?p=9')).text).toContain('No commits on this page');
  });

  it('filters by path and follows branches with "/" (as %2F) and commit ids', async () => {
    const b = new Browser(hub.url);
    const weights = await page(b, '/alice/long/commits/main/weights/model.txt');
    expect(weights.text).toContain(`History: ${TOUCHING_WEIGHTS} commits`);
    expect(weights.text.match(/<li class="commit">/g)).toHaveLength(TOUCHING_WEIGHTS);
    expect((await page(b, '/alice/long/commits/main/weights')).text).toContain(`History: ${TOUCHING_WEIGHTS} commits`);
    expect((await page(b, '/alice/long/commits/main/notes.txt')).text).toContain('History: 2 commits');
    const branch = await page(b, '/alice/long/commits/feature%2Fx');
    expect(branch.text).toContain(`History: ${1 + IMPORTED - 5} commits`);
    expect((await page(b, `/alice/long/commits/${commits.text}`)).text).toContain(`History: ${TOTAL - 5} commits`);
    // Unknown revisions are a 404 page; malformed ones a 400 page.
    expect((await page(b, '/alice/long/commits/nope', 404)).text).toContain('nope');
    await page(b, '/alice/long/commits/main..x', 400);
  });

  it('the commit page shows message, author, date, parents and the text diff', async () => {
    const b = new Browser(hub.url);
    const { text } = await page(b, `/alice/long/commit/${commits.text}`);
    expect(text).toContain('Change the second line');
    expect(text).toContain(`<code>${commits.text}</code>`);
    expect(text).toContain(`<a class="parent" href="/alice/long/commit/${commits.textBefore}">`);
    expect(text).toContain('notes.txt');
    expect(text).toMatch(/<tr class="del"><td class="ln">2<\/td><td class="ln"><\/td><td>-line two<\/td><\/tr>/);
    expect(text).toMatch(/<tr class="add"><td class="ln"><\/td><td class="ln">2<\/td><td>\+line &lt;b&gt;2&lt;\/b&gt; &amp; more<\/td><\/tr>/);
    expect(text).toContain('1 file changed, 1 addition, 1 deletion');
    expect(text).toContain(`href="/alice/long/commit/${commits.text}.diff"`);
    expect(text).not.toContain('style=');
    // The first commit has no parent; a branch name opens its head commit.
    const root = (await hub.git(['--git-dir', hub.repoDir('alice/long'), 'rev-list', '--max-parents=0', 'main'])).stdout.trim();
    expect((await page(b, `/alice/long/commit/${root}`)).text).toContain('none (the first commit)');
    expect((await page(b, '/alice/long/commit/main')).text).toContain('A huge file');
  });

  it('an added binary file shows its sizes, an LFS file its object sizes and sha256, not the pointer', async () => {
    const b = new Browser(hub.url);
    const binary = await page(b, `/alice/long/commit/${commits.binary}`);
    expect(binary.text).toContain('blob.bin');
    expect(binary.text).toContain('Binary file, size — → 8 Bytes');
    const lfs = await page(b, `/alice/long/commit/${commits.lfs}`);
    expect(lfs.text).toContain('model.safetensors');
    expect(lfs.text).toContain(`LFS file, size 3 kB → 5 kB (sha256 <code>${commits.lfsSha}</code>)`);
    expect(lfs.text).not.toContain('git-lfs.github.com/spec');
  });

  it('commit messages and file names that try XSS render inert', async () => {
    const b = new Browser(hub.url);
    for (const url of [`/alice/long/commit/${commits.xss}`, '/alice/long/commits/main']) {
      const { text } = await page(b, url);
      expect(text).not.toContain('<script>');
      expect(text).not.toContain('<img');
      expect(text).toContain('&lt;script&gt;alert(&quot;msg&quot;)&lt;/script&gt;');
    }
    const { text } = await page(b, `/alice/long/commit/${commits.xss}`);
    expect(text).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;.txt');
    expect(text).toContain('+&lt;script&gt;alert(3)&lt;/script&gt;');
  });

  it('a huge diff is cut with a link to the raw diff, which has it all as text', async () => {
    const b = new Browser(hub.url);
    const started = Date.now();
    const { text } = await page(b, `/alice/long/commit/${commits.huge}`);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(text).toContain('This diff is too large to show in full');
    expect(text).toContain(`<a href="/alice/long/commit/${commits.huge}.diff">View the whole raw diff</a>`);
    expect(text).toContain('huge line 0<');
    expect(text).not.toContain(`huge line ${HUGE_LINES - 1}<`);
    const raw = await b.get(`/alice/long/commit/${commits.huge}.diff`);
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(raw.headers.get('x-content-type-options')).toBe('nosniff');
    const diff = await raw.text();
    expect(diff.startsWith('diff --git a/huge.txt b/huge.txt\n')).toBe(true);
    expect(diff).toContain(`+huge line ${HUGE_LINES - 1}\n`);
    // A file name's raw diff stays text too.
    const xss = await b.get(`/alice/long/commit/${commits.xss}.diff`);
    expect(xss.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await xss.text()).toContain('+<script>alert(3)</script>');
  });

  it('a rename shows old → new path; a merge lists both parents and its diff against the first; a moved repo redirects', async () => {
    const r = await hub.cli(['repo', 'create', 'alice/merges']);
    expect(r.code, r.stderr).toBe(0);
    await hub.pushFiles('alice/merges', tok.alice, { 'old-name.txt': Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n') + '\n' }, 'Base');
    const work = tempDir('hubgate-web-merge-');
    await must(['clone', '-q', hub.remote('alice/merges', tok.alice), '.'], work);
    await must(['mv', 'old-name.txt', 'new-name.txt'], work);
    await must(['commit', '-q', '-m', 'Rename'], work);
    const renamed = await must(['rev-parse', 'HEAD'], work);
    await must(['checkout', '-q', '-b', 'side', 'HEAD~1'], work);
    fs.writeFileSync(`${work}/side.txt`, 'from the side\n');
    await must(['add', 'side.txt'], work);
    await must(['commit', '-q', '-m', 'Side'], work);
    const side = await must(['rev-parse', 'HEAD'], work);
    await must(['checkout', '-q', 'main'], work);
    await must(['merge', '-q', '--no-ff', '-m', 'Merge side', 'side'], work);
    const merge = await must(['rev-parse', 'HEAD'], work);
    await must(['push', '-q', 'origin', 'main'], work);

    const b = new Browser(hub.url);
    const rename = await page(b, `/alice/merges/commit/${renamed}`);
    expect(rename.text).toContain('old-name.txt → new-name.txt');
    expect(rename.text).toContain('Renamed without changes');
    const merged = await page(b, `/alice/merges/commit/${merge}`);
    expect(merged.text).toContain(`href="/alice/merges/commit/${renamed}"`);
    expect(merged.text).toContain(`href="/alice/merges/commit/${side}"`);
    expect(merged.text).toContain('compared with the first parent');
    expect(merged.text).toContain('+from the side');
    expect(merged.text).not.toContain('new-name.txt');

    expect((await hub.cli(['repo', 'rename', 'alice/merges', 'alice/merged'])).code).toBe(0);
    const moved = await b.get(`/alice/merges/commits/main?p=0`);
    expect(moved.status).toBe(302);
    expect(moved.headers.get('location')).toBe('/alice/merged/commits/main?p=0');
  });

  it('private repos are the 404 page for outsiders and anonymous callers; their owner sees them', async () => {
    const bob = await signedIn('bob');
    const anonymous = new Browser(hub.url);
    for (const b of [bob, anonymous]) {
      for (const url of ['/alice/secret/commits/main', `/alice/secret/commit/${commits.secret}`, `/alice/secret/commit/${commits.secret}.diff`, '/alice/secret/commits/main/a.txt']) {
        const { text } = await page(b, url, 404);
        expect(text).toContain('There is no page here');
        expect(text).not.toContain('Secret stuff');
      }
    }
    const alice = await signedIn('alice');
    expect((await page(alice, '/alice/secret/commits/main')).text).toContain('Secret stuff');
    expect((await page(alice, `/alice/secret/commit/${commits.secret}`)).text).toContain('Secret stuff');
  });

  it('a gated repo refuses its history and diffs until access is granted', async () => {
    const bob = await signedIn('bob');
    for (const url of ['/alice/gated/commits/main', `/alice/gated/commit/${commits.gated}`, `/alice/gated/commit/${commits.gated}.diff`]) {
      const { text } = await page(bob, url, 403);
      // The Files tab's refusal: access is needed, asked for on the card.
      expect(text).toContain('This repo is gated');
      expect(text).toContain('href="/alice/gated"');
      expect(text).not.toContain('Gated stuff');
    }
    const anonymous = await page(new Browser(hub.url), '/alice/gated/commits/main', 401);
    expect(anonymous.text).not.toContain('Gated stuff');
    // The card stays visible.
    await page(bob, '/alice/gated');
    const granted = await hub.cli(['access', 'grant', 'alice/gated', 'bob']);
    if (granted.code !== 0) {
      const res = await fetch(`${hub.url}/api/models/alice/gated/user-access-request/grant`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${tok.alice}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ user: 'bob' }),
      });
      expect(res.status, await res.text()).toBe(200);
    }
    expect((await page(bob, '/alice/gated/commits/main')).text).toContain('Gated stuff');
    expect((await page(bob, `/alice/gated/commit/${commits.gated}`)).text).toContain('Gated stuff');
  });
});
