// Shards (xet/shard.ts): the shards @huggingface/hub uploads parse and check against their xorbs,
// with the file hash and sha256 the client computed; written shards (dedup answers with a key)
// read back; every layout fault and every inconsistency with the xorbs is refused with a message.
import crypto from 'node:crypto';
import { fileHash as theirFileHash, getChunks, hashToHex } from '@huggingface/xetchunk-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { XetFormatError } from '../../xet/errors.js';
import { type ChunkRef, fileHash, hashFromString, hashToString, keyedHash, verificationHash } from '../../xet/hash.js';
import {
  SHARD_FOOTER_BYTES, SHARD_HEADER_BYTES, type Shard, type ShardFile, checkReconstructions, keyedListing, listedXorbs, listingMatches,
  parseShard, writeShard, xorbListing,
} from '../../xet/shard.js';
import { verifyXorb, writeXorb } from '../../xet/xorb.js';
import { type CapturedUpload, captureXetUpload } from '../helpers/xet-client-capture.js';

const FILES = [
  { path: 'a.bin', content: new Uint8Array(crypto.randomBytes(1_500_000)) },
  { path: 'b.bin', content: new Uint8Array(crypto.randomBytes(700_000)) },
];
const sha256 = (data: Uint8Array) => crypto.createHash('sha256').update(data).digest('hex');

function refused(run: () => unknown, message: string | RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (err) {
    error = err;
  }
  expect(error, 'should be refused').toBeInstanceOf(XetFormatError);
  expect((error as XetFormatError).status).toBe(400);
  expect((error as Error).message).toMatch(message);
}

/** A small world of our own: two xorbs and a file using ranges of both, as a client would upload it. */
function ownUpload() {
  const data = Array.from({ length: 12 }, (_, i) => new Uint8Array(crypto.randomBytes(9000 + i * 100)));
  const x1 = writeXorb(data.slice(0, 7));
  const x2 = writeXorb(data.slice(7));
  const chunksOf = new Map([[hashToString(x1.hash), x1.chunks], [hashToString(x2.hash), x2.chunks]]);
  const lookup = (h: Uint8Array): ChunkRef[] | undefined => chunksOf.get(hashToString(h));
  // The file: chunks 2..6 of x1, then 0..4 of x2.
  const terms = [
    { xorb: x1.hash, flags: 0, start: 2, end: 7, size: x1.chunks.slice(2, 7).reduce((n, c) => n + c.size, 0) },
    { xorb: x2.hash, flags: 0, start: 0, end: 5, size: x2.chunks.reduce((n, c) => n + c.size, 0) },
  ];
  const fileChunks = [...x1.chunks.slice(2, 7), ...x2.chunks];
  const content = Buffer.concat([...data.slice(2, 7), ...data.slice(7)]);
  const file: ShardFile = {
    hash: fileHash(fileChunks),
    terms,
    verification: [verificationHash(x1.chunks.slice(2, 7).map((c) => c.hash)), verificationHash(x2.chunks.map((c) => c.hash))],
    sha256: sha256(content),
    size: content.length,
  };
  const xorbs = [xorbListing(x1.hash, x1.chunks, x1.bytes.length), xorbListing(x2.hash, x2.chunks, x2.bytes.length)];
  return { file, xorbs, lookup, x1, x2 };
}

describe('shards the client uploads', () => {
  let upload: CapturedUpload;
  let shards: Shard[];

  beforeAll(async () => {
    upload = await captureXetUpload(FILES);
    shards = upload.shards.map((s) => parseShard(s, { upload: true }));
  });

  it('parse, with a footer the client adds, and list each file with the client\'s file hash and sha256', () => {
    expect(shards.length).toBeGreaterThan(0);
    for (const shard of shards) expect(shard.footer).not.toBeNull();
    const files = shards.flatMap((s) => s.files);
    expect(files.map((f) => f.sha256).sort()).toEqual(FILES.map((f) => sha256(f.content)).sort());
    for (const f of FILES) {
      const listed = files.find((x) => x.sha256 === sha256(f.content))!;
      expect(hashToString(listed.hash)).toBe(hashToHex(theirFileHash(getChunks(f.content))));
      expect(listed.size).toBe(f.content.length);
      expect(listed.verification).toHaveLength(listed.terms.length);
    }
  });

  it('are consistent with the xorbs they list and with the xorbs as uploaded', () => {
    const stored = new Map(upload.xorbs.map((x) => [x.hash, verifyXorb(x.body, hashFromString(x.hash)!)]));
    const lookup = (h: Uint8Array) => stored.get(hashToString(h))?.chunks;
    for (const shard of shards) {
      checkReconstructions(shard, listedXorbs(shard));
      checkReconstructions(shard, lookup);
      for (const listing of shard.xorbs) {
        const xorb = stored.get(hashToString(listing.hash))!;
        expect(listingMatches(listing, xorb.chunks)).toBe(true);
        expect(listing.storedSize).toBe(xorb.chunksLength);
        expect(listing.size).toBe(xorb.size);
      }
    }
  });

  it('referring to a xorb that was not uploaded are refused', () => {
    for (const shard of shards) refused(() => checkReconstructions(shard, () => undefined), /uses xorb [0-9a-f]{64}, which has not been uploaded/);
  });
});

describe('shards written here', () => {
  it('read back: an upload without a footer, and a dedup answer whose chunk hashes are keyed', () => {
    const { file, xorbs, lookup } = ownUpload();
    const upload = parseShard(writeShard({ files: [file], xorbs }), { upload: true });
    expect(upload.footer).toBeNull();
    expect(upload.files).toEqual([file]);
    expect(upload.xorbs).toEqual(xorbs);
    checkReconstructions(upload, lookup);
    checkReconstructions(upload, listedXorbs(upload));

    const key = new Uint8Array(crypto.randomBytes(32));
    const answer = parseShard(writeShard({ xorbs: xorbs.map((x) => keyedListing(x, key)), footer: { hmacKey: key, createdAt: 1_700_000_000, keyExpiry: 1_700_600_000 } }));
    expect(answer.files).toEqual([]);
    expect(answer.footer).toEqual({ hmacKey: key, createdAt: 1_700_000_000, keyExpiry: 1_700_600_000 });
    // A client holding a chunk finds it by keying its own hash; the raw hash is not in the answer.
    const chunk = xorbs[1].chunks[3];
    const listed = answer.xorbs[1].chunks.map((c) => hashToString(c.hash));
    expect(listed).toContain(hashToString(keyedHash(chunk.hash, key)));
    expect(listed).not.toContain(hashToString(chunk.hash));
  });

  it('an empty file has no terms and the zero hash', () => {
    const empty: ShardFile = { hash: new Uint8Array(32), terms: [], verification: [], sha256: sha256(new Uint8Array(0)), size: 0 };
    const shard = parseShard(writeShard({ files: [empty] }), { upload: true });
    expect(shard.files[0].size).toBe(0);
    checkReconstructions(shard, () => undefined);
  });
});

describe('damaged shards', () => {
  const world = ownUpload();
  const good = () => writeShard({ files: [world.file], xorbs: world.xorbs });
  const parseChecked = (bytes: Uint8Array) => checkReconstructions(parseShard(bytes, { upload: true }), world.lookup);
  // Offsets in the file info section: the file's header, then its two terms, two verification entries, its metadata.
  const FILE = SHARD_HEADER_BYTES;
  const TERM = (t: number) => FILE + 48 + t * 48;
  const VERIFY = (t: number) => FILE + 3 * 48 + t * 48;

  it('the good one passes', () => {
    parseChecked(good());
  });

  it('layout faults are refused', () => {
    const tag = good();
    tag[0] ^= 1;
    refused(() => parseShard(tag), 'does not start with the MDB shard tag');
    const version = good();
    version[32] = 3;
    refused(() => parseShard(version), 'header version 3');
    const footerSize = good();
    footerSize[40] = 100;
    refused(() => parseShard(footerSize), 'declares a footer of 100 bytes');
    const bytes = good();
    refused(() => parseShard(bytes.subarray(0, bytes.length - 48)), /truncated/);
    refused(() => parseShard(bytes.subarray(0, 100)), /truncated/);
    const extra = new Uint8Array(bytes.length + 48);
    extra.set(bytes);
    refused(() => parseShard(extra), /truncated in the CAS info section|bytes after its CAS info section/);
    const count = good();
    count[FILE + 36] = 200; // 200 terms
    refused(() => parseShard(count), /truncated in/);
    const withFooter = writeShard({ files: [world.file], xorbs: world.xorbs, footer: { hmacKey: new Uint8Array(32), createdAt: 1, keyExpiry: 0 } });
    parseShard(withFooter, { upload: true });
    const offsets = new Uint8Array(withFooter);
    offsets[offsets.length - SHARD_FOOTER_BYTES + 16] ^= 0x10;
    refused(() => parseShard(offsets), "footer's section offsets do not match");
    const keyed = new Uint8Array(withFooter);
    keyed[keyed.length - SHARD_FOOTER_BYTES + 72] = 1;
    refused(() => parseShard(keyed, { upload: true }), 'its chunk hashes are keyed');
  });

  it('uploads without verification entries or sha256 are refused', () => {
    refused(() => parseShard(writeShard({ files: [{ ...world.file, verification: null }], xorbs: world.xorbs }), { upload: true }), 'has no verification entries for file 0');
    refused(() => parseShard(writeShard({ files: [{ ...world.file, sha256: null }], xorbs: world.xorbs }), { upload: true }), 'has no sha256 for file 0');
    refused(() => parseShard(writeShard({ files: [world.file, { ...world.file, verification: null }] })), 'verification entries for some files but not all');
  });

  it('terms that do not fit their xorb are refused', () => {
    const range = good();
    range[TERM(0) + 40] = 7; // start 7, end 7
    refused(() => parseShard(range), 'the chunk range [7, 7)');
    const beyond = good();
    beyond[TERM(1) + 44] = 6; // x2 has 5 chunks
    refused(() => parseChecked(beyond), /asks for chunks \[0, 6\) of xorb [0-9a-f]{64}, which has 5/);
    const size = good();
    size[TERM(0) + 36] ^= 1;
    refused(() => parseChecked(size), /term 0 of file 0 \([0-9a-f]{64}\) says its chunks hold \d+ bytes; they hold \d+/);
    const zero = good();
    zero.fill(0, TERM(0) + 36, TERM(0) + 40);
    refused(() => parseShard(zero), 'gives term 0 of file 0 0 bytes');
  });

  it('wrong verification hashes and file hashes are refused', () => {
    const verify = good();
    verify[VERIFY(1)] ^= 1;
    refused(() => parseChecked(verify), 'the verification hash of term 1 of file 0');
    const hash = good();
    hash[FILE] ^= 1;
    refused(() => parseChecked(hash), /its terms' chunks hash to [0-9a-f]{64}, not to the file hash/);
    // A term moved to other chunks of the same sizes would keep the sizes; its verification hash still gives it away.
    const swapped = writeShard({ files: [{ ...world.file, verification: [world.file.verification![1], world.file.verification![0]] }], xorbs: world.xorbs });
    refused(() => parseChecked(swapped), 'the verification hash of term 0');
  });

  it('xorb listings that do not add up are refused', () => {
    const listing = world.xorbs[0];
    refused(() => parseShard(writeShard({ xorbs: [{ ...listing, size: listing.size + 1 }] })), /holds \d+ bytes, but its chunks add up to \d+/);
    refused(() => parseShard(writeShard({ xorbs: [{ ...listing, chunks: listing.chunks.map((c, i) => (i === 2 ? { ...c, offset: c.offset + 1 } : c)) }] })), /lists chunk 2 of xorb [0-9a-f]{64} at offset/);
    refused(() => parseShard(writeShard({ xorbs: [{ ...listing, chunks: [] , size: 0 }] })), 'lists 0 chunks');
    const other = { ...listing, chunks: listing.chunks.map((c, i) => (i === 1 ? { ...c, hash: new Uint8Array(32) } : c)) };
    expect(listingMatches(other, world.x1.chunks)).toBe(false);
    expect(listingMatches(listing, world.x1.chunks)).toBe(true);
  });
});
