import type { Request, RequestHandler, Response } from 'express';
import { HubgateError } from '../src/domain/errors.js';
import { answerFault, callerOf, guardedRepo, type JsonReader, type LfsRepo, lfsError, lfsJson, lfsRepoOf } from './http.js';
import type { DownloadsPort, LfsAction, LinksPort, XetBatchPort } from './ports.js';
import { type BatchRequest, batchRequest, MAX_BATCH_OBJECTS, multipartCompletion, type ObjectResult, OID, verifyRequest } from './protocol.js';
import { claimsFor, INVALID_LINK, UPLOAD_PURPOSE } from './signed-links.js';
import type { Signer } from './signing.js';
import { ByteMismatch } from './store/byte-mismatch.js';
import type { Transfers } from './transfers.js';

// The handlers of the LFS object endpoints every store has: the batch API (authorised by the
// access policy, through the route's guard), and verify and multipart completion (authorised by
// their signed URLs).

/** The batch request, parsed by batchBody before the guard. */
function batchOf(res: Response): BatchRequest {
  return res.locals.lfsBatch as BatchRequest;
}

/** The action a batch needs: write to upload, read to download. */
export function operationOf(_req: Request, res: Response): LfsAction {
  return batchOf(res).operation === 'upload' ? 'write' : 'read';
}

export function objectHandlers(signer: Signer, transfers: Transfers, links: LinksPort, readJson: JsonReader, downloads: DownloadsPort, xet?: XetBatchPort) {
  /** Parses and checks the batch body (before the guard, which needs its operation); answers what is wrong with it. */
  const batchBody: RequestHandler = async (req, res, next) => {
    const body = await readJson(req, res);
    if (body === undefined) return;
    const parsed = batchRequest.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return lfsError(req, res, 422, `invalid batch request: ${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    if (parsed.data.objects.length > MAX_BATCH_OBJECTS) {
      return lfsError(req, res, 413, `too many objects in one batch (${parsed.data.objects.length}): send at most ${MAX_BATCH_OBJECTS}`);
    }
    res.locals.lfsBatch = parsed.data;
    next();
  };

  const batch: RequestHandler = async (req, res) => {
    const { ref, where } = lfsRepoOf(res);
    const asked = batchOf(res);
    if (xet && asked.operation === 'upload' && (asked.transfers ?? []).includes('xet')) return xetBatch(res, ref, where.baseUrl);
    const caller = callerOf(res);
    const client = { userAgent: req.get('user-agent'), userId: caller.kind === 'user' ? caller.user.id : null };
    const repoId = guardedRepo(res).row.id;
    const answer = await transfers.batch({ id: repoId, ...where }, batchOf(res), client);
    // Each object handed a download link is one download of the repo (git lfs pull, clone, huggingface_hub's LFS reads).
    if (batchOf(res).operation === 'download') downloads.count(repoId, answer.objects.filter((o) => o.actions?.download).length);
    lfsJson(res, 200, answer);
  };

  /** An upload batch answered with the xet transfer: objects are checked one by one, as for the others. */
  async function xetBatch(res: Response, ref: LfsRepo['ref'], baseUrl: string): Promise<void> {
    const objects = batchOf(res).objects;
    const valid: { oid: string; size: number }[] = [];
    const answers: ObjectResult[] = objects.map((o) => {
      const oid = typeof o.oid === 'string' ? o.oid : '';
      const size = typeof o.size === 'number' ? o.size : -1;
      if (!OID.test(oid)) return { oid, size, error: { code: 422, message: 'oid must be 64 lowercase hex characters' } };
      if (!Number.isSafeInteger(size) || size < 0) return { oid, size, error: { code: 422, message: 'size must be a non-negative integer' } };
      valid.push({ oid, size });
      return { oid, size };
    });
    const planned = await xet!.uploadBatch(guardedRepo(res).row.id, ref, baseUrl, valid);
    let i = 0;
    for (const a of answers) {
      if (a.error) continue;
      const p = planned[i++];
      if (p.upload) a.actions = { upload: { href: p.upload, header: {}, expires_in: 3600 } };
    }
    lfsJson(res, 200, { transfer: 'xet', objects: answers, hash_algo: 'sha256' });
  }

  const verify: RequestHandler = async (req, res) => {
    const { ref, where } = lfsRepoOf(res);
    const claims = claimsFor(signer, req, ['verify', UPLOAD_PURPOSE], where);
    if (!claims) return lfsError(req, res, 401, INVALID_LINK, { 'LFS-Authenticate': 'Basic realm="hubgate"' });
    const body = await readJson(req, res);
    if (body === undefined) return;
    const parsed = verifyRequest.safeParse(body);
    if (!parsed.success) return lfsError(req, res, 422, `invalid verify request: ${parsed.error.issues[0].message}`);
    const row = await links.uploadIn(ref, String(claims.u));
    if (!row || row.oid !== parsed.data.oid) return lfsError(req, res, 404, 'no such upload for this object');
    const result = await transfers.verify(row, where, parsed.data.size);
    if (!result.ok) return lfsError(req, res, result.status, result.message, result.retryAfter ? { 'Retry-After': String(result.retryAfter) } : {});
    lfsJson(res, 200, { message: 'ok' });
  };

  const completeMultipart: RequestHandler = async (req, res) => {
    const { ref, where } = lfsRepoOf(res);
    const claims = claimsFor(signer, req, 'complete', where);
    if (!claims || claims.u !== req.params.uploadId) return lfsError(req, res, 401, INVALID_LINK);
    const body = await readJson(req, res);
    if (body === undefined) return;
    const parsed = multipartCompletion.safeParse(body);
    if (!parsed.success) return lfsError(req, res, 422, `invalid completion request: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`);
    const row = await links.uploadIn(ref, String(claims.u));
    if (!row || row.oid !== parsed.data.oid) return lfsError(req, res, 404, 'no such upload for this object');
    // A retried completion whose first answer was lost is answered the same way again.
    if (row.state === 'hashing' || row.state === 'done') return lfsJson(res, 200, { message: 'ok' });
    if (row.state !== 'open') return lfsError(req, res, 409, 'this upload failed its checks: push again to start a new one');
    try {
      await transfers.completeMultipart(row, where, [...parsed.data.parts].sort((a, b) => a.partNumber - b.partNumber));
    } catch (err) {
      if (answerFault(req, res, err)) return;
      if (err instanceof ByteMismatch || err instanceof HubgateError) return lfsError(req, res, 400, err.message);
      throw err;
    }
    lfsJson(res, 200, { message: 'ok' });
  };

  return { batchBody, batch, verify, completeMultipart };
}
