import { type Document, isScalar, Lexer, LineCounter, Parser, parseDocument, visit } from 'yaml';

// The YAML front matter of a repo card (README.md), found the way the Hub finds it:
// `---` on the first non-blank line, the YAML, then a line that is exactly `---`.

/** An author-facing problem with the front matter: what is wrong and on which line of README.md. */
export class FrontMatterError extends Error {
  constructor(
    message: string,
    /** 1-based line in README.md, when known. */
    readonly line: number | null = null,
  ) {
    super(message);
  }
}

// The yaml package spends about 2.5 µs of event loop per token (a 739 KB card of small mappings
// held the server 2.5 s), and cards are parsed on the request path (validate-yaml, repo pages,
// the gate form). These two bounds keep one parse to a few tens of ms; real metadata, even a
// long model-index, is far smaller.
/** More YAML than this is refused before it is parsed. */
export const MAX_FRONT_MATTER_CHARS = 256 * 1024;
/** More YAML tokens (keys, values, punctuation) than this are refused while lexing, before the document is built. */
export const MAX_YAML_TOKENS = 10_000;
/** Deeper nesting is refused before the YAML is composed: the composer recurses, and deep recursion can take the process down. */
export const MAX_NESTING = 64;
/** Alias expansions allowed while turning the YAML into values (a "billion laughs" card stops here). */
export const MAX_ALIAS_COUNT = 100;
/** Text the metadata may hold once aliases are expanded (each value or key counts its length, anything else 1). */
export const MAX_EXPANDED_CHARS = 4 * 1024 * 1024;

export interface FrontMatterBlock {
  /** The YAML between the delimiters. */
  yaml: string;
  /** README.md line number of the YAML's first line. */
  firstLine: number;
  /** Everything after the closing delimiter. */
  body: string;
}

/** Splits off the front matter without parsing it; null when the card has none. */
export function splitFrontMatter(readme: string): FrontMatterBlock | null {
  const text = readme.startsWith('\uFEFF') ? readme.slice(1) : readme;
  const open = /^[ \t\r\n]*---\r?\n/.exec(text);
  if (!open) return null;
  const start = open[0].length;
  for (let pos = start; pos < text.length; ) {
    if (text.startsWith('---', pos)) {
      const after = pos + 3;
      const end = text.startsWith('\r\n', after) ? after + 2 : text[after] === '\n' ? after + 1 : after === text.length ? after : -1;
      if (end >= 0) {
        return { yaml: text.slice(start, pos), firstLine: lineCount(open[0]) + 1, body: text.slice(end) };
      }
    }
    const eol = text.indexOf('\n', pos);
    if (eol < 0) break;
    pos = eol + 1;
  }
  return null; // an opening `---` never closed: like the Hub, no metadata
}

/**
 * The card's metadata (null when it has no front matter) and its markdown body.
 * Malformed YAML, or YAML that is not a mapping, throws a FrontMatterError.
 */
export function parseFrontMatter(readme: string): { metadata: Record<string, unknown> | null; body: string } {
  const block = splitFrontMatter(readme);
  if (!block) return { metadata: null, body: readme.startsWith('\uFEFF') ? readme.slice(1) : readme };
  return { metadata: parseMetadataYaml(block.yaml, block.firstLine), body: block.body };
}

/** Parses front matter YAML that starts on README.md line `firstLine`, with bounded work. */
export function parseMetadataYaml(source: string, firstLine = 2): Record<string, unknown> {
  if (source.length > MAX_FRONT_MATTER_CHARS) {
    throw new FrontMatterError(`README.md front matter is larger than ${MAX_FRONT_MATTER_CHARS / 1024} KB: keep the metadata short and move long text into the card body`, firstLine);
  }
  checkShape(source, firstLine);
  const lineCounter = new LineCounter();
  // Duplicate keys are found by checkUniqueKeys in one pass: the yaml package's own check
  // (uniqueKeys) compares every key with every earlier one, minutes for a 1 MB mapping.
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (!doc.errors.length) checkUniqueKeys(doc, lineCounter, firstLine);
  if (doc.errors.length) {
    const err = doc.errors[0];
    const pos = err.linePos?.[0] ?? lineCounter.linePos(err.pos[0]);
    const line = firstLine + Math.max(pos.line, 1) - 1;
    throw new FrontMatterError(`README.md front matter is not valid YAML: line ${line}, column ${pos.col}: ${err.message}`, line);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // The yaml package throws here when aliases expand too much (a resource exhaustion attack).
    throw new FrontMatterError(`README.md front matter could not be read: ${(err as Error).message}; use fewer YAML aliases (*name)`, firstLine);
  }
  checkExpansion(value, firstLine);
  if (value === null || value === undefined) return {}; // `---\n---`: empty metadata
  if (typeof value !== 'object' || Array.isArray(value)) {
    const what = Array.isArray(value) ? 'a list' : `a single ${typeof value} value`;
    throw new FrontMatterError(`README.md front matter must be a YAML mapping (lines of "key: value"), not ${what} (line ${firstLine})`, firstLine);
  }
  return value as Record<string, unknown>;
}

/** Refuses a mapping that repeats a key, as YAML requires (the Hub's parser would keep the last). */
function checkUniqueKeys(doc: Document, lineCounter: LineCounter, firstLine: number): void {
  let duplicate: { offset: number } | null = null;
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) {
          duplicate = { offset: pair.key.range?.[0] ?? 0 };
          return visit.BREAK;
        }
        seen.add(pair.key.value);
      }
      return undefined;
    },
  });
  if (duplicate) {
    const pos = lineCounter.linePos((duplicate as { offset: number }).offset);
    const line = firstLine + Math.max(pos.line, 1) - 1;
    throw new FrontMatterError(`README.md front matter is not valid YAML: line ${line}, column ${pos.col}: Map keys must be unique`, line);
  }
}

/**
 * Refuses YAML nested deeper than MAX_NESTING, measured with the yaml package's iterative CST
 * parser, or made of more than MAX_YAML_TOKENS tokens (counted as it goes, so the refusal is cheap).
 */
function checkShape(source: string, firstLine: number): void {
  const parser = new Parser();
  let tokens = 0;
  for (const lexeme of new Lexer().lex(source)) {
    if (++tokens > MAX_YAML_TOKENS) {
      const line = firstLine + lineCount(source.slice(0, parser.offset));
      throw new FrontMatterError(
        `README.md front matter has more than ${MAX_YAML_TOKENS} YAML tokens (about ${Math.floor(MAX_YAML_TOKENS / 7)} lines of "key: value"; the limit is reached at line ${line}): keep the metadata short and move long lists or tables into the card body or a separate file`,
        line,
      );
    }
    for (const _token of parser.next(lexeme)) {
      /* tokens are not needed: only the depth of the parser's stack */
    }
    // The stack holds one entry per level, plus the document and the node being read.
    if (parser.stack.length > MAX_NESTING + 2) {
      const line = firstLine + lineCount(source.slice(0, parser.offset));
      throw new FrontMatterError(`README.md front matter nests deeper than ${MAX_NESTING} levels (line ${line}): flatten the metadata`, line);
    }
  }
}

/**
 * Refuses metadata that aliases make huge (one long string aliased a hundred times) or
 * circular (an alias inside its own anchor): whoever serves or walks it would not finish.
 */
function checkExpansion(root: unknown, firstLine: number): void {
  let budget = MAX_EXPANDED_CHARS;
  const onPath = new Set<object>();
  const stack: { value: unknown; leaving?: true }[] = [{ value: root }];
  while (stack.length) {
    const { value, leaving } = stack.pop()!;
    if (leaving) {
      onPath.delete(value as object);
      continue;
    }
    if (typeof value === 'string') {
      budget -= value.length + 1;
    } else if (typeof value === 'object' && value !== null) {
      if (onPath.has(value)) {
        throw new FrontMatterError('README.md front matter contains itself: an alias (*name) inside the value of its own anchor (&name); remove the alias', firstLine);
      }
      onPath.add(value);
      stack.push({ value, leaving: true });
      const children = Array.isArray(value) ? value : Object.entries(value).flat();
      for (const child of children) stack.push({ value: child });
      budget -= 1;
    } else {
      budget -= 1;
    }
    if (budget < 0) {
      throw new FrontMatterError(`README.md front matter expands to more than ${MAX_EXPANDED_CHARS / 1024 / 1024} MB of text through its aliases (*name): write the values out instead`, firstLine);
    }
  }
}

function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
