import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { HubgateError } from '../../domain/errors.js';
import { type Actor, createBranch, createTag, deleteBranch, deleteTag, type RefChange } from '../../services/branches-tags.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { parseBody } from './body.js';

// POST/DELETE /api/{models|datasets|spaces}/{ns}/{name}/branch/{branch} and POST .../tag/{rev},
// DELETE .../tag/{tag}: branches and tags as huggingface_hub (create_branch, delete_branch,
// create_tag, delete_tag) and @huggingface/hub (createBranch, deleteBranch) make them. The
// clients percent-encode the name (`feature%2Fx`); a '/' left as it is works too.

const branchBody = z.object({
  // huggingface_hub sends startingPoint only when given; @huggingface/hub also emptyBranch and overwrite.
  startingPoint: z.string().max(1000).nullish(),
  emptyBranch: z.boolean().nullish(),
  overwrite: z.boolean().nullish(),
}).loose();

const tagBody = z.object({
  tag: z.string({ message: 'send the tag\'s name as "tag"' }).max(1000),
  message: z.string().nullish(),
}).loose();

/** A name from the path: one segment (percent-encoded '/' decoded), or the segments of a wildcard. */
function nameOf(param: string | string[] | undefined): string {
  return Array.isArray(param) ? param.join('/') : String(param ?? '');
}

function actorOf(res: Response, what: string): Actor {
  const caller = res.locals.caller;
  if (caller.kind !== 'user') throw new HubgateError('unauthenticated', `sign in with a write token to ${what}`);
  return { user: caller.user.name, name: caller.user.name, email: caller.user.email ?? `${caller.user.name}@hubgate` };
}

function answer(req: Request, res: Response, change: RefChange, body: object): void {
  const { auditError, ...ref } = change;
  const repoId = authorizedRepo(res).repoId;
  req.log.info({ repo: repoId, ref: ref.ref, commit: ref.targetCommit, method: req.method }, 'ref change through the API');
  if (auditError) req.log.error({ repo: repoId, ref: ref.ref, err: auditError }, 'the ref change is not in the audit log');
  res.json(body);
}

export interface BranchTagHandlers {
  createBranch: RequestHandler;
  deleteBranch: RequestHandler;
  createTag: RequestHandler;
  deleteTag: RequestHandler;
}

/** The handlers, behind the route table's guard('write'). */
export function branchTagHandlers(ctx: AppContext): BranchTagHandlers {
  const deps = { db: ctx.db, dataDir: ctx.cfg.dataDir };
  return {
    createBranch: async (req, res) => {
      const repo = authorizedRepo(res).row;
      const actor = actorOf(res, 'create a branch');
      const body = parseBody(branchBody, req.body, 'branch request');
      const change = await createBranch(deps, repo, nameOf(req.params.branch), {
        startingPoint: body.startingPoint ?? undefined,
        empty: body.emptyBranch ?? false,
        overwrite: body.overwrite ?? false,
      }, actor);
      answer(req, res, change, { name: change.name, ref: change.ref, targetCommit: change.targetCommit });
    },
    deleteBranch: async (req, res) => {
      const repo = authorizedRepo(res).row;
      const actor = actorOf(res, 'delete a branch');
      answer(req, res, await deleteBranch(deps, repo, nameOf(req.params.branch), actor), {});
    },
    createTag: async (req, res) => {
      const repo = authorizedRepo(res).row;
      const actor = actorOf(res, 'create a tag');
      const body = parseBody(tagBody, req.body, 'tag request');
      const change = await createTag(deps, repo, nameOf(req.params.rev), { tag: body.tag, message: body.message ?? undefined }, actor);
      answer(req, res, change, { name: change.name, ref: change.ref, targetCommit: change.targetCommit });
    },
    deleteTag: async (req, res) => {
      const repo = authorizedRepo(res).row;
      const actor = actorOf(res, 'delete a tag');
      answer(req, res, await deleteTag(deps, repo, nameOf(req.params.tag), actor), {});
    },
  };
}
