// Small helpers shared by the bench scripts: child-process bookkeeping (so everything we start is
// stopped on exit or Ctrl-C), running commands, free ports, timing and statistics.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** Every long-lived child we start: { pid, name, group } (group: started detached, kill its process group). */
const children = new Map();
/** Short-lived commands in flight (git clone, ls-remote, ...). */
const transient = new Set();

export function track(child, name, { group = false } = {}) {
  children.set(child.pid, { pid: child.pid, name, group, child });
  child.once('exit', () => children.delete(child.pid));
  return child;
}

function signalOne(entry, sig) {
  try {
    if (entry.group) process.kill(-entry.pid, sig);
    else process.kill(entry.pid, sig);
  } catch {
    /* already gone */
  }
}

/** Synchronous best-effort kill of everything we started (safe in 'exit' handlers). */
export function killAllSync(sig = 'SIGTERM') {
  for (const c of transient) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const entry of children.values()) signalOne(entry, sig);
}

/** Stops one tracked child: SIGTERM, then SIGKILL after a grace period. */
export async function stopChild(child, graceMs = 3000) {
  const entry = children.get(child.pid);
  if (!entry || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  signalOne(entry, 'SIGTERM');
  const timer = setTimeout(() => signalOne(entry, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // A process group may still hold stragglers (git children): make sure they go too.
  if (entry.group) signalOne(entry, 'SIGKILL');
}

let cleanupInstalled = false;
export function installCleanup(extra = () => {}) {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    killAllSync('SIGTERM');
    try {
      extra();
    } catch {
      /* best effort */
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping servers\n`);
      killAllSync('SIGTERM');
      setTimeout(() => {
        killAllSync('SIGKILL');
        process.exit(130);
      }, 300).unref();
    });
  }
}

/**
 * Runs a command to completion. Resolves { code, stdout, stderr, ms }; rejects on a non-zero
 * exit unless allowFail. stdout can be 'ignore' or a file descriptor via opts.stdout.
 */
export function run(cmd, args, opts = {}) {
  const { cwd, env, input, allowFail = false, stdout = 'pipe', stdin, quiet = false } = opts;
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, {
      cwd,
      env: env ?? process.env,
      stdio: [stdin ?? (input !== undefined ? 'pipe' : 'ignore'), stdout, 'pipe'],
    });
    transient.add(child);
    const out = [];
    const err = [];
    child.stdout?.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => {
      if (err.length < 2000) err.push(b);
    });
    if (input !== undefined) child.stdin.end(input);
    child.on('error', (e) => {
      transient.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      transient.delete(child);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const res = { code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms };
      if (code !== 0 && !allowFail) {
        const e = new Error(`${redact(`${cmd} ${args.join(' ')}`)} exited ${code ?? signal}${quiet ? '' : `: ${res.stderr.trim().slice(0, 1500)}`}`);
        e.result = res;
        reject(e);
      } else resolve(res);
    });
  });
}

/** Hides the password part of URLs (bench tokens) in messages. */
export function redact(text) {
  return text.replace(/(\/\/[^:/@\s]+:)[^@\s]+@/g, '$1***@');
}

/** A free TCP port on 127.0.0.1 (released before it's used: fine on an otherwise quiet machine). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns truthy or the timeout passes. */
export async function waitFor(fn, { timeoutMs = 15000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${lastErr.message}` : ''}`);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function rmrf(p) {
  fs.rmSync(p, { recursive: true, force: true });
}

export function dirSize(dir) {
  let total = 0;
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${ent.name}`;
    if (ent.isDirectory()) total += dirSize(p);
    else if (ent.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

/** Reads a field (kB) from /proc/PID/status; null if the process is gone. */
export function procStatusKb(pid, field) {
  // hubgate with workers: the primary and its workers together (their git children aside).
  const workers = nodeChildren(pid);
  if (workers.length > 0) return [pid, ...workers].reduce((sum, p) => sum + (ownStatusKb(p, field) ?? 0), 0);
  return ownStatusKb(pid, field);
}

/** The node processes `pid` started (hubgate's workers), from /proc/PID/task/PID/children. */
function nodeChildren(pid) {
  try {
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids.filter((k) => {
      try {
        return fs.readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'node';
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}

function ownStatusKb(pid, field) {
  try {
    const txt = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(txt);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Resets VmHWM (peak RSS) of a process we own (and of its workers); returns false if the kernel refused. */
export function resetPeakRss(pid) {
  try {
    for (const p of [pid, ...nodeChildren(pid)]) fs.writeFileSync(`/proc/${p}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts sampling a process's memory: VmRSS every 20 ms, and VmHWM after resetting it
 * (clear_refs 5). With hubgate's workers, `pid` is the primary: the figures are then of the
 * primary and its workers together (`peakMb`: the largest sum seen at once, or the sum of their
 * VmHWM, whichever is larger) and of the largest worker (`largestWorkerPeakMb`: the highest
 * peak of any one worker, or of the single process without workers; `processes` has each one's). The function returned stops
 * and gives the figures in MB.
 */
export function rssSampler(pid) {
  const hwmReset = resetPeakRss(pid);
  const baseKb = procStatusKb(pid, 'VmRSS') ?? 0;
  let peakKb = baseKb;
  /** Each process's own highest sample (pid -> kB), workers replaced during the run included. */
  const own = new Map();
  const sampleEach = () => {
    for (const p of [pid, ...nodeChildren(pid)]) {
      const kb = ownStatusKb(p, 'VmRSS');
      if (kb && kb > (own.get(p) ?? 0)) own.set(p, kb);
    }
  };
  sampleEach();
  const timer = setInterval(() => {
    const kb = procStatusKb(pid, 'VmRSS');
    if (kb && kb > peakKb) peakKb = kb;
    sampleEach();
  }, 20);
  return () => {
    clearInterval(timer);
    const hwm = hwmReset ? procStatusKb(pid, 'VmHWM') : null;
    // VmHWM of each process still running, after the reset: catches a peak between two samples.
    for (const p of [pid, ...nodeChildren(pid)]) {
      const kb = hwmReset ? ownStatusKb(p, 'VmHWM') : null;
      if (kb && kb > (own.get(p) ?? 0)) own.set(p, kb);
    }
    const processes = [...own].map(([p, kb]) => ({ pid: p, role: p === pid ? (own.size > 1 ? 'primary' : 'single process') : 'worker', peakMb: kb / 1024 }));
    return {
      baseMb: baseKb / 1024,
      sampledPeakMb: peakKb / 1024,
      vmHwmMb: hwm == null ? null : hwm / 1024,
      peakMb: Math.max(peakKb, hwm ?? 0) / 1024,
      largestWorkerPeakMb: Math.max(0, ...processes.filter((x) => x.role !== 'primary').map((x) => x.peakMb)),
      processes,
      hwmReset,
    };
  };
}
