import { spawn } from 'node:child_process';
import { Transform, type TransformCallback, pipeline } from 'node:stream';
import type { Logger } from 'pino';
import type { Response } from 'express';
import type { ByteRange } from './range.js';

// Sends a git blob's bytes from `git cat-file blob <oid>` straight into the response, never
// holding the file in memory. A range is cut out of the stream: bytes before it are skipped
// (a blob is at most the push policy's size limit, so skipping is cheap), and git is stopped
// as soon as the range's last byte has been sent.

/** Passes through bytes [first, last] of what flows through it; calls `done` once the end has passed. */
class Slice extends Transform {
  private offset = 0;
  private finished = false;

  constructor(
    private readonly first: number,
    private readonly last: number,
    private readonly done: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const from = this.offset;
    this.offset += chunk.length;
    if (!this.finished) {
      const lo = Math.max(this.first - from, 0);
      const hi = Math.min(this.last + 1 - from, chunk.length);
      if (hi > lo) this.push(chunk.subarray(lo, hi));
      if (this.offset > this.last) {
        this.finished = true;
        this.done();
      }
    }
    callback();
  }
}

export function streamBlob(opts: { dir: string; env: NodeJS.ProcessEnv; oid: string; size: number; range?: ByteRange; res: Response; log: Logger }): void {
  const { res } = opts;
  const child = spawn('git', ['cat-file', 'blob', opts.oid], { cwd: opts.dir, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.length < 16 && stderr.push(b));
  let stoppedEarly = false;
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) {
      stoppedEarly = true;
      child.kill('SIGTERM');
    }
  };
  // A client that hangs up takes git with it.
  res.on('close', stop);
  child.on('error', (err) => opts.log.error({ err, oid: opts.oid }, 'could not start git cat-file'));
  const failed = (err: NodeJS.ErrnoException | null) => {
    if (err && !res.writableFinished && !res.destroyed) res.destroy();
  };
  // The whole file goes straight through; only a range needs cutting out.
  if (opts.range) pipeline(child.stdout, new Slice(opts.range.start, opts.range.end, stop), res, failed);
  else pipeline(child.stdout, res, failed);
  child.on('close', (code, signal) => {
    if (code === 0 || stoppedEarly) return;
    opts.log.error({ oid: opts.oid, code, signal, stderr: Buffer.concat(stderr).toString('utf8').slice(0, 500) }, 'git cat-file blob failed');
    // The status and length are already sent: a cut connection is the only way to say the body is incomplete.
    res.destroy();
  });
}
