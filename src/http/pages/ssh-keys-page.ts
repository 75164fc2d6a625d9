import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { HubgateError } from '../../domain/errors.js';
import type { User } from '../../domain/types.js';
import { addSshKey, MAX_TITLE, removeSshKey, type SshKeyInfo, sshKeysOf } from '../../services/ssh-keys.js';
import type { AppContext } from '../context.js';
import { csrfField, html, type Html, notice, shownTime } from './html.js';
import { errorPage, redirectTo, renderPage } from './respond.js';
import { signedInUser } from './session.js';

// /settings/keys: the signed-in user's SSH public keys for git over SSH: add one (a title and the
// .pub file's line), see each with its fingerprint and when it was added and last used, remove
// one (its access ends at once, open SSH sessions included).

export const SSH_KEYS_PAGE = '/settings/keys';

const addForm = z.object({ title: z.string().max(1000).default(''), key: z.string().max(20_000).default('') });
const KEY_ID = /^[1-9][0-9]{0,15}$/;

const DONE: Record<string, string> = {
  added: 'SSH key added: git over SSH accepts it now.',
  removed: 'SSH key removed: it no longer works, open SSH sessions included.',
};

function keyRow(k: SshKeyInfo, csrf: string | null): Html {
  return html`<tr data-key="${k.id}">
<td>${k.title}</td><td><code>${k.fingerprint}</code><br><span class="muted">${k.algorithm}</span></td><td>${shownTime(k.createdAt)}</td>
<td>${k.lastUsedAt ? shownTime(k.lastUsedAt) : html`<span class="muted">never</span>`}</td>
<td><form method="post" action="${SSH_KEYS_PAGE}/${k.id}/remove" class="inline">${csrfField(csrf)}<button type="submit" class="danger">Remove</button></form></td></tr>`;
}

async function showKeys(
  ctx: AppContext,
  req: Request,
  res: Response,
  user: User,
  opts: { status?: number; error?: string; done?: string; values?: { title?: string; key?: string } } = {},
): Promise<void> {
  const csrf = res.locals.session?.csrfToken ?? null;
  const keys = await sshKeysOf(ctx.db, user.name);
  const body = html`<h1>SSH keys</h1>
<p class="muted">Your SSH public keys let git clone and push over SSH without a token. Add the public key (the <code>.pub</code> file, e.g. <code>~/.ssh/id_ed25519.pub</code>; make one with <code>ssh-keygen -t ed25519</code>), never the private key. Ed25519, ECDSA and RSA keys of at least 2048 bits are accepted; a key can belong to one account only.</p>
${opts.done && DONE[opts.done] ? notice('ok', DONE[opts.done]) : null}
${opts.error ? notice('error', opts.error) : null}
<h2>New SSH key</h2>
<form method="post" action="${SSH_KEYS_PAGE}" class="stack">
${csrfField(csrf)}
<label>Title <input type="text" name="title" maxlength="${MAX_TITLE}" value="${opts.values?.title ?? ''}" placeholder="work laptop"></label>
<label>Key <textarea name="key" rows="4" class="code" spellcheck="false" required placeholder="ssh-ed25519 AAAA... you@example.com">${opts.values?.key ?? ''}</textarea></label>
<p class="muted">Without a title, the key's comment (the text after it, e.g. <code>you@laptop</code>) is its title.</p>
<button type="submit">Add SSH key</button>
</form>
<h2>Your SSH keys</h2>
${keys.length === 0 ? html`<p class="muted">You have no SSH keys yet.</p>` : html`<table class="ssh-keys"><thead><tr><th>Title</th><th>Fingerprint</th><th>Added</th><th>Last used</th><th></th></tr></thead>
<tbody>${keys.map((k) => keyRow(k, csrf))}</tbody></table>`}`;
  renderPage(req, res, opts.status ?? 200, 'SSH keys', body);
}

/** The SSH keys page's handlers, behind a signed-in session (src/http/pages/routes.ts). */
export function sshKeysPage(ctx: AppContext): { show: RequestHandler; add: RequestHandler; remove: RequestHandler<{ id: string }> } {
  return {
    show: async (req, res) => {
      await showKeys(ctx, req, res, signedInUser(res), { done: typeof req.query.done === 'string' ? req.query.done : undefined });
    },

    /** A refused key (private, too short, taken) is shown on the page with its reason and the form as sent. */
    add: async (req, res) => {
      const user = signedInUser(res);
      const form = addForm.safeParse(req.body);
      if (!form.success) return showKeys(ctx, req, res, user, { status: 400, error: 'Fill in the form as the page shows it: a title and one public key.' });
      try {
        await addSshKey(ctx.db, user.name, form.data.title, form.data.key, user.name);
      } catch (err) {
        if (!(err instanceof HubgateError) || err.status >= 500) throw err;
        // A private key pasted by mistake is not echoed back into the page.
        const key = /PRIVATE KEY|PuTTY-User-Key-File/.test(form.data.key) ? '' : form.data.key;
        return showKeys(ctx, req, res, user, { status: err.status, error: err.message, values: { title: form.data.title, key } });
      }
      redirectTo(res, `${SSH_KEYS_PAGE}?done=added`);
    },

    remove: async (req, res) => {
      const user = signedInUser(res);
      const gone = () => errorPage(req, res, 404, 'SSH key not found', 'You have no SSH key with this id: it may be removed already. Go back to your SSH keys.');
      if (!KEY_ID.test(req.params.id)) return gone();
      try {
        // Only the user's own keys: someone else's key id is "not found", as a missing one.
        await removeSshKey(ctx.db, Number(req.params.id), user.name, user.name);
      } catch (err) {
        if (err instanceof HubgateError && err.status === 404) return gone();
        throw err;
      }
      redirectTo(res, `${SSH_KEYS_PAGE}?done=removed`);
    },
  };
}
