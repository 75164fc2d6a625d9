// A folder's page read through the warm cat-file (the tree object parsed in Node, sizes asked with
// `info`) lists exactly what `git ls-tree -l` lists: the same entries, order, sizes, types,
// symlinks, submodules left out, and the same paging; in SHA-1 and SHA-256 repositories.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeReaders, readTreeObject } from '../src/git/content.ts';
import { listFolderPage, listTreePage, parseTreeObject } from '../src/git/tree.ts';
import { clientEnv, run, tempDir } from './helpers/hubgate.ts';

async function git(cwd: string, env: NodeJS.ProcessEnv, args: string[], input?: string): Promise<string> {
  const r = await run('git', args, { cwd, env, input });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A repo whose root holds folders, odd names, an executable, a symlink, an empty file and a submodule; returns its dir, env and commit. */
async function makeRepo(format: 'sha1' | 'sha256'): Promise<{ dir: string; env: NodeJS.ProcessEnv; commit: string }> {
  const dir = tempDir('hubgate-folder-page-');
  const env = clientEnv(tempDir('hubgate-folder-home-'));
  await git(dir, env, ['init', '-q', `--object-format=${format}`, '-b', 'main']);
  const files: Record<string, string> = {
    'README.md': '# hi\n',
    'a.txt': 'a\n',
    'a/inner.txt': 'inner\n',
    'a-b/x.bin': 'x'.repeat(5000),
    'with space.txt': 'space\n',
    'é-unicode.txt': 'unicode\n',
    'empty.txt': '',
    'z/deep/er.txt': 'deep\n',
  };
  for (let i = 0; i < 30; i++) files[`many/f${String(i).padStart(2, '0')}.txt`] = `${i}\n`.repeat(i);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  fs.symlinkSync('a.txt', path.join(dir, 'link'));
  await git(dir, env, ['add', '-A']);
  const someCommit = format === 'sha1' ? '1'.repeat(40) : '1'.repeat(64);
  await git(dir, env, ['update-index', '--add', '--cacheinfo', `160000,${someCommit},submodule`]);
  await git(dir, env, ['commit', '-q', '-m', 'files']);
  return { dir, env, commit: await git(dir, env, ['rev-parse', 'HEAD']) };
}

describe('a folder page through the warm reader', () => {
  afterAll(() => closeReaders());

  for (const format of ['sha1', 'sha256'] as const) {
    it(`lists what git ls-tree lists, page by page (${format})`, async () => {
      const { dir, env, commit } = await makeRepo(format);
      const ls = (tree: string, base: string, offset: number, count: number) => listTreePage(dir, env, tree, { base, recursive: false, directories: true }, offset, count);

      // The tree object is read whole by the warm reader (listFolderPage goes to ls-tree only when it is not).
      const raw = await readTreeObject(dir, env, `${commit}^{tree}`);
      expect(raw?.oid).toBe(await git(dir, env, ['rev-parse', `${commit}^{tree}`]));
      const parsed = parseTreeObject(raw!.content, format === 'sha1' ? 20 : 32);
      expect(parsed.find((e) => e.name === 'submodule')?.mode).toBe('160000');
      expect(parsed.find((e) => e.name === 'run.sh')?.mode).toBe('100755');
      expect(parsed.map((e) => e.name)).toEqual((await git(dir, env, ['ls-tree', '-z', '--name-only', commit])).split('\0').filter(Boolean));

      const whole = await listFolderPage(dir, env, commit, '', 0, 1000);
      expect(whole).toEqual(await ls(commit, '', 0, 1000));
      // What the listing holds, so the comparison is not of two empty lists.
      const byPath = new Map(whole.entries.map((e) => [e.path, e]));
      expect(byPath.has('submodule')).toBe(false);
      expect(byPath.get('link')).toMatchObject({ type: 'file', symlink: true, blobSize: 5 });
      expect(byPath.get('a')).toMatchObject({ type: 'directory', blobSize: 0 });
      expect(byPath.get('a-b')?.type).toBe('directory');
      expect(byPath.get('é-unicode.txt')).toMatchObject({ type: 'file', blobSize: 8 });
      expect(byPath.get('empty.txt')?.blobSize).toBe(0);
      expect(byPath.get('run.sh')?.symlink).toBe(false);
      expect(whole.more).toBe(false);

      // Every page of the root and of a subfolder (by its tree id, paths under its name).
      for (const count of [1, 3, 5]) {
        for (let offset = 0; offset <= whole.entries.length + 1; offset += count) {
          expect(await listFolderPage(dir, env, commit, '', offset, count)).toEqual(await ls(commit, '', offset, count));
        }
      }
      const many = await git(dir, env, ['rev-parse', `${commit}:many`]);
      for (const [offset, count] of [[0, 10], [10, 10], [20, 10], [25, 10], [30, 10], [0, 30], [0, 29]]) {
        const page = await listFolderPage(dir, env, many, 'many', offset, count);
        expect(page).toEqual(await ls(many, 'many', offset, count));
      }
      const last = await listFolderPage(dir, env, many, 'many', 29, 1);
      expect(last.entries.map((e) => [e.path, e.blobSize])).toEqual([['many/f29.txt', 87]]);
    });
  }
});
