// hubgate's own SigV4 presigner (lfs/store/sigv4.ts) makes exactly the URLs the AWS SDK's S3
// presigner makes, for the same request, credentials and time: the same canonical request, the
// same signature. The SDK is the reference here, not a stand-in for hubgate.
import { S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { presignUrl, requestSigner, rfc3986, type SigningCredentials, urlSigner } from '../../lfs/store/sigv4.js';

const now = new Date('2026-11-30T05:43:07.123Z');

async function sdkUrl(creds: SigningCredentials, region: string, r: { method: string; protocol: string; hostname: string; port?: number; path: string; query: Record<string, string>; headers?: Record<string, string> }, expiresIn: number): Promise<string> {
  const client = new S3Client({ region, credentials: creds });
  const presigner = new S3RequestPresigner({ ...client.config, signingName: 's3', region: async () => region });
  const host = r.port ? `${r.hostname}:${r.port}` : r.hostname;
  const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const names = new Set(Object.keys(headers));
  const signed = await presigner.presign(
    { method: r.method, protocol: r.protocol, hostname: r.hostname, port: r.port, path: r.path, query: { ...r.query }, headers: { host, ...headers } },
    { expiresIn, signingDate: now, signableHeaders: names, unhoistableHeaders: new Set(names), signingRegion: region, signingService: 's3' },
  );
  const q = signed.query ?? {};
  const query = Object.keys(q).sort().map((k) => `${rfc3986(k)}=${rfc3986(String(q[k]))}`).join('&');
  return `${r.protocol}//${host}${signed.path}?${query}`;
}

describe('presignUrl', () => {
  const keys: SigningCredentials = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const cases: [string, SigningCredentials, string, Parameters<typeof sdkUrl>[2], number][] = [
    ['an upload part (path style, a port)', keys, 'us-east-1', { method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: '/bucket/lfs/staging/abcDEF_-123', query: { partNumber: '10000', uploadId: 'VXBsb2FkIElE+/=~x', 'x-id': 'UploadPart' } }, 86400],
    ['a download (virtual host)', keys, 'eu-west-3', { method: 'GET', protocol: 'https:', hostname: 'bucket.s3.eu-west-3.amazonaws.com', path: '/lfs/objects/ab/cd/abcd', query: { 'response-content-type': 'application/octet-stream', 'x-id': 'GetObject' } }, 3600],
    ['an upload with signed headers and a session token', { ...keys, sessionToken: 'FwoGZXIvYXdzE//token+with/special=chars' }, 'us-west-2', { method: 'PUT', protocol: 'https:', hostname: 'bucket.s3.us-west-2.amazonaws.com', path: '/lfs/staging/up', query: { 'x-id': 'PutObject' }, headers: { 'Content-Type': 'application/octet-stream', 'x-amz-checksum-sha256': 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=' } }, 604800],
  ];

  it.each(cases)('signs %s exactly as the AWS SDK does', async (_what, creds, region, request, expiresIn) => {
    const ours = presignUrl({
      method: request.method, protocol: request.protocol, host: request.port ? `${request.hostname}:${request.port}` : request.hostname, path: request.path,
      query: request.query, headers: request.headers, region, service: 's3', expiresIn, credentials: creds, now,
    });
    expect(ours).toBe(await sdkUrl(creds, region, request, expiresIn));
  });

  it('signs the part URLs of one upload, prepared once, exactly as the AWS SDK signs each', async () => {
    const request = { method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: '/bucket/lfs/staging/up', query: { uploadId: 'id+/=', 'x-id': 'UploadPart' } };
    const signPart = urlSigner({ method: 'PUT', protocol: 'http:', host: '127.0.0.1:9000', path: request.path, query: request.query, region: 'us-east-1', service: 's3', expiresIn: 86400, credentials: keys, now });
    for (const n of ['1', '2', '9999', '10000']) {
      expect(signPart({ partNumber: n })).toBe(await sdkUrl(keys, 'us-east-1', { ...request, query: { ...request.query, partNumber: n } }, 86400));
    }
  });

  it('signs the objects of one batch, prepared once, exactly as the AWS SDK signs each', async () => {
    const query = { 'response-content-type': 'application/octet-stream', 'x-id': 'GetObject' };
    const sign = requestSigner({ method: 'GET', protocol: 'https:', host: 'bucket.s3.eu-west-3.amazonaws.com', query, region: 'eu-west-3', service: 's3', expiresIn: 3600, credentials: keys, now });
    const paths = ['/lfs/objects/ab/cd/abcd', '/lfs/objects/01/23/0123', '/lfs/objects/ff/ee/ffee'];
    const urls = paths.map((p) => sign(p));
    for (const [i, p] of paths.entries()) {
      expect(urls[i]).toBe(await sdkUrl(keys, 'eu-west-3', { method: 'GET', protocol: 'https:', hostname: 'bucket.s3.eu-west-3.amazonaws.com', path: p, query }, 3600));
    }
    expect(new Set(urls.map((u) => new URL(u).searchParams.get('X-Amz-Signature'))).size).toBe(paths.length);
  });

  it('a different secret, time or part number gives a different signature', () => {
    const base = { method: 'PUT', protocol: 'http:', host: 'h:1', path: '/b/k', query: { partNumber: '1' }, region: 'us-east-1', service: 's3', expiresIn: 60, credentials: keys, now };
    const sig = (url: string) => new URL(url).searchParams.get('X-Amz-Signature');
    const first = sig(presignUrl(base));
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(sig(presignUrl({ ...base, credentials: { ...keys, secretAccessKey: 'other' } }))).not.toBe(first);
    expect(sig(presignUrl({ ...base, now: new Date(now.getTime() + 1000) }))).not.toBe(first);
    expect(sig(presignUrl({ ...base, query: { partNumber: '2' } }))).not.toBe(first);
  });
});
