import { PassThrough, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { badRequest } from '../../src/domain/errors.js';
import { OBJECT_STORE_DOWN, ServiceUnavailable } from '../../src/domain/faults.js';
import { OID } from '../protocol.js';
import { requestSigner } from './sigv4.js';
import type { ObjectStore, PartEtag, StagedUpload, StoredObject, Target } from './types.js';

// The S3 store: any S3-compatible endpoint. Clients PUT and GET the bucket directly through
// presigned URLs, so no LFS byte passes through hubgate, except when an endpoint cannot check
// checksums and verify has to read the staged bytes back to hash them (see stagedChecksumVerified).
//
//   {prefix}objects/{oid[0:2]}/{oid[2:4]}/{oid}   content-addressed, confirmed objects
//   {prefix}staging/{uploadId}                    uploads in progress, never downloadable

const UPLOAD_ID = /^[A-Za-z0-9_-]{16,64}$/;
const GiB = 1024 ** 3;
const MAX_PARTS = 10_000;
/** S3's largest CopyObject, and its largest part: bigger objects are copied in ranges with UploadPartCopy. */
export const COPY_LIMIT = 5 * GiB;
/** SigV4 presigned URLs live at most 7 days. */
const MAX_PRESIGN_TTL = 7 * 24 * 3600;
const OCTET_STREAM = 'application/octet-stream';
const DOWNLOAD_QUERY = { 'response-content-type': OCTET_STREAM, 'x-id': 'GetObject' };
const UPLOAD_QUERY = { 'x-id': 'PutObject' };

/** The store's settings (HUBGATE_S3_*). */
export interface S3Settings {
  s3Bucket?: string;
  s3Endpoint?: string;
  s3Region: string;
  s3ForcePathStyle: boolean;
  s3Prefix: string;
  s3TimeoutMs?: number;
}

/** Attempts per S3 request (the SDK's standard retries, with backoff) before hubgate gives up. */
const MAX_ATTEMPTS = 3;
/** Seconds a client is told to wait (Retry-After) when the object store is down. */
const RETRY_AFTER = 10;
const NETWORK_FAULTS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * The answer for an S3 error that means the store is down or frozen (a timeout, a refused or
 * reset connection, a 5xx), or undefined for an answer about the request itself. 501 is the
 * endpoint saying it lacks an operation (see isUnsupported), not an outage.
 */
export function objectStoreFault(err: unknown): ServiceUnavailable | undefined {
  if (err instanceof ServiceUnavailable) return err;
  const e = err as { name?: string; code?: string } | null;
  const status = statusOf(err);
  if (e?.name === 'TimeoutError' || NETWORK_FAULTS.has(e?.code ?? '') || (status !== undefined && status >= 500 && status !== 501)) {
    // The SDK's own error stays as the cause, for the log.
    return Object.assign(new ServiceUnavailable(OBJECT_STORE_DOWN, RETRY_AFTER), { cause: err });
  }
  return undefined;
}

export interface S3StoreOptions {
  /** A client to use instead of one built from the settings (tests). */
  client?: S3Client;
  /** Objects larger than this are committed by multipart copy (default COPY_LIMIT; tests lower it). */
  copyLimit?: number;
  /** Range size of a multipart copy (default 1 GiB; raised so there are at most 10,000 parts). */
  copyPartSize?: number;
  /** Objects hubgate itself puts (putStaged) larger than this go up in parts of this size (default 16 MiB; at least 5 MiB in S3). */
  putPartSize?: number;
}

export interface S3Store extends ObjectStore {
  readonly kind: 's3';
  readonly client: S3Client;
  readonly bucket: string;
  objectKey(oid: string): string;
  stagingKey(upload: StagedUpload): string;
  /** True when S3 holds a SHA-256 checksum for the staged object equal to the oid (S3 checked it on PUT). */
  stagedChecksumVerified(upload: StagedUpload): Promise<boolean>;
}

/** `x-amz-checksum-sha256` of an object whose sha256 is `oid`: base64 of the digest's bytes. */
export function checksumOf(oid: string): string {
  return Buffer.from(oid, 'hex').toString('base64');
}

/** Inclusive byte ranges of `partSize` (the last one shorter) covering `size` bytes. */
export function copyRanges(size: number, partSize: number): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  for (let start = 0; start < size; start += partSize) ranges.push({ start, end: Math.min(start + partSize, size) - 1 });
  return ranges;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function isMissing(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return statusOf(err) === 404 || name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchUpload';
}

/** The endpoint does not implement the operation at all (s3rver has no AbortMultipartUpload, for one). */
function isUnsupported(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return statusOf(err) === 405 || statusOf(err) === 501 || name === 'MethodNotAllowed' || name === 'NotImplemented';
}

/** Where and how the SDK addresses the bucket, learned once from one SDK-presigned URL. */
interface Addressing {
  protocol: string;
  hostname: string;
  port?: number;
  host: string;
  /** Path up to the key, ending in "/". */
  base: string;
  region: string;
  service: string;
}

interface Presign {
  method: 'GET' | 'PUT';
  key: string;
  query: Record<string, string>;
  /** Headers the client must send; all are signed, none is moved into the URL. */
  headers?: Record<string, string>;
  ttl: number;
}

/**
 * The origin (scheme://host[:port]) of the presigned URLs the store hands out: the endpoint's,
 * or the bucket's virtual host on it. Made by the SDK's own endpoint rules from the settings
 * alone, with placeholder credentials (a signature is not needed, only the URL's host), so it
 * needs no network and works before any credential is available.
 */
export async function presignedOrigin(cfg: S3Settings): Promise<string> {
  if (!cfg.s3Bucket) throw new Error('the s3 store needs HUBGATE_S3_BUCKET');
  const client = new S3Client({
    region: cfg.s3Region,
    endpoint: cfg.s3Endpoint,
    forcePathStyle: cfg.s3ForcePathStyle,
    credentials: { accessKeyId: 'origin-probe', secretAccessKey: 'origin-probe' },
  });
  try {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: cfg.s3Bucket, Key: `${cfg.s3Prefix}hubgate-probe` }), { expiresIn: 60 });
    return new URL(url).origin;
  } finally {
    client.destroy();
  }
}

export function createS3Store(cfg: S3Settings, opts: S3StoreOptions = {}): S3Store {
  if (!cfg.s3Bucket) throw new Error('the s3 store needs HUBGATE_S3_BUCKET');
  const Bucket = cfg.s3Bucket;
  const prefix = cfg.s3Prefix;
  const copyLimit = opts.copyLimit ?? COPY_LIMIT;
  const copyPartSize = opts.copyPartSize ?? GiB;
  const putPartSize = opts.putPartSize ?? 16 * 1024 ** 2;
  // Credentials come from the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
  // profiles, instance roles). Checksums only when an operation requires them: by default the
  // SDK would add a CRC32 of the (empty, unknown) body to presigned part URLs, which the clients
  // then cannot satisfy.
  //
  // Without timeouts a frozen endpoint holds every request forever: connecting and any silence
  // (waiting for an answer, or in the middle of a body) are bounded by s3TimeoutMs, and the SDK
  // retries MAX_ATTEMPTS times with backoff. Timed-out sockets are destroyed, so nothing of a
  // frozen endpoint stays in the client once it answers again.
  const timeout = cfg.s3TimeoutMs ?? 15_000;
  const client =
    opts.client ??
    new S3Client({
      region: cfg.s3Region,
      endpoint: cfg.s3Endpoint,
      forcePathStyle: cfg.s3ForcePathStyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: MAX_ATTEMPTS,
      requestHandler: { connectionTimeout: timeout, socketTimeout: timeout },
    });
  /** client.send, with outages turned into ServiceUnavailable (503 OBJECT_STORE_DOWN). */
  const send = (async (command: Parameters<S3Client['send']>[0]) => {
    try {
      return await client.send(command);
    } catch (err) {
      throw objectStoreFault(err) ?? err;
    }
  }) as S3Client['send'];

  const objectKey = (oid: string) => {
    if (!OID.test(oid)) throw new Error(`invalid oid ${oid}`);
    return `${prefix}objects/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;
  };
  const xorbKey = (hash: string) => {
    if (!OID.test(hash)) throw new Error(`invalid xorb hash ${hash}`);
    return `${prefix}xet/xorbs/${hash}`;
  };
  const stagingKey = (u: StagedUpload) => {
    if (!UPLOAD_ID.test(u.id)) throw new Error('invalid upload id');
    return `${prefix}staging/${u.id}`;
  };
  const partCount = (u: StagedUpload) => Math.max(1, Math.ceil(u.size / u.chunkSize!));

  // getSignedUrl runs the SDK's whole middleware stack (endpoint rules included) and costs
  // ~2.5 ms a URL: 2.5 s for a batch of 1,000 objects, 25 s for 10,000 part URLs. The endpoint
  // only depends on the bucket, so it is resolved once, from one URL getSignedUrl makes, and
  // each URL is then signed by hubgate's SigV4 presigner (sigv4.ts, ~4 µs). Our keys need no escaping
  // ([A-Za-z0-9._/-] only), so the path is the base plus the key. The tests check the URLs are
  // the ones getSignedUrl makes.
  let addressing: Promise<Addressing | null> | undefined;
  async function resolveAddressing(): Promise<Addressing | null> {
    const probe = `${prefix}hubgate-probe`;
    const url = new URL(await getSignedUrl(client, new GetObjectCommand({ Bucket, Key: probe }), { expiresIn: 60 }));
    const scope = (url.searchParams.get('X-Amz-Credential') ?? '').split('/');
    if (!url.pathname.endsWith(`/${probe}`) || scope.length !== 5) return null;
    const [region, service] = [scope[2], scope[3]];
    return {
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      host: url.host,
      base: url.pathname.slice(0, -probe.length),
      region,
      service,
    };
  }

  /**
   * Prepares the signing of a request whose URLs differ only in `extra` query parameters (the
   * part number of a part URL), with the bucket's addressing and the credentials resolved once: a
   * batch signs up to 10,000 URLs, and each await of the SDK's credential chain costs more than
   * the signature itself.
   */
  async function presigner(p: Presign): Promise<(extra?: Record<string, string>) => string | Promise<string>> {
    const sign = await keySigner(p);
    return (extra) => sign(p.key, extra);
  }

  /**
   * As presigner, for requests that differ in their key as well: the objects of one batch, all
   * signed with one date and the signing key derived for it (sigv4.ts keeps it for the day).
   */
  async function keySigner(p: Omit<Presign, 'key'>): Promise<(key: string, extra?: Record<string, string>) => string | Promise<string>> {
    if (!addressing) {
      // A failed probe (no credentials yet, endpoint down) is tried again by the next URL.
      addressing = resolveAddressing();
      addressing.catch(() => (addressing = undefined));
    }
    const a = await addressing;
    if (!a) return (key, extra) => slowPresign({ ...p, key, query: { ...p.query, ...extra } });
    const sign = requestSigner({
      method: p.method, protocol: a.protocol, host: a.host, query: p.query, headers: p.headers,
      region: a.region, service: a.service, expiresIn: Math.min(p.ttl, MAX_PRESIGN_TTL), credentials: await client.config.credentials(),
    });
    return (key, extra) => sign(`${a.base}${key}`, extra);
  }

  async function presign(p: Presign): Promise<string> {
    return (await presigner(p))();
  }

  /** The same URL made by getSignedUrl, for endpoints whose URLs do not end in the key. */
  async function slowPresign(p: Presign): Promise<string> {
    const Key = p.key;
    const names = new Set(Object.keys(p.headers ?? {}).map((k) => k.toLowerCase()));
    const options = { expiresIn: Math.min(p.ttl, MAX_PRESIGN_TTL), signableHeaders: names, unhoistableHeaders: new Set(names) };
    if (p.query['x-id'] === 'UploadPart') {
      return getSignedUrl(client, new UploadPartCommand({ Bucket, Key, UploadId: p.query.uploadId, PartNumber: Number(p.query.partNumber) }), options);
    }
    if (p.method === 'PUT') {
      return getSignedUrl(client, new PutObjectCommand({ Bucket, Key, ContentType: p.headers?.['Content-Type'], ChecksumSHA256: p.headers?.['x-amz-checksum-sha256'] }), options);
    }
    return getSignedUrl(client, new GetObjectCommand({ Bucket, Key, ResponseContentType: p.query['response-content-type'] }), options);
  }

  /** The object's metadata, or null when there is none. S3 answers 403, not 404, for a missing key
   * when the credentials may not s3:ListBucket; that stays an error (grant ListBucket on the prefix). */
  async function head(Key: string, checksum = false): Promise<HeadObjectCommandOutput | null> {
    try {
      return await send(new HeadObjectCommand({ Bucket, Key, ...(checksum ? { ChecksumMode: 'ENABLED' as const } : {}) }));
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  // ETag of the staged object as readStaged saw it, per upload: commitStaged copies only that
  // version (CopySourceIfMatch), so bytes PUT again to the staging key while they were being
  // hashed are never committed in place of the hashed ones. Kept in this process only: the
  // process that commits is always the one that hashed (lfs/transfers.ts hashes again when it
  // takes over an upload another process, maybe on another node, had hashed).
  const hashedEtags = new Map<string, string>();

  let warnedAbort = false;
  async function abort(Key: string, UploadId: string): Promise<void> {
    try {
      await send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    } catch (err) {
      if (isMissing(err)) return;
      if (!isUnsupported(err)) throw err;
      // Nothing more can be done here; a bucket lifecycle rule (AbortIncompleteMultipartUpload) cleans up.
      if (!warnedAbort) {
        warnedAbort = true;
        process.emitWarning(`the S3 endpoint does not implement AbortMultipartUpload (${(err as Error).name}): parts of abandoned uploads stay in the bucket until a lifecycle rule removes them`);
      }
    }
  }

  /** Copies an object over COPY_LIMIT in ranges (UploadPartCopy), a few at a time. */
  async function copyInParts(from: string, to: string, size: number, ifMatch: string | undefined): Promise<void> {
    const created = await send(new CreateMultipartUploadCommand({ Bucket, Key: to, ContentType: OCTET_STREAM }));
    const UploadId = created.UploadId;
    if (!UploadId) throw new Error('S3 returned no UploadId for a multipart copy');
    try {
      const partSize = Math.min(COPY_LIMIT, Math.max(copyPartSize, Math.ceil(size / MAX_PARTS)));
      const ranges = copyRanges(size, partSize);
      const etags: string[] = new Array(ranges.length);
      let next = 0;
      let failed = false;
      const worker = async () => {
        while (!failed && next < ranges.length) {
          const i = next++;
          const out = await send(
            new UploadPartCopyCommand({
              Bucket, Key: to, UploadId, PartNumber: i + 1, CopySource: `${Bucket}/${from}`, CopySourceRange: `bytes=${ranges[i].start}-${ranges[i].end}`,
              CopySourceIfMatch: ifMatch,
            }),
          );
          if (!out.CopyPartResult?.ETag) throw new Error(`S3 returned no ETag for copied part ${i + 1}`);
          etags[i] = out.CopyPartResult.ETag;
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(4, ranges.length) }, () =>
          worker().catch((err) => {
            failed = true;
            throw err;
          }),
        ),
      );
      await send(
        new CompleteMultipartUploadCommand({ Bucket, Key: to, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) } }),
      );
    } catch (err) {
      await abort(to, UploadId).catch(() => {});
      throw err;
    }
  }

  /** Every key under `under` with its size and time, page by page (ListObjectsV2). */
  async function* listKeys(under: string): AsyncGenerator<{ key: string; size: number; lastModified: Date }> {
    let ContinuationToken: string | undefined;
    do {
      const out = await send(new ListObjectsV2Command({ Bucket, Prefix: under, ContinuationToken }));
      for (const o of out.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
      ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async function deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const out = await send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length) throw new Error(`S3 could not delete ${failed.length} objects (${failed[0].Key}: ${failed[0].Code} ${failed[0].Message})`);
    }
  }

  return {
    kind: 's3',
    client,
    bucket: Bucket,
    objectKey,
    stagingKey,

    async ready(signal) {
      // Ended at the deadline (the SDK's retries included): /readyz asks again at its next probe.
      await client.send(new HeadBucketCommand({ Bucket }), { abortSignal: signal });
    },

    async stat(oid) {
      const h = await head(objectKey(oid));
      return h ? (h.ContentLength ?? 0) : null;
    },

    async readObject(oid) {
      const out = await send(new GetObjectCommand({ Bucket, Key: objectKey(oid) }));
      if (!out.Body) throw new Error('S3 returned no body for the object');
      const body = out.Body as Readable;
      const faults = new PassThrough();
      body.on('error', (err) => faults.destroy(objectStoreFault(err) ?? err));
      return body.pipe(faults);
    },

    downloadOrigin: () => presignedOrigin(cfg),

    async downloadTarget(oid, _size, _where, ttl): Promise<Target> {
      return { href: await presign({ method: 'GET', key: objectKey(oid), query: DOWNLOAD_QUERY, ttl }) };
    },

    async downloadTargets(objects, _where, ttl): Promise<Target[]> {
      const sign = await keySigner({ method: 'GET', query: DOWNLOAD_QUERY, ttl });
      const targets: Target[] = [];
      for (const o of objects) targets.push({ href: await sign(objectKey(o.oid)) });
      return targets;
    },

    async uploadTargets(uploads, ttl, opts): Promise<Target[]> {
      // Signed headers hold each object's checksum, so only header-less URLs share their signing.
      if (opts.clientSendsHeaders) return Promise.all(uploads.map((u) => this.uploadTarget(u, ttl, opts)));
      const sign = await keySigner({ method: 'PUT', query: UPLOAD_QUERY, ttl });
      const targets: Target[] = [];
      for (const u of uploads) targets.push({ href: await sign(stagingKey(u)) });
      return targets;
    },

    async uploadTarget(u, ttl, { clientSendsHeaders }): Promise<Target> {
      const key = stagingKey(u);
      if (!clientSendsHeaders) {
        // Signed over host only, no header: the client PUTs the raw bytes and nothing else (a
        // header the URL signs but the client leaves out is a 403 from S3, and S3 refuses x-amz-*
        // headers that are not signed). S3 then checks no checksum: stagedChecksumVerified answers
        // false and verify hashes the staged bytes before linking them.
        return { href: await presign({ method: 'PUT', key, query: UPLOAD_QUERY, ttl }) };
      }
      // Both headers are signed, so the client must send them as they are, and S3 refuses a
      // body whose sha256 is not the oid (BadDigest). The action header makes git-lfs send them.
      const header = { 'Content-Type': OCTET_STREAM, 'x-amz-checksum-sha256': checksumOf(u.oid) };
      return { href: await presign({ method: 'PUT', key, query: { 'x-id': 'PutObject' }, headers: header, ttl }), header };
    },

    async putStaged(u, body) {
      const Key = stagingKey(u);
      const partSize = Math.max(putPartSize, Math.ceil(u.size / MAX_PARTS));
      if (u.size <= partSize) {
        // One request: S3 checks the checksum, so stagedChecksumVerified can prove the bytes.
        await send(new PutObjectCommand({ Bucket, Key, Body: body, ContentLength: u.size, ContentType: OCTET_STREAM, ChecksumSHA256: checksumOf(u.oid) }));
        return;
      }
      const created = await send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: OCTET_STREAM }));
      const UploadId = created.UploadId;
      if (!UploadId) throw new Error('S3 returned no UploadId');
      try {
        const parts: { PartNumber: number; ETag: string }[] = [];
        const sendPart = async (bytes: Buffer) => {
          const PartNumber = parts.length + 1;
          const out = await send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: bytes, ContentLength: bytes.length }));
          if (!out.ETag) throw new Error(`S3 returned no ETag for part ${PartNumber}`);
          parts.push({ PartNumber, ETag: out.ETag });
        };
        // One part in memory at a time: chunks are gathered until a part is full, then sent.
        let held: Buffer[] = [];
        let heldBytes = 0;
        let total = 0;
        for await (const chunk of body) {
          const b = chunk as Buffer;
          held.push(b);
          heldBytes += b.length;
          total += b.length;
          while (heldBytes >= partSize) {
            const all = Buffer.concat(held);
            await sendPart(all.subarray(0, partSize));
            held = all.length > partSize ? [all.subarray(partSize)] : [];
            heldBytes = all.length - partSize;
          }
        }
        if (heldBytes > 0 || parts.length === 0) await sendPart(Buffer.concat(held));
        if (total !== u.size) throw badRequest(`expected ${u.size} bytes, received ${total}`);
        await send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
      } catch (err) {
        body.destroy();
        await abort(Key, UploadId).catch(() => {});
        throw err;
      }
    },

    async startMultipart(u) {
      const out = await send(new CreateMultipartUploadCommand({ Bucket, Key: stagingKey(u), ContentType: OCTET_STREAM }));
      if (!out.UploadId) throw new Error('S3 returned no UploadId');
      return out.UploadId;
    },

    async partTargets(u, ttl) {
      if (!u.storeUploadId) throw new Error('this upload has no S3 multipart upload id');
      const key = stagingKey(u);
      // No headers: the Hugging Face clients PUT the raw bytes of each part and nothing else.
      // Every part URL is signed over the same request but its part number: prepared once.
      const signPart = await presigner({ method: 'PUT', key, query: { uploadId: u.storeUploadId, 'x-id': 'UploadPart' }, ttl });
      const urls: string[] = [];
      for (let n = 1; n <= partCount(u); n++) urls.push(await signPart({ partNumber: String(n) }));
      return urls;
    },

    async completeMultipart(u, parts: PartEtag[]) {
      const count = partCount(u);
      if (parts.length !== count || parts.some((p, i) => p.partNumber !== i + 1)) throw badRequest(`expected parts 1 to ${count} in order`);
      if (!u.storeUploadId) throw new Error('this upload has no S3 multipart upload id');
      try {
        await send(
          new CompleteMultipartUploadCommand({
            Bucket, Key: stagingKey(u), UploadId: u.storeUploadId,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
          }),
        );
      } catch (err) {
        // InvalidPart, InvalidPartOrder, EntityTooSmall (400), NoSuchUpload (404): the client's parts, not our fault.
        const status = statusOf(err);
        if (status === 400 || status === 404) throw badRequest(`the object store refused to assemble the parts: ${(err as Error).name}: ${(err as Error).message}`);
        throw err;
      }
    },

    async abortMultipart(u) {
      if (u.storeUploadId) await abort(stagingKey(u), u.storeUploadId);
    },

    async stagedSize(u) {
      const h = await head(stagingKey(u));
      return h ? (h.ContentLength ?? 0) : null;
    },

    async stagedChecksumVerified(u) {
      const h = await head(stagingKey(u), true);
      return !!h && h.ChecksumSHA256 === checksumOf(u.oid);
    },

    async readStaged(u) {
      const out = await send(new GetObjectCommand({ Bucket, Key: stagingKey(u) }));
      if (!out.Body) throw new Error('S3 returned no body for the staged object');
      if (out.ETag) hashedEtags.set(u.id, out.ETag);
      // The body can stall or break halfway too: that is an outage, not a bad upload.
      const body = out.Body as Readable;
      const faults = new PassThrough();
      body.on('error', (err) => faults.destroy(objectStoreFault(err) ?? err));
      return body.pipe(faults);
    },

    async commitStaged(u) {
      const from = stagingKey(u);
      const to = objectKey(u.oid);
      const ifMatch = hashedEtags.get(u.id);
      // Already stored (another repo's upload of the same bytes): the staged copy is not needed.
      if ((await head(to)) === null) {
        if (u.size > copyLimit) await copyInParts(from, to, u.size, ifMatch);
        else await send(new CopyObjectCommand({ Bucket, Key: to, CopySource: `${Bucket}/${from}`, CopySourceIfMatch: ifMatch }));
      }
      await send(new DeleteObjectCommand({ Bucket, Key: from }));
      hashedEtags.delete(u.id);
    },

    async discardStaged(u) {
      // DeleteObject succeeds whether or not the key exists. Parts of an unfinished multipart
      // upload are not staged bytes yet: abortMultipart removes them.
      await send(new DeleteObjectCommand({ Bucket, Key: stagingKey(u) }));
      hashedEtags.delete(u.id);
    },

    async stagedIds(before) {
      const ids: string[] = [];
      for await (const o of listKeys(`${prefix}staging/`)) {
        const id = o.key.slice(`${prefix}staging/`.length);
        if (UPLOAD_ID.test(id) && o.lastModified.getTime() < before.getTime()) ids.push(id);
      }
      return ids;
    },

    async stagedMultiparts(before) {
      const found: { id: string; storeUploadId: string }[] = [];
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      for (;;) {
        let out;
        try {
          out = await send(new ListMultipartUploadsCommand({ Bucket, Prefix: `${prefix}staging/`, KeyMarker, UploadIdMarker }));
        } catch (err) {
          // An endpoint without the listing (s3rver) leaves the parts to the bucket's lifecycle rule.
          if (isUnsupported(err)) return found;
          throw err;
        }
        for (const u of out.Uploads ?? []) {
          const id = (u.Key ?? '').slice(`${prefix}staging/`.length);
          if (u.UploadId && UPLOAD_ID.test(id) && (u.Initiated?.getTime() ?? 0) < before.getTime()) found.push({ id, storeUploadId: u.UploadId });
        }
        if (!out.IsTruncated) return found;
        KeyMarker = out.NextKeyMarker;
        UploadIdMarker = out.NextUploadIdMarker;
      }
    },

    async *listObjects(): AsyncGenerator<StoredObject> {
      const under = `${prefix}objects/`;
      for await (const o of listKeys(under)) {
        const oid = o.key.slice(o.key.lastIndexOf('/') + 1);
        if (OID.test(oid) && o.key === objectKey(oid)) yield { oid, size: o.size, lastModified: o.lastModified };
      }
    },

    async putXorb(hash, bytes) {
      const Key = xorbKey(hash);
      if ((await head(Key))?.ContentLength === bytes.length) return;
      await send(new PutObjectCommand({ Bucket, Key, Body: bytes, ContentLength: bytes.length, ContentType: OCTET_STREAM }));
    },
    async readXorb(hash, start, end) {
      const out = await send(new GetObjectCommand({ Bucket, Key: xorbKey(hash), Range: `bytes=${start}-${end}` }));
      if (!out.Body) throw new Error('S3 returned no body for the xorb');
      const body = out.Body as Readable;
      const faults = new PassThrough();
      body.on('error', (err) => faults.destroy(objectStoreFault(err) ?? err));
      return body.pipe(faults);
    },
    async xorbRangeUrl(hash, start, end, ttl) {
      return presign({ method: 'GET', key: xorbKey(hash), query: { 'x-id': 'GetObject' }, headers: { Range: `bytes=${start}-${end}` }, ttl });
    },
    async deleteObject(oid) {
      await send(new DeleteObjectCommand({ Bucket, Key: objectKey(oid) }));
    },

    async deleteObjects(oids) {
      await deleteKeys(oids.map(objectKey));
    },
    async deleteXorbs(hashes) {
      await deleteKeys(hashes.map(xorbKey));
    },
  };
}
