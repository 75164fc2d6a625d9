import type { Request, RequestHandler, Response } from 'express';
import { baseUrlOf, sshBaseUrlOf } from '../urls.js';
import type { RepoWithOwner } from '../../db/repos.js';
import { repoIdOf } from '../../domain/names.js';
import type { AccessStatus } from '../../domain/types.js';
import { accessStatusFor } from '../../services/access-requests.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { type Answers, gateFormHtml, gateIntro } from './gate-form.js';
import { readCard, type RepoCard } from './gate.js';
import { html, type Html, notice } from './html.js';
import { renderPage } from './respond.js';
import { renderCardCached } from './markdown.js';
import { defaultBranchOf, repoHeader, revSegment } from './repo-header.js';

// The repo page: the card, the git clone URL and, for a gated repo, the request form or the
// state of the caller's request.

/** A refused submission of the form, shown again with the user's answers. */
export interface AskAttempt {
  status: number;
  error: string;
  values: Answers;
}

/** Hub's words (seeds: gated models) where it has them. */
export const GRANTED = 'You have been granted access to this repo';
export const REJECTED = "Your request to access this repo has been rejected by the repo's authors";
export const PENDING = "Your request to access this repo is pending: the repo's authors will review it";

const TYPE_LABEL = { model: 'Model', dataset: 'Dataset', space: 'Space' } as const;

/** Where the caller stands at the gate: may download, or the state of their request ('none' when they never asked). */
type GateState = { mayRead: true } | { mayRead: false; status: AccessStatus | 'none'; rejectionReason: string | null };

function gateBox(repo: RepoWithOwner, card: RepoCard, gate: GateState, canWrite: boolean, res: Response, attempt: AskAttempt | undefined): Html | null {
  if (!repo.gated) return null;
  const id = repoIdOf(repo);
  const mode = html`<p class="muted">This repo is gated (${repo.gated === 'auto' ? 'automatic' : 'manual'} approval): its files are shared only with users whose access request was accepted.</p>`;
  const caller = res.locals.caller;

  if (canWrite) {
    return html`<section class="gate">${mode}
${card.formError ? notice('error', html`The access request form in README.md cannot be used: ${card.formError}. Until it is fixed, nobody can ask for access.`) : null}
<p>You can write to this repo, so the gate does not apply to you. <a href="/${id}/settings">Review access requests and gate settings</a>.</p></section>`;
  }
  if (gate.mayRead) return html`<section class="gate">${notice('ok', GRANTED)}</section>`;

  const status = gate.status;
  if (status === 'rejected') {
    const reason = gate.rejectionReason;
    return html`<section class="gate">${notice('error', html`${REJECTED}${reason ? html`: <q class="reason">${reason}</q>` : '.'}`)}</section>`;
  }
  if (status === 'pending') return html`<section class="gate">${card.form ? gateIntro(card.form) : null}${notice('info', `${PENDING}.`)}</section>`;
  if (card.formError || !card.form) {
    return html`<section class="gate">${mode}${notice('error', "The access request form of this repo is unavailable: the repo's authors must fix its card. Try again later.")}</section>`;
  }
  if (caller.kind !== 'user') {
    return html`<section class="gate">${gateIntro(card.form)}${mode}
<p><a class="signin" href="/login?next=${encodeURIComponent(`/${id}`)}">Sign in to request access</a></p></section>`;
  }
  return html`<section class="gate">${gateIntro(card.form)}
${gateFormHtml(card.form, `/${id}/ask-access`, res.locals.session?.csrfToken ?? null, attempt?.values)}</section>`;
}

/**
 * The caller's standing at a gated repo they may see. For a page's caller (anonymous, or a
 * session user with full rights) a refused read after an allowed view is the gate alone.
 */
async function gateState(ctx: AppContext, res: Response, repo: RepoWithOwner, mayRead: boolean): Promise<GateState> {
  if (mayRead) return { mayRead: true };
  const caller = res.locals.caller;
  if (caller.kind !== 'user') return { mayRead: false, status: 'none', rejectionReason: null };
  return { mayRead: false, ...(await accessStatusFor(ctx.db, repo, caller.user)) };
}

/** The card metadata shown above it (the front matter's keys the Hub shows as tags), each value as text. */
const METADATA_KEYS: [string, string][] = [
  ['license', 'License'],
  ['pipeline_tag', 'Pipeline'],
  ['library_name', 'Library'],
  ['tags', 'Tags'],
  ['datasets', 'Datasets'],
  ['language', 'Language'],
  ['base_model', 'Base model'],
];

function metadataValues(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean').map(String).slice(0, 100);
}

function cardMetadata(metadata: Record<string, unknown> | null): Html | null {
  if (!metadata) return null;
  const rows = METADATA_KEYS.flatMap(([key, label]) => {
    const values = metadataValues(metadata[key]);
    return values.length ? [html`<dt>${label}</dt><dd>${values.map((v) => html`<span class="tag">${v}</span>`)}</dd>`] : [];
  });
  return rows.length ? html`<dl class="metadata">${rows}</dl>` : null;
}

/** Renders the repo page, behind guard('view'); `attempt` re-shows a refused form. */
export async function showRepoPage(ctx: AppContext, req: Request, res: Response, attempt?: AskAttempt): Promise<void> {
  const { row: repo, may } = authorizedRepo(res);
  const [gate, card] = await Promise.all([gateState(ctx, res, repo, may.read), readCard(ctx.cfg.dataDir, repo)]);
  const canWrite = may.write;
  const id = repoIdOf(repo);
  const defaultBranch = await defaultBranchOf(ctx, authorizedRepo(res));
  const sshBase = sshBaseUrlOf(ctx.cfg, req);
  const body = html`${repoHeader(authorizedRepo(res), 'card', defaultBranch)}
${attempt ? notice('error', attempt.error) : null}
${gateBox(repo, card, gate, canWrite, res, attempt)}
${cardMetadata(card.metadata)}
<h2>Clone</h2>
<code class="clone">git clone ${baseUrlOf(ctx.cfg, req)}/${id}</code>
<p class="muted">Use an <a href="/settings/tokens">access token</a> as the password.</p>
${sshBase ? html`<code class="clone ssh">git clone ${sshBase}/${id}</code>
<p class="muted">Over SSH, with a key added to your account.</p>` : null}
${card.body.trim()
  ? html`<article class="markdown">${renderCardCached(card.body, { repoId: id, rev: revSegment(defaultBranch) }, card.commit)}</article>`
  : html`<p class="muted">This repo has no ${TYPE_LABEL[repo.type].toLowerCase()} card yet.</p>`}`;
  renderPage(req, res, attempt?.status ?? 200, id, body);
}

/** GET of a repo's address. */
export function repoPage(ctx: AppContext): RequestHandler {
  return (req, res) => showRepoPage(ctx, req, res);
}
