import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { pipeline } from 'node:stream';
import zlib from 'node:zlib';
import type { Request, Response } from 'express';
import type { AppContext } from '../context.js';
import { faultCodeInText, storageFault } from '../../domain/faults.js';
import { serviceStopper } from '../../git/stop-service.js';

// Git smart HTTP (protocol v0 and v2) by spawning git's own upload-pack / receive-pack
// with --stateless-rpc and streaming both ways. Dumb HTTP is not served. The routes, access
// decisions and limits in front of it are in http/git/routes.ts; this is the git process plumbing.

export type Service = 'upload-pack' | 'receive-pack';
export const NO_CACHE = {
  'Cache-Control': 'no-cache, max-age=0, must-revalidate',
  Pragma: 'no-cache',
  Expires: 'Fri, 01 Jan 1980 00:00:00 GMT',
};

export function plain(res: Response, status: number, message: string, headers: Record<string, string> = {}): void {
  // git prints a text/plain error body to the user as "remote: ..." lines.
  res.status(status).set({ ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).send(`${message}\n`);
}

export interface Run {
  service: Service;
  advertise: boolean;
  dir: string;
  env: NodeJS.ProcessEnv;
  repoId: string;
  v2: boolean;
  /** Frees the caller's git process slot (once the child has exited). */
  release: () => void;
  /** Run once a push (receive-pack) has succeeded. */
  afterPush?: () => void;
}

export function runService(ctx: AppContext, req: Request, res: Response, run: Run): void {
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

  const stop = serviceStopper(child, run.service);

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
      if (run.service === 'receive-pack' && !run.advertise && requestBytes > 4) {
        ctx.maintenance.schedule(run.dir);
        run.afterPush?.();
      }
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
