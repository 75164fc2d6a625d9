// Reconstruction answers (xet/reconstruction.ts): planned over the files and xorbs @huggingface/hub
// uploads, served to its own downloader (XetBlob, through a fetch that answers the read token, the
// v2 reconstruction and the xorb ranges), which must give back each file and each byte range exactly.
import crypto from 'node:crypto';
import { __internal_XetBlob as XetBlob } from '@huggingface/hub';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashFromString, hashToString } from '../../xet/hash.js';
import { type FileTerm, type XorbLayout, planReconstruction, reconstructionV1, reconstructionV2 } from '../../xet/reconstruction.js';
import { type ShardFile, parseShard } from '../../xet/shard.js';
import { type VerifiedXorb, verifyXorb } from '../../xet/xorb.js';
import { type CapturedUpload, captureXetUpload } from '../helpers/xet-client-capture.js';

const x = new Uint8Array(crypto.randomBytes(1_200_000));
const y = new Uint8Array(crypto.randomBytes(500_000));
const FILES = [
  // Its second copy of x is deduplicated against the first: a file of several terms.
  { path: 'repeats.bin', content: Buffer.concat([x, y, x, new Uint8Array(crypto.randomBytes(300_000))]) },
  { path: 'small.bin', content: new Uint8Array(crypto.randomBytes(5000)) },
];

describe('reconstructions served to the client downloader', () => {
  let upload: CapturedUpload;
  const xorbs = new Map<string, { body: Uint8Array; verified: VerifiedXorb }>();
  let files: ShardFile[];
  const layoutOf = (h: Uint8Array): XorbLayout => xorbs.get(hashToString(h))!.verified;
  const requests: string[] = [];

  beforeAll(async () => {
    upload = await captureXetUpload(FILES);
    for (const { hash, body } of upload.xorbs) xorbs.set(hash, { body, verified: verifyXorb(body, hashFromString(hash)!) });
    files = upload.shards.flatMap((s) => parseShard(s, { upload: true }).files);
  });

  /** What a CAS answering v2 reconstructions and xorb ranges does, as a fetch. */
  const casFetch = (file: ShardFile) => async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const range = new Headers(init.headers).get('Range');
    requests.push(`${url.pathname} ${range}`);
    if (url.pathname.endsWith('/xet-read-token/main')) return Response.json({ accessToken: 't', exp: Math.floor(Date.now() / 1000) + 600, casUrl: 'http://cas.test' });
    const [, s, e] = /^bytes=(\d+)-(\d+)$/.exec(range ?? '') ?? [];
    if (url.pathname === `/v2/reconstructions/${hashToString(file.hash)}`) {
      const plan = planReconstruction(file.terms, layoutOf, s === undefined ? undefined : { start: Number(s), end: Number(e) + 1 });
      if (!plan) return new Response('', { status: 416 });
      return Response.json(reconstructionV2(plan, (xorb, r) => `http://cas.test/xorbs/${xorb}?range=${r.bytes.start}-${r.bytes.end}`));
    }
    if (url.pathname.startsWith('/xorbs/')) {
      const body = xorbs.get(url.pathname.slice('/xorbs/'.length))!.body;
      expect(url.searchParams.get('range'), 'the client asks for the signed range').toBe(`${s}-${e}`);
      return new Response(body.slice(Number(s), Number(e) + 1), { status: 206 });
    }
    return new Response('not found', { status: 404 });
  };

  const download = async (file: ShardFile, start?: number, end?: number) => {
    const blob = new XetBlob({
      hash: hashToString(file.hash),
      refreshUrl: 'http://hub.test/api/models/u/r/xet-read-token/main',
      size: file.size,
      fetch: casFetch(file) as typeof fetch,
      accessToken: 'hf_test',
      parallelDownloads: false,
    });
    return new Uint8Array(await (start === undefined ? blob : blob.slice(start, end)).arrayBuffer());
  };

  it('the uploaded file of several terms comes back whole', async () => {
    const file = files.find((f) => f.size === FILES[0].content.length)!;
    expect(file.terms.length).toBeGreaterThan(1);
    const got = await download(file);
    expect(Buffer.compare(got, FILES[0].content)).toBe(0);
    expect(requests.some((r) => r.startsWith('/v2/reconstructions/'))).toBe(true);
  });

  it('byte ranges come back exactly, fetching only the chunks they touch', async () => {
    const file = files.find((f) => f.size === FILES[0].content.length)!;
    const content = FILES[0].content;
    const size = content.length;
    for (const [start, end] of [[0, 1], [1, 70_000], [65_000, 300_000], [1_199_990, 1_700_010], [size - 5, size], [1_000_000, size + 1000], [123_456, 123_457]]) {
      const got = await download(file, start, end);
      expect(Buffer.compare(got, content.subarray(start, Math.min(end, size))), `bytes ${start}-${end}`).toBe(0);
    }
    const plan = planReconstruction(file.terms, layoutOf, { start: 65_000, end: 66_000 })!;
    expect(plan.terms.length).toBe(1);
    expect(plan.terms[0].end - plan.terms[0].start).toBeLessThanOrEqual(2);
    expect(plan.terms[0].size).toBeLessThan(3 * 128 * 1024);
  });

  it('a small file comes back too', async () => {
    const file = files.find((f) => f.size === FILES[1].content.length)!;
    expect(Buffer.compare(await download(file), FILES[1].content)).toBe(0);
  });
});

describe('reconstruction plans', () => {
  // Two xorbs of chunks of 10, 20, 30, 40 bytes (stored with 8-byte headers, uncompressed).
  const layout = (sizes: number[]): XorbLayout => {
    let offset = 0;
    return { chunks: sizes.map((size) => ({ size, offset, end: (offset += 8 + size) })) };
  };
  const a = new Uint8Array(32).fill(1);
  const b = new Uint8Array(32).fill(2);
  const layouts = new Map([[hashToString(a), layout([10, 20, 30, 40])], [hashToString(b), layout([5, 5, 5])]]);
  const layoutOf = (h: Uint8Array) => layouts.get(hashToString(h))!;
  // The file: a[1,3) (50 bytes), b[0,3) (15), a[0,2) (30): 95 bytes.
  const terms: FileTerm[] = [
    { xorb: a, start: 1, end: 3, size: 50 },
    { xorb: b, start: 0, end: 3, size: 15 },
    { xorb: a, start: 0, end: 2, size: 30 },
  ];

  it('cover the whole file by default, and merge overlapping chunk ranges per xorb', () => {
    const plan = planReconstruction(terms, layoutOf)!;
    expect(plan.offsetIntoFirstRange).toBe(0);
    expect(plan.terms).toEqual(terms);
    expect(plan.fetches.get(hashToString(a))).toEqual([{ chunks: { start: 0, end: 3 }, bytes: { start: 0, end: 18 + 28 + 38 - 1 } }]);
    expect(plan.fetches.get(hashToString(b))).toEqual([{ chunks: { start: 0, end: 3 }, bytes: { start: 0, end: 38 } }]);
  });

  it('narrow the first and last terms to the chunks a range touches', () => {
    // Bytes [25, 58): inside a's chunk 2 (file 20..50), then b's chunks 0 and 1 (50..60).
    const plan = planReconstruction(terms, layoutOf, { start: 25, end: 58 })!;
    expect(plan.offsetIntoFirstRange).toBe(5);
    expect(plan.terms).toEqual([
      { xorb: a, start: 2, end: 3, size: 30 },
      { xorb: b, start: 0, end: 2, size: 10 },
    ]);
    expect(plan.fetches.get(hashToString(a))).toEqual([{ chunks: { start: 2, end: 3 }, bytes: { start: 18 + 28, end: 18 + 28 + 38 - 1 } }]);
  });

  it('cut a range that runs past the end, and refuse one that starts there', () => {
    const plan = planReconstruction(terms, layoutOf, { start: 90, end: 1000 })!;
    expect(plan.terms).toEqual([{ xorb: a, start: 1, end: 2, size: 20 }]);
    expect(plan.offsetIntoFirstRange).toBe(90 - 65 - 10);
    expect(planReconstruction(terms, layoutOf, { start: 95, end: 96 })).toBeNull();
    expect(planReconstruction([], layoutOf)).toBeNull();
  });

  it('answer in the v1 and v2 shapes', () => {
    const plan = planReconstruction(terms, layoutOf, { start: 25, end: 58 })!;
    const url = (xorb: string, r: { bytes: { start: number; end: number } }) => `u/${xorb}/${r.bytes.start}`;
    const v2 = reconstructionV2(plan, url);
    expect(v2.offset_into_first_range).toBe(5);
    expect(v2.terms[0]).toEqual({ hash: hashToString(a), unpacked_length: 30, range: { start: 2, end: 3 } });
    expect(v2.xorbs[hashToString(b)]).toEqual([{ url: `u/${hashToString(b)}/0`, ranges: [{ chunks: { start: 0, end: 2 }, bytes: { start: 0, end: 25 } }] }]);
    const v1 = reconstructionV1(plan, url);
    expect(v1.fetch_info[hashToString(b)]).toEqual([{ range: { start: 0, end: 2 }, url: `u/${hashToString(b)}/0`, url_range: { start: 0, end: 25 } }]);
  });
});
