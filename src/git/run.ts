import { spawn } from 'node:child_process';
import { faultCodeInText } from '../domain/faults.js';

/**
 * A git process that failed. `code` is set (ENOSPC, EROFS, ...) when its stderr says the disk
 * refused a write, so `storageFault` answers it as a full or read-only disk rather than a bug.
 */
export class GitError extends Error {
  readonly code?: string;

  constructor(what: string, exit: number | string | null, readonly stderr: string) {
    super(`${what} failed (${exit}): ${stderr.trim()}`);
    this.code = faultCodeInText(stderr);
  }
}

/** Runs a short git command to completion (`input` on its stdin) and returns its stdout; rejects with a GitError. */
export function runGit(args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; input?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => {}); // a git that exits without reading reports through its exit code
    child.stdin.end(opts.input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new GitError(`git ${args[0]}`, code, Buffer.concat(err).toString('utf8')));
    });
  });
}
