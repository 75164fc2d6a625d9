import { TYPE_PREFIX } from '../../domain/names.js';
import type { ListedRepo } from '../../services/listing.js';
import { html, type Html, shownTime } from './html.js';

// A list of repos as the home, search and profile pages show it: name, type, visibility, last change.

const TYPE_LABEL = { model: 'model', dataset: 'dataset', space: 'space' } as const;

export function repoLink(repo: Pick<ListedRepo, 'type' | 'namespace' | 'name'>): string {
  return `/${TYPE_PREFIX[repo.type]}${repo.namespace}/${repo.name}`;
}

export function repoList(repos: ListedRepo[], empty: string): Html {
  if (repos.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<ul class="repos">${repos.map(
    (r) => html`<li data-repo="${repoLink(r)}"><a href="${repoLink(r)}">${r.namespace}/${r.name}</a><span class="badge">${TYPE_LABEL[r.type]}</span>${r.private ? html`<span class="badge">private</span>` : null}${r.gated ? html`<span class="badge">gated</span>` : null}
<span class="muted">· updated ${shownTime(r.lastModified)}${r.downloads ? ` · ${r.downloads} ${r.downloads === 1 ? 'download' : 'downloads'}` : ''}</span></li>`,
  )}</ul>`;
}
