import type { RequestHandler, Response } from 'express';
import { deny, lfsError, lfsRepoOf } from './http.js';
import type { LinksPort, XetObjectsPort } from './ports.js';
import { claimsFor, INVALID_LINK } from './signed-links.js';
import type { Signer } from './signing.js';
import { rangeAnswer } from '../src/util/byte-range.js';
import type { HubUrls, RepoAt } from './store/types.js';

// Downloads of objects uploaded through Xet (their bytes are only in xorbs): a batch or a resolve
// redirect hands out hubgate's own signed URL, .../info/lfs/xet-objects/{oid}?token=..., with any
// store; a GET of it asks the access policy again (as the fs store's links do) and streams the
// file's reconstruction, Range supported. The token names the repo's row, so a repo deleted and
// made again under its name serves none of the old one's files.

const PURPOSE = 'xet-object';

/** The signed URL of an object uploaded through Xet, for `userId` (null: anonymous). */
export function xetObjectHref(urls: HubUrls, where: RepoAt, repoRowId: number, oid: string, size: number, ttlSeconds: number, userId: number | null): string {
  return urls.signed(where, `xet-objects/${oid}`, { p: PURPOSE, o: oid, s: size, i: repoRowId, c: userId ?? 0 }, ttlSeconds);
}

/** GET (and HEAD) of a signed xet-objects URL. */
export function xetObjectDownload(signer: Signer, links: LinksPort, objects: XetObjectsPort): RequestHandler {
  return async (req, res) => {
    const { ref, where } = lfsRepoOf(res);
    const oid = req.params.oid;
    const claims = claimsFor(signer, req, PURPOSE, where);
    if (!claims || claims.o !== oid || typeof claims.i !== 'number') return lfsError(req, res, 401, INVALID_LINK);
    // Asked again at every download: a rejected request, a cancelled grant or a removed member stops it at once.
    const denial = await links.readDenial(claims.c, ref, where.baseUrl);
    if (denial) return deny(req, res, denial);
    const object = await objects.open(claims.i, oid);
    if (!object) return lfsError(req, res, 404, 'Object does not exist');
    const etag = `"${oid}"`;
    const answer = rangeAnswer((name) => req.get(name), etag, object.size);
    if (answer.kind !== 'body') {
      if (answer.kind === 'unsatisfiable') return lfsError(req, res, 416, `Range Not Satisfiable: ${req.get('range')}`, { 'Content-Range': `bytes */${object.size}` });
      return void res.status(304).set({ ETag: etag }).end();
    }
    const { range, partial } = answer;
    res.status(partial ? 206 : 200).set({
      'Content-Type': 'application/octet-stream', ETag: etag, 'Accept-Ranges': 'bytes', 'Content-Length': String(range.end - range.start + 1),
    });
    if (partial) res.set('Content-Range', `bytes ${range.start}-${range.end}/${object.size}`);
    if (req.method === 'HEAD' || object.size === 0) return void res.end();
    try {
      for await (const batch of object.read(range.start, range.end)) {
        if (res.destroyed) return; // the client hung up: stop reading
        // One batch (the chunks of one block read) goes out in one writev, without copying them together.
        res.cork();
        let room = true;
        for (const piece of batch) room = res.write(piece) && room;
        res.uncork();
        if (!room) await drained(res);
      }
      res.end();
    } catch (err) {
      // The status and length are sent: a cut connection is the only way left to say the body is incomplete.
      if (!res.destroyed) res.destroy();
      req.log.error({ err, oid }, 'streaming a Xet object failed');
    }
  };
}

/** Resolves once the response can take more (or is gone). */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
