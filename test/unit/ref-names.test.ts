// Branch and tag names (src/domain/revisions.ts): git check-ref-format's rules, each refused form with a message saying the rule.
import { describe, expect, it } from 'vitest';
import { branchProblem, refNameProblem, tagProblem } from '../../src/domain/revisions.js';

describe('refNameProblem', () => {
  it('takes the names git takes', () => {
    for (const name of ['main', 'dev', 'feature/x', 'v1.0', 'a-b_c', 'release/2024.06', 'x+y', 'a@b', 'UPPER', 'a/b/c', 'x'.repeat(255)]) {
      expect(branchProblem(name), name).toBeNull();
      expect(tagProblem(name), name).toBeNull();
    }
  });

  // Each refused form with the words its message must hold.
  const refused: [string, RegExp][] = [
    ['', /empty/],
    ['x'.repeat(256), /at most 255 characters/],
    ['refs/heads/x', /short name \(x\).*refs\//],
    ['refs/tags/v1', /short name \(v1\)/],
    ['refs/pr/1', /not a full ref name/],
    ['a..b', /'\.\.'/],
    ['..', /'\.\.'/],
    ['HEAD@{1}', /'@\{'/],
    ['a@{b', /'@\{'/],
    ['@', /reserved/],
    ['HEAD', /reserved/],
    ['a\nb', /control characters/],
    ['a\tb', /control characters/],
    ['a\0b', /control characters/],
    ['a\x7fb', /control characters/],
    ['a b', /spaces/],
    [' lead', /spaces/],
    ['main~1', /~ \^ : \? \* \[ \\/],
    ['main^', /~ \^ : \? \* \[ \\/],
    ['a:b', /~ \^ : \? \* \[ \\/],
    ['a?', /~ \^ : \? \* \[ \\/],
    ['a*', /~ \^ : \? \* \[ \\/],
    ['a[b', /~ \^ : \? \* \[ \\/],
    ['a\\b', /~ \^ : \? \* \[ \\/],
    ['-x', /start with '-'/],
    ['/x', /start or end with '\/'/],
    ['x/', /start or end with '\/'/],
    ['a//b', /'\/\/'/],
    ['x.', /end with '\.'/],
    ['.x', /start with '\.'/],
    ['a/.b', /start with '\.'/],
    ['x.lock', /'\.lock'/],
    ['a.lock/b', /'\.lock'/],
    ['ü', /printable ASCII/],
    ['a\u202eb', /printable ASCII/],
  ];

  it('refuses every other form, saying the rule', () => {
    for (const [name, rule] of refused) {
      const problem = branchProblem(name);
      expect(problem, JSON.stringify(name)).toMatch(rule);
      expect(problem, JSON.stringify(name)).toMatch(/branch name/);
      expect(tagProblem(name), JSON.stringify(name)).toMatch(/tag name/);
    }
  });

  it('takes names a push may already have stored when they are looked up, but nothing git itself refuses', () => {
    expect(refNameProblem('ü', 'branch', { existing: true })).toBeNull();
    for (const [name] of refused.filter(([n]) => n !== 'ü' && n !== 'a\u202eb')) {
      expect(refNameProblem(name, 'branch', { existing: true }), JSON.stringify(name)).not.toBeNull();
    }
  });

  it('never says a name in a way that breaks a line', () => {
    expect(branchProblem('a\nb')).not.toMatch(/\n/);
  });
});
