import type { Request, RequestHandler, Response } from 'express';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { rangeAnswer } from '../../src/util/byte-range.js';
import { sendFileRange } from '../../src/util/send-file.js';
import { deny, lfsError, lfsRepoOf } from '../http.js';
import { claimsFor, INVALID_LINK, UPLOAD_PURPOSE } from '../signed-links.js';
import { staged } from '../transfers.js';
import { ByteMismatch } from './byte-mismatch.js';
import type { StagedUpload, TransferDeps, TransferHandlers } from './types.js';

// The fs store's transfer URLs: clients GET and PUT objects and parts through hubgate itself,
// authorised by the signed token the batch answer put in the URL. The LFS router mounts these
// only when the store is fs.

/** What the fs store gives its transfer handlers: where an object lies, and how bytes come in. */
export interface FsTransferStore {
  /** Path of a stored object (for Range reads by the download route). */
  objectPath(oid: string): string;
  /** The same path relative to the store's root (`objects/aa/bb/OID`), for a proxy's internal location. */
  relativeObjectPath(oid: string): string;
  /** Streams the body of a basic upload into staging, checking sha256 and size; on a mismatch nothing is kept. */
  writeStaged(upload: StagedUpload, body: Readable): Promise<void>;
  /** Streams one part of a multipart upload; returns its etag. */
  writePart(upload: StagedUpload, partNumber: number, body: Readable): Promise<string>;
}

export function fsTransferHandlers({ signer, links, accelRedirect }: TransferDeps, store: FsTransferStore): TransferHandlers {
  /** Checks a transfer PUT against its signed token and the declared length before reading any byte. */
  async function openPut(req: Request, res: Response, purpose: 'put' | 'part') {
    const { ref, where } = lfsRepoOf(res);
    // A basic upload's PUT also takes the token it shares with its verify URL.
    const claims = claimsFor(signer, req, purpose === 'put' ? ['put', UPLOAD_PURPOSE] : purpose, where);
    const row = claims && (await links.uploadIn(ref, String(claims.u)));
    if (!claims || !row || row.state !== 'open') {
      lfsError(req, res, 401, INVALID_LINK);
      return undefined;
    }
    return { claims, row, staged: staged(row, where) };
  }

  const download: RequestHandler = async (req, res) => {
    const { ref, where } = lfsRepoOf(res);
    const oid = req.params.oid;
    const claims = claimsFor(signer, req, 'get', where);
    if (!claims || claims.o !== oid) return lfsError(req, res, 401, INVALID_LINK);
    // The link was issued to a user who could read then; ask again, so a rejected request, a
    // cancelled grant or a removed member stops the download at once, not when the link expires.
    const denial = await links.readDenial(claims.c, ref, where.baseUrl);
    if (denial) return deny(req, res, denial);
    const headers = { 'Content-Type': 'application/octet-stream', ETag: `"${oid}"` };
    if (accelRedirect) {
      // Behind nginx (HUBGATE_ACCEL_REDIRECT): hubgate has authorised, the proxy sends the file
      // with sendfile and answers the Range itself. The path is built from the checked oid only.
      const size = await fsp.stat(store.objectPath(oid)).then((st) => st.size, () => null);
      if (size === null) return lfsError(req, res, 404, 'Object does not exist');
      return void res.status(200).set({ ...headers, 'Accept-Ranges': 'bytes', 'X-Accel-Redirect': accelRedirect + store.relativeObjectPath(oid), 'Content-Length': '0' }).end();
    }
    const handle = await fsp.open(store.objectPath(oid), 'r').catch(() => null);
    if (!handle) return lfsError(req, res, 404, 'Object does not exist');
    let size: number;
    try {
      size = (await handle.stat()).size;
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
    const answer = rangeAnswer((name) => req.get(name), headers.ETag, size);
    if (answer.kind !== 'body') {
      await handle.close().catch(() => {});
      // A range past the end is a 416 (git-lfs then restarts the download), not a missing object.
      if (answer.kind === 'unsatisfiable') return lfsError(req, res, 416, `Range Not Satisfiable: ${req.get('range')}`, { 'Content-Range': `bytes */${size}` });
      return void res.status(304).set({ ETag: headers.ETag }).end();
    }
    // The ETag is the oid, as the resolve redirect's: @huggingface/hub reads it from the response it was redirected to.
    const { range, partial } = answer;
    res.status(partial ? 206 : 200).set({ ...headers, 'Accept-Ranges': 'bytes', 'Content-Length': String(range.end - range.start + 1) });
    if (partial) res.set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    if (req.method === 'HEAD') {
      await handle.close().catch(() => {});
      return void res.end();
    }
    sendFileRange(handle, res, range);
  };

  const upload: RequestHandler = async (req, res) => {
    const put = await openPut(req, res, 'put');
    if (!put) return;
    if (put.row.oid !== req.params.oid || put.row.kind !== 'basic') return lfsError(req, res, 401, INVALID_LINK);
    const length = req.get('content-length');
    if (length !== undefined && Number(length) !== put.row.size) return lfsError(req, res, 400, `Content-Length ${length} does not match the object size ${put.row.size}`);
    try {
      await store.writeStaged(put.staged, req);
    } catch (err) {
      if (err instanceof ByteMismatch) return lfsError(req, res, 400, `${err.message}; nothing was stored`);
      if (clientGone(req)) return;
      throw err;
    }
    res.status(200).end();
  };

  const uploadPart: RequestHandler = async (req, res) => {
    const put = await openPut(req, res, 'part');
    if (!put) return;
    const partNumber = Number(req.params.partNumber);
    if (put.row.id !== req.params.uploadId || put.claims.n !== partNumber || put.row.kind !== 'multipart') return lfsError(req, res, 401, INVALID_LINK);
    try {
      const etag = await store.writePart(put.staged, partNumber, req);
      res.status(200).set('ETag', etag).end();
    } catch (err) {
      if (err instanceof ByteMismatch) return lfsError(req, res, 400, `${err.message}; the part was not stored`);
      if (clientGone(req)) return;
      throw err;
    }
  };

  return { download, upload, uploadPart };
}

/**
 * Whether the client's connection is gone, so nothing can answer it. (req.destroyed is no sign
 * of that: a request is destroyed as soon as its whole body has been read.) Disk faults are
 * answered by the LFS router's fault handler.
 */
function clientGone(req: Request): boolean {
  return req.socket?.destroyed ?? true;
}
