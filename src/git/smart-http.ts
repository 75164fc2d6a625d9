import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream';
import zlib from 'node:zlib';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { answerFor } from '../access/answer.js';
import { resolveAccess } from '../access/resolve.js';
import { baseUrlOf } from '../api/respond.js';
import type { AppContext } from '../http/context.js';
import { DISK_FULL, faultCodeInText, InsufficientStorage, ServiceUnavailable, storageFault } from '../domain/faults.js';
import { callerKey, type Limits } from '../http/limits.js';
import { repoIdOf } from '../domain/names.js';
import { parseRepoPath } from '../http/repo-path.js';
import { gitEnv } from './env.js';
import { repoDir } from './repo-dirs.js';

// Git smart HTTP (protocol v0 and v2) by spawning git's own upload-pack / receive-pack
// with --stateless-rpc and streaming both ways. Dumb HTTP is not served.

type Service = 'upload-pack' | 'receive-pack';
const GIT_ROUTE = /^\/(info\/refs|git-upload-pack|git-receive-pack)$/;
// Only well-formed key=value pairs reach GIT_PROTOCOL (the same guard as Gitea's).
const SAFE_GIT_PROTOCOL = /^[0-9a-zA-Z]+=[0-9a-zA-Z]+(:[0-9a-zA-Z]+=[0-9a-zA-Z]+)*$/;
/** Seconds a caller at its git process limit is told to wait (when one of its processes ends is not known). */
const GIT_RETRY_AFTER_S = 10;
const NO_CACHE = {
  'Cache-Control': 'no-cache, max-age=0, must-revalidate',
  Pragma: 'no-cache',
  Expires: 'Fri, 01 Jan 1980 00:00:00 GMT',
};

function plain(res: Response, status: number, message: string, headers: Record<string, string> = {}): void {
  // git prints a text/plain error body to the user as "remote: ..." lines.
  res.status(status).set({ ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).send(`${message}\n`);
}

/** Free bytes below which a push is refused at once: git needs room for the pack and its index. */
const MIN_FREE_BYTES = 1024 * 1024;

/** The fault a push into `dir` would meet: its objects/ cannot be written, or the disk is (nearly) full. */
async function cannotWrite(dir: string): Promise<InsufficientStorage | ServiceUnavailable | undefined> {
  const objects = path.join(dir, 'objects');
  try {
    await fs.promises.access(objects, fs.constants.W_OK);
    const space = await fs.promises.statfs(objects);
    if (space.bavail * space.bsize < MIN_FREE_BYTES) return new InsufficientStorage(DISK_FULL);
  } catch (err) {
    return storageFault(err);
  }
  return undefined;
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

function serviceOf(value: unknown): Service | null {
  return value === 'git-upload-pack' ? 'upload-pack' : value === 'git-receive-pack' ? 'receive-pack' : null;
}

export function smartHttp(ctx: AppContext, limits: Pick<Limits, 'gitProcesses' | 'gitRequests'>): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const parsed = parseRepoPath(req.path, GIT_ROUTE);
    if (!parsed) return next();
    res.locals.route = 'git';
    if (!parsed.ok) return plain(res, 400, parsed.message);
    const advertise = parsed.rest === '/info/refs';

    if (advertise && req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'use GET for info/refs');
    if (!advertise && req.method !== 'POST') return plain(res, 405, `use POST for ${parsed.rest.slice(1)}`);
    const service = serviceOf(advertise ? req.query.service : parsed.rest.slice(1));
    if (!service) return plain(res, 403, 'hubgate serves git over smart HTTP only: use git 1.6.6 or later (dumb HTTP is not supported)');
    const caller = res.locals.caller;
    const who = caller.kind === 'user' ? `user ${caller.user.name}` : 'your address';
    const wait = limits.gitRequests.take(callerKey(req, res));
    if (wait) return tooManyGit(res, service, advertise, `too many git requests: at most ${limits.gitRequests.perMinute} a minute for ${who}; try again in ${wait} s`, wait);

    const { decision, repo } = await resolveAccess(ctx.db, res.locals.caller, parsed.ref, service === 'receive-pack' ? 'write' : 'read');
    if (!decision.allow) {
      // Denials name the repo as the caller spelled it: the stored spelling would tell a hidden repo from a missing one.
      const answer = answerFor(decision, repoIdOf(parsed.ref), baseUrlOf(ctx, req));
      return plain(res, answer.status, answer.message, { ...answer.headers, ...(answer.errorCode ? { 'X-Error-Code': answer.errorCode } : {}) });
    }

    // Names match case-insensitively (as on the Hub), directories do not: from here on, the repo's stored spelling.
    const ref = { ...parsed.ref, namespace: repo!.namespace, name: repo!.name };
    const repoId = repoIdOf(ref);
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

    const protocolHeader = req.get('git-protocol');
    const gitProtocol = protocolHeader && SAFE_GIT_PROTOCOL.test(protocolHeader) ? protocolHeader : undefined;
    const env = gitEnv(ctx.cfg.dataDir, {
      ...(gitProtocol ? { GIT_PROTOCOL: gitProtocol } : {}),
      HUBGATE_REPO: repoId,
      HUBGATE_REPO_TYPE: parsed.ref.type,
      HUBGATE_USER: caller.kind === 'user' ? caller.user.name : '',
      // For the push policy (hooks/policy.ts).
      HUBGATE_MAX_FILE_SIZE: String(ctx.cfg.maxFileSize),
      ...(caller.kind === 'user' ? { GIT_COMMITTER_NAME: caller.user.name, GIT_COMMITTER_EMAIL: `${caller.user.name}@hubgate` } : {}),
    });
    // One caller's clones and pushes cannot take every process slot of the machine.
    // A burst waits a little for a slot (given up if the client leaves); a caller holding its slots gets 429.
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    // A client that left during the lookups above closed the response before anyone listened.
    if (res.destroyed || req.socket.destroyed) gone.abort();
    const release = await limits.gitProcesses.acquireWithin(callerKey(req, res), ctx.cfg.gitSlotWaitMs, gone.signal);
    if (release && gone.signal.aborted) return release();
    if (!release) {
      const message = `too many git requests at once: at most ${limits.gitProcesses.max} git processes run at a time for ${who} and none came free within ${+(ctx.cfg.gitSlotWaitMs / 1000).toFixed(1)} s; wait for your other clones and pushes to finish, then try again`;
      return tooManyGit(res, service, advertise, message, GIT_RETRY_AFTER_S);
    }
    runService(ctx, req, res, { service, advertise, dir, env, repoId, v2: gitProtocol?.split(':').includes('version=2') ?? false, release });
  };
}

interface Run {
  service: Service;
  advertise: boolean;
  dir: string;
  env: NodeJS.ProcessEnv;
  repoId: string;
  v2: boolean;
  /** Frees the caller's git process slot (once the child has exited). */
  release: () => void;
}

function runService(ctx: AppContext, req: Request, res: Response, run: Run): void {
  const args = [run.service, '--stateless-rpc', ...(run.advertise ? ['--advertise-refs'] : []), run.dir];
  const started = process.hrtime.bigint();
  // A git that cannot start (no file descriptors left: EMFILE) gives its slot back and the client a 503.
  const cannotStart = (err: unknown) => {
    run.release();
    ctx.log.error({ err, repo: run.repoId }, 'could not start git');
    if (!res.headersSent) plain(res, 503, 'the server could not start git right now: try again shortly', { 'Retry-After': '5' });
    else res.destroy();
  };
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn('git', args, { env: run.env, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    return cannotStart(err);
  }
  // Listened to at once: a failed start is reported here, with no pipes to read.
  child.on('error', cannotStart);
  if (!child.stdout || !child.stderr || !child.stdin) return;
  const stderr: Buffer[] = [];
  let stderrBytes = 0;
  let bytesOut = 0;
  let requestBytes = 0;
  let clientGone = false;

  const head = () => {
    res.writeHead(200, {
      ...NO_CACHE,
      'Content-Type': `application/x-git-${run.service}-${run.advertise ? 'advertisement' : 'result'}`,
    });
    if (run.advertise && !run.v2) {
      // The v0 advertisement over HTTP starts with "# service=..." (not sent for v2).
      const line = `# service=git-${run.service}\n`;
      res.write(`${(line.length + 4).toString(16).padStart(4, '0')}${line}0000`);
    }
  };

  // Headers wait for git's first bytes, so a request git refuses outright gets a 4xx, not a broken 200.
  child.stdout.once('data', () => { if (!res.headersSent) head(); });
  child.stdout.on('data', (chunk: Buffer) => { bytesOut += chunk.length; });
  child.stdout.pipe(res, { end: false });
  child.stderr.on('data', (b: Buffer) => {
    if (stderrBytes < 64 * 1024) stderr.push(b);
    stderrBytes += b.length;
  });

  // Stopping a child early. SIGKILL would leave receive-pack's temporary files in the repo: its
  // quarantine objects/tmp_objdir-incoming-* with the partial push in it (git removes it on a
  // normal exit only, on no signal) and, mid-update, ref lock files that block later pushes.
  // So receive-pack gets EOF on its input and exits by itself ("early EOF"; a push whose pack
  // had fully arrived still completes); upload-pack, which writes nothing, gets SIGTERM.
  // A child still there after a grace period is killed.
  const alive = () => child.exitCode === null && child.signalCode === null;
  const later = (ms: number, signal: NodeJS.Signals) =>
    setTimeout(() => {
      if (alive()) child.kill(signal);
    }, ms).unref();
  const stop = () => {
    if (!alive()) return;
    if (run.service === 'receive-pack') {
      child.stdin.destroy();
      later(60_000, 'SIGTERM');
      later(65_000, 'SIGKILL');
    } else {
      child.kill('SIGTERM');
      later(5_000, 'SIGKILL');
    }
    child.stdout.resume(); // never leave it blocked on a full pipe nobody reads
  };

  // The child lives as long as the request: a client that goes away takes it with it.
  res.on('close', () => {
    if (!res.writableFinished) {
      clientGone = true;
      stop();
    }
  });

  if (run.advertise) {
    child.stdin.end();
  } else {
    const encoding = (req.get('content-encoding') ?? '').toLowerCase();
    const counter = (chunk: Buffer) => { requestBytes += chunk.length; };
    req.on('data', counter);
    const done = (err: NodeJS.ErrnoException | null) => {
      if (!err || err.code === 'EPIPE' || err.code === 'ERR_STREAM_PREMATURE_CLOSE' || clientGone) return;
      ctx.log.info({ repo: run.repoId, err: err.message }, 'git request body failed');
      stop();
      if (!res.headersSent) plain(res, 400, encoding ? `could not decode the ${encoding} request body` : 'could not read the request body');
    };
    if (encoding === 'gzip' || encoding === 'x-gzip') pipeline(req, zlib.createGunzip(), child.stdin, done);
    else if (!encoding || encoding === 'identity') pipeline(req, child.stdin, done);
    else {
      stop();
      return plain(res, 415, `unsupported Content-Encoding ${encoding}: use gzip or none`);
    }
  }

  child.on('close', (code, signal) => {
    run.release();
    const outcome = clientGone ? 'aborted' : code === 0 ? 'ok' : 'failed';
    ctx.metrics.gitDuration.labels(run.service, outcome).observe(Number(process.hrtime.bigint() - started) / 1e9);
    ctx.metrics.gitBytesServed.labels(run.service).inc(bytesOut);
    if (clientGone) return;
    if (code === 0) {
      if (!res.headersSent) head();
      res.end();
      // The 4-byte probe git sends before a chunked push changes nothing.
      if (run.service === 'receive-pack' && !run.advertise && requestBytes > 4) ctx.maintenance.schedule(run.dir);
      return;
    }
    const message = Buffer.concat(stderr).toString('utf8').split(run.dir).join(run.repoId).trim();
    ctx.log.warn({ repo: run.repoId, service: run.service, code, signal, stderr: message.slice(0, 2000) }, 'git service failed');
    const fault = storageFault({ code: faultCodeInText(message) });
    if (!res.headersSent && fault) {
      plain(res, fault.status, fault.message, 'retryAfter' in fault ? { 'Retry-After': String(fault.retryAfter) } : {});
    } else if (!res.headersSent) {
      // git refused what the client sent (truncated or malformed request): the client's error.
      plain(res, 400, `git ${run.service} refused the request: ${message.split('\n')[0] || `exit ${code ?? signal}`}`);
    } else {
      res.destroy();
    }
  });
}
