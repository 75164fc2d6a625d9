import type { Request, Response } from 'express';
import { html } from './html.js';
import { renderPage } from './respond.js';

// The home page: what hubgate is and where to go from here.

export function homePage(req: Request, res: Response): void {
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
}
