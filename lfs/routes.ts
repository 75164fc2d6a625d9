import { type NextFunction, type Request, type Response, Router } from 'express';
import { repoIdOf } from '../src/domain/names.js';
import { jsonReader, type LfsRepo, lfsError, lfsFaults, methodNotAllowed } from './http.js';
import { asUser, lockHandlers } from './locks.js';
import { objectHandlers, operationOf } from './objects.js';
import type { LfsPorts, LfsWeb } from './ports.js';
import type { Signer } from './signing.js';
import type { ObjectStore } from './store/types.js';
import type { Transfers } from './transfers.js';
import { xetObjectDownload } from './xet-objects.js';

// Every Git LFS HTTP endpoint, under {repo}[.git]/info/lfs/ for the three repo types (models
// without prefix, datasets/, spaces/). The batch and lock endpoints are authorised by the access
// policy through the pipeline's guard; verify, completion and the fs store's transfer URLs by the
// signed token they carry.

/** The LFS parts the composition root builds: where objects live, the link signer, the transfer logic. */
export interface LfsDeps {
  store: ObjectStore;
  signer: Signer;
  transfers: Transfers;
  /** The internal location of the store's root behind nginx (X-Accel-Redirect), if downloads are offloaded. */
  accelRedirect?: string;
}

/** `/{datasets/|spaces/}{ns}/{name}[.git]/info/lfs`, followed by an endpoint: the shapes parseRepoPath takes apart. */
const REPO_PREFIX = /^\/(?:(?:datasets|spaces)\/)?[^/]+\/[^/]+\/info\/lfs(?=\/.)/;
const LFS_REST = /^\/info\/lfs\/./;

const OBJECT = /^\/objects\/(?<oid>[0-9a-f]{64})$/;
const XET_OBJECT = /^\/xet-objects\/(?<oid>[0-9a-f]{64})$/;
const MULTIPART_COMPLETE = /^\/multipart\/(?<uploadId>[A-Za-z0-9_-]{16,64})\/complete$/;
const MULTIPART_PART = /^\/multipart\/(?<uploadId>[A-Za-z0-9_-]{16,64})\/(?<partNumber>[0-9]{1,5})$/;
// No capture group: the unlock handler takes the id from the path as sent, not percent-decoded.
const UNLOCK = /^\/locks\/[^/]+\/unlock$/;

export function lfsRoutes(lfs: LfsDeps, ports: LfsPorts): Router {
  const { guard } = ports;
  const readJson = jsonReader(ports.web);
  const objects = objectHandlers(lfs.signer, lfs.transfers, ports.links, readJson, ports.downloads, ports.xet);
  const locks = lockHandlers(ports.locks, readJson);
  // Stores whose transfer URLs point at hubgate itself (fs) bring their handlers; decided here, once.
  const transfers = lfs.store.transferHandlers?.({ signer: lfs.signer, links: ports.links, accelRedirect: lfs.accelRedirect });

  // Paths are matched exactly, as git-lfs sends them: no case folding, no trailing slash.
  const router = Router({ caseSensitive: true, strict: true });
  //   method       path                  authorised by                           handler
  // The batch body says whether it uploads (write) or downloads (read), so it is parsed before the guard.
  router.post(      '/objects/batch',     objects.batchBody, guard(operationOf),  objects.batch);
  router.all(       '/objects/batch',                                             methodNotAllowed('use POST for the batch API'));
  router.post(      '/objects/verify',    /* signed URL */                        objects.verify);
  router.all(       '/objects/verify',                                            methodNotAllowed('use POST to verify'));
  router.post(      MULTIPART_COMPLETE,   /* signed URL */                        objects.completeMultipart);
  router.all(       MULTIPART_COMPLETE,                                           methodNotAllowed('use POST to complete a multipart upload'));
  router.get(       '/locks',             guard('read'), /* GET and HEAD */       locks.list);
  router.post(      '/locks',             guard('write'), asUser,                 locks.create);
  router.all(       '/locks',                                                     methodNotAllowed('use GET to list locks or POST to create one', 'GET, POST'));
  router.post(      '/locks/verify',      guard('write'), asUser,                 locks.verify);
  router.all(       '/locks/verify',                                              methodNotAllowed('use POST to verify locks', 'POST'));
  // Removing someone else's lock (`force`) also needs admin: the handler reads it from the same decision.
  router.post(      UNLOCK,               guard('write'), asUser,                 locks.unlock);
  router.all(       UNLOCK,                                                       methodNotAllowed('use POST to unlock', 'POST'));
  if (transfers) {
    router.get(     OBJECT,               /* signed URL (GET and HEAD) */         transfers.download);
    router.put(     OBJECT,               /* signed URL */                        transfers.upload);
    router.put(     MULTIPART_PART,       /* signed URL */                        transfers.uploadPart);
  }
  if (ports.xetObjects) {
    // Objects uploaded through Xet, with any store: their reconstruction streamed by hubgate.
    router.get(     XET_OBJECT,           /* signed URL (GET and HEAD) */         xetObjectDownload(lfs.signer, ports.links, ports.xetObjects));
  }
  router.use((req, res) => lfsError(req, res, 404, `no LFS endpoint ${req.method} .../info/lfs/${req.path.slice(1, 101)}`));
  router.use(lfsFaults);

  const app = Router();
  app.use(REPO_PREFIX, repoOfPath(ports.web), router);
  return app;
}

/**
 * Parses and checks the repo part of the path once, for every LFS route; answers 400 when it is
 * invalid. The guard reads res.locals.repoRef; handlers read the repo as the caller spelled it.
 */
function repoOfPath(web: LfsWeb) {
  return (req: Request, res: Response, next: NextFunction) => {
    const parsed = web.parseRepoPath(req.baseUrl + req.path, LFS_REST);
    if (!parsed) return next('router');
    res.locals.route = 'lfs';
    if (!parsed.ok) return lfsError(req, res, 400, parsed.message);
    const lfsRepo: LfsRepo = { ref: parsed.ref, where: { repoId: repoIdOf(parsed.ref), baseUrl: web.baseUrl(req) } };
    res.locals.repoRef = parsed.ref;
    res.locals.lfsRepo = lfsRepo;
    next();
  };
}
