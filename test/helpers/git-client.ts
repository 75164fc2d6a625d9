// Small helpers for driving the real git client in protocol tests (test/git-*.test.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { clientEnv, type RunResult, run, tempDir } from './hubgate.js';

const ROOT = tempDir('hubgate-git-');
const HOME = fs.mkdtempSync(path.join(ROOT, 'home-'));

/** A fresh directory under one per-process scratch root (removed at exit with it). */
export function scratch(prefix = 'dir-'): string {
  return fs.mkdtempSync(path.join(ROOT, prefix));
}

/** Runs git with the clean client environment (as hub.git does), optionally feeding stdin. */
export function git(args: string[], cwd: string, opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): Promise<RunResult> {
  return run('git', args, { cwd, input: opts.input, env: clientEnv(HOME, opts.env) });
}

/** Returns stdout of a git run that must have succeeded; otherwise throws with everything git said. */
export function ok(r: RunResult, what = 'git'): string {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

/** Lines of `text` matching `re`. */
export function countLines(text: string, re: RegExp): number {
  return text.split('\n').filter((line) => re.test(line)).length;
}

/** Trace files for one git run: GIT_TRACE_CURL (headers only) and GIT_TRACE_PACKET. */
export function traces(): { env: NodeJS.ProcessEnv; curl: () => string; packet: () => string } {
  const dir = scratch('trace-');
  const curl = path.join(dir, 'curl.trace');
  const packet = path.join(dir, 'packet.trace');
  const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
  return {
    env: { GIT_TRACE_CURL: curl, GIT_TRACE_CURL_NO_DATA: '1', GIT_TRACE_PACKET: packet },
    curl: () => read(curl),
    packet: () => read(packet),
  };
}

export interface CommitSpec {
  /** Ref to write the commits to, e.g. refs/heads/main. */
  ref: string;
  count: number;
  /** Parent of the first commit (a commit id); none starts a new history. */
  from?: string;
  /** Author/committer time of the first commit (seconds); each next one is a second later. */
  time: number;
  /** Commit i gets a file `${prefix}${i}.txt` with this content (default: a line naming it). */
  file?: (i: number) => Buffer | string;
  prefix?: string;
  /** Path commit i writes (default `${prefix}${i}.txt`, a new file each time). */
  path?: (i: number) => string;
  /** Lightweight tag name for commit i (fast-import `reset`), if any. */
  tag?: (i: number) => string | undefined;
}

/** Writes commits straight into a repo's object store with one `git fast-import`; returns the tip's id. */
export async function fastImport(repo: string, spec: CommitSpec): Promise<string> {
  const parts: Buffer[] = [];
  const put = (s: string | Buffer) => parts.push(typeof s === 'string' ? Buffer.from(s) : s);
  const data = (payload: string | Buffer) => {
    const b = typeof payload === 'string' ? Buffer.from(payload) : payload;
    put(`data ${b.length}\n`);
    put(b);
    put('\n');
  };
  const prefix = spec.prefix ?? 'file-';
  for (let i = 0; i < spec.count; i++) {
    const when = `${spec.time + i} +0000`;
    put(`commit ${spec.ref}\nmark :${i + 1}\n`);
    put(`author Test Author <author@example.com> ${when}\ncommitter Test Author <author@example.com> ${when}\n`);
    data(`${prefix}${i}\n`);
    if (i === 0 && spec.from) put(`from ${spec.from}\n`);
    put(`M 644 inline ${spec.path ? spec.path(i) : `${prefix}${i}.txt`}\n`);
    data(spec.file ? spec.file(i) : `${prefix}${i}\n`);
    const tag = spec.tag?.(i);
    if (tag) put(`reset refs/tags/${tag}\nfrom :${i + 1}\n\n`);
  }
  put('done\n');
  ok(await git(['fast-import', '--quiet', '--done', '--force'], repo, { input: Buffer.concat(parts) }), 'git fast-import');
  return ok(await git(['rev-parse', spec.ref], repo)).trim();
}

/** A pkt-line. */
export function pkt(line: string): string {
  return `${(Buffer.byteLength(line) + 4).toString(16).padStart(4, '0')}${line}`;
}

/** The pack `git pack-objects --revs` makes of everything reachable from `tips` in `repo`. */
export function packOf(repo: string, tips: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['pack-objects', '--revs', '--stdout', '-q'], { cwd: repo, env: clientEnv(HOME), stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`git pack-objects exited with ${code}`))));
    child.stdin.end(`${tips.join('\n')}\n`);
  });
}

/** A fresh non-bare repo on branch main with `origin` pointing at `remote`. */
export async function newWorkRepo(remote: string): Promise<string> {
  const dir = scratch('work-');
  ok(await git(['init', '--quiet', '--initial-branch=main', dir], dir));
  ok(await git(['remote', 'add', 'origin', remote], dir));
  return dir;
}

/** Writes an executable custom hook into a bare repo's custom_hooks/pre-receive.d/. */
export function installCustomHook(repoDir: string, name: string, script: string): void {
  const dir = path.join(repoDir, 'custom_hooks', 'pre-receive.d');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), script, { mode: 0o755 });
}

/** Processes whose command line or working directory is inside `dir` (Linux /proc). */
export function processesIn(dir: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      let cwd = '';
      try {
        cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        /* not ours to read */
      }
      if (cmd.includes(dir) || cwd === dir || cwd.startsWith(`${dir}/`)) found.push({ pid: Number(entry), cmd });
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

/**
 * A TCP proxy in front of hubgate that forwards until `limit` bytes of response have passed
 * after the first request matching `trigger`, then stops reading from the server (so the
 * server's writes back up, as with a stalled client) and calls `onStall`.
 */
export async function stallingProxy(target: number, opts: { trigger: RegExp; limit: number }): Promise<{
  port: number;
  stalled: Promise<void>;
  /** Closes every connection abruptly (a client hanging up) and the listener. */
  hangUp(): void;
}> {
  const sockets = new Set<net.Socket>();
  let signal!: () => void;
  const stalled = new Promise<void>((r) => (signal = r));
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    let armed = false;
    let passed = 0;
    client.on('data', (b) => {
      if (opts.trigger.test(b.toString('latin1'))) armed = true;
      upstream.write(b);
    });
    upstream.on('data', (b) => {
      if (armed) {
        passed += b.length;
        if (passed >= opts.limit) {
          upstream.pause();
          signal();
        }
      }
      client.write(b);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('end', () => client.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    stalled,
    hangUp() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or `ms` pass; returns the last value. */
export async function poll<T>(check: () => T | Promise<T>, ms: number, every = 200): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value || Date.now() > deadline) return value;
    await sleep(every);
  }
}
