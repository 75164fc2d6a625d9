import fs from 'node:fs';
import { type NextFunction, type Request, type RequestHandler, type Response, Router } from 'express';
import type { Answer } from '../../access/answer.js';
import type { Action } from '../../access/policy.js';
import { authorizedRepo, repoGuard } from '../authorize.js';
import { redirectMoved } from '../moved.js';
import { cannotWrite, gitServiceEnv, isV2, safeGitProtocol } from '../../git/service-env.js';
import { repoDir } from '../../git/repo-dirs.js';
import { refreshListing } from '../../services/listing.js';
import { type AdvertisementCache, advertisementCache } from './advertisement.js';
import { NO_CACHE, plain, runService, type Service } from './service.js';
import type { AppContext } from '../context.js';
import { callerKey, type Limits } from '../limits.js';
import { gitRateMessage, gitSlotsMessage } from '../../util/rate-limits.js';
import { parseRepoPath } from '../repo-path.js';

// Git smart HTTP, under {repo}[.git]/ for the three repo types (models without prefix, datasets/,
// spaces/): the advertisement and the two services, each route declaring the access it needs
// (http/authorize.ts), behind the caller's git limits. The git processes themselves are run by http/git/service.ts.

type GitLimits = Pick<Limits, 'gitProcesses' | 'gitRequests'>;

/** `/{datasets/|spaces/}{ns}/{name}[.git]`, followed by exactly one git endpoint: the shapes parseRepoPath takes apart. */
const REPO_PREFIX = /^\/(?:(?:datasets|spaces)\/)?[^/]+\/[^/]+(?=\/(?:info\/refs|git-upload-pack|git-receive-pack)$)/;
const GIT_REST = /^\/(info\/refs|git-upload-pack|git-receive-pack)$/;
/** Seconds a caller at its git process limit is told to wait (when one of its processes ends is not known). */
const GIT_RETRY_AFTER_S = 10;
const DUMB_HTTP = 'hubgate serves git over smart HTTP only: use git 1.6.6 or later (dumb HTTP is not supported)';

export function gitRoutes(ctx: AppContext, limits: GitLimits): Router {
  // A moved repo's old name: 307 to the new one; git follows it on info/refs and uses the new address from there on.
  const guard = repoGuard(ctx, denyAsText, redirectMoved(307));
  const rate = requestRate(limits);
  const serve = serviceHandler(ctx, limits, advertisementCache());

  // Paths are matched exactly, as git sends them: no case folding, no trailing slash.
  // The caller's request rate is checked before the access decision, so a caller over its rate costs no look-up.
  const router = Router({ caseSensitive: true, strict: true });
  //   method       path                  dumb HTTP    rate                      access                          handler
  router.get(       '/info/refs',         smartOnly,   rate(ADVERTISEMENT),      guard(advertisedAction),        serve(ADVERTISEMENT));
  router.all(       '/info/refs',                                                                                methodNotAllowed('use GET for info/refs'));
  router.post(      '/git-upload-pack',                rate(UPLOAD_PACK),        guard('read'),                  serve(UPLOAD_PACK));
  router.all(       '/git-upload-pack',                                                                          methodNotAllowed('use POST for git-upload-pack'));
  router.post(      '/git-receive-pack',               rate(RECEIVE_PACK),       guard('write'),                 serve(RECEIVE_PACK));
  router.all(       '/git-receive-pack',                                                                         methodNotAllowed('use POST for git-receive-pack'));
  // Not reached: the prefix below admits only the three endpoints; anything else is another surface's.
  router.use((_req, _res, next) => next('router'));

  const app = Router();
  app.use(REPO_PREFIX, repoOfPath, router);
  return app;
}

/** One git endpoint: the service it runs (for info/refs, the one ?service asks for) and whether it only advertises refs. */
interface Endpoint {
  service: (req: Request) => Service;
  advertise: boolean;
}

/** info/refs?service=git-upload-pack|git-receive-pack; null without a smart service (dumb HTTP). */
function advertisedService(req: Request): Service | null {
  return req.query.service === 'git-upload-pack' ? 'upload-pack' : req.query.service === 'git-receive-pack' ? 'receive-pack' : null;
}

// info/refs is reached only past smartOnly, so its service is known there.
const ADVERTISEMENT: Endpoint = { service: (req) => advertisedService(req)!, advertise: true };
const UPLOAD_PACK: Endpoint = { service: () => 'upload-pack', advertise: false };
const RECEIVE_PACK: Endpoint = { service: () => 'receive-pack', advertise: false };

/** The advertisement needs what its service needs: pushing writes, fetching reads. */
function advertisedAction(req: Request): Action {
  return ADVERTISEMENT.service(req) === 'receive-pack' ? 'write' : 'read';
}

/** Parses and checks the repo part of the path once, for every git route; answers 400 when it is invalid. */
function repoOfPath(req: Request, res: Response, next: NextFunction): void {
  const parsed = parseRepoPath(req.baseUrl + req.path, GIT_REST);
  if (!parsed) return next('router');
  res.locals.route = 'git';
  if (!parsed.ok) return plain(res, 400, parsed.message);
  res.locals.repoRef = parsed.ref;
  next();
}

/** git's denials are text/plain, which git shows as "remote:" lines, with the answer's headers. */
function denyAsText(_req: Request, res: Response, answer: Answer): void {
  plain(res, answer.status, answer.message, { ...answer.headers, ...(answer.errorCode ? { 'X-Error-Code': answer.errorCode } : {}) });
}

function methodNotAllowed(message: string): RequestHandler {
  return (_req, res) => plain(res, 405, message);
}

/** info/refs without a smart service would be dumb HTTP: refused before anything else. */
function smartOnly(req: Request, res: Response, next: NextFunction): void {
  if (!advertisedService(req)) return plain(res, 403, DUMB_HTTP);
  next();
}

/** The caller's git request rate (per minute); over it, 429 in the form the endpoint's git client shows. */
function requestRate(limits: GitLimits): (endpoint: Endpoint) => RequestHandler {
  return (endpoint) => (req, res, next) => {
    const wait = limits.gitRequests.take(callerKey(req, res));
    if (!wait) return next();
    tooManyGit(res, endpoint.service(req), endpoint.advertise, gitRateMessage(limits.gitRequests, callerName(res), wait), wait);
  };
}

function callerName(res: Response): string {
  const caller = res.locals.caller;
  return caller.kind === 'user' ? `user ${caller.user.name}` : 'your address';
}

function serviceHandler(ctx: AppContext, limits: GitLimits, advertisements: AdvertisementCache): (endpoint: Endpoint) => RequestHandler {
  return (endpoint) => async (req, res) => {
    const service = endpoint.service(req);
    const advertise = endpoint.advertise;
    const caller = res.locals.caller;
    // Names match case-insensitively (as on the Hub), directories do not: from here on, the repo's stored spelling.
    const { ref, repoId, row } = authorizedRepo(res);
    const dir = repoDir(ctx.cfg.dataDir, ref);
    if (!fs.existsSync(dir)) {
      ctx.log.error({ repo: repoId }, 'repository row exists but its directory is missing');
      return plain(res, 404, `Repository not found: ${repoId}`);
    }
    if (!advertise && req.get('content-type') !== `application/x-git-${service}-request`) {
      return plain(res, 415, `Content-Type must be application/x-git-${service}-request`);
    }
    // A push to a full or read-only disk is refused before it starts, with a reason git shows
    // ("remote: ..."): at the advertisement, which every push fetches first, and again at the pack.
    if (service === 'receive-pack') {
      const fault = await cannotWrite(dir);
      if (fault) {
        ctx.log.error({ repo: repoId, err: fault.message }, 'push refused: storage fault');
        return plain(res, fault.status, fault.message, 'retryAfter' in fault ? { 'Retry-After': String(fault.retryAfter) } : {});
      }
    }

    const gitProtocol = safeGitProtocol(req.get('git-protocol'));
    const env = gitServiceEnv(ctx.cfg.dataDir, { repoId, repoType: ref.type, userName: caller.kind === 'user' ? caller.user.name : null, gitProtocol, maxFileSize: ctx.cfg.maxFileSize });
    // One caller's clones and pushes cannot take every process slot of the machine.
    // A burst waits a little for a slot (given up if the client leaves); a caller holding its slots gets 429.
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    // A client that left during the lookups above closed the response before anyone listened.
    if (res.destroyed || req.socket.destroyed) gone.abort();
    const release = await limits.gitProcesses.acquireWithin(callerKey(req, res), ctx.cfg.gitSlotWaitMs, gone.signal);
    if (release && gone.signal.aborted) return release();
    if (!release) {
      const message = gitSlotsMessage(limits.gitProcesses, callerName(res), ctx.cfg.gitSlotWaitMs);
      return tooManyGit(res, service, advertise, message, GIT_RETRY_AFTER_S);
    }
    const v2 = isV2(gitProtocol);
    // A v2 fetch's first request lists capabilities only: answered from what git said before, no process.
    if (advertise && v2 && service === 'upload-pack') {
      const body = await advertisements.uploadPackV2(dir, env).catch(() => null);
      if (body) {
        release();
        res.writeHead(200, { ...NO_CACHE, 'Content-Type': 'application/x-git-upload-pack-advertisement', 'Content-Length': String(body.length) });
        return void res.end(body);
      }
    }
    // After a push, listings read the card of the default branch again (it may have moved).
    const afterPush = () => void refreshListing(ctx.db, ctx.cfg.dataDir, { ...ref, id: row.id }, ctx.log);
    runService(ctx, req, res, { service, advertise, dir, env, repoId, v2, release, afterPush });
  };
}

/**
 * The answer at one of the caller's git limits: 429 with Retry-After. git shows the text/plain
 * body of a failed info/refs as "remote:" lines, but of a failed POST only "RPC failed; HTTP 429".
 * So an upload-pack POST gets git's own protocol error instead, a 200 whose one pkt-line is
 * "ERR ...", which git prints as "fatal: remote error: ..."; receive-pack, which expects
 * side-band answers, keeps the plain 429.
 */
function tooManyGit(res: Response, service: Service, advertise: boolean, message: string, retryAfter: number): void {
  const headers = { 'Retry-After': String(retryAfter) };
  if (advertise || service === 'receive-pack') return plain(res, 429, message, headers);
  const line = Buffer.from(`ERR ${message}\n`);
  res.status(200).set({ ...NO_CACHE, ...headers, 'Content-Type': `application/x-git-${service}-result` });
  res.send(Buffer.concat([Buffer.from((line.length + 4).toString(16).padStart(4, '0')), line]));
}

