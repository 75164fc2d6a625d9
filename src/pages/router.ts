import { Router } from 'express';
import type { AppContext } from '../http/context.js';

/** hubgate's server-rendered pages: sign in, repo pages with the gate form, repo settings, tokens. */
export function pages(_ctx: AppContext): Router {
  const router = Router();
  return router;
}
