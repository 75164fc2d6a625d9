import { type Db, now, readRows } from './index.js';

// The Xet index (docs/xet.md): xorbs and their chunks, files and their terms, and which repo
// holds which. Hashes are Xet hash strings; a xorb's chunk list is one packed column, so one row
// read answers both the shard check and a reconstruction's byte offsets.

/** One chunk of a stored xorb. */
export interface StoredChunk {
  hash: Uint8Array;
  /** Unpacked length. */
  size: number;
  /** Where it starts (its header) and ends in the stored chunk section. */
  offset: number;
  end: number;
}

export interface XorbRow {
  hash: string;
  storedSize: number;
  size: number;
  chunks: StoredChunk[];
}

const CHUNK_RECORD = 40;

/** Packs a xorb's chunks for the `chunks` column. */
export function packChunks(chunks: readonly { hash: Uint8Array; size: number; end: number }[]): Buffer {
  const out = Buffer.alloc(chunks.length * CHUNK_RECORD);
  chunks.forEach((c, i) => {
    out.set(c.hash, i * CHUNK_RECORD);
    out.writeUInt32LE(c.size, i * CHUNK_RECORD + 32);
    out.writeUInt32LE(c.end, i * CHUNK_RECORD + 36);
  });
  return out;
}

export function unpackChunks(packed: Uint8Array): StoredChunk[] {
  const b = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  const chunks: StoredChunk[] = [];
  let offset = 0;
  for (let at = 0; at + CHUNK_RECORD <= b.length; at += CHUNK_RECORD) {
    const end = b.readUInt32LE(at + 36);
    chunks.push({ hash: Uint8Array.prototype.slice.call(b, at, at + 32), size: b.readUInt32LE(at + 32), offset, end });
    offset = end;
  }
  return chunks;
}

const toXorb = (r: { hash: string; stored_size: number; size: number; chunks: Uint8Array }): XorbRow => ({
  hash: r.hash, storedSize: Number(r.stored_size), size: Number(r.size), chunks: unpackChunks(r.chunks),
});

/** The stored xorbs among `hashes`, in one query (not those a garbage collection is removing). */
export async function xorbsByHash(db: Db, hashes: readonly string[]): Promise<Map<string, XorbRow>> {
  if (hashes.length === 0) return new Map();
  const rows = await db.selectFrom('xet_xorbs').select(['hash', 'stored_size', 'size', 'chunks']).where('hash', 'in', [...new Set(hashes)]).where('deleting', 'is', null).execute();
  return new Map(rows.map((r) => [r.hash, toXorb(r)]));
}

/**
 * Records a stored xorb, its dedup-eligible chunks and that `repoId` uploaded it. Idempotent
 * statements, no transaction (see src/db/lfs.ts linkObject): a row without its dedup chunks only
 * answers fewer dedup queries.
 */
export async function recordXorb(db: Db, repoId: number, x: { hash: string; storedSize: number; size: number; chunks: Buffer; chunkCount: number }, dedup: { chunkHash: string; index: number }[]): Promise<void> {
  const at = now();
  await db.insertInto('xet_xorbs')
    .values({ hash: x.hash, stored_size: x.storedSize, size: x.size, chunk_count: x.chunkCount, chunks: x.chunks, created_at: at })
    .onConflict((oc) => oc.column('hash').doNothing())
    .execute();
  if (dedup.length > 0) {
    await db.insertInto('xet_dedup_chunks')
      .values(dedup.map((d) => ({ chunk_hash: d.chunkHash, xorb_hash: x.hash, chunk_index: d.index })))
      .onConflict((oc) => oc.columns(['chunk_hash', 'xorb_hash']).doNothing())
      .execute();
  }
  await linkRepoXorbs(db, repoId, [x.hash]);
}

/** Records that the repo holds these (stored) xorbs: it uploaded them or proved it has their chunks. */
export async function linkRepoXorbs(db: Db, repoId: number, hashes: readonly string[]): Promise<void> {
  if (hashes.length === 0) return;
  const at = now();
  await db.insertInto('xet_repo_xorbs')
    .values([...new Set(hashes)].map((h) => ({ repo_id: repoId, xorb_hash: h, created_at: at })))
    .onConflict((oc) => oc.columns(['repo_id', 'xorb_hash']).doNothing())
    .execute();
}

/**
 * A dedup answer for `chunkHash`: a xorb holding that chunk, among the xorbs of repos in
 * `repoIds` (those the caller may read), or undefined. One query.
 */
export async function dedupXorb(db: Db, chunkHash: string, repoIds: readonly number[]): Promise<XorbRow | undefined> {
  if (repoIds.length === 0) return undefined;
  const row = await db
    .selectFrom('xet_dedup_chunks as d')
    .innerJoin('xet_xorbs as x', 'x.hash', 'd.xorb_hash')
    .select(['x.hash', 'x.stored_size', 'x.size', 'x.chunks'])
    .where('d.chunk_hash', '=', chunkHash)
    .where('x.deleting', 'is', null)
    .where((eb) => eb.exists(eb.selectFrom('xet_repo_xorbs as r').select('r.repo_id').whereRef('r.xorb_hash', '=', 'd.xorb_hash').where('r.repo_id', 'in', [...repoIds])))
    .limit(1)
    .executeTakeFirst();
  return row && toXorb(row);
}

export interface FileTermRow {
  xorb: string;
  start: number;
  end: number;
  size: number;
}

export interface FileWithTerms {
  hash: string;
  size: number;
  sha256: string;
  verified: boolean;
  terms: FileTermRow[];
  /** The xorbs the terms use. */
  xorbs: Map<string, XorbRow>;
}

/**
 * A file linked to the repo with its terms and the xorbs they use, in one query (undefined when
 * the repo has no such file). `verifiedOnly`: only once its sha256 was checked against its bytes.
 */
export async function repoFile(db: Db, repoId: number, fileHash: string, opts: { verifiedOnly?: boolean } = {}): Promise<FileWithTerms | undefined> {
  let q = db
    .selectFrom('xet_repo_files as rf')
    .innerJoin('xet_files as f', 'f.file_hash', 'rf.file_hash')
    .innerJoin('xet_file_terms as t', 't.file_hash', 'f.file_hash')
    .innerJoin('xet_xorbs as x', 'x.hash', 't.xorb_hash')
    .select(['f.size as fileSize', 'f.sha256', 'f.sha256_verified_at', 't.term_index', 't.chunk_start', 't.chunk_end', 't.size as termSize', 'x.hash', 'x.stored_size', 'x.size', 'x.chunks'])
    .where('rf.repo_id', '=', repoId)
    .where('rf.file_hash', '=', fileHash);
  if (opts.verifiedOnly) q = q.where('f.sha256_verified_at', 'is not', null);
  const rows = await q.orderBy('t.term_index').execute();
  if (rows.length === 0) return undefined;
  const xorbs = new Map<string, XorbRow>();
  for (const r of rows) if (!xorbs.has(r.hash)) xorbs.set(r.hash, toXorb(r));
  return {
    hash: fileHash, size: Number(rows[0].fileSize), sha256: rows[0].sha256, verified: rows[0].sha256_verified_at !== null,
    terms: rows.map((r) => ({ xorb: r.hash, start: r.chunk_start, end: r.chunk_end, size: Number(r.termSize) })), xorbs,
  };
}

// Written out (prepared once, no query building): HEAD resolve of an LFS file asks it on every request.
const REPO_FILE_OF_SHA256 = `SELECT f.file_hash, f.size FROM xet_repo_files rf JOIN xet_files f ON f.file_hash = rf.file_hash
  WHERE rf.repo_id = ? AND f.sha256 = ? AND f.sha256_verified_at IS NOT NULL ORDER BY f.created_at DESC LIMIT 1`;

/** The verified Xet file of the repo whose bytes have this sha256 (the newest), if any: what resolve advertises. */
export async function repoFileOfSha256(db: Db, repoId: number, sha256: string): Promise<{ hash: string; size: number } | undefined> {
  const rows = await readRows<{ file_hash: string; size: number | string }>(db, REPO_FILE_OF_SHA256, [repoId, sha256]);
  const row = rows[0];
  return row && { hash: row.file_hash, size: Number(row.size) };
}

/** Bytes and counts of the Xet index, for tests and operators. */
export async function xetTotals(db: Db): Promise<{ xorbs: number; storedBytes: number; files: number }> {
  const x = await db.selectFrom('xet_xorbs').select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('stored_size').as('bytes')]).executeTakeFirstOrThrow();
  const f = await db.selectFrom('xet_files').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return { xorbs: Number(x.n), storedBytes: Number(x.bytes ?? 0), files: Number(f.n) };
}

/** The repo with this row id (its type and stored names), and the name of the account `userId` (0: none). */
export async function repoAndUserNames(db: Db, repoId: number, userId: number): Promise<{ type: 'model' | 'dataset' | 'space'; namespace: string; name: string; user: string | null } | undefined> {
  const repo = await db
    .selectFrom('repos')
    .innerJoin('accounts', 'accounts.id', 'repos.owner_id')
    .select(['repos.type', 'repos.name', 'accounts.name as namespace'])
    .where('repos.id', '=', repoId)
    .executeTakeFirst();
  if (!repo) return undefined;
  const user = userId ? await db.selectFrom('accounts').select('name').where('id', '=', userId).executeTakeFirst() : undefined;
  return { type: repo.type, namespace: repo.namespace, name: repo.name, user: user?.name ?? null };
}

/** A registered file's sha256 once verified, else undefined. */
export async function verifiedSha256(db: Db, fileHash: string): Promise<string | undefined> {
  const row = await db.selectFrom('xet_files').select('sha256').where('file_hash', '=', fileHash).where('sha256_verified_at', 'is not', null).executeTakeFirst();
  return row?.sha256;
}

