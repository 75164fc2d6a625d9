import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { type Logger, pino } from 'pino';

// One log line per request, when its answer is done: "request completed" (or "request aborted"
// when the client went away first, "request errored" for a 5xx), at level info, with the method,
// the path without its query string (signed URLs carry tokens there), the client's address, the
// status, the time taken in ms and the user, if any. No headers: they carry credentials. This is
// the line pino-http wrote, written directly: the request's own child logger (req.log, for the
// handlers' messages) and its id are made only when used, not for every request.

declare module 'http' {
  interface IncomingMessage {
    /** A number unique in this process (made when first used). */
    id: number;
    /** The server's logger with this request's method, path and address bound (made when first used). */
    log: Logger;
  }
}

/** What a request's log lines say about it. */
function requestFields(req: IncomingMessage & { originalUrl?: string }): { method: string | undefined; path: string; remoteAddress: string | undefined } {
  // As sent: routers mounted on a path take it off req.url while they run.
  const url = req.originalUrl ?? req.url ?? '';
  const query = url.indexOf('?');
  return { method: req.method, path: query < 0 ? url : url.slice(0, query), remoteAddress: req.socket?.remoteAddress };
}

let lastRequestId = 0;

/**
 * Gives every request of `request` (an Express app's request prototype) its `id` (a number unique
 * in this process, which LFS errors carry as request_id) and its `log`, both made on first use.
 */
export function giveRequestsIdsAndLoggers(request: object, log: Logger): void {
  const own = { id: Symbol('id'), log: Symbol('log') };
  type Own = IncomingMessage & { [own.id]?: number; [own.log]?: Logger };
  Object.defineProperties(request, {
    id: {
      configurable: true,
      get(this: Own) {
        return (this[own.id] ??= lastRequestId = (lastRequestId + 1) & 0x7fffffff);
      },
    },
    log: {
      configurable: true,
      get(this: Own) {
        return (this[own.log] ??= log.child({ req: requestFields(this) }));
      },
    },
  });
}

/** Writes the request's line when its answer has been sent, or when the connection closed before. */
export function requestLog(log: Logger): RequestHandler {
  const write = lineWriter(log);
  return (req: Request, res: Response, next) => {
    const start = Date.now();
    let logged = false;
    const done = () => {
      if (logged) return;
      logged = true;
      const caller = res.locals.caller;
      const user = caller?.kind === 'user' ? caller.user.name : undefined;
      // At level info, as pino-http wrote them: a 5xx the server answers on purpose (501, 503) is
      // no error of the server's; real faults are logged where they happen, at level error.
      if (res.statusCode >= 500) {
        const line: Record<string, unknown> = { req: requestFields(req), res: { statusCode: res.statusCode }, responseTime: Date.now() - start };
        if (user !== undefined) line.user = user;
        line.err = new Error(`failed with status code ${res.statusCode}`);
        return log.info(line, 'request errored');
      }
      write(req, res.statusCode, Date.now() - start, user, res.writableEnded ? 'request completed' : 'request aborted');
    };
    res.once('finish', done);
    res.once('close', done);
    next();
  };
}

const { chindingsSym, streamSym, timeSym } = pino.symbols;

/** The logger's destination: pino's asynchronous writer of stdout (sonic-boom) unless a test gave another. */
interface LogStream {
  write(text: string): void;
  flushSync?(): void;
}

/** Request lines wait at most this long to be written, with the others that came meanwhile. */
const BATCH_MS = 10;
/** ... or until this many characters are waiting (under the 4 KiB a pipe takes whole, from one process among several writing to it). */
const BATCH_CHARS = 3500;

/**
 * Hands request lines to `stream` together: at most BATCH_MS after the first of a batch, or once
 * BATCH_CHARS are waiting, and at the process's exit. The stream writes each handing-over with
 * one write on Node's thread pool: one per line cost more than the rest of a small request
 * (a HEAD's line: the thread's wake-up and the event loop's wake-up when it is done).
 */
function batched(stream: LogStream): (line: string) => void {
  let waiting = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!waiting) return;
    const lines = waiting;
    waiting = '';
    stream.write(lines);
  };
  // At exit pino writes out what its stream holds (flushSync); these come after it, the same way.
  process.once('exit', () => {
    if (!waiting) return;
    try {
      flush();
      stream.flushSync?.();
    } catch {
      // The stream was closed already: nothing more can be written.
    }
  });
  return (line) => {
    waiting += line;
    if (waiting.length >= BATCH_CHARS) flush();
    else timer ??= setTimeout(flush, BATCH_MS);
  };
}

/**
 * Writes a request's line (not a 5xx's) to the logger's destination, as pino would write
 * `log.info({ req, res, responseTime, user }, msg)`, byte for byte, without pino's work per line:
 * its redaction (of headers, which this line never holds) copies and walks `req` and `res` on
 * every line, a good part of a small request's cost. Lines are written in batches (batched).
 */
function lineWriter(log: Logger): (req: IncomingMessage & { originalUrl?: string }, status: number, ms: number, user: string | undefined, msg: string) => void {
  const own = log as unknown as Record<symbol, unknown>;
  const write = batched(own[streamSym] as LogStream);
  const time = own[timeSym] as () => string;
  const level = log.levels.values.info;
  return (req, status, ms, user, msg) => {
    if (!log.isLevelEnabled('info')) return;
    const { method, path, remoteAddress } = requestFields(req);
    const fields =
      (method === undefined ? '' : `"method":${JSON.stringify(method)},`) +
      `"path":${JSON.stringify(path)}` +
      (remoteAddress === undefined ? '' : `,"remoteAddress":${JSON.stringify(remoteAddress)}`);
    write(
      `{"level":${level}${time()}${own[chindingsSym] as string},"req":{${fields}},"res":{"statusCode":${status}},"responseTime":${ms}` +
        `${user === undefined ? '' : `,"user":${JSON.stringify(user)}`},"msg":${JSON.stringify(msg)}}\n`,
    );
  };
}
