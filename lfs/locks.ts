import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { pathProblem } from '../src/domain/paths.js';
import { textProblem } from '../src/domain/text.js';
import { callerOf, deny, guardedRepo, type JsonReader, lfsError, lfsJson, lfsRepoOf } from './http.js';
import type { LfsLock, LocksPort } from './ports.js';

// The Git LFS File Locking API (git-lfs docs/api/locking.md) under {repo}[.git]/info/lfs/locks.
// Every permission comes from the access policy, declared by the route's guard: read to list,
// write to lock, verify and unlock, admin (from the same decision) to remove someone else's lock
// with `force`.

const MAX_PATH = 1024;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 100;
/** Lock ids and cursors as they appear on the wire: decimal lock ids. */
const ID = /^[1-9][0-9]{0,15}$/;

const refName = z.string().superRefine((s, ctx) => {
  const problem = textProblem('ref name', s, { max: MAX_PATH, optional: true });
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const ref = z.object({ name: refName.optional() }).loose().nullish();
const limit = z.number().int().min(1).max(MAX_LIMIT);

const createRequest = z
  .object({
    path: z.string().superRefine((p, ctx) => {
      const problem = pathProblem(p, { maxBytes: MAX_PATH, maxSegmentBytes: MAX_PATH });
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    ref,
  })
  .loose();

const verifyRequest = z.object({ cursor: z.string().regex(ID, 'cursor must be a value returned as next_cursor').optional(), limit: limit.optional(), ref }).loose();

const unlockRequest = z.object({ force: z.boolean().optional(), ref }).loose();

const queryString = (what: string) => z.string({ error: `${what} must be given once, as a string` });
const listQuery = z
  .object({
    path: queryString('path').max(MAX_PATH).optional(),
    id: queryString('id').max(100).optional(),
    cursor: queryString('cursor').regex(ID, 'cursor must be a value returned as next_cursor').optional(),
    limit: queryString('limit')
      .regex(/^[0-9]{1,4}$/, `limit must be a whole number from 1 to ${MAX_LIMIT}`)
      .transform(Number)
      .pipe(z.number().min(1, `limit must be a whole number from 1 to ${MAX_LIMIT}`).max(MAX_LIMIT, `limit must be a whole number from 1 to ${MAX_LIMIT}`))
      .optional(),
    refspec: queryString('refspec').max(MAX_PATH).optional(),
  })
  .loose();

/** The wire form of a lock (locking.md): string id, RFC 3339 time to the second. */
function lockJson(l: LfsLock) {
  return { id: String(l.id), path: l.path, locked_at: `${new Date(l.lockedAt).toISOString().slice(0, 19)}Z`, owner: { name: l.ownerName } };
}

function invalid(req: Request, res: Response, what: string, error: z.ZodError): void {
  const issue = error.issues[0];
  lfsError(req, res, 422, `invalid ${what}: ${issue.path.join('.') || 'body'}: ${issue.message}`);
}

/**
 * After the guard: the lock operations act as a user (the lock's owner). The policy never lets
 * anyone else write, so this only keeps a non-user from reaching them should that change.
 */
export function asUser(req: Request, res: Response, next: NextFunction): void {
  if (callerOf(res).kind === 'user') return next();
  const { repoId } = lfsRepoOf(res).where;
  deny(req, res, {
    status: 401,
    message: `Authentication required: use a hubgate access token with the write role as the password to write to ${repoId}`,
    headers: { 'WWW-Authenticate': 'Basic realm="hubgate"' },
  });
}

/** The id of the user behind a request that passed asUser. */
function userIdOf(res: Response): number {
  const caller = callerOf(res);
  if (caller.kind !== 'user') throw new Error('userIdOf: the lock route has no asUser');
  return caller.user.id;
}

/** The handlers of the lock endpoints; the LFS router gives them their routes and guards. */
export function lockHandlers(locks: LocksPort, readJson: JsonReader) {
  async function create(req: Request, res: Response): Promise<void> {
    const body = await readJson(req, res);
    if (body === undefined) return;
    const parsed = createRequest.safeParse(body);
    if (!parsed.success) return invalid(req, res, 'lock request', parsed.error);
    const { created, lock } = await locks.create({
      repoId: guardedRepo(res).row.id,
      path: parsed.data.path,
      ownerId: userIdOf(res),
      ref: parsed.data.ref?.name || null,
    });
    if (!created) return lfsJson(res, 409, { lock: lockJson(lock), message: 'already created lock', request_id: String(req.id) });
    req.log.info({ lock: lock.id, path: lock.path }, 'lfs lock created');
    lfsJson(res, 201, { lock: lockJson(lock) });
  }

  async function list(req: Request, res: Response): Promise<void> {
    const parsed = listQuery.safeParse(req.query);
    if (!parsed.success) return invalid(req, res, 'lock query', parsed.error);
    const q = parsed.data;
    // An id that cannot be one of ours matches no lock.
    if (q.id !== undefined && !ID.test(q.id)) return lfsJson(res, 200, { locks: [] });
    const page = await locks.list(guardedRepo(res).row.id, {
      path: q.path,
      id: q.id === undefined ? undefined : Number(q.id),
      ref: q.refspec || undefined,
      cursor: q.cursor === undefined ? undefined : Number(q.cursor),
      limit: q.limit ?? DEFAULT_LIMIT,
    });
    lfsJson(res, 200, { locks: page.locks.map(lockJson), ...(page.nextCursor !== undefined && { next_cursor: String(page.nextCursor) }) });
  }

  async function verify(req: Request, res: Response): Promise<void> {
    const body = await readJson(req, res);
    if (body === undefined) return;
    const parsed = verifyRequest.safeParse(body);
    if (!parsed.success) return invalid(req, res, 'verify request', parsed.error);
    // Every lock of the repo, whatever ref it was taken on: a path has one lock per repo, so a push
    // to any branch must respect it. `ref` only says where the push goes (authorization).
    const page = await locks.list(guardedRepo(res).row.id, {
      cursor: parsed.data.cursor === undefined ? undefined : Number(parsed.data.cursor),
      limit: parsed.data.limit ?? DEFAULT_LIMIT,
    });
    const me = userIdOf(res);
    lfsJson(res, 200, {
      ours: page.locks.filter((l) => l.ownerId === me).map(lockJson),
      theirs: page.locks.filter((l) => l.ownerId !== me).map(lockJson),
      ...(page.nextCursor !== undefined && { next_cursor: String(page.nextCursor) }),
    });
  }

  /** `rawId`: the id as sent, not percent-decoded: a 404 names it the way the client wrote it. */
  async function unlock(req: Request, res: Response, rawId: string): Promise<void> {
    const body = await readJson(req, res);
    if (body === undefined) return;
    const parsed = unlockRequest.safeParse(body);
    if (!parsed.success) return invalid(req, res, 'unlock request', parsed.error);
    const { repoId } = lfsRepoOf(res).where;
    const repo = guardedRepo(res);
    const notFound = () => lfsError(req, res, 404, `no lock with id ${rawId.slice(0, 40).replace(/[^\x20-\x7e]/g, '?')} in ${repoId}`);
    if (!ID.test(rawId)) return notFound();
    const lock = await locks.find(repo.row.id, Number(rawId));
    if (!lock) return notFound();

    const me = userIdOf(res);
    if (lock.ownerId !== me) {
      const refusal = `${lock.path} is locked by ${lock.ownerName}; use --force as a repo admin to remove another user's lock`;
      if (!parsed.data.force) return lfsError(req, res, 403, refusal);
      // The guard allowed write; the same decision's facts say whether admin is allowed too. A
      // writer is never gated and holds a write token, so the only refusal left is "forbidden".
      if (!repo.may.admin) return lfsError(req, res, 403, `${refusal} (You do not have admin access to ${repoId})`);
    }
    const deleted = await locks.delete(repo.row.id, lock.id);
    if (!deleted) return notFound();
    if (deleted.ownerId !== me) req.log.warn({ lock: deleted.id, path: deleted.path, owner: deleted.ownerName }, 'lfs lock force-removed by a repo admin');
    else req.log.info({ lock: deleted.id, path: deleted.path }, 'lfs lock removed');
    lfsJson(res, 200, { lock: lockJson(deleted) });
  }

  return {
    list,
    create,
    verify,
    unlock: (req, res) => unlock(req, res, req.path.split('/')[2]),
  } satisfies Record<string, RequestHandler>;
}
