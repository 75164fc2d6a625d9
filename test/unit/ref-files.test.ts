// Branches read from the ref files (src/git/ref-files.ts) answer what git answers, or leave the
// question to git: checked against `git rev-parse` on real repositories, with the shapes git's
// lookup order makes tricky (a tag named like a branch, packed and loose copies of one ref,
// symbolic refs), and every change of a ref seen by the very next read, however quickly it came.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { branchCommitFromFiles } from '../../src/git/ref-files.ts';
import { closeReaders, resolveCommit } from '../../src/git/content.ts';

const dirs: string[] = [];
afterAll(() => {
  closeReaders();
  dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
});

const ENV = { PATH: process.env.PATH, HOME: os.tmpdir(), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@x' };
const git = (dir: string, ...args: string[]) => execFileSync('git', args, { cwd: dir, env: ENV, encoding: 'utf8' }).trim();
/** What git says `revision` names as a commit; null when nothing. */
const gitAnswer = (dir: string, revision: string): string | null => {
  try {
    return git(dir, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${revision}^{commit}`);
  } catch {
    return null;
  }
};

/** A bare repo with `n` commits on main (each its own history, so ids differ). */
function repo(n = 3): { dir: string; commits: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hubgate-refs-'));
  dirs.push(dir);
  git(dir, 'init', '--bare', '-q', '-b', 'main');
  const commits: string[] = [];
  for (let i = 0; i < n; i++) {
    const tree = git(dir, 'mktree');
    const env = { ...ENV, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@x', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@x', GIT_AUTHOR_DATE: `${1700000000 + i} +0000`, GIT_COMMITTER_DATE: `${1700000000 + i} +0000` };
    commits.push(execFileSync('git', ['commit-tree', tree, '-m', `c${i}`], { cwd: dir, env, encoding: 'utf8' }).trim());
  }
  git(dir, 'update-ref', 'refs/heads/main', commits[0]);
  return { dir, commits };
}

/** The files' answer is git's, or no answer at all; resolveCommit (files, then git) is always git's. */
async function agrees(dir: string, revision: string): Promise<string | undefined> {
  const fromFiles = branchCommitFromFiles(dir, revision);
  const expected = gitAnswer(dir, revision);
  if (fromFiles !== undefined) expect(fromFiles, revision).toBe(expected);
  expect(await resolveCommit(dir, ENV, revision), revision).toBe(expected);
  return fromFiles;
}

describe('branches read from the ref files', () => {
  it('a loose branch, by its short name, spelled out, and through HEAD', async () => {
    const { dir, commits } = repo();
    expect(await agrees(dir, 'main')).toBe(commits[0]);
    expect(await agrees(dir, 'refs/heads/main')).toBe(commits[0]);
    expect(await agrees(dir, 'heads/main')).toBe(commits[0]);
    expect(await agrees(dir, 'HEAD')).toBe(commits[0]);
    git(dir, 'update-ref', 'refs/heads/feature/x', commits[1]);
    expect(await agrees(dir, 'feature/x')).toBe(commits[1]);
  });

  it('a packed branch, and a loose copy newer than the packed one wins', async () => {
    const { dir, commits } = repo();
    git(dir, 'update-ref', 'refs/heads/dev', commits[1]);
    git(dir, 'pack-refs', '--all');
    expect(fs.existsSync(path.join(dir, 'refs/heads/dev'))).toBe(false);
    expect(await agrees(dir, 'dev')).toBe(commits[1]);
    expect(await agrees(dir, 'refs/heads/dev')).toBe(commits[1]);
    expect(await agrees(dir, 'heads/dev')).toBe(commits[1]);
    expect(await agrees(dir, 'HEAD')).toBe(commits[0]);
    git(dir, 'update-ref', 'refs/heads/dev', commits[2]);
    expect(fs.existsSync(path.join(dir, 'refs/heads/dev'))).toBe(true);
    expect(await agrees(dir, 'dev')).toBe(commits[2]);
    // Deleted: gone from both, and the files no longer answer (git says it names nothing).
    git(dir, 'update-ref', '-d', 'refs/heads/dev');
    expect(await agrees(dir, 'dev')).toBeUndefined();
  });

  it('a tag or a ref of the same name that git looks at first leaves the answer to git, loose or packed', async () => {
    const { dir, commits } = repo();
    git(dir, 'tag', 'main', commits[1]);
    expect(await agrees(dir, 'main')).toBeUndefined();
    expect(gitAnswer(dir, 'main')).toBe(commits[1]);
    git(dir, 'pack-refs', '--all');
    expect(await agrees(dir, 'main')).toBeUndefined();
    expect(await agrees(dir, 'refs/heads/main')).toBe(commits[0]);
    git(dir, 'tag', '-d', 'main');
    expect(await agrees(dir, 'main')).toBe(commits[0]);
    git(dir, 'update-ref', 'refs/main', commits[2]);
    expect(await agrees(dir, 'main')).toBeUndefined();
    expect(gitAnswer(dir, 'main')).toBe(commits[2]);
  });

  it('tags, commit ids, missing names and files that are not refs are git\'s to answer', async () => {
    const { dir, commits } = repo();
    git(dir, 'tag', 'v1', commits[1]);
    git(dir, 'tag', '-a', '-m', 'annotated', 'v2', commits[2]);
    for (const revision of ['v1', 'v2', commits[1], commits[1].slice(0, 10), 'nope', 'config', 'description', 'objects', 'refs', 'refs/heads', 'HEAD/x']) {
      expect(await agrees(dir, revision), revision).toBeUndefined();
    }
    // HEAD pointing at a branch that does not exist (a new, empty repo).
    git(dir, 'symbolic-ref', 'HEAD', 'refs/heads/unborn');
    expect(await agrees(dir, 'HEAD')).toBeUndefined();
  });

  it('every change of a branch is seen by the next read, however quickly it follows the last (same size, same second)', async () => {
    const { dir, commits } = repo(6);
    git(dir, 'pack-refs', '--all');
    for (let i = 0; i < 12; i++) {
      const want = commits[i % commits.length];
      git(dir, 'update-ref', 'refs/heads/main', want);
      expect(branchCommitFromFiles(dir, 'main')).toBe(want);
      // Packed again: packed-refs rewritten with the new value, the loose file removed.
      git(dir, 'pack-refs', '--all');
      expect(fs.existsSync(path.join(dir, 'refs/heads/main'))).toBe(false);
      expect(branchCommitFromFiles(dir, 'main')).toBe(want);
    }
  });
});
