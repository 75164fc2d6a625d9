import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { resolveCreateAccess } from '../../access/resolve.js';
import { HubgateError } from '../../domain/errors.js';
import { REPO_TYPES, type RepoType, repoIdOf } from '../../domain/names.js';
import type { User } from '../../domain/types.js';
import { organizationsOf } from '../../services/accounts.js';
import { createRepoFromWeb, type License, LICENSES } from '../../services/new-repo.js';
import type { AppContext } from '../context.js';
import { baseUrlOf } from '../urls.js';
import { csrfField, html, notice } from './html.js';
import { redirectTo, renderPage } from './respond.js';
import { signedInUser } from './session.js';

// /new: create a model, dataset or space. Owners offered: the user and the organizations where
// they are a write or admin member. On the post, the route step `mayCreate` asks the policy about
// the owner named (no repo exists yet for a repo guard: as the API's create, it decides on the
// namespace), and a refusal is shown on the form.

export const NEW_REPO_PAGE = '/new';

const newForm = z.object({
  type: z.enum(REPO_TYPES, { message: 'choose model, dataset or space' }),
  owner: z.string().min(1, 'choose an owner').max(96),
  name: z.string().trim().min(1, 'give the repo a name').max(96),
  visibility: z.enum(['public', 'private'], { message: 'choose public or private' }),
  license: z.union([z.literal(''), z.enum(LICENSES, { message: 'choose a license from the list' })]).default(''),
});

interface Values {
  type?: string;
  owner?: string;
  name?: string;
  visibility?: string;
  license?: string;
}

async function owners(ctx: AppContext, user: User): Promise<string[]> {
  const orgs = await organizationsOf(ctx.db, user.id);
  return [user.name, ...orgs.filter((o) => o.role === 'write' || o.role === 'admin').map((o) => o.name)];
}

async function showForm(ctx: AppContext, req: Request, res: Response, user: User, opts: { status?: number; error?: string; values?: Values } = {}): Promise<void> {
  const csrf = res.locals.session?.csrfToken ?? null;
  const v = opts.values ?? {};
  const type = v.type ?? (typeof req.query.type === 'string' ? req.query.type : 'model');
  const option = (value: string, label: string, selected: boolean) => html`<option value="${value}"${selected ? html` selected` : null}>${label}</option>`;
  const radio = (value: string, label: string, checked: boolean) =>
    html`<label class="check"><input type="radio" name="visibility" value="${value}"${checked ? html` checked` : null}> ${label}</label>`;
  renderPage(
    req,
    res,
    opts.status ?? 200,
    'New repository',
    html`<h1>Create a new repository</h1>
${opts.error ? notice('error', opts.error) : null}
<form method="post" action="${NEW_REPO_PAGE}" class="stack">
${csrfField(csrf)}
<label>Type <select name="type">${REPO_TYPES.map((t) => option(t, t, t === type))}</select></label>
<label>Owner <select name="owner">${(await owners(ctx, user)).map((o) => option(o, o, o === (v.owner ?? user.name)))}</select></label>
<label>Name <input type="text" name="name" maxlength="96" value="${v.name ?? ''}" required></label>
<fieldset><legend>Visibility</legend>
${radio('public', 'Public: anyone can see and download it', v.visibility !== 'private')}
${radio('private', 'Private: only you (or the organization\'s members) can see it', v.visibility === 'private')}
</fieldset>
<label>License <select name="license">${option('', 'none', !v.license)}${LICENSES.map((l) => option(l, l, l === v.license))}</select></label>
<p class="muted">With a license, the repo starts with a README.md whose metadata names it.</p>
<button type="submit">Create repository</button>
</form>`,
  );
}

export function newRepoPage(ctx: AppContext): Record<'show' | 'mayCreate' | 'create', RequestHandler> {
  return {
    show: (req, res) => showForm(ctx, req, res, signedInUser(res)),

    /** Route step: the policy's answer for creating a repo in the owner the form names; a refusal is the form again (403). */
    mayCreate: async (req, res, next) => {
      const values = req.body as Values;
      const owner = typeof values.owner === 'string' ? values.owner : '';
      const decision = await resolveCreateAccess(ctx.db, res.locals.caller, owner);
      if (decision.allow) return next();
      await showForm(ctx, req, res, signedInUser(res), {
        status: 403,
        error: `You cannot create repos in "${owner}": choose yourself or an organization where you have the write or admin role.`,
        values,
      });
    },

    create: async (req, res) => {
      const user = signedInUser(res);
      const values = req.body as Values;
      const form = newForm.safeParse(req.body);
      if (!form.success) {
        const issue = form.error.issues[0];
        return showForm(ctx, req, res, user, { status: 400, error: `${issue.path.join('.') || 'form'}: ${issue.message}`, values });
      }
      const { type, owner, name, visibility, license } = form.data;
      try {
        const repo = await createRepoFromWeb(
          { db: ctx.db, dataDir: ctx.cfg.dataDir, maxFileSize: ctx.cfg.maxFileSize },
          { type: type as RepoType, namespace: owner, name, private: visibility === 'private' },
          license ? (license as License) : null,
          user,
          baseUrlOf(ctx.cfg, req),
        );
        redirectTo(res, `/${repoIdOf(repo)}`);
      } catch (err) {
        if (err instanceof HubgateError && err.status < 500) return showForm(ctx, req, res, user, { status: err.status, error: err.message, values });
        throw err;
      }
    },
  };
}
