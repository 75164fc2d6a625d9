import type { RequestHandler, Response } from 'express';
import { z } from 'zod';
import { BASIC_CHALLENGE, INVALID_CREDENTIALS } from '../../access/answer.js';
import type { User } from '../../domain/types.js';
import { addSshKey, removeSshKey, type SshKeyInfo, sshKeysOf } from '../../services/ssh-keys.js';
import type { AppContext } from '../context.js';
import { parseBody } from './body.js';
import { apiError } from './respond.js';

// /api/settings/ssh-keys: the signed-in user's own SSH public keys (git over SSH). Any token of
// theirs lists them; adding and removing take a write token. Other users' keys: `hubgate ssh-key`.

/**
 * The step before these routes: a caller signed in with a token, of the write role for `write`;
 * 401 (with the challenge) or 403 otherwise.
 */
export function signedIn(need: 'read' | 'write'): RequestHandler {
  return (_req, res, next) => {
    const caller = res.locals.caller;
    const challenge = { headers: { 'WWW-Authenticate': BASIC_CHALLENGE } };
    if (caller.kind === 'invalid') return apiError(res, 401, `${INVALID_CREDENTIALS}: use a hubgate access token`, { ...challenge, headerMessage: INVALID_CREDENTIALS });
    if (caller.kind !== 'user') return apiError(res, 401, 'Authentication required: send your access token as `Authorization: Bearer TOKEN`', challenge);
    if (need === 'write' && caller.tokenRole !== 'write') {
      return apiError(res, 403, 'Your token has the read role: adding or removing SSH keys needs a token with the write role');
    }
    next();
  };
}

const userOf = (res: Response): User => {
  const caller = res.locals.caller;
  if (caller.kind !== 'user') throw new Error('signedIn() must come before this handler');
  return caller.user;
};

/** A key as the API shows it. */
export const sshKeyJson = (k: SshKeyInfo) => ({
  id: k.id, title: k.title, key: k.publicKey, algorithm: k.algorithm, fingerprint: k.fingerprint, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt,
});

const addBody = z.object({ title: z.string().max(1000).optional(), key: z.string({ message: 'send the public key, one line of a .pub file' }).max(20_000) }).strict();

export function sshKeyHandlers(ctx: AppContext): Record<'list' | 'add' | 'remove', RequestHandler> {
  return {
    list: async (_req, res) => {
      res.json((await sshKeysOf(ctx.db, userOf(res).name)).map(sshKeyJson));
    },
    add: async (req, res) => {
      const body = parseBody(addBody, req.body, 'SSH key');
      const user = userOf(res);
      res.status(201).json(sshKeyJson(await addSshKey(ctx.db, user.name, body.title ?? '', body.key, user.name)));
    },
    remove: async (req, res) => {
      const id = String(req.params.id);
      if (!/^[1-9][0-9]{0,15}$/.test(id)) return apiError(res, 400, `invalid SSH key id "${id.slice(0, 40)}": use the id GET /api/settings/ssh-keys lists`);
      const user = userOf(res);
      await removeSshKey(ctx.db, Number(id), user.name, user.name);
      res.json({});
    },
  };
}
