import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { HubgateError } from '../domain/errors.js';

// Request bodies that stop moving, or that are declared larger than a route takes. Long clones
// and pushes are not limited in time: only a body that sends no byte for a while is cut, and the
// timer stops once the body has arrived (git may then compute, and the answer stream, for as long
// as they take).

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Cuts a request whose body sends nothing for `ms` (0: never) with a 408 and closes the
 * connection. Measured on the socket, so bytes in either direction keep the request alive.
 */
export function bodyIdleTimeout(ms: number, log: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (ms <= 0 || !hasBody(req) || req.complete) return next();
    const socket = req.socket;
    let cut = false;
    // Node does not end a request whose answer has finished when its socket closes: destroying
    // it is what tells its reader (a git process's stdin, a body parser) that no more is coming.
    const close = () => {
      socket.destroy();
      req.destroy();
    };
    const onIdle = () => {
      // Node's server closes a socket whose timeout no one handles: once the body is all here,
      // the timer is simply switched off, whatever the answer still takes.
      if (req.complete) return void socket.setTimeout(0);
      if (cut) return; // the request and the response both hear of one timeout
      cut = true;
      log.info({ path: req.path, remoteAddress: socket.remoteAddress }, 'request body timed out');
      if (res.headersSent) return close();
      res.writeHead(408, { Connection: 'close', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`the request body sent nothing for ${ms / 1000} s, so the request was cut: send the body without pausing, then try again\n`, close);
    };
    const done = () => {
      req.off('timeout', onIdle);
      res.off('timeout', onIdle);
      // After the answer, Node sets its own keep-alive timeout on the socket: leave that one be.
      if (!res.writableFinished) socket.setTimeout(0);
    };
    req.on('timeout', onIdle);
    res.on('timeout', onIdle);
    req.once('end', done);
    res.once('close', () => {
      req.off('timeout', onIdle);
      res.off('timeout', onIdle);
    });
    socket.setTimeout(ms);
    next();
  };
}

const sizeOf = (bytes: number) => (bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MB` : `${bytes / 1024} KB`);

/**
 * Runs `parser` (a body parser) only when the declared Content-Length fits `limit` bytes; a larger
 * one is answered 413 at once, before any byte of the body is read (body-parser would read it all
 * first). The connection is closed after the answer, so the unread body is never read either.
 */
export function declaredLengthAtMost(limit: number, parser: RequestHandler, advice: string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      res.set('Connection', 'close');
      return next(new HubgateError('too-large', `the request body (${declared} bytes) is larger than the ${sizeOf(limit)} this route takes: ${advice}`));
    }
    return parser(req, res, next);
  };
}
