import type { RequestHandler } from 'express';
import { z } from 'zod';
import { badRequest } from '../../domain/errors.js';
import type { AppContext } from '../context.js';
import { updateSettings } from '../../services/repos.js';
import { actorOf } from '../../identity/identify.js';
import { authorizedRepo } from '../authorize.js';
import { parseBody } from './body.js';

// PUT /api/{models|datasets|spaces}/{ns}/{name}/settings, as huggingface_hub's update_repo_settings sends it.

export const EMAIL = z.email({ message: 'use an email address such as name@example.com' });

const settingsBody = z.strictObject({
  gated: z.union([z.literal(false), z.enum(['auto', 'manual'])]).optional(),
  private: z.boolean().optional(),
  visibility: z.enum(['public', 'private']).optional(),
  // hubgate's own notification settings, also set from the settings page.
  notificationsEmail: z.union([EMAIL.max(254), z.literal(''), z.null()]).optional(),
  notificationsFrequency: z.enum(['instant', 'daily']).optional(),
  // Sent by huggingface_hub 0.x; Xet storage is the server's setting (HUBGATE_XET), so this is accepted and ignored.
  xetEnabled: z.boolean().optional(),
});

/** PUT .../settings, behind the route table's guard('write'). */
export function settingsHandler(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const repo = authorizedRepo(res).row;
    const body = parseBody(settingsBody, req.body, 'settings');
    if (body.private !== undefined && body.visibility !== undefined && body.private !== (body.visibility === 'private')) {
      throw badRequest('private and visibility disagree: send one of them');
    }
    const updated = await updateSettings(ctx.db, repo, {
      gated: body.gated,
      private: body.private ?? (body.visibility ? body.visibility === 'private' : undefined),
      notifyEmail: body.notificationsEmail === undefined ? undefined : body.notificationsEmail || null,
      notifyFrequency: body.notificationsFrequency,
    }, actorOf(res.locals.caller));
    res.json({
      private: updated.private,
      gated: updated.gated,
      notificationsEmail: updated.notifyEmail,
      notificationsFrequency: updated.notifyFrequency,
    });
  };
}
