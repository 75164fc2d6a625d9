import crypto from 'node:crypto';
import type { Request } from 'express';
import type { User } from '../domain/types.js';
import type { SessionRow } from '../db/sessions.js';
import { liveSession } from '../services/sessions.js';
import type { AppContext } from './context.js';

// The web session's cookie, read by the pages (every route) and by resolve (GET and HEAD only,
// so that images and downloads a page links to work in private and gated repos for the signed-in
// user). Nothing else reads it: /api, git and LFS identify callers by token alone.

export const SESSION_COOKIE = 'hubgate_session';
export const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export const sha256 = (s: string): Buffer => crypto.createHash('sha256').update(s, 'utf8').digest();

/** The value of one cookie from the Cookie header, or undefined. */
export function cookieValue(req: Request, name: string): string | undefined {
  for (const pair of (req.get('cookie') ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/** The live session the request's cookie names, with its (active) user; undefined without one. */
export async function sessionOf(ctx: AppContext, req: Request): Promise<{ session: SessionRow; user: User } | undefined> {
  const secret = cookieValue(req, SESSION_COOKIE);
  if (!secret || !SECRET_SHAPE.test(secret)) return undefined;
  return liveSession(ctx.db, sha256(secret).toString('hex'));
}
