import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { answerFor, BASIC_CHALLENGE } from '../../access/answer.js';
import type { Denial } from '../../access/policy.js';
import { resolveCreateAccess } from '../../access/resolve.js';
import { HubgateError, badRequest } from '../../domain/errors.js';
import { checkName, checkNamespace, parseRepoId, type RepoRef, type RepoType, repoIdOf } from '../../domain/names.js';
import type { AppContext } from '../context.js';
import { createRepo, deleteRepo, moveRepo } from '../../services/repos.js';
import { actorOf } from '../../identity/identify.js';
import { authorizedRepo } from '../authorize.js';
import { parseBody } from './body.js';
import { apiError, headerSafe } from './respond.js';
import { baseUrlOf } from '../urls.js';

// POST /api/repos/create, DELETE /api/repos/delete and POST /api/repos/move, with the bodies
// huggingface_hub's create_repo / delete_repo / move_repo and @huggingface/hub's createRepo /
// deleteRepo send (hf-wire.md §5).
// Fields the clients send that hubgate has no use for (a space's sdk, hardware, secrets, a
// license, a resource group, ...) are accepted and ignored; the ones that matter are checked.

const repoType = z.enum(['model', 'dataset', 'space'], { message: 'use model, dataset or space' });

const target = {
  name: z.string().min(1).max(200),
  organization: z.string().min(1).max(200).nullish(),
  type: repoType.nullish(),
};

const createBody = z.object({
  ...target,
  private: z.boolean().nullish(),
  // "protected" is a Hub space setting hubgate does not have.
  visibility: z.enum(['public', 'private'], { message: 'use public or private' }).nullish(),
  gated: z.union([z.literal(false), z.enum(['auto', 'manual'])]).nullish(),
  files: z.array(z.unknown()).max(0, 'hubgate does not take files at creation: create the repo, then upload them (uploadFiles / upload_file)').nullish(),
});

const deleteBody = z.object(target);

// move_repo sends both ids as "ns/name" and the type ("model" when the caller gave none).
const moveBody = z.object({
  fromRepo: z.string().min(1).max(200),
  toRepo: z.string().min(1).max(200),
  type: repoType.nullish(),
});

/** The source and target of a move body; NameError (400) for an id that is not "ns/name" with valid names. */
function moveOf(body: unknown): { from: RepoRef; to: RepoRef } {
  const move = parseBody(moveBody, body, 'move request');
  const type = (move.type ?? 'model') as RepoType;
  return { from: { type, ...parseRepoId(move.fromRepo) }, to: { type, ...parseRepoId(move.toRepo) } };
}

/** The repo a create or delete body names: `organization` or else the caller's own namespace; `name` may also be "ns/name". */
function repoOf(body: z.infer<typeof deleteBody>, res: Response): RepoRef | undefined {
  let namespace = body.organization ?? undefined;
  let name = body.name;
  if (!namespace && name.includes('/')) [namespace, name] = [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)];
  if (!namespace) {
    const caller = res.locals.caller;
    if (caller.kind !== 'user') return undefined;
    namespace = caller.user.name;
  }
  if (name.includes('/')) throw badRequest(`invalid repo name "${headerSafe(body.name)}": give the name without '/', and the namespace as "organization"`);
  return { type: (body.type ?? 'model') as RepoType, namespace: checkNamespace(namespace), name: checkName('repo name', name) };
}

function repoUrl(ctx: AppContext, req: Request, ref: RepoRef): string {
  return `${baseUrlOf(ctx.cfg, req)}/${repoIdOf(ref)}`;
}

const NEEDS_TOKEN = 'Authentication required: send a hubgate access token with the write role as `Authorization: Bearer TOKEN`';

/** The answer to a refused create: the policy's denial, worded for a namespace rather than a repo. */
function refuseCreate(ctx: AppContext, req: Request, res: Response, denial: Denial, ref: RepoRef | undefined): void {
  const challenge = { 'WWW-Authenticate': BASIC_CHALLENGE };
  switch (denial.reason) {
    case 'needs-authentication':
      return apiError(res, 401, NEEDS_TOKEN, { headers: challenge });
    case 'not-found':
      return apiError(res, 404, `no user or organization named "${ref!.namespace}": create repos in your own namespace or in an organization you belong to`);
    case 'forbidden':
      return apiError(res, 403, `You cannot create repos in "${ref!.namespace}": only that user, or the write and admin members of that organization, can`);
    default: {
      const answer = answerFor(denial, ref ? repoIdOf(ref) : 'a new repo', baseUrlOf(ctx.cfg, req));
      return apiError(res, answer.status, answer.message, { headers: answer.headers });
    }
  }
}

export interface RepoHandlers {
  create: RequestHandler;
  /** Names the repo to delete from the body (res.locals.repoRef), for the guard after it. */
  deleteTarget: RequestHandler;
  delete: RequestHandler;
  /** Names the repo to move from the body (res.locals.repoRef), for the guard after it. */
  moveSource: RequestHandler;
  move: RequestHandler;
}

export function repoHandlers(ctx: AppContext): RepoHandlers {
  /** POST /api/repos/create: the policy decides about the namespace, as no repo exists yet. */
  const create: RequestHandler = async (req, res) => {
    const body = parseBody(createBody, req.body, 'create request');
    if (body.private != null && body.visibility != null && body.private !== (body.visibility === 'private')) {
      throw badRequest('private and visibility disagree: send one of them');
    }
    const ref = repoOf(body, res);
    // Anonymous callers with no organization have no namespace to default to: the policy asks them for a token.
    const decision = await resolveCreateAccess(ctx.db, res.locals.caller, ref?.namespace ?? '');
    if (!decision.allow) return refuseCreate(ctx, req, res, decision, ref);
    const url = repoUrl(ctx, req, ref!);
    try {
      const repo = await createRepo(ctx.db, ctx.cfg.dataDir, {
        ...ref!,
        private: body.private ?? body.visibility === 'private',
        gated: body.gated ?? false,
      }, actorOf(res.locals.caller));
      res.json({ url, name: `${repo.namespace}/${repo.name}`, id: String(repo.id) });
    } catch (err) {
      // huggingface_hub's create_repo(exist_ok=True) reads the url from the 409's body.
      if (err instanceof HubgateError && err.status === 409) {
        const message = `You already created this ${ref!.type} repo: ${repoIdOf(ref!)}`;
        res.status(409).set('X-Error-Message', headerSafe(message)).json({ error: message, url });
        return;
      }
      throw err;
    }
  };

  const deleteTarget: RequestHandler = (req, res, next) => {
    const body = parseBody(deleteBody, req.body, 'delete request');
    const ref = repoOf(body, res);
    if (!ref) {
      return apiError(res, 401, NEEDS_TOKEN, { headers: { 'WWW-Authenticate': BASIC_CHALLENGE } });
    }
    res.locals.repoRef = ref;
    next();
  };

  /** DELETE /api/repos/delete, behind guard('admin'): the repo's owner, or an admin of its organization, with a write token. */
  const remove: RequestHandler = async (_req, res) => {
    const repo = authorizedRepo(res);
    if (!(await deleteRepo(ctx.db, ctx.cfg.dataDir, repo.row, actorOf(res.locals.caller)))) throw new HubgateError('not-found', `Repository not found: ${repoIdOf(repo.requested)}`, 'RepoNotFound');
    res.json({});
  };

  const moveSource: RequestHandler = (req, res, next) => {
    res.locals.repoRef = moveOf(req.body).from;
    next();
  };

  /**
   * POST /api/repos/move, behind guard('admin') on the source: renames the repo, or transfers it
   * to a namespace where the caller may create repos (asked of the policy as create asks it).
   * Access requests, LFS objects, locks and settings stay with the repo; its old name redirects.
   */
  const move: RequestHandler = async (req, res) => {
    const repo = authorizedRepo(res);
    const { to } = moveOf(req.body);
    const decision = await resolveCreateAccess(ctx.db, res.locals.caller, to.namespace);
    if (!decision.allow) return refuseCreate(ctx, req, res, decision, to);
    const moved = await moveRepo(ctx.db, ctx.cfg.dataDir, repo.ref, to, actorOf(res.locals.caller));
    res.json({ url: repoUrl(ctx, req, moved), name: `${moved.namespace}/${moved.name}`, id: String(moved.id) });
  };

  return { create, deleteTarget, delete: remove, moveSource, move };
}
