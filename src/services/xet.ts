import crypto from 'node:crypto';
import type { Signer } from '../../lfs/signing.js';
import type { ObjectStore } from '../../lfs/store/types.js';
import { XetFormatError } from '../../xet/errors.js';
import { hashFromString, hashToString, isGlobalDedupEligible, parseHashString, type XetHash } from '../../xet/hash.js';
import { type FetchRange, planReconstruction, reconstructionV1, reconstructionV2 } from '../../xet/reconstruction.js';
import { checkReconstructions, keyedListing, listingMatches, parseShard, writeShard, xorbListing } from '../../xet/shard.js';
import { MAX_XORB_BYTES, XorbVerifier } from '../../xet/xorb.js';
import { ChunkStreamReader } from '../../xet/chunk-stream.js';
import type { Db } from '../db/index.js';
import { linkXetObject } from '../db/lfs.js';
import { type RepoRef, repoIdOf } from '../domain/names.js';
import { badRequest } from '../domain/errors.js';
import {
  dedupXorb, type FileWithTerms, packChunks, repoAndUserNames, verifiedSha256, recordXorb, repoFile, repoFileOfSha256, type XorbRow, xorbsByHash,
} from '../db/xet.js';
import { siblingXorbs } from '../db/xet-dedup.js';
import { registerFile, registerRepoXorbs, touchXorbs } from '../db/xet-gc.js';
import { recordAudit } from './audit.js';
import { settleXorbDeletion } from './xet-gc.js';

// Xet storage (docs/xet.md): the CAS a Xet client talks to with a short-lived token scoped to one
// repo. Xorbs are verified as they arrive and stored once by hash; a shard registers files for the
// token's repo once every xorb it uses is stored and matches; a file's sha256 is checked by
// reconstructing its bytes, then the oid is linked to the repo as an LFS object whose bytes are
// only in the xorbs: commits and pushes see it as any LFS file, and git-lfs, resolve and every
// non-Xet read stream its reconstruction (src/services/lfs-xet-reads.ts).

/** How long a Xet token lives: clients refresh it a minute before it expires. */
export const XET_TOKEN_SECONDS = 600;
/** How long a signed xorb range URL lives. */
const FETCH_URL_SECONDS = 600;
/** How long a dedup answer's key may be used by the client. */
const DEDUP_KEY_SECONDS = 7 * 24 * 3600;
/** Other xorbs a dedup answer may list beside the matched one (each listing is 48 bytes a chunk, ~1,000 chunks a xorb). */
const DEDUP_SIBLINGS = 63;
/** Bytes of a xorb upload beyond MAX_XORB_BYTES allowed for xet-core's footer (chunk hashes and boundaries). */
const FOOTER_ALLOWANCE = 8192 * 40 + 4096;

export type XetScope = 'read' | 'write';

export interface XetToken {
  accessToken: string;
  exp: number;
  casUrl: string;
}

/** What a valid token names: the repo (row id) and the user it was issued to (0: anonymous). */
export interface XetGrant {
  repoId: number;
  userId: number;
  scope: XetScope;
}

export interface XetDeps {
  db: Db;
  store: ObjectStore;
  signer: Signer;
  /** The largest file (sha256 object) accepted, as for LFS. */
  maxFileSize: number;
  /** Counts xorb bytes received and stored (metrics). */
  counters?: { xorbBytesReceived(n: number): void; xorbBytesStored(n: number): void };
}

export type XetService = ReturnType<typeof createXetService>;

export function createXetService(deps: XetDeps) {
  const { db, store, signer } = deps;

  /** The stored chunk list of a xorb as the shard checks take it. */
  const chunkRefs = (x: XorbRow) => x.chunks.map((c) => ({ hash: c.hash, size: c.size }));

  /** Streams the bytes of a file (every term, in order), decoded as they are read: one chunk in memory at a time. */
  async function* fileBytes(file: Pick<FileWithTerms, 'terms' | 'xorbs'>): AsyncGenerator<Uint8Array> {
    for (const t of file.terms) {
      const x = file.xorbs.get(t.xorb)!;
      const body = await store.readXorb(t.xorb, x.chunks[t.start].offset, x.chunks[t.end - 1].end - 1);
      const reader = new ChunkStreamReader();
      try {
        for await (const b of body) yield* reader.push(b as Uint8Array);
        reader.finish();
      } finally {
        body.destroy();
      }
    }
  }

  /**
   * Checks a file's claimed sha256 against its reconstructed bytes; 400 when they do not hash to
   * it. Nothing is written: LFS reads of the oid stream the reconstruction (lfs-xet-reads.ts).
   */
  async function verifyBytes(file: Omit<FileWithTerms, 'verified'>): Promise<void> {
    const hash = crypto.createHash('sha256');
    let size = 0;
    for await (const b of fileBytes(file)) {
      hash.update(b);
      size += b.length;
    }
    const digest = hash.digest('hex');
    if (digest !== file.sha256 || size !== file.size) {
      throw badRequest(`the bytes of file ${file.hash} hash to sha256 ${digest} (${size} bytes), not to the sha256 ${file.sha256} its shard names: upload the shard the client computed`);
    }
  }

  return {
    /** A token for the CAS, scoped to the repo (row id) and the operation; the caller's access was decided by the route's guard. */
    issueToken(repoId: number, scope: XetScope, userId: number | null, casUrl: string): XetToken {
      const accessToken = signer.sign({ p: 'xet', r: repoId, s: scope, u: userId ?? 0 }, XET_TOKEN_SECONDS);
      return { accessToken, exp: Math.floor(Date.now() / 1000) + XET_TOKEN_SECONDS, casUrl };
    },

    /** The grant of a valid token allowing `scope` (a write token reads too) whose repo still exists; null otherwise. */
    async grant(token: unknown, scope: XetScope): Promise<XetGrant | null> {
      const claims = signer.verify(token, 'xet');
      if (!claims || typeof claims.r !== 'number') return null;
      if (scope === 'write' && claims.s !== 'write') return null;
      const repo = await db.selectFrom('repos').select('id').where('id', '=', claims.r).executeTakeFirst();
      if (!repo) return null;
      return { repoId: claims.r, userId: Number(claims.u) || 0, scope: claims.s === 'write' ? 'write' : 'read' };
    },

    /**
     * `POST /v1/xorbs/default/{hash}`: verifies the body as it arrives (every chunk decompressed
     * and hashed, the xorb hash checked), then stores the chunk section and indexes it. A fault is
     * a 400 and nothing is stored or indexed. Storing an existing xorb again changes nothing.
     */
    async uploadXorb(grant: XetGrant, hashText: string, body: AsyncIterable<Uint8Array>): Promise<{ stored: number }> {
      const expected = parseHashString(hashText, 'xorb hash');
      const verifier = new XorbVerifier();
      const parts: Uint8Array[] = [];
      let received = 0;
      for await (const block of body) {
        received += block.length;
        if (received > MAX_XORB_BYTES + FOOTER_ALLOWANCE) throw new XetFormatError(`a xorb is at most ${MAX_XORB_BYTES} bytes (64 MiB); split the upload into more xorbs`);
        deps.counters?.xorbBytesReceived(block.length);
        verifier.push(block);
        parts.push(block);
      }
      const verified = verifier.finish(expected);
      const bytes = Buffer.concat(parts).subarray(0, verified.chunksLength);
      const hash = hashToString(verified.hash);
      // Stored and not being collected: marked as used now, so its grace period starts again.
      const known = await touchXorbs(db, [hash]);
      if (!known.has(hash)) {
        await settleXorbDeletion(db, store, hash);
        await store.putXorb(hash, bytes);
        deps.counters?.xorbBytesStored(bytes.length);
      }
      const dedup = verified.chunks.flatMap((c, index) => (isGlobalDedupEligible(c.hash) ? [{ chunkHash: hashToString(c.hash), index }] : []));
      await recordXorb(db, grant.repoId, { hash, storedSize: verified.chunksLength, size: verified.size, chunks: packChunks(verified.chunks), chunkCount: verified.chunks.length }, dedup);
      return { stored: known.has(hash) ? 0 : bytes.length };
    },

    /**
     * `POST /v1/shards`: every xorb the shard lists or uses must be stored (and match its listing),
     * every file's terms must match the stored chunks (sizes, verification hashes, file hash);
     * then its files are registered for the repo, each sha256 checked against the reconstructed
     * bytes before the oid is linked. 400 naming the first fault; files checked before it stay.
     */
    async uploadShard(grant: XetGrant, baseUrl: string, bytes: Uint8Array): Promise<{ result: 0 | 1; files: number } | undefined> {
      const names = await repoAndUserNames(db, grant.repoId, grant.userId);
      if (!names) return undefined;
      const ref: RepoRef = { type: names.type, namespace: names.namespace, name: names.name };
      const repo = { ref, repoId: repoIdOf(ref), baseUrl };
      const actor = names.user;
      const shard = parseShard(bytes, { upload: true });
      if (shard.files.length > 10_000) throw new XetFormatError(`the shard names ${shard.files.length} files; send at most 10000 a shard`);
      const named = [...shard.xorbs.map((x) => hashToString(x.hash)), ...shard.files.flatMap((f) => f.terms.map((t) => hashToString(t.xorb)))];
      const stored = await xorbsByHash(db, named);
      for (const listing of shard.xorbs) {
        const x = stored.get(hashToString(listing.hash));
        if (!x) throw new XetFormatError(`the shard lists xorb ${hashToString(listing.hash)}, which has not been uploaded; upload every xorb before the shard that uses it`);
        if (!listingMatches(listing, chunkRefs(x))) throw new XetFormatError(`the shard's listing of xorb ${hashToString(listing.hash)} does not match its stored chunks`);
      }
      checkReconstructions(shard, (h) => {
        const x = stored.get(hashToString(h));
        return x && chunkRefs(x);
      });
      for (const f of shard.files) {
        if (f.size > deps.maxFileSize) throw badRequest(`file ${hashToString(f.hash)} is ${f.size} bytes; this server accepts files up to ${deps.maxFileSize} bytes`);
      }
      // The terms matched the stored chunk hashes (verification hashes): the uploader holds those xorbs' data.
      const gone = (missing: string[]) => new XetFormatError(`xorb ${missing[0]} is no longer stored (garbage collection removed it): upload it again, then the shard; upload every xorb before the shard that uses it`);
      const missing = await registerRepoXorbs(db, grant.repoId, [...new Set(named)]);
      if (missing.length > 0) throw gone(missing);
      let added = 0;
      for (const f of shard.files) {
        const hash = hashToString(f.hash);
        const terms = f.terms.map((t) => ({ xorb: hashToString(t.xorb), start: t.start, end: t.end, size: t.size }));
        const sha256 = f.sha256!;
        // Checked before anything is recorded: a shard lying about a sha256 leaves no trace.
        const known = await verifiedSha256(db, hash);
        if (known !== undefined && known !== sha256) throw badRequest(`file ${hash} has sha256 ${known}, not ${sha256} as the shard says`);
        // A file hash names its chunks, so bytes once checked against its sha256 need no second check.
        if (known === undefined) await verifyBytes({ hash, size: f.size, sha256, terms, xorbs: stored });
        // A file's first chunk answers dedup queries (clients ask about it), eligible or not.
        const first = f.terms[0];
        const x = first && stored.get(hashToString(first.xorb))!;
        const firstChunk = x && { chunkHash: hashToString(x.chunks[first.start].hash), xorb: x.hash, index: first.start };
        // One transaction that holds the file's xorbs: a garbage collection cannot remove them under it.
        const lost = await registerFile(db, grant.repoId, { hash, size: f.size, sha256, terms }, firstChunk);
        if (lost.length > 0) throw gone(lost);
        // Linked without an LFS copy: its bytes stay only in the xorbs.
        await linkXetObject(db, grant.repoId, sha256, f.size);
        added++;
      }
      if (added > 0) await recordAudit(db, { actor, action: 'xet.upload', repo: repo.ref, details: { files: added, bytes: shard.files.reduce((n, f) => n + f.size, 0) } });
      return { result: added > 0 ? 1 : 0, files: added };
    },

    /**
     * `GET /v1/chunks/{prefix}/{hash}`: a shard listing a xorb that holds the chunk, among the
     * xorbs the token's repo holds, its chunk hashes keyed with a random key; null (404) otherwise.
     */
    async dedup(grant: XetGrant, chunkText: string): Promise<Uint8Array | null> {
      const chunk = hashFromString(chunkText);
      if (!chunk) return null;
      const x = await dedupXorb(db, hashToString(chunk), [grant.repoId]);
      // Named in an answer: its grace period starts again, so the client has time to send its shard.
      if (!x || !(await touchXorbs(db, [x.hash])).has(x.hash)) return null;
      // With the other xorbs of the files using it (those the repo holds): one query dedups a whole file.
      const siblings = await xorbsByHash(db, await siblingXorbs(db, x.hash, grant.repoId, DEDUP_SIBLINGS));
      const key = crypto.randomBytes(32);
      const now = Math.floor(Date.now() / 1000);
      const listings = [x, ...siblings.values()].map((y) => keyedListing(xorbListing(hashFromString(y.hash)!, chunkRefs(y), y.storedSize), key));
      return writeShard({ xorbs: listings, footer: { hmacKey: key, createdAt: now, keyExpiry: now + DEDUP_KEY_SECONDS } });
    },

    /**
     * `GET /v{1,2}/reconstructions/{file}`: the terms covering `range` (end exclusive) and where
     * to fetch their bytes; undefined for a file the repo does not hold, null when the range starts
     * past its end (416).
     */
    async reconstruction(
      grant: XetGrant, fileText: string, range: { start: number; end: number } | undefined, version: 1 | 2,
      fetchUrl: (xorb: string, start: number, end: number) => string,
    ): Promise<{ json: unknown; size: number } | null | undefined> {
      const fileHash = hashFromString(fileText);
      if (!fileHash) return undefined;
      const file = await repoFile(db, grant.repoId, hashToString(fileHash), { verifiedOnly: true });
      if (!file) return undefined;
      const layoutOf = (xorb: XetHash) => ({ chunks: file.xorbs.get(hashToString(xorb))!.chunks });
      const plan = planReconstruction(file.terms.map((t) => ({ xorb: hashFromString(t.xorb)!, start: t.start, end: t.end, size: t.size })), layoutOf, range);
      if (!plan) return null;
      const urls = new Map<string, string>();
      for (const [xorb, ranges] of plan.fetches) {
        for (const r of ranges) {
          const url = store.xorbRangeUrl ? await store.xorbRangeUrl(xorb, r.bytes.start, r.bytes.end, FETCH_URL_SECONDS) : fetchUrl(xorb, r.bytes.start, r.bytes.end);
          urls.set(`${xorb}:${r.bytes.start}`, url);
        }
      }
      const urlFor = (xorb: string, r: FetchRange) => urls.get(`${xorb}:${r.bytes.start}`)!;
      return { json: version === 2 ? reconstructionV2(plan, urlFor) : reconstructionV1(plan, urlFor), size: file.size };
    },

    /** A signed URL's claims for bytes [start, end] of a xorb (fs store: hubgate serves them). */
    signFetch(xorb: string, start: number, end: number): string {
      return signer.sign({ p: 'xet-get', x: xorb, a: start, b: end }, FETCH_URL_SECONDS);
    },

    /** The range a fetch token allows, or null. */
    fetchGrant(token: unknown, xorb: string): { start: number; end: number } | null {
      const claims = signer.verify(token, 'xet-get');
      if (!claims || claims.x !== xorb || typeof claims.a !== 'number' || typeof claims.b !== 'number') return null;
      return { start: claims.a, end: claims.b };
    },

    readXorb(xorb: string, start: number, end: number) {
      return store.readXorb(xorb, start, end);
    },

    /** The verified Xet file of the repo whose bytes are this LFS oid (resolve advertises it). */
    fileOfOid(repoId: number, oid: string) {
      return repoFileOfSha256(db, repoId, oid);
    },
  };
}
