import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type Answer, answerFor, orgAnswerFor } from '../access/answer.js';
import type { Action, Level, OrgAction } from '../access/policy.js';
import { resolveAccess, resolveMovedRepo, resolveOrgAccess } from '../access/resolve.js';
import type { Account } from '../db/accounts.js';
import type { RepoWithOwner } from '../db/repos.js';
import { type RepoRef, repoIdOf } from '../domain/names.js';
import type { AppContext } from './context.js';
import { baseUrlOf } from './urls.js';

// The request pipeline's access step: identify (app.ts, tokens; pages add sessions) → the
// surface parses which repo the path names (res.locals.repoRef) → this middleware loads the repo
// and the caller's facts once and asks the policy once, for the action the route declares.
// Handlers receive the outcome in res.locals.repo and never ask the policy themselves.

/** A repo the request may act on, with what the caller may do there. */
export interface AuthorizedRepo {
  /** The repo's row; its names in their stored spelling. */
  row: RepoWithOwner;
  /** The repo as stored (names match case-insensitively, directories do not). */
  ref: RepoRef;
  /** `ns/name` (with its type prefix) as stored. */
  repoId: string;
  /** The repo as the caller spelled it: denials and links name it so. */
  requested: RepoRef;
  /** The caller's level on it (capped by the token's role). */
  level: Level;
  /** What else the caller may do, from the same facts (pages show links only when allowed). */
  may: Record<Action, boolean>;
}

/** How a surface answers a denial: git text, LFS JSON, API JSON with X-Error-Code, a page. */
export type DenialRenderer = (req: Request, res: Response, answer: Answer) => void;

/**
 * How a surface answers a request to a moved repo's old name: a redirect to the same address
 * under `to` (the repo's current names). Only called when the caller may see the repo there.
 */
export type MovedRenderer = (req: Request, res: Response, moved: { from: RepoRef; to: RepoRef }) => void;

/** A route's action, or a function of the request for routes whose action depends on it (LFS batch: upload or download). */
export type RouteAction = Action | ((req: Request, res: Response) => Action);

/**
 * `guard(action)`: the middleware a route declares its access with. The surface's denial
 * renderer answers a refusal; an allowed request goes on with res.locals.repo set. With `moved`,
 * a name no repo has but a moved repo had is answered with that surface's redirect (when the
 * caller may see the repo; otherwise as a missing repo); without it (routes naming the repo in
 * their body), as a missing repo.
 */
export function repoGuard(ctx: AppContext, deny: DenialRenderer, moved?: MovedRenderer): (action: RouteAction) => RequestHandler {
  return (action) => async (req: Request, res: Response, next: NextFunction) => {
    const requested = res.locals.repoRef;
    if (!requested) return next(new Error('repoGuard: the route did not parse a repo from its path'));
    const { decision, repo, may } = await resolveAccess(ctx.db, res.locals.caller, requested, typeof action === 'function' ? action(req, res) : action);
    if (!decision.allow && !repo && moved && res.locals.caller.kind !== 'invalid') {
      const target = await resolveMovedRepo(ctx.db, res.locals.caller, requested);
      if (target) return moved(req, res, { from: requested, to: { type: requested.type, namespace: target.namespace, name: target.name } });
    }
    if (!decision.allow) {
      // Denials name the repo as the caller spelled it: the stored spelling would tell a hidden repo from a missing one.
      return deny(req, res, answerFor(decision, repoIdOf(requested), baseUrlOf(ctx.cfg, req)));
    }
    const ref: RepoRef = { type: requested.type, namespace: repo!.namespace, name: repo!.name };
    let mayDo: Record<Action, boolean> | undefined;
    res.locals.repo = {
      row: repo!, ref, repoId: repoIdOf(ref), requested, level: decision.level,
      get may() {
        return (mayDo ??= may());
      },
    } satisfies AuthorizedRepo;
    next();
  };
}

/** The repo the route's guard allowed; only for handlers behind repoGuard. */
export function authorizedRepo(res: Response): AuthorizedRepo {
  const repo = res.locals.repo;
  if (!repo) throw new Error('authorizedRepo: the route has no repo guard');
  return repo;
}

/** An organization the request may act on (the org guard's outcome). */
export interface AuthorizedOrg {
  /** The organization's row; its name in its stored spelling. */
  row: Account;
  /** The caller's level in it (their role, capped by the token's). */
  level: Level;
  may: Record<OrgAction, boolean>;
}

/**
 * `guard(action)` for routes about an organization, as repoGuard for repos: the surface parses
 * the org's name from the path into res.locals.orgName; this loads the caller's membership once
 * and asks decideOrg once. Allowed requests go on with res.locals.org set.
 */
export function orgGuard(ctx: AppContext, deny: DenialRenderer): (action: OrgAction) => RequestHandler {
  return (action) => async (req: Request, res: Response, next: NextFunction) => {
    const name = res.locals.orgName;
    if (name === undefined) return next(new Error('orgGuard: the route did not parse an organization from its path'));
    const { decision, org, may } = await resolveOrgAccess(ctx.db, res.locals.caller, name, action);
    if (!decision.allow) return deny(req, res, orgAnswerFor(decision, name));
    res.locals.org = { row: org!, level: decision.level, may };
    next();
  };
}

/** The organization the route's guard allowed; only for handlers behind orgGuard. */
export function authorizedOrg(res: Response): AuthorizedOrg {
  const org = res.locals.org;
  if (!org) throw new Error('authorizedOrg: the route has no org guard');
  return org;
}

/** Why a caller may not administer the site: no credentials, bad ones, not a site admin, or a read token. */
export type SiteAdminDenial = 'needs-authentication' | 'invalid-credentials' | 'not-site-admin' | 'read-only-token';

/**
 * `siteAdmin(deny)`: the step of site administration routes (/api/admin/..., /admin/...), the one
 * place deciding who may take them: a site admin (`accounts.is_admin`) with a write token, or on
 * the pages their session. Anyone else goes to the surface's `deny`. A disabled admin is nobody
 * by then (identify knows no disabled user).
 */
export function siteAdmin(deny: (req: Request, res: Response, denial: SiteAdminDenial) => void): RequestHandler {
  return (req, res, next) => {
    const caller = res.locals.caller;
    if (caller.kind === 'anonymous') return deny(req, res, 'needs-authentication');
    if (caller.kind === 'invalid') return deny(req, res, 'invalid-credentials');
    if (!caller.user.isAdmin) return deny(req, res, 'not-site-admin');
    if (caller.tokenRole !== 'write') return deny(req, res, 'read-only-token');
    next();
  };
}
