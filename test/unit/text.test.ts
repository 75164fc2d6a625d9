// User text checked at the boundary (issue 9, defect 10): what may be stored and shown anywhere.
import { describe, expect, it } from 'vitest';
import { answerFor } from '../../src/access/answer.js';
import { checkText, oneLine, textProblem } from '../../src/domain/text.js';

describe('textProblem', () => {
  const refused: [string, string, RegExp][] = [
    ['CR LF', 'ok\r\nremote: fake', /one line|control/],
    ['LF', 'a\nb', /one line/],
    ['lone CR', 'a\rb', /control/],
    ['tab', 'a\tb', /one line/],
    ['NUL', 'a\0b', /control/],
    ['ESC (terminal escapes)', 'a\x1b[31mred', /control/],
    ['DEL', 'a\x7f', /control/],
    ['NEL (C1)', 'a\u0085b', /control/],
    ['line separator', 'a\u2028b', /control/],
    ['lone high surrogate', 'a\ud800b', /lone surrogate/],
    ['lone low surrogate', '\udc00', /lone surrogate/],
    ['right-to-left override', 'txt.\u202eexe', /bidirectional/],
    ['blank', '   ', /empty/],
    ['empty', '', /empty/],
  ];
  it.each(refused)('refuses %s', (_what, value, message) => {
    expect(textProblem('the reason', value, { max: 200 })).toMatch(message);
  });

  it.each([['plain ASCII', 'Not for commercial use'], ['accents and CJK', 'Équipe 研究'], ['an emoji (a surrogate pair)', 'ok 👍']])('accepts %s', (_what, value) => {
    expect(textProblem('the reason', value, { max: 200 })).toBeNull();
  });

  it('allows line breaks only in multi-line text, and CRLF becomes LF', () => {
    expect(checkText('the description', 'one\r\ntwo\n\tthree', { max: 100, multiline: true })).toBe('one\ntwo\n\tthree');
    expect(() => checkText('the description', 'one\rtwo', { max: 100, multiline: true })).toThrow(/control/);
  });

  it('counts length and allows empty optional text', () => {
    expect(textProblem('x', 'a'.repeat(201), { max: 200 })).toMatch(/at most 200/);
    expect(textProblem('x', '', { max: 200, optional: true })).toBeNull();
  });
});

describe('stored text shown on one line', () => {
  it('turns line breaks and controls into spaces and drops bidi and lone surrogates', () => {
    expect(oneLine('a\r\nremote: b\u202e\ud800\x1bc')).toBe('a  remote: b c');
  });

  it('a rejection reason stored before the checks cannot forge git `remote:` lines', () => {
    const answer = answerFor({ allow: false, reason: 'gated', status: 'rejected', rejectionReason: 'no\nremote: Access granted', anonymous: false }, 'alice/m', 'http://h');
    expect(answer.message).not.toMatch(/\n/);
    expect(answer.message).toContain('no remote: Access granted');
  });
});
