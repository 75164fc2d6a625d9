import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

// GET /readyz for load balancers: whether this node can do its work now. Each check (the
// database, the LFS object store, the repos' storage) runs with a deadline, all at once, and a
// node that received SIGTERM answers "stopping" whatever the checks say, so it is taken out of
// rotation while it finishes what it has. The answer names the checks and a short reason, never
// an error's message (paths, hosts, credentials stay in the log).

/** Each check's deadline: a balancer's probe gets its answer within about this long. */
export const CHECK_TIMEOUT_MS = 2000;

/** One check: resolves when what it looks at works; `signal` aborts it at its deadline. */
export type ReadinessCheck = (signal: AbortSignal) => Promise<void>;

export interface CheckResult {
  ok: boolean;
  ms: number;
  /** Why it failed, in a few words (`timed out`, `missing`, `read-only`, an S3 error name, ...). */
  reason?: string;
}

export interface ReadinessReport {
  status: 'ready' | 'not ready' | 'stopping';
  checks: Record<string, CheckResult>;
}

export interface Readiness {
  report(): Promise<ReadinessReport>;
  /** From now on the node answers `stopping` (SIGTERM received). */
  markStopping(): void;
}

class TimedOut extends Error {}

export function createReadiness(checks: Record<string, ReadinessCheck>, log: Logger, timeoutMs = CHECK_TIMEOUT_MS): Readiness {
  let stopping = false;
  // Probes arriving while one runs share its answer: a burst of them costs one round of checks.
  let running: Promise<Record<string, CheckResult>> | undefined;

  const runOne = async (name: string, check: ReadinessCheck): Promise<CheckResult> => {
    const started = performance.now();
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new TimedOut());
      }, timeoutMs);
    });
    try {
      await Promise.race([check(abort.signal), deadline]);
      return { ok: true, ms: Math.round(performance.now() - started) };
    } catch (err) {
      const reason = err instanceof TimedOut ? `timed out after ${timeoutMs} ms` : reasonOf(err);
      log.warn({ err, check: name }, `readiness check failed: ${name} (${reason})`);
      return { ok: false, ms: Math.round(performance.now() - started), reason };
    } finally {
      clearTimeout(timer);
    }
  };

  const runAll = async () => {
    const entries = await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await runOne(name, check)] as const));
    return Object.fromEntries(entries);
  };

  return {
    async report() {
      running ??= runAll().finally(() => (running = undefined));
      const results = await running;
      const status = stopping ? 'stopping' : Object.values(results).every((r) => r.ok) ? 'ready' : 'not ready';
      return { status, checks: results };
    },
    markStopping() {
      stopping = true;
    },
  };
}

/** A few words for an error, from its code or name only (its message may hold paths or hosts). */
function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  switch (code) {
    case 'ENOENT': return 'missing';
    case 'EROFS': return 'read-only';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'ENOSPC': return 'full';
    case 'EDQUOT': return 'over quota';
    case 'EIO': return 'input/output error';
    case 'ECONNREFUSED': return 'connection refused';
    case 'ECONNRESET': return 'connection reset';
    case 'ETIMEDOUT': return 'timed out';
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return 'host not found';
    default: break;
  }
  if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
  const name = (err as { name?: unknown })?.name;
  if (typeof name === 'string' && /^[A-Za-z]{2,40}$/.test(name) && name !== 'Error') return name;
  return 'failed';
}

/**
 * Whether `dir` is there and takes a new file: one is created (O_EXCL) and removed. The name
 * carries the pid, like the other scratch files, so a crash's leftover is told apart.
 */
export async function checkWritableDir(dir: string): Promise<void> {
  const stat = await fs.stat(dir);
  if (!stat.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  const probe = path.join(dir, `.readyz-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const file = await fs.open(probe, 'wx');
  await file.close();
  await fs.rm(probe, { force: true });
}
