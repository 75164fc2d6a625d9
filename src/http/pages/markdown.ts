import MarkdownIt from 'markdown-it';
import sanitizeHtml from 'sanitize-html';
import { Html } from './html.js';

// Model cards as HTML: markdown-it with raw HTML off (a README's tags show as text), then
// sanitize-html over its output, which keeps only the tags Markdown makes, no attribute that runs
// anything and only http(s), mailto and relative URLs. Relative links and images are resolved to
// the repo: links to the file view (/{repo}/blob/{rev}/{path}), images to the file itself
// (/{repo}/resolve/{rev}/{path}).

const markdown = new MarkdownIt({ html: false, linkify: true, typographer: false });

const ALLOWED_TAGS = [
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'blockquote', 'pre', 'code', 'em', 'strong', 's', 'del',
  'ul', 'ol', 'li', 'a', 'img', 'table', 'thead', 'tbody', 'tr', 'th', 'td',
];

/** Where a card's relative URLs point: `/{repo}/blob/{rev}` and `/{repo}/resolve/{rev}` (rev already encoded). */
export interface CardBase {
  repoId: string;
  /** The revision as a URL segment (a branch with '/' percent-encoded). */
  rev: string;
}

/** A relative URL of the card (README.md at the root) as a path in the repo, or null when it is not relative to a file. */
function repoRelative(url: string): string | null {
  if (!url || url.startsWith('#') || url.startsWith('/') || url.startsWith('?') || /^[a-z][a-z0-9+.-]*:/i.test(url)) return null;
  const resolved = new URL(url, 'http://card.invalid/');
  const path = resolved.pathname.replace(/^\/+/, '');
  return path ? `${path}${resolved.search}${resolved.hash}` : null;
}

function sanitizeOptions(base: CardBase): sanitizeHtml.IOptions {
  const to = (kind: 'blob' | 'resolve', url: string | undefined) => {
    const path = url === undefined ? null : repoRelative(url);
    return path === null ? url : `/${base.repoId}/${kind}/${base.rev}/${path}`;
  };
  return {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: { a: ['href', 'title', 'rel'], img: ['src', 'alt', 'title'], th: ['align'], td: ['align'], ol: ['start'], code: ['class'] },
    allowedClasses: { code: [/^language-[\w-]+$/] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['http', 'https'] },
    allowProtocolRelative: false,
    disallowedTagsMode: 'escape',
    transformTags: {
      a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, ...(attribs.href !== undefined ? { href: to('blob', attribs.href)! } : {}), rel: 'nofollow noopener' } }),
      img: (tagName, attribs) => ({ tagName, attribs: { ...attribs, ...(attribs.src !== undefined ? { src: to('resolve', attribs.src)! } : {}) } }),
    },
  };
}

const CACHE_ENTRIES = 64;
// Rendered cards by repo, revision and commit: a large card is rendered once, not on every view.
const rendered = new Map<string, Html>();

/** The card's Markdown body as safe HTML; `commit` (the card's commit) keys a small cache. */
export function renderCardCached(body: string, base: CardBase, commit: string | null): Html {
  if (!commit) return renderCard(body, base);
  const key = `${base.repoId}\n${base.rev}\n${commit}`;
  const hit = rendered.get(key);
  if (hit) {
    rendered.delete(key);
    rendered.set(key, hit);
    return hit;
  }
  const out = renderCard(body, base);
  rendered.set(key, out);
  if (rendered.size > CACHE_ENTRIES) rendered.delete(rendered.keys().next().value!);
  return out;
}

/** The card's Markdown body as safe HTML. */
export function renderCard(body: string, base: CardBase): Html {
  return new Html(sanitizeHtml(markdown.render(body), sanitizeOptions(base)));
}
