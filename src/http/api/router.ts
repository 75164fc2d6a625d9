import { Router } from 'express';
import type { AppContext } from '../context.js';
import { accessRequestRoutes } from './access-requests.js';
import { askAccessRoutes } from './ask-access.js';
import { commitRoutes } from './commit.js';
import type { PendingUploads } from '../../services/commits.js';
import { repoInfoRoutes } from './repo-info.js';
import { repoRoutes } from './repos.js';
import { settingsRoutes } from './settings.js';
import { validateYamlRoutes } from './validate-yaml.js';
import { whoamiRoutes } from './whoami.js';

/** The Hub-compatible HTTP API under /api; `uploads`: LFS uploads to confirm at commit time (lfs/transfers.ts, from the composition root). */
export function hubApi(ctx: AppContext, uploads: PendingUploads): Router {
  const router = Router();
  router.use(commitRoutes(ctx, uploads));
  router.use(settingsRoutes(ctx));
  router.use(accessRequestRoutes(ctx));
  router.use(askAccessRoutes(ctx));
  router.use(validateYamlRoutes(ctx));
  router.use(whoamiRoutes(ctx));
  router.use(repoRoutes(ctx));
  router.use(repoInfoRoutes(ctx));
  return router;
}
