import crypto from 'node:crypto';

// Short-lived signed tokens for URLs that must authorize themselves (clients such as
// huggingface_hub send no Authorization header to transfer and completion hrefs).

export interface Signer {
  sign(claims: Record<string, string | number>, ttlSeconds: number): string;
  /** The claims of a valid, unexpired token whose purpose matches (is one of `purpose`); null otherwise. */
  verify(token: unknown, purpose: string | readonly string[]): Record<string, string | number> | null;
}

/**
 * A signer with `key`, which every node shares (the composition root reads it from the database),
 * so a URL signed by one node is verified by any other.
 */
export function createSigner(key: Buffer): Signer {
  // Imported once as a key object: an HMAC from raw key bytes imports them again every time (half its cost).
  const secret = crypto.createSecretKey(key);
  const mac = (body: string) => crypto.createHmac('sha256', secret).update(body).digest('base64url');
  return {
    sign(claims, ttlSeconds) {
      // The claims' JSON with exp appended (a batch signs a thousand: no copy of the claims object).
      const json = JSON.stringify(claims);
      const exp = `"exp":${Math.floor(Date.now() / 1000) + ttlSeconds}}`;
      const body = Buffer.from(json === '{}' ? `{${exp}` : `${json.slice(0, -1)},${exp}`).toString('base64url');
      return `${body}.${mac(body)}`;
    },
    verify(token, purpose) {
      if (typeof token !== 'string' || token.length > 4096) return null;
      const [body, sig] = token.split('.');
      if (!body || !sig) return null;
      const expected = Buffer.from(mac(body));
      const given = Buffer.from(sig);
      if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return null;
      let claims: Record<string, string | number>;
      try {
        claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      } catch {
        return null;
      }
      const purposeMatches = typeof purpose === 'string' ? claims.p === purpose : purpose.includes(claims.p as string);
      if (!purposeMatches || typeof claims.exp !== 'number' || claims.exp < Date.now() / 1000) return null;
      return claims;
    },
  };
}
