import type { RequestHandler } from 'express';
import { z } from 'zod';
import { nameProblem, NameError } from '../../domain/names.js';
import { changeRole, orgMembers, removeMember, setMember } from '../../services/orgs.js';
import { authorizedOrg } from '../authorize.js';
import type { AppContext } from '../context.js';
import { parseBody } from './body.js';

// /api/organizations/{org}/members: its members may list them (as the Hub's list_organization_members
// reads them); its admins, with a write token, add members, change roles and remove members.

const role = z.enum(['read', 'write', 'admin'], { message: 'use read, write or admin' });
const addBody = z.object({ user: z.string().min(1).max(96), role });
const roleBody = z.object({ role });

/** The organization an /api/organizations/{org}/... path names, for the org guard; NameError (400) when invalid. */
export const apiOrg: RequestHandler = (req, res, next) => {
  const name = String(req.params.org);
  const problem = nameProblem('organization', name);
  if (problem) throw new NameError(problem);
  res.locals.orgName = name;
  next();
};

/** The member a .../members/{user} path names. */
function memberOf(params: Record<string, string | string[] | undefined>): string {
  const name = String(params.user);
  const problem = nameProblem('user name', name);
  if (problem) throw new NameError(problem);
  return name;
}

const actorOf = (caller: Express.Locals['caller']): string | null => (caller.kind === 'user' ? caller.user.name : null);

export function orgHandlers(ctx: AppContext): { members: RequestHandler; add: RequestHandler; setRole: RequestHandler; remove: RequestHandler } {
  return {
    /** GET, behind orgGuard('view'). */
    members: async (_req, res) => {
      const members = await orgMembers(ctx.db, authorizedOrg(res).row.name);
      res.json(members.map((m) => ({ user: m.name, fullname: m.fullname, type: 'user', role: m.role, since: m.since })));
    },
    /** POST {user, role}, behind orgGuard('admin'): adds a member, or changes the role of one. */
    add: async (req, res) => {
      const body = parseBody(addBody, req.body, 'member');
      const outcome = await setMember(ctx.db, authorizedOrg(res).row.name, body.user, body.role, actorOf(res.locals.caller));
      res.status(outcome === 'added' ? 201 : 200).json({ user: body.user, role: body.role });
    },
    /** PUT .../members/{user} {role}, behind orgGuard('admin'). */
    setRole: async (req, res) => {
      const user = memberOf(req.params);
      const body = parseBody(roleBody, req.body, 'role change');
      await changeRole(ctx.db, authorizedOrg(res).row.name, user, body.role, actorOf(res.locals.caller));
      res.json({ user, role: body.role });
    },
    /** DELETE .../members/{user}, behind orgGuard('admin'). */
    remove: async (req, res) => {
      await removeMember(ctx.db, authorizedOrg(res).row.name, memberOf(req.params), actorOf(res.locals.caller));
      res.json({});
    },
  };
}
