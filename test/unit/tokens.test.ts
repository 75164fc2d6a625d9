// Token shapes: new tokens carry the Hub's prefix (@huggingface/hub refuses any other), and
// tokens issued before the prefix changed still authenticate.
import { describe, expect, it } from 'vitest';
import { generateToken, looksLikeToken } from '../../src/identity/tokens.ts';

describe('tokens', () => {
  it('are generated as hf_ + 43 base64url characters, and recognised', () => {
    const token = generateToken();
    expect(token).toMatch(/^hf_[A-Za-z0-9_-]{43}$/);
    expect(looksLikeToken(token)).toBe(true);
  });

  it('still recognise the earlier hg_ tokens, and nothing else', () => {
    const body = 'A'.repeat(43);
    expect(looksLikeToken(`hg_${body}`)).toBe(true);
    for (const other of [`hx_${body}`, `hf_${body}A`, `hf_${'A'.repeat(42)}`, `hf_${'A'.repeat(42)}=`, body, '']) expect(looksLikeToken(other), other).toBe(false);
  });
});
