import fs from 'node:fs';
import type { Request, RequestHandler, Response } from 'express';
import type { HubUrls, ObjectStore } from '../../../lfs/store/types.js';
import { xetObjectHref } from '../../../lfs/xet-objects.js';
import { MAX_POINTER_SIZE, MIN_POINTER_SIZE, parsePointer, type Pointer } from '../../../lfs/pointer.js';
import { apiError, revisionNotFound } from '../api/respond.js';
import { authorizedRepo } from '../authorize.js';
import { baseUrlOf } from '../urls.js';
import type { RepoWithOwner } from '../../db/repos.js';
import { printable, repoIdOf, TYPE_PLURAL } from '../../domain/names.js';
import { entryAt, readBlob, resolveCommit } from '../../git/content.js';
import { gitEnv } from '../../git/env.js';
import { repoDir } from '../../git/repo-dirs.js';
import type { AppContext } from '../context.js';
import { streamBlob } from './blob-stream.js';
import { contentDisposition, contentTypeOf, safetyHeaders } from './content-type.js';
import { type ByteRange, etagMatches, rangeOf } from './range.js';
import { sendFileBody } from './file-body.js';
import type { BlobCache, CachedBlob } from '../../git/blob-cache.js';
import type { ResolveTarget } from './resolve-path.js';
import { callerUserId } from '../../identity/identify.js';
import { linkedObject } from '../../services/downloads.js';
import type { XetService } from '../../services/xet.js';

// HEAD|GET /{prefix}{ns}/{name}/resolve/{revision}/{path}: file downloads as huggingface_hub's
// hf_hub_download and @huggingface/hub's downloadFile expect them (hf-wire.md §3.3). Regular
// files are streamed from git with the blob id as ETag; Git LFS files answer a redirect to the
// object store (hubgate's own signed URL for fs, a presigned GET for S3) with X-Linked-Etag and
// X-Linked-Size. Every answer names the commit the revision resolved to in X-Repo-Commit.
// With Xet storage on, an LFS file whose bytes were uploaded through Xet (and checked against its
// sha256) is also announced to Xet clients: X-Xet-Hash and Link rel="xet-auth" (the repo's read
// token route) and rel="xet-reconstruction-info"; a GET that accepts
// application/vnd.xet-fileinfo+json (@huggingface/hub) is answered with those headers alone (200),
// others get the usual redirect carrying them (huggingface_hub's HEAD reads them there).

/** Lifetime of the store URL an LFS file redirects to: the client GETs it right away. */
const DOWNLOAD_TTL_SECONDS = 3600;

/**
 * The download, behind the route table's guard('read') (gating included: 401/403 GatedRepo, 404 RepoNotFound); the target checked by resolveTarget.
 * `raw`: the file as git stores it, a Git LFS pointer as text rather than a redirect to its object (/raw/...).
 */
export function downloadHandler(ctx: AppContext, store: ObjectStore, blobs: BlobCache, opts: { raw?: boolean; xet?: XetService; urls?: HubUrls } = {}): RequestHandler {
  // The same for every request: built once.
  const env = gitEnv(ctx.cfg.dataDir);
  return async (req: Request, res: Response) => {
    const target = res.locals.resolveTarget as ResolveTarget;
    // Names match case-insensitively, directories do not: from here on, the repo's stored spelling.
    const { row: repo, ref, repoId, requested } = authorizedRepo(res);
    const dir = repoDir(ctx.cfg.dataDir, ref);
    if (!fs.existsSync(dir)) {
      ctx.log.error({ repo: repoId }, 'repository row exists but its directory is missing');
      return apiError(res, 404, `Repository not found: ${repoIdOf(requested)}`, { code: 'RepoNotFound' });
    }
    const commit = await resolveCommit(dir, env, target.revision);
    if (!commit) return revisionNotFound(res, repoId, target.revision);
    const found = { 'X-Repo-Commit': commit };
    const entry = await entryAt(dir, env, commit, target.path);
    const info = entry?.info;
    if (!entry || !info || info.type !== 'blob') {
      const what = info ? 'is a folder, not a file' : 'does not exist';
      return apiError(res, 404, `Entry not found: ${printable(target.path)} ${what} at revision ${printable(target.revision)} of ${repoId}`, { code: 'EntryNotFound', headers: found });
    }

    const pointer = !opts.raw && entry.content && info.size >= MIN_POINTER_SIZE && info.size <= MAX_POINTER_SIZE ? parsePointer(entry.content) : null;
    if (pointer) return redirectToObject(ctx, { store, xet: opts.xet, urls: opts.urls }, req, res, { repo, repoId, commit, path: target.path, pointer });

    const etag = `"${info.oid}"`;
    if (etagMatches(req.get('if-none-match'), etag)) return void res.status(304).set({ ...found, ETag: etag }).end();
    // If-Range with another version of the file: the whole (current) file, not a piece of it.
    const ifRange = req.get('if-range');
    const range = ifRange !== undefined && ifRange.replace(/^W\//, '') !== etag ? { kind: 'whole' as const } : rangeOf(req.get('range'), info.size);
    if (range.kind === 'unsatisfiable') {
      return apiError(res, 416, `Range Not Satisfiable: ${printable(req.get('range') ?? '')} (the file has ${info.size} bytes)`, {
        headers: { ...found, ETag: etag, 'Content-Range': `bytes */${info.size}` },
      });
    }
    const download = String(req.query.download) === 'true' || String(req.query.download) === '1';
    res.set({
      ...found,
      ETag: etag,
      'Accept-Ranges': 'bytes',
      'Content-Type': contentTypeOf(target.path),
      'Content-Disposition': contentDisposition(target.path, download),
      ...safetyHeaders,
    });
    const piece = range.kind === 'partial' ? range.range : { start: 0, end: info.size - 1 };
    if (req.method === 'HEAD') return void setLength(res, piece, info.size, range.kind === 'partial').end();
    if (isDownload(req)) ctx.downloads.count(repo.id);
    const body = entry.content ? { kind: 'memory' as const, bytes: entry.content } : await blobBody(ctx, blobs, { dir, env, oid: info.oid, size: info.size });
    if (body.kind === 'file' && ctx.cfg.accelRedirect) {
      // The proxy sends the bytes (and answers the Range itself) from the cached copy.
      void body.cached.handle.close().catch(() => {});
      return void res.status(200).set({ 'X-Accel-Redirect': ctx.cfg.accelRedirect + body.cached.relativePath, 'Content-Length': '0' }).end();
    }
    setLength(res, piece, info.size, range.kind === 'partial');
    ctx.metrics.gitBytesServed.labels('resolve').inc(piece.end - piece.start + 1);
    if (body.kind === 'memory') return void res.end(body.bytes.subarray(piece.start, piece.end + 1));
    if (body.kind === 'file') return sendFileBody(body.cached.handle, res, piece);
    streamBlob({ dir, env, oid: info.oid, size: info.size, range: range.kind === 'partial' ? range.range : undefined, res, log: ctx.log });
  };
}

/** Status 200 or 206 with the length (and range) of what is sent. */
function setLength(res: Response, piece: ByteRange, size: number, partial: boolean): Response {
  if (partial) return res.status(206).set({ 'Content-Range': `bytes ${piece.start}-${piece.end}/${size}`, 'Content-Length': String(piece.end - piece.start + 1) });
  return res.status(200).set('Content-Length', String(size));
}

/** Blobs up to this size are read whole from the repo's warm `cat-file` into memory; larger ones from the blob cache. */
const IN_MEMORY_BLOB = 64 * 1024;

type BlobBody = { kind: 'memory'; bytes: Buffer } | { kind: 'file'; cached: CachedBlob } | { kind: 'git' };

/**
 * Where a blob's bytes come from: small ones from the warm reader, others from their cached copy
 * (written on the first request), those too large for the cache (or with a cache that cannot be
 * written) straight from a `git cat-file blob` of their own.
 */
async function blobBody(ctx: AppContext, blobs: BlobCache, blob: { dir: string; env: NodeJS.ProcessEnv; oid: string; size: number }): Promise<BlobBody> {
  if (blob.size <= IN_MEMORY_BLOB) {
    const bytes = await readBlob(blob.dir, blob.env, blob.oid);
    if (bytes && bytes.length === blob.size) return { kind: 'memory', bytes };
  }
  try {
    const cached = await blobs.open(blob.dir, blob.env, blob.oid, blob.size);
    if (cached) return { kind: 'file', cached };
  } catch (err) {
    ctx.log.warn({ err, oid: blob.oid }, 'could not use the cached copy of a git blob: streaming it from git');
  }
  return { kind: 'git' };
}

/**
 * Whether a request is one download of the file for the repo's counter: a GET of it from its
 * first byte. HEADs (hf_hub_download's metadata question), one-byte probes (`Range: bytes=0-0`,
 * @huggingface/hub's file info) and pieces after the first (resumed downloads, HfFileSystem's
 * reads) are not counted, so a file read in ranges counts once. Answers 304 are not reached.
 */
function isDownload(req: Request): boolean {
  if (req.method !== 'GET') return false;
  const range = req.get('range');
  if (!range) return true;
  const first = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)/i.exec(range);
  return first !== null && first[1] === '0' && first[2] !== '0';
}

interface LfsFile {
  repo: RepoWithOwner;
  repoId: string;
  commit: string;
  path: string;
  pointer: Pointer;
}

/**
 * A Git LFS file: 302 to the store's download URL, the object's sha256 and size in the headers.
 * An object uploaded through Xet has no bytes in the store: 302 to hubgate's own signed URL that
 * streams its reconstruction (lfs/xet-objects.ts), whatever the store.
 */
async function redirectToObject(ctx: AppContext, lfs: { store: ObjectStore; xet?: XetService; urls?: HubUrls }, req: Request, res: Response, file: LfsFile): Promise<void> {
  const { store, xet, urls } = lfs;
  const { oid } = file.pointer;
  const found = { 'X-Repo-Commit': file.commit };
  // A repo downloads only objects linked to it (design §5), whoever else stores the same bytes.
  // With Xet on, the same query says whether the bytes are also a verified Xet file of the repo.
  const linked = await linkedObject(ctx.db, file.repo.id, oid, { xet: xet !== undefined });
  const size = linked?.size;
  if (linked === undefined || size === undefined || size !== file.pointer.size) {
    const why = size === undefined ? 'was never uploaded to this repository' : `has ${size} bytes, not the ${file.pointer.size} its pointer says`;
    return apiError(res, 404, `Entry not found: ${printable(file.path)} is a Git LFS file whose object (${oid}) ${why}: push it with \`git lfs push --all origin\``, {
      code: 'EntryNotFound',
      headers: found,
    });
  }
  const etag = `"${oid}"`;
  const headers: Record<string, string> = { ...found, ETag: etag, 'X-Linked-Etag': etag, 'X-Linked-Size': String(size) };
  const xetFile = linked?.xetHash ? { hash: linked.xetHash } : null;
  if (xetFile) {
    const base = baseUrlOf(ctx.cfg, req);
    const ref = { type: file.repo.type, namespace: file.repo.namespace, name: file.repo.name };
    headers['X-Xet-Hash'] = xetFile.hash;
    headers.Link = `<${base}/api/${TYPE_PLURAL[ref.type]}/${ref.namespace}/${ref.name}/xet-read-token/${file.commit}>; rel="xet-auth", <${base}/cas/v1/reconstructions/${xetFile.hash}>; rel="xet-reconstruction-info"`;
  }
  if (etagMatches(req.get('if-none-match'), etag)) return void res.status(304).set(headers).end();
  if (xetFile && /application\/vnd\.xet-fileinfo\+json/i.test(req.get('accept') ?? '')) {
    if (isDownload(req)) ctx.downloads.count(file.repo.id);
    return void res.status(200).set({ ...headers, 'Content-Type': 'application/vnd.xet-fileinfo+json' }).json({ hash: xetFile.hash, size, etag: oid });
  }
  const where = { repoId: file.repoId, baseUrl: baseUrlOf(ctx.cfg, req) };
  const userId = callerUserId(res.locals.caller);
  let href: string;
  if (linked.inStore) href = (await store.downloadTarget(oid, size, where, DOWNLOAD_TTL_SECONDS, userId)).href;
  else if (urls) href = xetObjectHref(urls, where, file.repo.id, oid, size, DOWNLOAD_TTL_SECONDS, userId);
  else throw new Error('an object uploaded through Xet needs the server\'s signed URLs to be served');
  if (isDownload(req)) ctx.downloads.count(file.repo.id);
  // huggingface_hub reads these headers from the 302 itself (HEAD without following redirects).
  res.status(302).set({ ...headers, Location: href, 'Content-Length': '0' }).end();
}
