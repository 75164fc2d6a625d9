// The repo card as the gate reads it (issue 4 item 4): README.md pushed with real git to a real
// hubgate, read back with readCard (native git, cached per commit), and POST /api/validate-yaml
// as huggingface_hub calls it before committing a README.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCard } from '../src/gating/card.ts';
import { gateFormFromMetadata } from '../src/gating/form.ts';
import { closeReaders } from '../src/git/content.ts';
import { SEED_DATASET_CARD, SEED_DATASET_FORM } from '../fixtures/gated-cards.ts';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';


describe('repo card', () => {
  let hub: Hubgate;
  let token: string;

  beforeAll(async () => {
    hub = await startHubgate();
    token = await hub.userWithToken('alice');
  });
  afterAll(async () => {
    closeReaders(); // the test process's own warm cat-file readers
    await hub.stop();
  });

  /** Clones `repoPath`, writes README.md, commits and pushes; returns the pushed commit id. */
  async function pushReadme(work: string, repoPath: string, readme: string | Buffer): Promise<string> {
    if (!fs.existsSync(path.join(work, '.git'))) {
      const clone = await hub.git(['clone', hub.remote(repoPath, token), '.'], { cwd: work });
      expect(clone.code, clone.stderr).toBe(0);
    }
    fs.writeFileSync(path.join(work, 'README.md'), readme);
    expect((await hub.git(['add', 'README.md'], { cwd: work })).code).toBe(0);
    const commit = await hub.git(['commit', '-q', '-m', 'card'], { cwd: work });
    expect(commit.code, commit.stderr).toBe(0);
    const push = await hub.git(['push', 'origin', 'main'], { cwd: work });
    expect(push.code, push.stderr).toBe(0);
    return (await hub.git(['rev-parse', 'HEAD'], { cwd: work })).stdout.trim();
  }

  it('reads the card at the default branch, cached per commit, and sees the next push', async () => {
    expect((await hub.cli(['repo', 'create', 'alice/data', '--type', 'dataset', '--gated', 'manual'])).code).toBe(0);
    const ref = { type: 'dataset' as const, namespace: 'alice', name: 'data' };

    // A new repo holds only .gitattributes: no card, the default form.
    const initial = await readCard(hub.dataDir, ref);
    expect(initial.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(initial).toMatchObject({ metadata: null, body: '', formError: null });
    expect(initial.form).toEqual(gateFormFromMetadata(null, 'dataset'));
    expect(initial.form!.heading).toBe('You need to agree to share your contact information to access this dataset');

    const work = tempDir();
    const first = await pushReadme(work, 'datasets/alice/data', SEED_DATASET_CARD);
    const card = await readCard(hub.dataDir, ref);
    expect(card.commit).toBe(first);
    expect(card.body).toBe('# A gated dataset\n');
    expect(card.formError).toBeNull();
    expect(card.form).toEqual(SEED_DATASET_FORM);
    // The same commit again: the very same parsed card, from the cache.
    expect(await readCard(hub.dataDir, ref)).toBe(card);
    expect(Object.isFrozen(card) && Object.isFrozen(card.form)).toBe(true);

    const second = await pushReadme(work, 'datasets/alice/data', '---\nextra_gated_heading: "Acknowledge license"\nextra_gated_button_content: "Acknowledge"\n---\nv2\n');
    expect(second).not.toBe(first);
    const next = await readCard(hub.dataDir, ref);
    expect(next.commit).toBe(second);
    expect(next.body).toBe('v2\n');
    expect(next.form).toMatchObject({ heading: 'Acknowledge license', buttonContent: 'Acknowledge', fields: [] });
  });

  it('a malformed front matter or a bad field closes the form with a message for the author', async () => {
    expect((await hub.cli(['repo', 'create', 'alice/model', '--gated', 'auto'])).code).toBe(0);
    const ref = { type: 'model' as const, namespace: 'alice', name: 'model' };
    const work = tempDir();

    const broken = await pushReadme(work, 'alice/model', '---\nlicense: mit\nextra_gated_fields:\n  Company: text\n   Country: country\n---\n# Model\n');
    const card = await readCard(hub.dataDir, ref);
    expect(card).toMatchObject({ commit: broken, metadata: null, body: '# Model\n', form: null });
    // yaml places this mistake at the end of Company's value, on line 4.
    expect(card.formError).toBe('README.md front matter is not valid YAML: line 4, column 12: Nested mappings are not allowed in compact mappings');

    await pushReadme(work, 'alice/model', '---\nextra_gated_fields:\n  Use: {type: select}\n---\n');
    const badField = await readCard(hub.dataDir, ref);
    expect(badField.form).toBeNull();
    expect(badField.formError).toBe('README.md front matter: extra_gated_fields "Use": a select field needs a non-empty list of options, e.g. options: ["Research", {label: "Other", value: "other"}]');

    // Over 1 MB: not parsed, and the gate stays closed with a reason.
    const bigReadme = `---\nlicense: mit\n---\n${'x'.repeat(1024 * 1024)}\n`;
    const big = await pushReadme(work, 'alice/model', bigReadme);
    const bigCard = await readCard(hub.dataDir, ref);
    expect(bigCard).toMatchObject({ commit: big, metadata: null, body: '', form: null });
    expect(bigCard.formError).toBe(`README.md is larger than 1 MB (${Buffer.byteLength(bigReadme)} bytes), so its metadata and request form are not read: keep the card under 1 MB`);

    // Fixed: open again.
    await pushReadme(work, 'alice/model', '---\nextra_gated_fields:\n  Company: text\n---\n');
    const fixed = await readCard(hub.dataDir, ref);
    expect(fixed.formError).toBeNull();
    expect(fixed.form!.fields).toEqual([{ name: 'Company', type: 'text' }]);
  });

  describe('POST /api/validate-yaml', () => {
    const post = (body: string, contentType = 'application/json') =>
      fetch(`${hub.url}/api/validate-yaml`, { method: 'POST', headers: { 'Content-Type': contentType }, body });

    it('answers 200 with no errors for valid card metadata, anonymously', async () => {
      const res = await post(JSON.stringify({ content: SEED_DATASET_CARD, repoType: 'dataset' }));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ errors: [], warnings: [] });
    });

    it('warns about a card without metadata, as the Hub does', async () => {
      const res = await post(JSON.stringify({ content: '# no metadata', repoType: 'model' }));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ errors: [], warnings: [{ message: 'Empty or missing yaml metadata in repo card: start README.md with a "---" block of metadata' }] });
    });

    it('answers 400 with errors[].message for malformed YAML and bad extra_gated_* keys', async () => {
      const bad = await post(JSON.stringify({ content: '---\nlicense: mit\ntags: [a,\nb: 1\n---\n' }));
      expect(bad.status).toBe(400);
      const badBody = (await bad.json()) as { errors: { message: string }[]; warnings: unknown[] };
      expect(badBody.warnings).toEqual([]);
      expect(badBody.errors).toHaveLength(1);
      expect(badBody.errors[0].message).toMatch(/^README\.md front matter is not valid YAML: line 4, column 1: /);
      expect(bad.headers.get('x-error-message')).toBe(`Invalid metadata in README.md: ${badBody.errors[0].message}`);

      const field = await post(JSON.stringify({ content: '---\nextra_gated_fields:\n  Country: nation\n---\n', repoType: 'model' }));
      expect(field.status).toBe(400);
      expect(await field.json()).toMatchObject({
        errors: [{ message: 'extra_gated_fields "Country": unknown type "nation"; use text, checkbox, date_picker, country, or {type: select, options: [...]}', path: ['extra_gated_fields', 'Country'] }],
        warnings: [],
      });
    });

    it('takes the same keys form-encoded (older RepoCard.validate)', async () => {
      const ok = await post(new URLSearchParams({ content: '---\nlicense: mit\n---\n', repoType: 'model' }).toString(), 'application/x-www-form-urlencoded');
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ errors: [], warnings: [] });
      const bad = await post(new URLSearchParams({ content: '---\n- a\n---\n' }).toString(), 'application/x-www-form-urlencoded');
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { errors: { message: string }[] }).errors[0].message).toBe('README.md front matter must be a YAML mapping (lines of "key: value"), not a list (line 2)');
    });

    it.each([
      ['malformed JSON', '{"content": ', 'malformed JSON body: '],
      ['no content', '{"repoType": "model"}', 'invalid validate-yaml body: content: '],
      ['content that is not text', '{"content": 42}', 'invalid validate-yaml body: content: '],
      ['an unknown repo type', '{"content": "x", "repoType": "bucket"}', 'invalid validate-yaml body: repoType: '],
    ])('refuses a body with %s: 400 saying what is wrong', async (_what, body, start) => {
      const res = await post(body);
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: string };
      expect(json.error.startsWith(start), json.error).toBe(true);
      expect(res.headers.get('x-error-message')!.startsWith(start)).toBe(true);
    });
  });
});
