import { XetFormatError } from './errors.js';
import { type XetHash, hashToString } from './hash.js';

// File reconstruction answers (spec "Download Protocol"; the v2 shape is what huggingface.js reads and
// hf_xet tries first): the terms that cover a byte range of a file, narrowed to the chunks the range
// touches, the bytes to skip in the first of them, and per xorb the chunk ranges to fetch with their
// byte ranges in the stored xorb (inclusive ends, as HTTP Range wants them).

/** A term of a file's reconstruction: chunks [start, end) of a xorb, `size` bytes unpacked. */
export interface FileTerm {
  xorb: XetHash;
  start: number;
  end: number;
  size: number;
}

/** Where a stored xorb's chunks lie: per chunk its unpacked size and its stored bytes [offset, end). */
export interface XorbLayout {
  chunks: readonly { size: number; offset: number; end: number }[];
}

export interface FetchRange {
  chunks: { start: number; end: number };
  /** Inclusive. */
  bytes: { start: number; end: number };
}

export interface ReconstructionPlan {
  offsetIntoFirstRange: number;
  terms: FileTerm[];
  /** Per xorb (hash string), the merged chunk ranges the terms need, in ascending order. */
  fetches: Map<string, FetchRange[]>;
}

/**
 * The plan for bytes [start, end) of a file made of `terms` (the whole file when no range is given);
 * null when `start` is at or past the end of the file (a 416). An `end` past the file is cut to it.
 */
export function planReconstruction(
  terms: readonly FileTerm[],
  layoutOf: (xorb: XetHash) => XorbLayout,
  range?: { start: number; end: number },
): ReconstructionPlan | null {
  const fileSize = terms.reduce((n, t) => n + t.size, 0);
  const start = range?.start ?? 0;
  const end = Math.min(range?.end ?? fileSize, fileSize);
  if (start >= fileSize || end <= start) return null;
  const planned: FileTerm[] = [];
  let offsetIntoFirstRange = 0;
  let at = 0; // file offset where the current term starts
  for (const term of terms) {
    const termEnd = at + term.size;
    if (termEnd <= start) {
      at = termEnd;
      continue;
    }
    if (at >= end) break;
    const chunks = layoutOf(term.xorb).chunks;
    if (term.end > chunks.length) throw new XetFormatError(`a term names chunks up to ${term.end} of xorb ${hashToString(term.xorb)}, which has ${chunks.length}`);
    // Narrow the term to the chunks that hold bytes of [start, end).
    let first = term.start;
    let firstAt = at;
    while (first < term.end && firstAt + chunks[first].size <= start) firstAt += chunks[first++].size;
    let last = first;
    let lastEnd = firstAt;
    while (last < term.end && lastEnd < end) lastEnd += chunks[last++].size;
    if (planned.length === 0) offsetIntoFirstRange = start - firstAt;
    planned.push({ xorb: term.xorb, start: first, end: last, size: lastEnd - firstAt });
    at = termEnd;
  }
  return { offsetIntoFirstRange, terms: planned, fetches: fetchesFor(planned, layoutOf) };
}

function fetchesFor(terms: readonly FileTerm[], layoutOf: (xorb: XetHash) => XorbLayout): Map<string, FetchRange[]> {
  const byXorb = new Map<string, { xorb: XetHash; ranges: { start: number; end: number }[] }>();
  for (const t of terms) {
    const key = hashToString(t.xorb);
    const entry = byXorb.get(key) ?? { xorb: t.xorb, ranges: [] };
    entry.ranges.push({ start: t.start, end: t.end });
    byXorb.set(key, entry);
  }
  const fetches = new Map<string, FetchRange[]>();
  for (const [key, { xorb, ranges }] of byXorb) {
    ranges.sort((a, b) => a.start - b.start);
    const merged: { start: number; end: number }[] = [];
    for (const r of ranges) {
      const lastRange = merged.at(-1);
      if (lastRange && r.start <= lastRange.end) lastRange.end = Math.max(lastRange.end, r.end);
      else merged.push({ ...r });
    }
    const chunks = layoutOf(xorb).chunks;
    fetches.set(key, merged.map((r) => ({ chunks: r, bytes: { start: chunks[r.start].offset, end: chunks[r.end - 1].end - 1 } })));
  }
  return fetches;
}

const termJson = (t: FileTerm) => ({ hash: hashToString(t.xorb), unpacked_length: t.size, range: { start: t.start, end: t.end } });

/** The v2 answer (`GET /v2/reconstructions/{file}`): one fetch entry per range, so clients send plain single-range requests. */
export function reconstructionV2(plan: ReconstructionPlan, urlFor: (xorb: string, range: FetchRange) => string) {
  const xorbs: Record<string, { url: string; ranges: FetchRange[] }[]> = {};
  for (const [xorb, ranges] of plan.fetches) xorbs[xorb] = ranges.map((r) => ({ url: urlFor(xorb, r), ranges: [r] }));
  return { offset_into_first_range: plan.offsetIntoFirstRange, terms: plan.terms.map(termJson), xorbs };
}

/** The v1 answer (`GET /v1/reconstructions/{file}`). */
export function reconstructionV1(plan: ReconstructionPlan, urlFor: (xorb: string, range: FetchRange) => string) {
  const fetchInfo: Record<string, { range: { start: number; end: number }; url: string; url_range: { start: number; end: number } }[]> = {};
  for (const [xorb, ranges] of plan.fetches) fetchInfo[xorb] = ranges.map((r) => ({ range: r.chunks, url: urlFor(xorb, r), url_range: r.bytes }));
  return { offset_into_first_range: plan.offsetIntoFirstRange, terms: plan.terms.map(termJson), fetch_info: fetchInfo };
}
