// Multipart uploads of large LFS files: `hubgate lfs-enable-largefiles` + the
// `hubgate lfs-multipart-upload` custom transfer agent, through real git-lfs against a real
// hubgate, and the agent alone over stdin/stdout against a small local HTTP server.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type Hubgate, run, type RunResult, startHubgate, tempDir, requestsLogged } from './helpers/hubgate.js';

const MiB = 1024 ** 2;
const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');


function ok(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

describe('multipart push through git-lfs and the agent', () => {
  let hub: Hubgate;
  let token: string;

  beforeAll(async () => {
    hub = await startHubgate({ env: { HUBGATE_LFS_MULTIPART_THRESHOLD: '12582912', HUBGATE_LFS_MULTIPART_CHUNK: '5242880' } });
    token = await hub.userWithToken('alice');
    for (const repo of ['alice/big', 'alice/basic-only']) ok(await hub.cli(['repo', 'create', repo]), `repo create ${repo}`);
    // The tests' HOME has no git-lfs filters yet.
    ok(await hub.git(['lfs', 'install', '--skip-repo']), 'git lfs install');
  });
  afterAll(() => hub?.stop());

  /** A clone of `repo` with a committed, LFS-tracked random file of `size` bytes at big.bin. */
  async function cloneWithLargeFile(repo: string, size: number): Promise<{ dir: string; file: string }> {
    const dir = tempDir('hubgate-mp-');
    ok(await hub.git(['clone', hub.remote(repo, token), '.'], { cwd: dir }), 'clone');
    ok(await hub.git(['checkout', '-B', 'main'], { cwd: dir }), 'checkout');
    ok(await hub.git(['lfs', 'track', '*.bin'], { cwd: dir }), 'lfs track');
    const file = path.join(dir, 'big.bin');
    fs.writeFileSync(file, crypto.randomBytes(size));
    ok(await hub.git(['add', '.gitattributes', 'big.bin'], { cwd: dir }), 'add');
    ok(await hub.git(['commit', '-q', '-m', 'large file'], { cwd: dir }), 'commit');
    return { dir, file };
  }

  it('pushes a 20 MiB file in parts after lfs-enable-largefiles, and a fresh clone gets the same bytes', async () => {
    const { dir, file } = await cloneWithLargeFile('alice/big', 20 * MiB);
    const enabled = await run(process.execPath, [BIN, 'lfs-enable-largefiles', '.'], { cwd: dir });
    expect(enabled.code).toBe(0);
    expect(enabled.stdout.trim().split('\n')).toHaveLength(1);
    expect((await hub.git(['config', 'lfs.customtransfer.multipart.path'], { cwd: dir })).stdout.trim()).toBe(fs.realpathSync(BIN));
    expect((await hub.git(['config', 'lfs.customtransfer.multipart.args'], { cwd: dir })).stdout.trim()).toBe('lfs-multipart-upload');

    const push = await hub.git(['push', 'origin', 'main'], { cwd: dir, env: { GIT_TRACE: '1', GIT_TRANSFER_TRACE: '1' } });
    ok(push, 'push');
    // git-lfs chose the custom adapter and ran hubgate's agent; the agent's progress reached it.
    expect(push.stderr).toMatch(/xfer: adapter "multipart" Begin\(\)/);
    expect(push.stderr).toMatch(/started custom adapter process "[^"]*hubgate\.js"/);
    expect(push.stderr).toMatch(/received response: \{"event":"progress","oid":"[0-9a-f]{64}","bytesSoFar":[1-9]/);
    expect(push.stderr).toMatch(/received response: \{"event":"complete","oid":"[0-9a-f]{64}"\}/);
    // 20 MiB in 5 MiB chunks: four part PUTs and one completion reached hubgate.
    const requests = (await requestsLogged(hub)).filter((r) => r.path.startsWith('/alice/big.git/info/lfs/multipart/'));
    expect(requests.filter((r) => r.method === 'PUT' && r.status === 200 && /\/[1-4]$/.test(r.path))).toHaveLength(4);
    expect(requests.filter((r) => r.method === 'POST' && r.status === 200 && r.path.endsWith('/complete'))).toHaveLength(1);

    const fresh = tempDir('hubgate-mp-clone-');
    ok(await hub.git(['clone', hub.remote('alice/big', token), '.'], { cwd: fresh }), 'fresh clone');
    expect(fs.statSync(path.join(fresh, 'big.bin')).size).toBe(20 * MiB);
    expect(sha256(path.join(fresh, 'big.bin'))).toBe(sha256(file));
  });

  it('refuses the same kind of file pushed without lfs-enable-largefiles, saying what to run', async () => {
    const { dir } = await cloneWithLargeFile('alice/basic-only', 20 * MiB);
    const push = await hub.git(['push', 'origin', 'main'], { cwd: dir });
    expect(push.code).not.toBe(0);
    expect(push.stdout + push.stderr).toContain('hubgate lfs-enable-largefiles .');
    // The commit did not reach the branch.
    const head = (await hub.git(['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
    expect((await hub.git(['ls-remote', hub.remote('alice/basic-only', token)])).stdout).not.toContain(head);
  });

  it('lfs-enable-largefiles refuses a path that is not a git working tree', async () => {
    const plain = tempDir('hubgate-not-a-repo-');
    const r = await run(process.execPath, [BIN, 'lfs-enable-largefiles', plain], { env: { ...process.env, GIT_CEILING_DIRECTORIES: path.dirname(plain) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hubgate: .*not a git working tree.*lfs-enable-largefiles/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const missing = await run(process.execPath, [BIN, 'lfs-enable-largefiles', path.join(plain, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not a git working tree/);
  });
});

// ---- The agent alone -------------------------------------------------------------------

type Msg = Record<string, any>;

/** `hubgate lfs-multipart-upload` driven over stdin/stdout as git-lfs drives it. */
class Agent {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  stderr = '';

  constructor() {
    this.proc = spawn(process.execPath, [BIN, 'lfs-multipart-upload'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (b) => (this.stderr += b));
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.waiter?.();
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  send(msg: Msg): void {
    this.proc.stdin.write(`${JSON.stringify(msg)}\n`);
  }

  /** The next line the agent writes, parsed. */
  async next(timeoutMs = 30_000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (Date.now() > deadline) throw new Error(`the agent wrote nothing; stderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100);
      });
    }
    return JSON.parse(this.lines.shift()!);
  }

  /** Messages up to and including the `complete` event for one object. */
  async untilComplete(): Promise<{ progress: Msg[]; complete: Msg }> {
    const progress: Msg[] = [];
    for (;;) {
      const msg = await this.next();
      if (msg.event === 'complete') return { progress, complete: msg };
      expect(msg.event).toBe('progress');
      progress.push(msg);
    }
  }

  async init(): Promise<void> {
    this.send({ event: 'init', operation: 'upload', remote: 'origin', concurrent: true, concurrenttransfers: 3 });
    expect(await this.next()).toEqual({});
  }
}

interface PartRequest {
  part: string;
  headers: http.IncomingHttpHeaders;
  bytes: Buffer;
}

/** A storage server standing in for S3: parts at /OBJECT/part/N, completion at /OBJECT/complete. */
class FakeStorage {
  readonly server: http.Server;
  /** How the next requests to a path are answered (status, or 'no-etag'); the default is 200 with an ETag. */
  readonly plan = new Map<string, (number | 'no-etag')[]>();
  readonly always = new Map<string, number>();
  readonly attempts = new Map<string, number>();
  readonly parts: PartRequest[] = [];
  readonly completions: { url: string; headers: http.IncomingHttpHeaders; body: Msg }[] = [];
  url = '';

  constructor() {
    this.server = http.createServer((req, res) => {
      const url = req.url!;
      this.attempts.set(url, (this.attempts.get(url) ?? 0) + 1);
      const answer = this.always.get(url) ?? this.plan.get(url)?.shift() ?? 200;
      if (typeof answer === 'number' && answer >= 400) {
        // Answer before reading the body, as S3 does for a bad request.
        res.writeHead(answer, { 'Content-Type': 'application/xml' }).end(`<Error><Code>Test</Code><Message>planned ${answer}</Message></Error>`);
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const bytes = Buffer.concat(chunks);
        if (req.method === 'PUT') {
          this.parts.push({ part: url, headers: req.headers, bytes });
          const etag = `"${crypto.createHash('md5').update(bytes).digest('hex')}"`;
          res.writeHead(200, answer === 'no-etag' ? {} : { ETag: etag }).end();
        } else {
          this.completions.push({ url, headers: req.headers, body: JSON.parse(bytes.toString()) });
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
        }
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** An upload event for `file`, in chunks of `chunk` bytes, its parts under /NAME/. */
  uploadEvent(name: string, file: string, chunk: number): Msg {
    const size = fs.statSync(file).size;
    const header: Record<string, string> = { chunk_size: String(chunk) };
    // Keys in an order other than part order: the agent must sort them.
    const count = Math.max(1, Math.ceil(size / chunk));
    for (let n = count; n >= 1; n--) header[String(n).padStart(5, '0')] = `${this.url}/${name}/part/${n}?X-Amz-Signature=abc`;
    return { event: 'upload', oid: sha256(file), size, path: file, action: { href: `${this.url}/${name}/complete?token=t`, header } };
  }

  partsOf(name: string): PartRequest[] {
    return this.parts.filter((p) => p.part.startsWith(`/${name}/`));
  }
}

function randomFile(size: number): string {
  const file = path.join(tempDir('hubgate-agent-'), 'object');
  fs.writeFileSync(file, crypto.randomBytes(size));
  return file;
}

describe('the lfs-multipart-upload agent', () => {
  const storage = new FakeStorage();
  beforeAll(() => storage.start());
  afterAll(() => new Promise<void>((resolve) => storage.server.close(() => resolve())));

  it('retries a part that fails once, reports growing progress, and completes the upload', async () => {
    const chunk = 4 * MiB;
    const file = randomFile(10 * MiB + 12_345);
    const event = storage.uploadEvent('retry', file, chunk);
    storage.plan.set('/retry/part/2?X-Amz-Signature=abc', [500]);
    const agent = new Agent();
    await agent.init();
    agent.send(event);
    const { progress, complete } = await agent.untilComplete();
    expect(complete).toEqual({ event: 'complete', oid: event.oid });

    // Parts in order, streamed with a Content-Length, without Authorization, bytes intact.
    const parts = storage.partsOf('retry');
    expect(parts.map((p) => p.part.split('?')[0])).toEqual(['/retry/part/1', '/retry/part/2', '/retry/part/3']);
    expect(storage.attempts.get('/retry/part/2?X-Amz-Signature=abc')).toBe(2);
    for (const p of parts) {
      expect(p.headers['content-length']).toBe(String(p.bytes.length));
      expect(p.headers['transfer-encoding']).toBeUndefined();
      expect(p.headers.authorization).toBeUndefined();
    }
    expect(crypto.createHash('sha256').update(Buffer.concat(parts.map((p) => p.bytes))).digest('hex')).toBe(event.oid);

    const completion = storage.completions.find((c) => c.url.startsWith('/retry/complete'))!;
    expect(completion.headers['content-type']).toBe('application/json');
    expect(completion.headers.authorization).toBeUndefined();
    expect(completion.body).toEqual({
      oid: event.oid,
      parts: parts.map((p, i) => ({ partNumber: i + 1, etag: `"${crypto.createHash('md5').update(p.bytes).digest('hex')}"` })),
    });

    // A first progress event at once, then growing byte counts, some of them mid-part, ending at the size.
    expect(progress[0]).toEqual({ event: 'progress', oid: event.oid, bytesSoFar: 0, bytesSinceLast: 0 });
    const soFar = progress.map((p) => p.bytesSoFar);
    for (let i = 1; i < soFar.length; i++) expect(soFar[i]).toBeGreaterThan(soFar[i - 1]);
    expect(soFar.at(-1)).toBe(event.size);
    expect(progress.reduce((sum, p) => sum + p.bytesSinceLast, 0)).toBe(event.size);
    expect(soFar.some((n) => n > 0 && n < chunk)).toBe(true);

    agent.send({ event: 'terminate' });
    expect(await agent.exited).toBe(0);
  });

  it('reports a part that keeps failing as an error for that object and carries on with the next', async () => {
    const failing = randomFile(3 * MiB);
    const forbidden = randomFile(3 * MiB);
    const noEtag = randomFile(3 * MiB);
    const good = randomFile(6 * MiB + 1);
    const agent = new Agent();
    await agent.init();

    const bad = storage.uploadEvent('failing', failing, 2 * MiB);
    storage.always.set('/failing/part/2?X-Amz-Signature=abc', 503);
    agent.send(bad);
    const first = await agent.untilComplete();
    expect(first.complete.oid).toBe(bad.oid);
    expect(first.complete.error.code).toBe(503);
    expect(first.complete.error.message).toMatch(/part 2: HTTP 503.*planned 503.*4 attempts/);
    expect(storage.attempts.get('/failing/part/2?X-Amz-Signature=abc')).toBe(4);
    expect(storage.completions.some((c) => c.url.startsWith('/failing/'))).toBe(false);

    // A 403 (an expired or wrong URL) is not retried.
    const denied = storage.uploadEvent('forbidden', forbidden, 2 * MiB);
    storage.always.set('/forbidden/part/1?X-Amz-Signature=abc', 403);
    agent.send(denied);
    const second = await agent.untilComplete();
    expect(second.complete.error.code).toBe(403);
    expect(storage.attempts.get('/forbidden/part/1?X-Amz-Signature=abc')).toBe(1);

    // A part answered without an ETag cannot be completed.
    const missing = storage.uploadEvent('no-etag', noEtag, 2 * MiB);
    storage.plan.set('/no-etag/part/1?X-Amz-Signature=abc', ['no-etag']);
    agent.send(missing);
    const third = await agent.untilComplete();
    expect(third.complete.error.message).toMatch(/part 1: .*without an ETag/);

    // Downloads are not this agent's job.
    agent.send({ event: 'download', oid: bad.oid, size: 3, action: { href: 'http://127.0.0.1:1/x' } });
    const download = await agent.next();
    expect(download.event).toBe('complete');
    expect(download.oid).toBe(bad.oid);
    expect(download.error.message).toMatch(/only uploads/);

    const next = storage.uploadEvent('after', good, 2 * MiB);
    agent.send(next);
    const last = await agent.untilComplete();
    expect(last.complete).toEqual({ event: 'complete', oid: next.oid });
    expect(last.progress.at(-1)!.bytesSoFar).toBe(next.size);
    expect(Buffer.concat(storage.partsOf('after').map((p) => p.bytes)).equals(fs.readFileSync(good))).toBe(true);

    agent.send({ event: 'terminate' });
    expect(await agent.exited).toBe(0);
  });

  it('refuses to initialize for downloads: error 32, exit 1', async () => {
    const agent = new Agent();
    agent.send({ event: 'init', operation: 'download', remote: 'origin', concurrent: true, concurrenttransfers: 3 });
    const reply = await agent.next();
    expect(reply.error.code).toBe(32);
    expect(typeof reply.error.message).toBe('string');
    expect(await agent.exited).toBe(1);
  });
});
