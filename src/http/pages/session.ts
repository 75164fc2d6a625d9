import crypto from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { User } from '../../domain/types.js';
import type { AppContext } from '../context.js';
import { ANONYMOUS } from '../../identity/identify.js';
import { closeSession, openSession } from '../../services/sessions.js';
import { cookieValue, SECRET_SHAPE, SESSION_COOKIE, sessionOf, sha256 } from '../session-cookie.js';
import { csrfRefused, redirectTo } from './respond.js';

// Web sessions for hubgate's pages. The cookie holds a random secret (the database keeps its
// SHA-256); every POST carries the session's CSRF token in a hidden `csrf` field. Besides the
// pages, only resolve reads the session (for GET and HEAD: http/session-cookie.ts); /api, git
// and LFS identify callers by token alone.
/** Before sign-in there is no session: the login form's token is paired with this cookie instead. */
export const LOGIN_CSRF_COOKIE = 'hubgate_login_csrf';
const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const LOGIN_CSRF_TTL_MS = 60 * 60 * 1000;

export interface PageSession {
  idSha256: string;
  csrfToken: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The signed-in web session, on page routes only. */
      session?: PageSession;
    }
  }
}

const randomSecret = (): string => crypto.randomBytes(32).toString('base64url');

/** Cookies are Secure when users reach hubgate over https (its public URL says so). */
function cookieOptions(ctx: AppContext, maxAge: number, sameSite: 'lax' | 'strict', path = '/') {
  return { httpOnly: true, sameSite, secure: ctx.cfg.publicUrl?.startsWith('https:') ?? false, path, maxAge };
}

/** Constant-time comparison of a submitted token with the expected one (hashed first, so lengths match). */
export function tokensMatch(expected: string, given: unknown): boolean {
  return typeof given === 'string' && given.length > 0 && crypto.timingSafeEqual(sha256(expected), sha256(given));
}

/** Starts a session for the user: the cookie is set on `res`; expired sessions are swept at the same time. */
export async function startSession(ctx: AppContext, res: Response, userId: number): Promise<void> {
  const secret = randomSecret();
  const at = new Date();
  // Signing in again replaces the browser's previous session rather than leaving it alive.
  await openSession(
    ctx.db,
    {
      idSha256: sha256(secret).toString('hex'),
      userId,
      csrfToken: randomSecret(),
      createdAt: at.toISOString(),
      expiresAt: new Date(at.getTime() + SESSION_TTL_MS).toISOString(),
    },
    res.locals.session?.idSha256,
  );
  res.cookie(SESSION_COOKIE, secret, cookieOptions(ctx, SESSION_TTL_MS, 'lax'));
  res.clearCookie(LOGIN_CSRF_COOKIE, { ...cookieOptions(ctx, 0, 'strict', '/login'), maxAge: undefined });
}

export async function endSession(ctx: AppContext, res: Response): Promise<void> {
  if (res.locals.session) await closeSession(ctx.db, res.locals.session.idSha256);
  res.clearCookie(SESSION_COOKIE, { ...cookieOptions(ctx, 0, 'lax'), maxAge: undefined });
}

/**
 * Middleware for page routes: the caller is the session's user (full rights, like a write
 * token), or anonymous. Authorization headers are ignored here: pages are for browsers.
 */
export function sessionCaller(ctx: AppContext) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    res.locals.caller = ANONYMOUS;
    res.locals.session = undefined;
    const found = await sessionOf(ctx, req);
    if (found) {
      const { session, user } = found;
      res.locals.caller = { kind: 'user', user, tokenRole: 'write', token: null };
      res.locals.session = { idSha256: session.idSha256, csrfToken: session.csrfToken };
    }
    next();
  };
}

/** True when the POST carries the session's CSRF token; otherwise answers 403 and returns false. */
export function checkCsrf(req: Request, res: Response): boolean {
  const session = res.locals.session;
  if (session && tokensMatch(session.csrfToken, (req.body as Record<string, unknown> | undefined)?.csrf)) return true;
  csrfRefused(req, res);
  return false;
}

/** Route step: the form was posted from the caller's session (its CSRF token), else 403. Implies a signed-in user. */
export const sameSession: RequestHandler = (req, res, next) => {
  if (checkCsrf(req, res)) next();
};

/** Route step: a signed-in user goes on; anyone else is sent to the sign-in page, then back to `back`. */
export function signedIn(back: string): RequestHandler {
  return (_req, res, next) => {
    if (res.locals.caller.kind === 'user') return next();
    redirectTo(res, `/login?next=${encodeURIComponent(back)}`);
  };
}

/** The session's user, for handlers behind signedIn or sameSession. */
export function signedInUser(res: Response): User {
  const caller = res.locals.caller;
  if (caller.kind !== 'user') throw new Error('signedInUser: the route has no signedIn or sameSession step');
  return caller.user;
}

/** The login form's CSRF token: the one already in the browser's cookie, or a new one set now. */
export function loginCsrfToken(ctx: AppContext, req: Request, res: Response): string {
  const existing = cookieValue(req, LOGIN_CSRF_COOKIE);
  if (existing && SECRET_SHAPE.test(existing)) return existing;
  const token = randomSecret();
  res.cookie(LOGIN_CSRF_COOKIE, token, cookieOptions(ctx, LOGIN_CSRF_TTL_MS, 'strict', '/login'));
  return token;
}

/** The sign-in POST must echo the token of its cookie (double submit; the cookie is SameSite=Strict). */
export function loginCsrfMatches(req: Request): boolean {
  const cookie = cookieValue(req, LOGIN_CSRF_COOKIE);
  return !!cookie && tokensMatch(cookie, (req.body as Record<string, unknown> | undefined)?.csrf);
}
