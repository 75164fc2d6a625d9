import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { BASIC_CHALLENGE, INVALID_CREDENTIALS } from '../../access/answer.js';
import { deleteUser, disableUser, enableUser, listUsers, setUser, type UserListing } from '../../services/users.js';
import type { SiteAdminDenial } from '../authorize.js';
import type { AppContext } from '../context.js';
import { parseBody } from './body.js';
import { apiError } from './respond.js';

// /api/admin/users: site administration of users for site admins with a write token (the
// `siteAdmin` step of src/http/authorize.ts decides who), the same services as `hubgate user`.

/** The API's answer to a caller who may not administer the site. */
export function adminDenial(_req: Request, res: Response, denial: SiteAdminDenial): void {
  const challenge = { headers: { 'WWW-Authenticate': BASIC_CHALLENGE } };
  switch (denial) {
    case 'needs-authentication':
      return apiError(res, 401, 'Authentication required: send the access token of a site admin as `Authorization: Bearer TOKEN`', challenge);
    case 'invalid-credentials':
      return apiError(res, 401, `${INVALID_CREDENTIALS}: use a hubgate access token`, { ...challenge, headerMessage: INVALID_CREDENTIALS });
    case 'not-site-admin':
      return apiError(res, 403, 'Only site admins can administer users (`hubgate user set NAME --admin` makes one)');
    case 'read-only-token':
      return apiError(res, 403, 'Your token has the read role: administering users needs a token with the write role');
  }
}

/** A user as the API shows it. */
export function userJson(u: UserListing) {
  return { name: u.name, email: u.email, fullname: u.fullname, admin: u.isAdmin, disabled: u.disabledAt !== null, disabledAt: u.disabledAt, createdAt: u.createdAt };
}

const deleteBody = z.object({ transferTo: z.string().min(1).max(200).optional(), deleteRepos: z.boolean().optional() }).strict();
const patchBody = z
  .object({ email: z.string().max(254).nullable().optional(), fullname: z.string().max(200).optional(), admin: z.boolean().optional() })
  .strict();

export function adminUserHandlers(ctx: AppContext): Record<'list' | 'disable' | 'enable' | 'remove' | 'update', RequestHandler<{ name: string }>> {
  const actor = (res: Response): string | null => (res.locals.caller.kind === 'user' ? res.locals.caller.user.name : null);
  const current = async (name: string) => (await listUsers(ctx.db)).find((u) => u.name.toLowerCase() === name.toLowerCase());
  const answerUser = async (res: Response, name: string) => {
    const user = await current(name);
    res.json(user ? userJson(user) : {});
  };
  return {
    list: async (_req, res) => {
      res.json((await listUsers(ctx.db)).map(userJson));
    },
    disable: async (req, res) => {
      await disableUser(ctx.db, req.params.name, actor(res));
      await answerUser(res, req.params.name);
    },
    enable: async (req, res) => {
      await enableUser(ctx.db, req.params.name, actor(res));
      await answerUser(res, req.params.name);
    },
    remove: async (req, res) => {
      const body = parseBody(deleteBody, req.body, 'user deletion');
      const done = await deleteUser(ctx.db, ctx.cfg.dataDir, req.params.name, body, actor(res));
      res.json({ deleted: req.params.name, transferred: done.transferred, deletedRepos: done.deleted });
    },
    update: async (req, res) => {
      const body = parseBody(patchBody, req.body, 'user change');
      res.json(userJson(await setUser(ctx.db, req.params.name, { email: body.email, fullname: body.fullname, isAdmin: body.admin }, actor(res))));
    },
  };
}
