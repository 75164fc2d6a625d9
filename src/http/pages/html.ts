// HTML building for hubgate's pages: every interpolated value is escaped unless it is already Html.

/** Markup that is safe to send as is: made only by `html` (which escapes what it interpolates). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type Part = Html | string | number | boolean | null | undefined | readonly Part[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

function render(part: Part): string {
  if (part === null || part === undefined || part === false || part === true) return '';
  if (part instanceof Html) return part.value;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

/** Tagged template: html`<p>${text}</p>` escapes `text`; arrays are joined; null, undefined and booleans render nothing. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

export interface Chrome {
  title: string;
  /** The signed-in user's name, or null. */
  userName: string | null;
  /** The session's CSRF token, for the sign-out form. */
  csrf: string | null;
  /** Where "Sign in" comes back to (a local path). */
  here: string;
}

/** The whole document around a page's body: header with sign-in state, one stylesheet, no scripts. */
export function layout(c: Chrome, body: Html): Html {
  const account = c.userName
    ? html`<span class="who">Signed in as <strong>${c.userName}</strong></span>
        <a href="/settings/tokens">Access tokens</a>
        <a href="/settings/keys">SSH keys</a>
        <a href="/settings/profile">Profile</a>
        <form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="${c.csrf}"><button type="submit" class="link">Sign out</button></form>`
    : html`<a href="/login?next=${encodeURIComponent(c.here)}">Sign in</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${c.title} · hubgate</title>
<link rel="stylesheet" href="/static/hubgate.css">
</head>
<body>
<header><a class="brand" href="/">hubgate</a><nav>${account}</nav></header>
<main>
${body}
</main>
</body>
</html>
`;
}

/** A notice box: kind `error` for problems, `ok` for outcomes. */
export function notice(kind: 'error' | 'ok' | 'info', message: Part): Html {
  return html`<p class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${message}</p>`;
}

/** The hidden field that carries the session's CSRF token in every form. */
export function csrfField(token: string | null): Html {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

/** Dates as stored (ISO 8601, UTC), shown without the milliseconds. */
export function shownTime(iso: string | null): string {
  return iso ? iso.replace(/\.\d{3}Z$/, 'Z').replace('T', ' ') : '';
}
