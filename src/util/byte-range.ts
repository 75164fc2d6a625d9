// Byte ranges and ETag checks of file downloads, shared by the resolve route and the LFS fs store.
// Single byte ranges (RFC 9110 §14): `bytes=a-b`, `bytes=a-`, `bytes=-n`. A header hubgate does
// not serve as a range (several ranges, another unit, bad syntax) is ignored and the whole file
// sent, which the RFC allows and every client handles.

/** Inclusive byte positions. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeAnswer = { kind: 'whole' } | { kind: 'partial'; range: ByteRange } | { kind: 'unsatisfiable' };

export function rangeOf(header: string | undefined, size: number): RangeAnswer {
  if (!header) return { kind: 'whole' };
  const m = /^bytes=(\d{0,16})-(\d{0,16})$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'whole' };
  let start: number;
  let end: number;
  if (m[1] === '') {
    // The last n bytes.
    const n = Number(m[2]);
    if (n === 0) return { kind: 'unsatisfiable' };
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return { kind: 'whole' }; // invalid: ignored
  }
  if (start >= size || end < start) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end } };
}

/** Whether an If-None-Match header names `etag` (a quoted strong tag), `*` included; weak comparison. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * What a download GET answers: the bytes to send (all, or the one range asked for), 304 when the
 * client has them (If-None-Match), or 416 for a range past the end. If-Range naming another
 * version asks for the whole object.
 */
export function rangeAnswer(header: (name: string) => string | undefined, etag: string, size: number): { kind: 'body'; range: ByteRange; partial: boolean } | { kind: 'not-modified' | 'unsatisfiable' } {
  if (etagMatches(header('if-none-match'), etag)) return { kind: 'not-modified' };
  const ifRange = header('if-range');
  const asked = ifRange !== undefined && ifRange.replace(/^W\//, '') !== etag ? { kind: 'whole' as const } : rangeOf(header('range'), size);
  if (asked.kind === 'unsatisfiable') return asked;
  if (asked.kind === 'partial') return { kind: 'body', range: asked.range, partial: true };
  return { kind: 'body', range: { start: 0, end: size - 1 }, partial: false };
}
