// One file-path validator, one branch validator (src/domain), and LFS pointers written and read by one module (issue 10).
import { describe, expect, it } from 'vitest';
import { parsePointer, pointerText } from '../../lfs/pointer.js';
import { pathProblem } from '../../src/domain/paths.js';
import { branchProblem, filePathProblem } from '../../src/domain/revisions.js';

describe('pathProblem: one set of rules for the paths commits write, locks name and reads look up', () => {
  it('takes clean repo-relative paths', () => {
    for (const p of ['a.txt', 'models/v1/weights.bin', 'dir with space/x', 'ünïcode/名前.txt', '.gitattributes', 'a/.github/x']) {
      expect(pathProblem(p), p).toBeNull();
      expect(filePathProblem(p), p).toBeNull();
    }
  });

  it('refuses, for every use, what is not a path inside the repo', () => {
    for (const p of ['', '/etc/passwd', 'a//b', 'a/', 'a/../b', './a', '..', 'a\0b', 'a\nb', `${'d/'.repeat(2100)}x`]) {
      expect(pathProblem(p), p).not.toBeNull();
      expect(filePathProblem(p), p).not.toBeNull();
    }
  });

  it('refuses in written paths what a push may have stored but a commit or lock must not create', () => {
    for (const p of ['a\\b', '.git/config', 'a/.GIT/x', 'git~1/x', 'C:/x', 'a/ /b', '   ', 'x\u0085y', 'x\u202ey', 'x\ud800y', `${'n'.repeat(256)}`]) {
      expect(pathProblem(p), p).not.toBeNull();
      expect(filePathProblem(p), p).toBeNull();
    }
  });

  it('takes the limits it is given', () => {
    expect(pathProblem('x'.repeat(1025), { maxBytes: 1024, maxSegmentBytes: 1024 })).toMatch(/longer than 1024 bytes/);
    expect(pathProblem('y'.repeat(1024), { maxBytes: 1024, maxSegmentBytes: 1024 })).toBeNull();
  });
});

describe('branchProblem', () => {
  it('takes branch names and refuses revision expressions and odd names', () => {
    for (const b of ['main', 'feature/x', 'v1.0', 'a-b_c']) expect(branchProblem(b), b).toBeNull();
    for (const b of ['', '-x', 'a..b', 'a//b', 'a/', 'a.', 'x.lock', '.x', 'a/.b', 'main~1', 'HEAD@{1}', '@', 'a b', 'ü', 'x'.repeat(256)]) {
      expect(branchProblem(b), b).not.toBeNull();
    }
  });
});

describe('pointerText', () => {
  it('writes the pointer git-lfs writes, which parsePointer reads back', () => {
    const oid = 'a'.repeat(64);
    expect(pointerText(oid, 12)).toBe(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize 12\n`);
    expect(parsePointer(pointerText(oid, 12))).toEqual({ oid, size: 12 });
  });
});
