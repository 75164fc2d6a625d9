import type { NextFunction, Request, Response } from 'express';
import { storageFault } from '../../domain/faults.js';
import { NameError } from '../../domain/names.js';
import { html, type Html, layout } from './html.js';

// How pages answer: security headers on every HTML response, the layout around each body, error pages.

/**
 * Scripts and styles only from hubgate's own files (never inline), and requests by scripts only
 * to hubgate (the upload page's progress); images from hubgate and from
 * `imageOrigins` (the LFS object store's, where resolve URLs redirect to: src/server.ts computes
 * it once at startup); forms only post back to hubgate; never framed.
 */
export function contentSecurityPolicy(imageOrigins: readonly string[] = []): string {
  const images = ["'self'", ...imageOrigins].join(' ');
  return `default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src ${images}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;
}

/** The policy of pages when the pages router has not set one (no image origin beyond hubgate's). */
export const CONTENT_SECURITY_POLICY = contentSecurityPolicy();

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The pages' Content-Security-Policy, set by the pages router for every request it sees. */
      contentSecurityPolicy?: string;
    }
  }
}

export function setPageHeaders(res: Response): void {
  res.set({
    'Content-Security-Policy': res.locals.contentSecurityPolicy ?? CONTENT_SECURITY_POLICY,
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'same-origin',
    'X-Content-Type-Options': 'nosniff',
    // Pages show per-user state (and, once, token secrets): never cached.
    'Cache-Control': 'no-store',
  });
}

/** The page's path and query, for "Sign in" to come back to (a form's target is not a page: home instead). */
function hereOf(req: Request): string {
  return (req.method === 'GET' || req.method === 'HEAD') && req.originalUrl.startsWith('/') ? req.originalUrl : '/';
}

export function renderPage(req: Request, res: Response, status: number, title: string, body: Html): void {
  const caller = res.locals.caller;
  const page = layout(
    { title, userName: caller?.kind === 'user' ? caller.user.name : null, csrf: res.locals.session?.csrfToken ?? null, here: hereOf(req) },
    body,
  );
  setPageHeaders(res);
  res.status(status).type('html').send(page.value);
}

export function errorPage(req: Request, res: Response, status: number, title: string, message: string): void {
  renderPage(req, res, status, title, html`<h1>${title}</h1><p class="notice error" role="alert">${message}</p>`);
}

/** One page for a repo that does not exist and one the caller may not see, so neither is told apart. */
export function notFoundPage(req: Request, res: Response): void {
  errorPage(req, res, 404, 'Not found', 'There is no page here, or you do not have access to it. If the repo is private, sign in with an account that may see it.');
}

export function csrfRefused(req: Request, res: Response): void {
  errorPage(req, res, 403, 'Form refused', 'This form did not come from your current hubgate session (or the session ended). Go back, reload the page and try again.');
}

/** 303 See Other: after a POST, the browser loads the target with GET. */
export function redirectTo(res: Response, location: string): void {
  setPageHeaders(res);
  res.redirect(303, location);
}

/** Refusals meant for the user (bad names, oversized forms, HubgateErrors) as pages, not JSON; the rest goes on to the app's handler. */
export function pageErrors(err: Error & { status?: number }, req: Request, res: Response, next: NextFunction): void {
  // A full or read-only disk: a page that says so, rather than the API's JSON.
  const fault = storageFault(err);
  if (fault && !res.headersSent) {
    req.log.error({ err }, 'storage fault');
    if ('retryAfter' in fault) res.set('Retry-After', String(fault.retryAfter));
    return errorPage(req, res, fault.status, fault.status === 507 ? 'Disk full' : 'Temporarily unavailable', fault.message);
  }
  const status = err instanceof NameError ? 400 : err.status;
  if (!status || status < 400 || status >= 500 || res.headersSent) return next(err);
  errorPage(req, res, status, 'Request refused', err instanceof NameError || (err as { expose?: boolean }).expose !== false ? err.message : 'Request refused');
}
