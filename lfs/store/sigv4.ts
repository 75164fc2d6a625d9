import crypto from 'node:crypto';

// AWS Signature Version 4 for presigned S3 URLs (query authentication, UNSIGNED-PAYLOAD), as the
// SDK's S3RequestPresigner makes them. A batch may need 10,000 part URLs of one upload that differ
// only in their part number: everything else (scope, signing key, canonical headers, the fixed
// query) is prepared once by urlSigner, so each URL costs one SHA-256 and one HMAC. The unit test
// (test/unit/sigv4.test.ts) checks the URLs equal the SDK's for the same inputs and time.

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignedRequest {
  method: string;
  /** `http:` or `https:`. */
  protocol: string;
  /** Host and port as sent in the Host header. */
  host: string;
  /** The request path, already a valid URL path (hubgate's keys need no escaping). */
  path: string;
  /** Query parameters shared by every URL of this signer. */
  query: Record<string, string>;
  /** Headers the client must send, all signed (names in any case). */
  headers?: Record<string, string>;
  region: string;
  service: string;
  expiresIn: number;
  credentials: SigningCredentials;
  now?: Date;
}

/** RFC 3986 escaping, as SigV4 wants it for query names and values. */
export function rfc3986(s: string): string {
  const e = encodeURIComponent(s);
  return /[!'()*]/.test(e) ? e.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : e;
}

const hmac = (key: Buffer | string, data: string) => crypto.createHmac('sha256', key).update(data).digest();

// The signing key depends only on the secret, the day, the region and the service: derived once
// a day (the secret stays in this process's memory, as it already does in the SDK's).
let lastKey: { secret: string; day: string; region: string; service: string; key: Buffer } | undefined;
function signingKey(secret: string, day: string, region: string, service: string): Buffer {
  const k = lastKey;
  if (k && k.secret === secret && k.day === day && k.region === region && k.service === service) return k.key;
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
  lastKey = { secret, day, region, service, key };
  return key;
}

/** `20261130T054300Z` */
function amzDate(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Encoded `name=value` pairs in SigV4's order (by encoded name, then value). */
function encodedPairs(query: Record<string, string>): [string, string][] {
  return Object.keys(query)
    .map((k): [string, string] => [rfc3986(k), rfc3986(query[k])])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
}

/**
 * Signs URLs for `r`, each with its own extra query parameters (say a part number): returns the
 * presigned URL, its query in SigV4's order with the signature among the parameters, as the SDK's.
 */
export function urlSigner(r: SignedRequest): (extra?: Record<string, string>) => string {
  const sign = requestSigner(r);
  return (extra) => sign(r.path, extra);
}

/**
 * Signs URLs of requests that share everything but their path (and extra query parameters): the
 * objects of one batch. The date, the scope, the signing key and the canonical headers and query
 * are prepared once, so each URL costs one SHA-256 and one HMAC.
 */
export function requestSigner(r: Omit<SignedRequest, 'path'>): (path: string, extra?: Record<string, string>) => string {
  const date = amzDate(r.now ?? new Date());
  const day = date.slice(0, 8);
  const scope = `${day}/${r.region}/${r.service}/aws4_request`;
  // A key object: each URL's HMAC then skips importing the key bytes.
  const key = crypto.createSecretKey(signingKey(r.credentials.secretAccessKey, day, r.region, r.service));
  const headers = new Map<string, string>([['host', r.host]]);
  for (const [name, value] of Object.entries(r.headers ?? {})) headers.set(name.toLowerCase(), value.trim().replace(/\s+/g, ' '));
  const names = [...headers.keys()].sort();
  const signedHeaders = names.join(';');
  const canonicalHeaders = `${names.map((n) => `${n}:${headers.get(n)}`).join('\n')}\n`;
  const fixed = encodedPairs({
    ...r.query,
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD',
    'X-Amz-Credential': `${r.credentials.accessKeyId}/${scope}`,
    'X-Amz-Date': date,
    'X-Amz-Expires': String(r.expiresIn),
    ...(r.credentials.sessionToken ? { 'X-Amz-Security-Token': r.credentials.sessionToken } : {}),
    'X-Amz-SignedHeaders': signedHeaders,
  });
  const join = (pairs: [string, string][]) => pairs.map(([k, v]) => `${k}=${v}`).join('&');
  const fixedQuery = join(fixed);
  // The signature goes where its name sorts, as in the SDK's URLs.
  const [shownBefore, shownAfter] = join(withSignature(fixed, '\0')).split('\0');
  const tail = `\n${canonicalHeaders}\n${signedHeaders}\nUNSIGNED-PAYLOAD`;
  const prefix = `AWS4-HMAC-SHA256\n${date}\n${scope}\n`;
  const origin = `${r.protocol}//${r.host}`;

  return (path, extra) => {
    const pairs = extra ? merge(fixed, encodedPairs(extra)) : fixed;
    const query = extra ? join(pairs) : fixedQuery;
    // crypto.hash: one call, no Hash object (a third of createHash's cost for a short input).
    const digest = crypto.hash('sha256', `${r.method}\n${path}\n${query}${tail}`, 'hex');
    const signature = crypto.createHmac('sha256', key).update(`${prefix}${digest}`).digest('hex');
    const shown = extra ? join(withSignature(pairs, signature)) : `${shownBefore}${signature}${shownAfter}`;
    return `${origin}${path}?${shown}`;
  };
}

/** The pairs with X-Amz-Signature where its name sorts. */
function withSignature(pairs: [string, string][], signature: string): [string, string][] {
  const at = pairs.findIndex(([k]) => k > 'X-Amz-Signature');
  const sig: [string, string] = ['X-Amz-Signature', signature];
  return at < 0 ? [...pairs, sig] : [...pairs.slice(0, at), sig, ...pairs.slice(at)];
}

/** Two lists in SigV4's order, merged. */
function merge(a: [string, string][], b: [string, string][]): [string, string][] {
  return [...a, ...b].sort(([x, v], [y, w]) => (x < y ? -1 : x > y ? 1 : v < w ? -1 : v > w ? 1 : 0));
}

/** One presigned URL. */
export function presignUrl(r: SignedRequest): string {
  return urlSigner(r)();
}
