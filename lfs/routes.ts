import { type NextFunction, type Request, type Response, Router } from 'express';
import { baseUrlOf } from '../src/http/urls.js';
import { repoIdOf } from '../src/domain/names.js';
import type { AppContext } from '../src/http/context.js';
import { parseRepoPath } from '../src/http/repo-path.js';
import { type LfsRepo, lfsError, lfsFaults, methodNotAllowed } from './http.js';
import { lockHandlers } from './locks.js';
import { objectHandlers } from './objects.js';
import type { Signer } from './signing.js';
import type { ObjectStore } from './store/types.js';
import type { Transfers } from './transfers.js';

// Every Git LFS HTTP endpoint, under {repo}[.git]/info/lfs/ for the three repo types (models
// without prefix, datasets/, spaces/). The batch and lock endpoints are authorised by the access
// policy; verify, completion and the fs store's transfer URLs by the signed token they carry.

export interface LfsDeps {
  store: ObjectStore;
  signer: Signer;
  transfers: Transfers;
}

/** `/{datasets/|spaces/}{ns}/{name}[.git]/info/lfs`, followed by an endpoint: the shapes parseRepoPath takes apart. */
const REPO_PREFIX = /^\/(?:(?:datasets|spaces)\/)?[^/]+\/[^/]+\/info\/lfs(?=\/.)/;
const LFS_REST = /^\/info\/lfs\/./;

const OBJECT = /^\/objects\/(?<oid>[0-9a-f]{64})$/;
const MULTIPART_COMPLETE = /^\/multipart\/(?<uploadId>[A-Za-z0-9_-]{16,64})\/complete$/;
const MULTIPART_PART = /^\/multipart\/(?<uploadId>[A-Za-z0-9_-]{16,64})\/(?<partNumber>[0-9]{1,5})$/;
// No capture group: the unlock handler takes the id from the path as sent, not percent-decoded.
const UNLOCK = /^\/locks\/[^/]+\/unlock$/;

export function lfsRoutes(ctx: AppContext, lfs: LfsDeps): Router {
  const objects = objectHandlers(ctx, lfs.signer, lfs.transfers);
  const locks = lockHandlers(ctx);
  // Stores whose transfer URLs point at hubgate itself (fs) bring their handlers; decided here, once.
  const transfers = lfs.store.transferHandlers?.({ ctx, signer: lfs.signer });

  // Paths are matched exactly, as git-lfs sends them: no case folding, no trailing slash.
  const router = Router({ caseSensitive: true, strict: true });
  //   method       path                  authorised by                      handler
  router.post(      '/objects/batch',     /* policy: read or write */        objects.batch);
  router.all(       '/objects/batch',                                        methodNotAllowed('use POST for the batch API'));
  router.post(      '/objects/verify',    /* signed URL */                   objects.verify);
  router.all(       '/objects/verify',                                       methodNotAllowed('use POST to verify'));
  router.post(      MULTIPART_COMPLETE,   /* signed URL */                   objects.completeMultipart);
  router.all(       MULTIPART_COMPLETE,                                      methodNotAllowed('use POST to complete a multipart upload'));
  router.get(       '/locks',             /* policy: read (GET and HEAD) */  locks.list);
  router.post(      '/locks',             /* policy: write, as a user */     locks.create);
  router.all(       '/locks',                                                methodNotAllowed('use GET to list locks or POST to create one', 'GET, POST'));
  router.post(      '/locks/verify',      /* policy: write, as a user */     locks.verify);
  router.all(       '/locks/verify',                                         methodNotAllowed('use POST to verify locks', 'POST'));
  router.post(      UNLOCK,               /* policy: write; admin to force */ locks.unlock);
  router.all(       UNLOCK,                                                  methodNotAllowed('use POST to unlock', 'POST'));
  if (transfers) {
    router.get(     OBJECT,               /* signed URL (GET and HEAD) */    transfers.download);
    router.put(     OBJECT,               /* signed URL */                   transfers.upload);
    router.put(     MULTIPART_PART,       /* signed URL */                   transfers.uploadPart);
  }
  router.use((req, res) => lfsError(req, res, 404, `no LFS endpoint ${req.method} .../info/lfs/${req.path.slice(1, 101)}`));
  router.use(lfsFaults);

  const app = Router();
  app.use(REPO_PREFIX, repoOfPath(ctx), router);
  return app;
}

/** Parses and checks the repo part of the path once, for every LFS route; answers 400 when it is invalid. */
function repoOfPath(ctx: AppContext) {
  return (req: Request, res: Response, next: NextFunction) => {
    const parsed = parseRepoPath(req.baseUrl + req.path, LFS_REST);
    if (!parsed) return next('router');
    res.locals.route = 'lfs';
    if (!parsed.ok) return lfsError(req, res, 400, parsed.message);
    const lfsRepo: LfsRepo = { ref: parsed.ref, where: { repoId: repoIdOf(parsed.ref), baseUrl: baseUrlOf(ctx.cfg, req) } };
    res.locals.lfsRepo = lfsRepo;
    next();
  };
}
