import { type NextFunction, type Request, type Response, Router } from 'express';
import type { AppContext } from '../context.js';
import { storageFault } from '../../domain/faults.js';
import { NameError } from '../../domain/names.js';
import { askAccessFromPage } from './ask-access.js';
import { html } from './html.js';
import { formBody, loginRoutes } from './login.js';
import { repoRoute } from './repo-route.js';
import { showRepoPage } from './repo-page.js';
import { repoSettingsRoutes } from './repo-settings.js';
import { errorPage, renderPage } from './respond.js';
import { sessionCaller } from './session.js';
import { STYLESHEET } from './style.js';
import { tokensPageRoutes } from './tokens-page.js';

/**
 * hubgate's server-rendered pages: sign in, repo pages with the gate form, repo settings, tokens.
 * Mounted after git, LFS and the API, so a session cookie is only ever read here.
 */
export function pages(ctx: AppContext): Router {
  const router = Router();

  // The API's unknown routes keep the API's JSON 404; pages never answer under /api.
  router.use((req, _res, next) => next(req.path.startsWith('/api/') ? 'router' : undefined));

  router.get('/static/hubgate.css', (_req, res) => {
    res.locals.route = 'page-static';
    res.set('Cache-Control', 'public, max-age=3600').type('css').send(STYLESHEET);
  });

  router.use(sessionCaller(ctx));
  router.use(formBody);

  router.get('/', (req, res) => {
    res.locals.route = 'page-home';
    const caller = res.locals.caller;
    renderPage(
      req,
      res,
      200,
      'Home',
      html`<h1>hubgate</h1>
<p>A self-hosted home for model and dataset repositories, speaking the Hugging Face Hub's interfaces.</p>
${caller.kind === 'user' ? html`<p>Open a repo at <code>/NAMESPACE/NAME</code> (datasets at <code>/datasets/NAMESPACE/NAME</code>), or manage your <a href="/settings/tokens">access tokens</a>.</p>` : html`<p><a href="/login">Sign in</a> to ask for access to gated repos and manage your access tokens.</p>`}`,
    );
  });

  router.use(loginRoutes(ctx));
  router.use(tokensPageRoutes(ctx));
  router.use(repoSettingsRoutes(ctx));

  router.use(
    repoRoute('POST', '/ask-access', async (req, res, ref, next) => {
      res.locals.route = 'page-ask-access';
      if (!(await askAccessFromPage(ctx, req, res, ref))) next();
    }),
  );
  router.use(
    repoRoute('GET', '', async (req, res, ref) => {
      res.locals.route = 'page-repo';
      await showRepoPage(ctx, req, res, ref);
    }),
  );

  // Refusals meant for the user (bad names, oversized forms, HubgateErrors) as pages, not JSON.
  router.use((err: Error & { status?: number }, req: Request, res: Response, next: NextFunction) => {
    // A full or read-only disk: a page that says so, rather than the API's JSON.
    const fault = storageFault(err);
    if (fault && !res.headersSent) {
      req.log.error({ err }, 'storage fault');
      if ('retryAfter' in fault) res.set('Retry-After', String(fault.retryAfter));
      return errorPage(req, res, fault.status, fault.status === 507 ? 'Disk full' : 'Temporarily unavailable', fault.message);
    }
    const status = err instanceof NameError ? 400 : err.status;
    if (!status || status < 400 || status >= 500 || res.headersSent) return next(err);
    errorPage(req, res, status, 'Request refused', err instanceof NameError || (err as { expose?: boolean }).expose !== false ? err.message : 'Request refused');
  });

  return router;
}
