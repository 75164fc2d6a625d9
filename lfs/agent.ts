import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';

// `hubgate lfs-multipart-upload`: the git-lfs custom transfer agent for transfer "multipart"
// in the Hugging Face format (reference/hf-wire.md §1.3). git-lfs starts it and speaks
// line-delimited JSON on stdin/stdout: init, then one upload at a time, then terminate.
// Per upload, action.header holds chunk_size and the part URLs under zero-padded part-number
// keys; each part is PUT (streamed from the file, no Authorization) and the parts' etags are
// POSTed to action.href. git-lfs calls the verify action itself afterwards.
// stdout carries only protocol messages; diagnostics go to stderr, which git-lfs traces.

const MiB = 1024 ** 2;
/** Tries per request (network errors, 408, 429 and 5xx are retried). */
const ATTEMPTS = 4;
const BACKOFF_MS = 500;
/** A part PUT with no socket activity for this long is abandoned (and retried). */
const PART_IDLE_MS = 2 * 60 * 1000;
/** Completion may assemble gigabytes before it answers. */
const COMPLETE_IDLE_MS = 30 * 60 * 1000;
/** Progress events: at most one per MiB sent, or per 100 ms when less went out. */
const PROGRESS_BYTES = MiB;
const PROGRESS_MS = 100;
/** How much of a response body is kept for an error message. */
const KEEP_BODY = 64 * 1024;

interface Io {
  input: Readable;
  output: Writable;
  /** Diagnostics (git-lfs puts the agent's stderr into GIT_TRACE). */
  log?: (line: string) => void;
}

interface UploadRequest {
  oid: string;
  size: number;
  path: string;
  href: string;
  chunkSize: number;
  /** Part URLs in part-number order (part i + 1 at index i). */
  parts: string[];
}

/** An error that fails one object, with the code reported in its `complete` event. */
class ObjectError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** Runs the agent until terminate or the end of input; returns the process exit code. */
export async function runAgent(io: Io): Promise<number> {
  const log = io.log ?? ((line: string) => process.stderr.write(`hubgate lfs-multipart-upload: ${line}\n`));
  const send = (msg: unknown) => new Promise<void>((resolve) => io.output.write(`${JSON.stringify(msg)}\n`, () => resolve()));
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  const lines = readline.createInterface({ input: io.input, crlfDelay: Infinity });
  let initialized = false;
  try {
    for await (const line of lines) {
      if (!line.trim()) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
        if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new Error('not an object');
      } catch {
        log(`not a JSON object on stdin: ${line.slice(0, 200)}`);
        return 1;
      }
      const event = msg.event ?? msg.type;
      if (event === 'terminate') return 0;
      if (!initialized) {
        if (event !== 'init' || msg.operation !== 'upload') {
          const message = event !== 'init' ? 'expected an init event first' : `Wrong lfs init operation: this agent only uploads (got ${String(msg.operation)})`;
          await send({ error: { code: 32, message } });
          log(message);
          return 1;
        }
        initialized = true;
        await send({});
        continue;
      }
      const oid = typeof msg.oid === 'string' ? msg.oid : '';
      if (event === 'upload') {
        try {
          const req = parseUpload(msg);
          await upload(req, { send, log, agents });
          await send({ event: 'complete', oid });
        } catch (err) {
          const code = err instanceof ObjectError ? err.code : 2;
          const message = (err as Error)?.message ?? String(err);
          log(`upload of ${oid || '(no oid)'} failed: ${message}`);
          await send({ event: 'complete', oid, error: { code, message } });
        }
      } else if (event === 'download') {
        await send({ event: 'complete', oid, error: { code: 2, message: 'hubgate lfs-multipart-upload only uploads; downloads use the basic transfer' } });
      } else {
        log(`ignoring unknown event ${JSON.stringify(event)}`);
        if (oid) await send({ event: 'complete', oid, error: { code: 2, message: `unknown event ${JSON.stringify(event)}` } });
      }
    }
    return 0;
  } finally {
    lines.close();
    agents.http.destroy();
    agents.https.destroy();
  }
}

/** Reads an upload event: the file, the completion URL, chunk_size and the part URLs in order. */
function parseUpload(msg: Record<string, unknown>): UploadRequest {
  const bad = (what: string) => new ObjectError(`invalid upload request from git-lfs: ${what}`, 2);
  const { oid, size, path } = msg;
  if (typeof oid !== 'string' || !/^[0-9a-f]{64}$/.test(oid)) throw bad('oid');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad('size');
  if (typeof path !== 'string' || !path) throw bad('path');
  const action = msg.action as { href?: unknown; header?: unknown } | null | undefined;
  if (!action || typeof action.href !== 'string') throw bad('no action.href (is the server speaking the multipart transfer?)');
  const header = (action.header ?? {}) as Record<string, unknown>;
  const chunk = Number(header.chunk_size);
  if (typeof header.chunk_size !== 'string' && typeof header.chunk_size !== 'number') throw bad('no chunk_size in action.header');
  if (!Number.isSafeInteger(chunk) || chunk <= 0) throw bad(`chunk_size ${String(header.chunk_size)}`);
  // Part keys are zero-padded part numbers ("00001"); their sorted order is part order.
  const keys = Object.keys(header).filter((k) => /^[0-9]+$/.test(k)).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  const expected = Math.max(1, Math.ceil(size / chunk));
  if (keys.length !== expected) throw bad(`${keys.length} part URLs for ${size} bytes in chunks of ${chunk}, expected ${expected}`);
  const parts = keys.map((k, i) => {
    const url = header[k];
    if (Number(k) !== i + 1) throw bad(`part numbers are not 1 to ${expected}`);
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) throw bad(`part ${k} is not an http(s) URL`);
    return url;
  });
  return { oid, size, path, href: action.href, chunkSize: chunk, parts };
}

interface Ctx {
  send: (msg: unknown) => Promise<void>;
  log: (line: string) => void;
  agents: { http: http.Agent; https: http.Agent };
}

async function upload(req: UploadRequest, ctx: Ctx): Promise<void> {
  const { oid, size } = req;
  const stat = await fsp.stat(req.path).catch((err: Error) => {
    throw new ObjectError(`cannot read ${req.path}: ${err.message}`, 2);
  });
  if (stat.size !== size) throw new ObjectError(`${req.path} has ${stat.size} bytes, not ${size}`, 2);

  // Progress: bytesSoFar only grows, so bytes of a failed attempt are not counted twice.
  let reported = 0;
  let reportedAt = Date.now();
  const pending: Promise<void>[] = [];
  const report = (soFar: number, force: boolean) => {
    const delta = soFar - reported;
    if (delta <= 0) return;
    if (!force && delta < PROGRESS_BYTES && Date.now() - reportedAt < PROGRESS_MS) return;
    reported = soFar;
    reportedAt = Date.now();
    pending.push(ctx.send({ event: 'progress', oid, bytesSoFar: soFar, bytesSinceLast: delta }));
  };
  // Started: tells git-lfs the transfer is under way before the first part goes out.
  await ctx.send({ event: 'progress', oid, bytesSoFar: 0, bytesSinceLast: 0 });

  const etags: { partNumber: number; etag: string }[] = [];
  for (let i = 0; i < req.parts.length; i++) {
    const partNumber = i + 1;
    const start = i * req.chunkSize;
    const length = Math.max(0, Math.min(req.chunkSize, size - start));
    const res = await withRetries(ctx, `part ${partNumber}`, () => {
      if (length === 0) return request(req.parts[i], 'PUT', { 'Content-Length': '0' }, Buffer.alloc(0), PART_IDLE_MS, ctx);
      // createReadStream's end is inclusive. Bytes are counted as the request takes them:
      // the file is paused whenever the socket is full, so this is what has gone out.
      const file = fs.createReadStream(req.path, { start, end: start + length - 1, highWaterMark: 64 * 1024 });
      let sent = 0;
      file.on('data', (chunk) => {
        sent += chunk.length;
        report(start + sent, false);
      });
      return request(req.parts[i], 'PUT', { 'Content-Length': String(length) }, file, PART_IDLE_MS, ctx);
    });
    const etag = res.headers.etag;
    if (typeof etag !== 'string' || !etag) throw new ObjectError(`part ${partNumber}: the storage server answered ${res.status} without an ETag header`, 2);
    etags.push({ partNumber, etag });
    report(start + length, true);
    await Promise.all(pending.splice(0));
  }
  report(size, true);
  await Promise.all(pending.splice(0));

  const body = Buffer.from(JSON.stringify({ oid, parts: etags }));
  await withRetries(ctx, 'completion', () =>
    request(req.href, 'POST', { 'Content-Type': 'application/json', 'Content-Length': String(body.length) }, body, COMPLETE_IDLE_MS, ctx),
  );
}

const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

/** Runs `attempt` until it answers 2xx; retries network errors, 408, 429 and 5xx with backoff. */
async function withRetries(ctx: Ctx, what: string, attempt: () => Promise<HttpResult>): Promise<HttpResult> {
  for (let n = 1; ; n++) {
    let failure: ObjectError;
    try {
      const res = await attempt();
      if (res.status >= 200 && res.status < 300) return res;
      failure = new ObjectError(`${what}: HTTP ${res.status}${describeBody(res.text)}`, res.status);
      if (!retryable(res.status)) throw failure;
    } catch (err) {
      if (err instanceof ObjectError && !retryable(err.code)) throw err;
      failure = err instanceof ObjectError ? err : new ObjectError(`${what}: ${(err as Error)?.message ?? String(err)}`, 2);
    }
    if (n >= ATTEMPTS) throw new ObjectError(`${failure.message} (gave up after ${ATTEMPTS} attempts)`, failure.code);
    const delay = BACKOFF_MS * 2 ** (n - 1) * (0.75 + Math.random() / 2);
    ctx.log(`${failure.message}; retrying in ${Math.round(delay)} ms`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** The server's message, if its body has one, on one short line. */
function describeBody(text: string): string {
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
    else if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    /* not JSON: S3 answers XML; keep the text */
  }
  message = message.replace(/\s+/g, ' ').trim().slice(0, 300);
  return message ? `: ${message}` : '';
}

/**
 * One HTTP request with an explicit Content-Length (S3 refuses chunked PUTs to presigned
 * URLs). A stream body is sent with backpressure, so memory stays bounded.
 */
function request(url: string, method: string, headers: Record<string, string>, body: Readable | Buffer, idleMs: number, ctx: Ctx): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new ObjectError(`invalid URL ${url.slice(0, 100)}`, 2));
      return;
    }
    const secure = target.protocol === 'https:';
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      if (!Buffer.isBuffer(body)) body.destroy();
      reject(err);
    };
    const stream = Buffer.isBuffer(body) ? undefined : body;
    const req = (secure ? https : http).request(target, { method, headers, agent: secure ? ctx.agents.https : ctx.agents.http }, (res) => {
      // A server may answer (an error, usually) before it has taken the whole body: stop
      // sending, read the answer, then drop the connection, which is no longer reusable.
      const early = stream !== undefined && !req.writableFinished;
      if (early) {
        stream.unpipe(req);
        stream.destroy();
      }
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept < KEEP_BODY) {
          chunks.push(chunk);
          kept += chunk.length;
        }
      });
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete) fail(new Error('the connection closed before the response ended'));
      });
      res.on('end', () => {
        if (early) req.destroy();
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', fail);
    req.setTimeout(idleMs, () => req.destroy(new Error(`no progress for ${Math.round(idleMs / 1000)} s`)));
    if (!stream) req.end(body);
    else {
      stream.on('error', (err) => req.destroy(err));
      stream.pipe(req);
    }
  });
}
