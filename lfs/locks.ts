import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { answerFor } from '../src/access/answer.js';
import { baseUrlOf } from '../src/http/urls.js';
import type { Action } from '../src/access/policy.js';
import { resolveAccess } from '../src/access/resolve.js';
import { createLock, deleteLock, findLock, type LfsLock, listLocks } from '../src/db/locks.js';
import type { RepoWithOwner } from '../src/db/repos.js';
import { type RepoRef, repoIdOf } from '../src/domain/names.js';
import { textProblem } from '../src/domain/text.js';
import type { AppContext } from '../src/http/context.js';
import type { User } from '../src/domain/types.js';
import type { Caller } from '../src/identity/identify.js';
import { deny, lfsError, lfsJson, lfsRepoOf, readJson } from './http.js';

// The Git LFS File Locking API (git-lfs docs/api/locking.md) under {repo}[.git]/info/lfs/locks.
// Every permission comes from the access policy: read to list, write to lock, verify and unlock,
// admin to remove someone else's lock with `force`.

const MAX_PATH = 1024;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 100;
/** Lock ids and cursors as they appear on the wire: decimal lock ids. */
const ID = /^[1-9][0-9]{0,15}$/;

/** What is wrong with a lock path, or null when it is a clean repo-relative path. */
export function lockPathProblem(p: string): string | null {
  if (p.length === 0) return 'path must not be empty';
  // Lock paths come back in git-lfs output and `git lfs locks` listings: one printable line.
  const text = textProblem('path', p, { max: MAX_PATH });
  if (text) return text;
  if (/^[/\\]/.test(p) || /^[A-Za-z]:/.test(p)) return 'path must be relative to the repository root';
  const segments = p.split(/[/\\]/);
  if (segments.includes('..')) return "path must not contain '..' segments";
  if (segments.some((s) => s === '' || s === '.')) return "path must not contain empty or '.' segments";
  if (segments.some((s) => s.trim() === '')) return 'path must not contain segments made only of spaces';
  return null;
}

const refName = z.string().superRefine((s, ctx) => {
  const problem = textProblem('ref name', s, { max: MAX_PATH, optional: true });
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const ref = z.object({ name: refName.optional() }).loose().nullish();
const limit = z.number().int().min(1).max(MAX_LIMIT);

const createRequest = z
  .object({
    path: z.string().superRefine((p, ctx) => {
      const problem = lockPathProblem(p);
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

/** Asks the access policy; answers the denial itself and returns undefined when refused. */
async function allowed(ctx: AppContext, req: Request, res: Response, ref: RepoRef, action: Action): Promise<{ repo: RepoWithOwner; caller: Caller } | undefined> {
  const caller: Caller = res.locals.caller;
  const { decision, repo } = await resolveAccess(ctx.db, caller, ref, action);
  if (!decision.allow) {
    deny(req, res, decision, { repoId: repoIdOf(ref), baseUrl: baseUrlOf(ctx.cfg, req) });
    return undefined;
  }
  return { repo: repo!, caller };
}

/** Like allowed(), for the operations that act as a user (the policy never lets anyone else write). */
async function allowedUser(ctx: AppContext, req: Request, res: Response, ref: RepoRef, action: Action): Promise<{ repo: RepoWithOwner; caller: Caller; user: User } | undefined> {
  const ok = await allowed(ctx, req, res, ref, action);
  if (!ok) return undefined;
  if (ok.caller.kind !== 'user') {
    deny(req, res, { reason: 'needs-authentication', hidden: false }, { repoId: repoIdOf(ref), baseUrl: baseUrlOf(ctx.cfg, req) });
    return undefined;
  }
  return { ...ok, user: ok.caller.user };
}

/** The handlers of the lock endpoints; the LFS router gives them their routes. */
export function lockHandlers(ctx: AppContext) {
  return {
    list: (req, res) => list(ctx, req, res, lfsRepoOf(res).ref),
    create: (req, res) => create(ctx, req, res, lfsRepoOf(res).ref),
    verify: (req, res) => verify(ctx, req, res, lfsRepoOf(res).ref),
    // The id as sent, not percent-decoded: a 404 names it the way the client wrote it.
    unlock: (req, res) => unlock(ctx, req, res, lfsRepoOf(res).ref, req.path.split('/')[2]),
  } satisfies Record<string, RequestHandler>;
}

async function create(ctx: AppContext, req: Request, res: Response, ref: RepoRef): Promise<void> {
  const ok = await allowedUser(ctx, req, res, ref, 'write');
  if (!ok) return;
  const body = await readJson(req, res);
  if (body === undefined) return;
  const parsed = createRequest.safeParse(body);
  if (!parsed.success) return invalid(req, res, 'lock request', parsed.error);
  const { created, lock } = await createLock(ctx.db, {
    repoId: ok.repo.id,
    path: parsed.data.path,
    ownerId: ok.user.id,
    ref: parsed.data.ref?.name || null,
  });
  if (!created) return lfsJson(res, 409, { lock: lockJson(lock), message: 'already created lock', request_id: String(req.id) });
  req.log.info({ lock: lock.id, path: lock.path }, 'lfs lock created');
  lfsJson(res, 201, { lock: lockJson(lock) });
}

async function list(ctx: AppContext, req: Request, res: Response, ref: RepoRef): Promise<void> {
  const ok = await allowed(ctx, req, res, ref, 'read');
  if (!ok) return;
  const parsed = listQuery.safeParse(req.query);
  if (!parsed.success) return invalid(req, res, 'lock query', parsed.error);
  const q = parsed.data;
  // An id that cannot be one of ours matches no lock.
  if (q.id !== undefined && !ID.test(q.id)) return lfsJson(res, 200, { locks: [] });
  const page = await listLocks(ctx.db, ok.repo.id, {
    path: q.path,
    id: q.id === undefined ? undefined : Number(q.id),
    ref: q.refspec || undefined,
    cursor: q.cursor === undefined ? undefined : Number(q.cursor),
    limit: q.limit ?? DEFAULT_LIMIT,
  });
  lfsJson(res, 200, { locks: page.locks.map(lockJson), ...(page.nextCursor !== undefined && { next_cursor: String(page.nextCursor) }) });
}

async function verify(ctx: AppContext, req: Request, res: Response, ref: RepoRef): Promise<void> {
  const ok = await allowedUser(ctx, req, res, ref, 'write');
  if (!ok) return;
  const body = await readJson(req, res);
  if (body === undefined) return;
  const parsed = verifyRequest.safeParse(body);
  if (!parsed.success) return invalid(req, res, 'verify request', parsed.error);
  // Every lock of the repo, whatever ref it was taken on: a path has one lock per repo, so a push
  // to any branch must respect it. `ref` only says where the push goes (authorization).
  const page = await listLocks(ctx.db, ok.repo.id, {
    cursor: parsed.data.cursor === undefined ? undefined : Number(parsed.data.cursor),
    limit: parsed.data.limit ?? DEFAULT_LIMIT,
  });
  const me = ok.user.id;
  lfsJson(res, 200, {
    ours: page.locks.filter((l) => l.ownerId === me).map(lockJson),
    theirs: page.locks.filter((l) => l.ownerId !== me).map(lockJson),
    ...(page.nextCursor !== undefined && { next_cursor: String(page.nextCursor) }),
  });
}

async function unlock(ctx: AppContext, req: Request, res: Response, ref: RepoRef, rawId: string): Promise<void> {
  const ok = await allowedUser(ctx, req, res, ref, 'write');
  if (!ok) return;
  const body = await readJson(req, res);
  if (body === undefined) return;
  const parsed = unlockRequest.safeParse(body);
  if (!parsed.success) return invalid(req, res, 'unlock request', parsed.error);
  const repoId = repoIdOf(ref);
  const notFound = () => lfsError(req, res, 404, `no lock with id ${rawId.slice(0, 40).replace(/[^\x20-\x7e]/g, '?')} in ${repoId}`);
  if (!ID.test(rawId)) return notFound();
  const lock = await findLock(ctx.db, ok.repo.id, Number(rawId));
  if (!lock) return notFound();

  const user = ok.user;
  if (lock.ownerId !== user.id) {
    const refusal = `${lock.path} is locked by ${lock.ownerName}; use --force as a repo admin to remove another user's lock`;
    if (!parsed.data.force) return lfsError(req, res, 403, refusal);
    const { decision } = await resolveAccess(ctx.db, ok.caller, ref, 'admin');
    if (!decision.allow) return lfsError(req, res, 403, `${refusal} (${answerFor(decision, repoId, baseUrlOf(ctx.cfg, req)).message})`);
  }
  const deleted = await deleteLock(ctx.db, ok.repo.id, lock.id);
  if (!deleted) return notFound();
  if (deleted.ownerId !== user.id) req.log.warn({ lock: deleted.id, path: deleted.path, owner: deleted.ownerName }, 'lfs lock force-removed by a repo admin');
  else req.log.info({ lock: deleted.id, path: deleted.path }, 'lfs lock removed');
  lfsJson(res, 200, { lock: lockJson(deleted) });
}
