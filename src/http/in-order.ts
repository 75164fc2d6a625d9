import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Runs `steps` one after the other as Express runs a route's middleware: each goes on by calling
 * next(); an error (passed to next, thrown, or a rejected promise) goes to `done(err)`, and so
 * does the end of the steps (`done()`) or a step skipping the rest (next('route') or
 * next('router')). For a lane that takes requests before the app's router walks every surface.
 */
export function inOrder(steps: readonly RequestHandler[]): (req: Request, res: Response, done: NextFunction) => void {
  return (req, res, done) => {
    let at = 0;
    const next = (err?: unknown): void => {
      if (err === 'route' || err === 'router') return done();
      if (err !== undefined && err !== null) return done(err);
      const step = steps[at++];
      if (!step) return done();
      try {
        const ran: unknown = step(req, res, next);
        if (ran instanceof Promise) ran.then(undefined, (e: unknown) => next(e ?? new Error('Rejected promise')));
      } catch (e) {
        next(e);
      }
    };
    next();
  };
}
