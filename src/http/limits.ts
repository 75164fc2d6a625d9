import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ConcurrencyLimit, RateLimit } from '../util/rate-limits.js';

export { ConcurrencyLimit, RateLimit };

// Per-caller limits, so that one caller cannot starve the rest: concurrent git processes, and
// requests per minute. The counts live in this server process only (several hubgate processes
// behind one address each count on their own), which is what matters for local git processes.
// A caller is its token's user, or else its IP address (anonymous callers and bad tokens alike).

/** The key a caller is counted under. */
export function callerKey(req: Request, res: Response): string {
  const caller = res.locals.caller;
  return caller?.kind === 'user' ? `user:${caller.user.id}` : `ip:${req.socket.remoteAddress ?? 'unknown'}`;
}

/** The limits of one server process (built by the composition root from the settings), shared by HTTP and SSH. */
export interface Limits {
  /** git upload-pack / receive-pack processes running for one caller. */
  gitProcesses: ConcurrencyLimit;
  /**
   * git smart HTTP requests of one caller. Each starts a git process, and starting one holds the
   * event loop for milliseconds (a fork of the server process), so their rate matters as well as
   * how many run at once.
   */
  gitRequests: RateLimit;
  /** Hub API (/api/...) and LFS batch requests of one caller. */
  apiRequests: RateLimit;
  /** Anonymous POST /api/validate-yaml of one IP address (each parses a card). */
  anonymousValidateYaml: RateLimit;
}

export function createLimits(cfg: { gitProcessesPerCaller: number; gitRequestsPerMinute: number; apiRequestsPerMinute: number; validateYamlPerMinute: number }): Limits {
  return {
    gitProcesses: new ConcurrencyLimit(cfg.gitProcessesPerCaller),
    gitRequests: new RateLimit(cfg.gitRequestsPerMinute),
    apiRequests: new RateLimit(cfg.apiRequestsPerMinute),
    anonymousValidateYaml: new RateLimit(cfg.validateYamlPerMinute),
  };
}

const LFS_BATCH = /\/info\/lfs\/objects\/batch$/;

/**
 * Counts Hub API and LFS batch requests per caller, and anonymous validate-yaml per IP; over the
 * limit answers 429 with Retry-After in the route's own format (API JSON, or LFS JSON, which
 * git-lfs honours by waiting and retrying). Runs after the caller is identified.
 */
export function requestRates(limits: Limits): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const lfsBatch = req.method === 'POST' && LFS_BATCH.test(req.path);
    if (!lfsBatch && !req.path.startsWith('/api/')) return next();
    if (req.method === 'POST' && req.path === '/api/validate-yaml' && res.locals.caller?.kind !== 'user') {
      const wait = limits.anonymousValidateYaml.take(`ip:${req.socket.remoteAddress ?? 'unknown'}`);
      if (wait) {
        return tooMany(res, 'api', wait, `too many anonymous validate-yaml requests from your address: at most ${limits.anonymousValidateYaml.perMinute} a minute; retry in ${wait} s, or send a token (Authorization: Bearer hf_...)`);
      }
    }
    const wait = limits.apiRequests.take(callerKey(req, res));
    if (!wait) return next();
    const who = res.locals.caller?.kind === 'user' ? 'your user' : 'your address';
    return tooMany(res, lfsBatch ? 'lfs' : 'api', wait, `too many requests: at most ${limits.apiRequests.perMinute} API and LFS batch requests a minute for ${who}; retry in ${wait} s`);
  };
}

function tooMany(res: Response, format: 'api' | 'lfs', retryAfter: number, message: string): void {
  res.status(429).set('Retry-After', String(retryAfter));
  if (format === 'lfs') res.set('Content-Type', 'application/vnd.git-lfs+json').send(JSON.stringify({ message }));
  else res.set('X-Error-Message', message).json({ error: message });
}
