// The Xet hashes (xet/hash.ts) against the spec's own examples, an independent BLAKE3 call for the
// constructions the spec spells out, and @huggingface/xetchunk-wasm (the hashing huggingface.js
// uploads with) for the aggregated hashes over many shapes of chunk lists.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { blake3 } from '@noble/hashes/blake3.js';
import { fileHash as theirFileHash, hashToHex, hexToBytes, hmac as theirHmac, verificationHash as theirVerificationHash, xorbHash as theirXorbHash } from '@huggingface/xetchunk-wasm';
import { describe, expect, it } from 'vitest';
import {
  DATA_KEY, FILE_KEY, INTERNAL_NODE_KEY, VERIFICATION_KEY, aggregatedHash, chunkHash, fileHash, hashFromString, hashToString, hashModulo,
  isGlobalDedupEligible, keyedHash, parseHashString, verificationHash, xorbHash,
} from '../../xet/hash.js';
import { XetFormatError } from '../../xet/errors.js';

const randomChunks = (n: number, sizeOf: (i: number) => number = () => 1 + crypto.randomInt(131072)) =>
  Array.from({ length: n }, (_, i) => ({ hash: new Uint8Array(crypto.randomBytes(32)), size: sizeOf(i) }));

describe('hash strings', () => {
  it('swap the bytes of each 8-byte group (the spec example)', () => {
    // The spec prints this string without the "10" of the third group (62 digits); the reordered bytes it lists are these.
    const hash = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(hashToString(hash)).toBe('07060504030201000f0e0d0c0b0a09081716151413121110' + '1f1e1d1c1b1a1918');
    expect(hashFromString('07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918')).toEqual(hash);
  });

  it('round-trip, agree with the client library, and refuse what is not 64 lowercase hex digits', () => {
    for (let i = 0; i < 50; i++) {
      const hash = new Uint8Array(crypto.randomBytes(32));
      expect(hashFromString(hashToString(hash))).toEqual(hash);
      expect(hashToString(hash)).toBe(hashToHex(hash));
      expect(hexToBytes(hashToString(hash))).toEqual(hash);
    }
    for (const bad of ['', 'ab', 'A'.repeat(64), 'g'.repeat(64), '0'.repeat(63), '0'.repeat(65), `${'0'.repeat(63)}/`]) expect(hashFromString(bad)).toBeNull();
    expect(() => parseHashString('xyz', 'the xorb hash')).toThrow(XetFormatError);
    expect(() => parseHashString('xyz', 'the xorb hash')).toThrow('the xorb hash must be 64 lowercase hexadecimal digits');
  });
});

describe('chunk, verification and keyed hashes', () => {
  it('are BLAKE3 keyed with the spec keys', () => {
    const data = new Uint8Array(crypto.randomBytes(70000));
    expect(chunkHash(data)).toEqual(blake3(data, { key: DATA_KEY }));
    const hashes = randomChunks(5).map((c) => c.hash);
    const joined = new Uint8Array(160);
    hashes.forEach((h, i) => joined.set(h, i * 32));
    expect(verificationHash(hashes)).toEqual(blake3(joined, { key: VERIFICATION_KEY }));
    expect(hashToString(verificationHash(hashes))).toBe(hashToHex(theirVerificationHash(hashes)));
    const key = new Uint8Array(crypto.randomBytes(32));
    expect(hashToString(keyedHash(hashes[0], key))).toBe(hashToHex(theirHmac(hashes[0], key)));
    // The keys differ: the same bytes give different hashes under each.
    expect(new Set([DATA_KEY, INTERNAL_NODE_KEY, VERIFICATION_KEY, FILE_KEY].map((k) => hashToString(blake3(data, { key: k })))).size).toBe(4);
  });
});

describe('aggregated hashes', () => {
  it('hash a group of nodes as the lines "{hash string} : {size}\\n" with the internal node key', () => {
    // Two nodes are always one group (groups have at least two).
    const [a, b] = [{ hash: new Uint8Array(crypto.randomBytes(32)), size: 10000 }, { hash: new Uint8Array(crypto.randomBytes(32)), size: 20000 }];
    const text = `${hashToString(a.hash)} : 10000\n${hashToString(b.hash)} : 20000\n`;
    expect(aggregatedHash([a, b])).toEqual(blake3(new TextEncoder().encode(text), { key: INTERNAL_NODE_KEY }));
    expect(aggregatedHash([a])).toEqual(a.hash);
    expect(fileHash([a, b])).toEqual(blake3(aggregatedHash([a, b]), { key: new Uint8Array(32) }));
  });

  it('cut groups after a node whose hash is 0 mod 4, between 2 and 9 nodes', () => {
    // Node hashes chosen so the 3rd is a natural cut: the tree is hash(hash(n0,n1,n2), hash(n3,n4)).
    const node = (mod4: number) => {
      const hash = new Uint8Array(crypto.randomBytes(32));
      hash[24] = (hash[24] & ~3) | mod4;
      return { hash, size: 100 };
    };
    const nodes = [node(1), node(2), node(0), node(3), node(1)];
    const merge = (group: typeof nodes) => ({
      hash: blake3(new TextEncoder().encode(group.map((n) => `${hashToString(n.hash)} : ${n.size}\n`).join('')), { key: INTERNAL_NODE_KEY }),
      size: group.reduce((s, n) => s + n.size, 0),
    });
    expect(aggregatedHash(nodes)).toEqual(merge([merge(nodes.slice(0, 3)), merge(nodes.slice(3))]).hash);
    // No natural cut among 12 nodes: a group of 9, then one of 3.
    const flat = Array.from({ length: 12 }, () => node(1));
    expect(aggregatedHash(flat)).toEqual(merge([merge(flat.slice(0, 9)), merge(flat.slice(9))]).hash);
  });

  it('match the client library for xorb and file hashes over many list lengths', () => {
    for (const n of [1, 2, 3, 4, 5, 8, 9, 10, 17, 63, 64, 65, 100, 257, 1000, 4096, 8192]) {
      const chunks = randomChunks(n);
      const theirs = chunks.map((c) => ({ hash: c.hash, length: c.size }));
      expect(hashToString(xorbHash(chunks)), `xorb hash of ${n} chunks`).toBe(hashToHex(theirXorbHash(theirs)));
      expect(hashToString(fileHash(chunks)), `file hash of ${n} chunks`).toBe(hashToHex(theirFileHash(theirs)));
    }
  });

  it('match the reference values of xet-core (lists of 0 to 100 nodes, file hashes under three keys)', () => {
    const { vectors } = JSON.parse(fs.readFileSync(new URL('../../fixtures/xet-aggregated-hashes.json', import.meta.url), 'utf8')) as {
      vectors: { nodes: [string, number][]; xorbHash: string; salted: [string, string][] }[];
    };
    expect(vectors.length).toBe(18);
    for (const v of vectors) {
      const nodes = v.nodes.map(([h, size]) => ({ hash: hashFromString(h)!, size }));
      expect(hashToString(xorbHash(nodes)), `xorb hash of ${nodes.length} nodes`).toBe(v.xorbHash);
      for (const [key, expected] of v.salted) {
        const keyed = nodes.length === 0 ? new Uint8Array(32) : keyedHash(aggregatedHash(nodes), hashFromString(key)!);
        expect(hashToString(keyed), `file hash of ${nodes.length} nodes keyed with ${key.slice(0, 8)}`).toBe(expected);
        if (/^0+$/.test(key)) expect(hashToString(fileHash(nodes))).toBe(expected);
      }
    }
  });

  it('of no chunks is 32 zero bytes (the empty file)', () => {
    expect(fileHash([])).toEqual(new Uint8Array(32));
    expect(xorbHash([])).toEqual(new Uint8Array(32));
  });
});

describe('global dedup eligibility', () => {
  it('is the last 8 bytes as a little-endian u64, mod 1024, being 0', () => {
    const hash = new Uint8Array(32);
    hash[24] = 0;
    hash[25] = 0x04; // 1024
    hash[31] = 0xff; // high bits do not matter
    expect(isGlobalDedupEligible(hash)).toBe(true);
    hash[24] = 1;
    expect(isGlobalDedupEligible(hash)).toBe(false);
    expect(hashModulo(hash, 4)).toBe(1);
    hash[24] = 0;
    hash[25] = 0x02; // 512
    expect(isGlobalDedupEligible(hash)).toBe(false);
  });
});
