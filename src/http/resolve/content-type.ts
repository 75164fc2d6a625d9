import path from 'node:path';

// What a downloaded file is served as. Repository files are written by users, so nothing is
// ever served as a type a browser would run (HTML, SVG, JavaScript): text formats as plain
// text, JSON as JSON, the rest as bytes; the headers in `safetyHeaders` keep browsers from
// guessing otherwise.

const TEXT_EXTENSIONS = new Set([
  '.txt', '.md', '.markdown', '.py', '.yaml', '.yml', '.toml', '.cfg', '.ini', '.csv', '.tsv', '.jsonl', '.rst', '.gitattributes', '.gitignore',
]);

export function contentTypeOf(filePath: string): string {
  const base = path.posix.basename(filePath).toLowerCase();
  const ext = base.startsWith('.') && !base.slice(1).includes('.') ? base : path.posix.extname(base);
  if (ext === '.json') return 'application/json; charset=utf-8';
  if (TEXT_EXTENSIONS.has(ext)) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

/** `inline` (or `attachment` when asked) with the file's name, in both the ASCII and the RFC 5987 forms. */
export function contentDisposition(filePath: string, attachment: boolean): string {
  const name = path.posix.basename(filePath);
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${attachment ? 'attachment' : 'inline'}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export const safetyHeaders = {
  'X-Content-Type-Options': 'nosniff',
  // Even if a browser were to render it, a file could run nothing and load nothing.
  'Content-Security-Policy': "default-src 'none'; sandbox",
};
