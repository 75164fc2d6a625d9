import { Router } from 'express';
import type { AppContext } from '../http/context.js';
import { accessRequestRoutes } from './access-requests.js';
import { settingsRoutes } from './settings.js';

/** The Hub-compatible HTTP API under /api. */
export function hubApi(ctx: AppContext): Router {
  const router = Router();
  router.use(settingsRoutes(ctx));
  router.use(accessRequestRoutes(ctx));
  return router;
}
