import { gitEnv } from '../../git/env.js';
import { defaultBranchName } from '../../git/ref-updates.js';
import { repoDir } from '../../git/repo-dirs.js';
import type { AuthorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';
import { html, type Html } from './html.js';

// The header of every repo tab: the repo's id, type and badges, and the tabs (Settings only for
// those who may write).

const TYPE_LABEL = { model: 'Model', dataset: 'Dataset', space: 'Space' } as const;
const CARD_TAB = { model: 'Model card', dataset: 'Dataset card', space: 'App card' } as const;

export type RepoTab = 'card' | 'files' | 'history' | 'settings';

/** A revision as one URL path segment: a branch `feature/x` is `feature%2Fx`, as the resolve URLs take it. */
export function revSegment(rev: string): string {
  return encodeURIComponent(rev);
}

/** A repo path as URL path segments (each encoded, '/' kept). */
export function pathSegments(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The repo's default branch (HEAD's), `main` when HEAD names none. */
export async function defaultBranchOf(ctx: AppContext, repo: AuthorizedRepo): Promise<string> {
  return (await defaultBranchName(repoDir(ctx.cfg.dataDir, repo.ref), gitEnv(ctx.cfg.dataDir))) ?? 'main';
}

/** The header of a repo tab; `defaultBranch` (defaultBranchOf) is where the Files and History tabs go. */
export function repoHeader(repo: AuthorizedRepo, active: RepoTab, defaultBranch: string): Html {
  const { row, repoId, may } = repo;
  const rev = revSegment(defaultBranch);
  const tab = (name: RepoTab, href: string, label: string) =>
    active === name ? html`<a class="tab active" aria-current="page" href="${href}">${label}</a>` : html`<a class="tab" href="${href}">${label}</a>`;
  return html`<div class="repo-header"><p class="muted">${TYPE_LABEL[row.type]}</p>
<h1><a class="repo-id" href="/${repoId}">${row.namespace}/${row.name}</a>${row.private ? html`<span class="badge">private</span>` : null}${row.gated ? html`<span class="badge">gated</span>` : null}</h1>
<nav class="tabs">${tab('card', `/${repoId}`, CARD_TAB[row.type])}${tab('files', `/${repoId}/tree/${rev}`, 'Files')}${tab('history', `/${repoId}/commits/${rev}`, 'History')}${may.write ? tab('settings', `/${repoId}/settings`, 'Settings') : null}</nav></div>`;
}
