import crypto from 'node:crypto';

// A token is "hf_" + 256 random bits in base64url; only its SHA-256 is stored. The Hub's own
// prefix, because @huggingface/hub refuses any token that does not start with "hf_".
export const TOKEN_PREFIX = 'hf_';
// Tokens issued before the prefix changed ("hg_") keep working.
const TOKEN_SHAPE = /^h[fg]_[A-Za-z0-9_-]{43}$/;

export function generateToken(): string {
  return TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
}

export function looksLikeToken(secret: string): boolean {
  return TOKEN_SHAPE.test(secret);
}

export function hashToken(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && crypto.timingSafeEqual(x, y);
}
