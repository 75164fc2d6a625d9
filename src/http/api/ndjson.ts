import type { Readable } from 'node:stream';
import { HubgateError } from '../../domain/errors.js';

// Newline-delimited JSON request bodies (the Hub's commit endpoint), read line by line as they
// arrive: no more than one line is held in memory, and both a line and the whole body are bounded.

export interface NdjsonLimits {
  /** Longest line, in bytes (without its newline). */
  maxLineBytes: number;
  /** Largest body, in bytes. */
  maxBodyBytes: number;
}

export interface NdjsonLine {
  /** 1-based, counting blank lines too, so messages point at the right line. */
  number: number;
  value: unknown;
}

const tooLarge = (message: string) => new HubgateError('too-large', message);

function parseLine(bytes: Buffer, number: number): NdjsonLine | null {
  const text = bytes.toString('utf8').replace(/\r$/, '');
  if (text.trim() === '') return null;
  try {
    return { number, value: JSON.parse(text) };
  } catch (err) {
    throw new HubgateError('invalid', `line ${number} of the body is not valid JSON (${(err as Error).message}): send one JSON object per line (NDJSON)`);
  }
}

/** Yields the parsed JSON value of each non-blank line; throws a 400 or 413 HubgateError on bad or oversized input. */
export async function* ndjsonLines(body: Readable, limits: NdjsonLimits): AsyncGenerator<NdjsonLine> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  let number = 0;
  const lineTooLong = () =>
    tooLarge(`line ${number + 1} of the body is longer than ${limits.maxLineBytes} bytes: files this large must be uploaded with Git LFS (preupload answers uploadMode "lfs" for them)`);

  // Stopping early (a bad line) must not destroy the request: that would close the socket before
  // the error is answered. The caller answers with Connection: close instead.
  for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limits.maxBodyBytes) throw tooLarge(`the request body is larger than ${limits.maxBodyBytes} bytes: split the upload into several commits`);
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      if (pendingBytes + (nl - start) > limits.maxLineBytes) throw lineTooLong();
      const line = pending.length ? Buffer.concat([...pending, chunk.subarray(start, nl)]) : chunk.subarray(start, nl);
      pending = [];
      pendingBytes = 0;
      number++;
      const parsed = parseLine(line, number);
      if (parsed) yield parsed;
      start = nl + 1;
    }
    if (start < chunk.length) {
      pendingBytes += chunk.length - start;
      if (pendingBytes > limits.maxLineBytes) throw lineTooLong();
      pending.push(chunk.subarray(start));
    }
  }
  if (pendingBytes > 0) {
    number++;
    const parsed = parseLine(Buffer.concat(pending), number);
    if (parsed) yield parsed;
  }
}
