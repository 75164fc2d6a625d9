import { badRequest } from './errors.js';

// User text that reaches git output (`remote:` lines), a page, an e-mail or a header: checked
// once at the boundary, so what is stored can be shown anywhere without forging lines or
// turning into invalid UTF-8. Pages still escape it; this is about what HTML escaping cannot fix.

/** C0 controls but tab and newline, DEL, C1 controls (NEL among them), the Unicode line and paragraph separators. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/;
/** Bidirectional overrides and isolates: they make text show in another order than it is stored. */
const BIDI = /[\u202a-\u202e\u2066-\u2069]/;
/** A UTF-16 surrogate without its pair: it has no UTF-8 form, so it cannot be stored or sent as it is. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export interface TextRules {
  /** At most this many characters. */
  max: number;
  /** Newlines (and tabs) allowed, as in a commit description; otherwise one line. */
  multiline?: boolean;
  /** Empty or blank text allowed. */
  optional?: boolean;
}

/** What is wrong with `value` as the text `what`, or null when it may be stored and shown. */
export function textProblem(what: string, value: string, rules: TextRules): string | null {
  if (!rules.optional && value.trim() === '') return `${what} is empty: write some text`;
  if (value.length > rules.max) return `${what} is too long (${value.length} characters): use at most ${rules.max}`;
  if (LONE_SURROGATE.test(value)) return `${what} is not valid Unicode text (a lone surrogate): send it as UTF-8`;
  if (CONTROL.test(value)) return `${what} holds a control character: send printable text only`;
  if (!rules.multiline && /[\n\t]/.test(value)) return `${what} must be one line: remove line breaks and tabs`;
  if (BIDI.test(value)) return `${what} holds a bidirectional override character (U+202A–U+202E, U+2066–U+2069): remove it`;
  return null;
}

/** `value` with CRLF turned into LF, checked; a 400 saying what is wrong otherwise. */
export function checkText(what: string, value: string, rules: TextRules): string {
  const text = rules.multiline ? value.replace(/\r\n/g, '\n') : value;
  const problem = textProblem(what, text, rules);
  if (problem) throw badRequest(problem);
  return text;
}

/**
 * Text already stored (before these checks existed) made safe for one output line: controls and
 * line breaks become spaces, bidi characters and lone surrogates are dropped.
 */
export function oneLine(value: string): string {
  return value
    .replace(new RegExp(`${CONTROL.source}|[\\n\\t]`, 'g'), ' ')
    .replace(new RegExp(`${BIDI.source}|${LONE_SURROGATE.source}`, 'g'), '');
}
