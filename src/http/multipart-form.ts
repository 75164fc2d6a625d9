import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import type { Request } from 'express';
import { HubgateError } from '../domain/errors.js';
import { scratchDir } from '../util/scratch.js';

// multipart/form-data forms of the pages (file uploads, the file editor), read as a stream: each
// file goes to a temporary file as it arrives, hashed (sha256) and counted on the way, so no file
// sits whole in memory whatever its size; busboy pauses the request while the disk catches up.
// The form must prove it comes from the session before any byte is stored: by a `csrf` query
// parameter, or by a `csrf` field sent first (browsers send fields in the form's order).

/** A file of the form, in its temporary file. */
export interface FormFile {
  /** The form field it came in. */
  field: string;
  /** The name the browser gave (the file's own name, without folders). */
  name: string;
  file: string;
  size: number;
  sha256: string;
  /** Its first 512 bytes. */
  sample: Buffer;
}

export interface ReceivedForm {
  fields: Map<string, string>;
  files: FormFile[];
  /** Removes the temporary files; always call it. */
  dispose(): Promise<void>;
}

export interface FormLimits {
  /** All the files' bytes together, at most. */
  maxBytes: number;
  maxFiles: number;
  /** The largest text field (the editor's content). */
  maxFieldBytes: number;
}

/** The CSRF check failed: the caller answers its refusal page (nothing was stored). */
export class CsrfRefused extends Error {}

const SAMPLE = 512;
const MAX_FIELDS = 20;

/**
 * Reads a multipart/form-data body. `csrfOk(token)` is asked once, about the query's `csrf` or
 * else the first part, which must then be the `csrf` field: anything else first is a CsrfRefused
 * before any file byte is read. Limits are 413s. Temporary files go to a fresh directory under
 * `tmpRoot`, made only once the form is proven.
 */
export async function receiveForm(req: Request, tmpRoot: string, limits: FormLimits, csrfOk: (token: unknown) => boolean): Promise<ReceivedForm> {
  const type = req.get('content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type)) throw new HubgateError('invalid', 'send the form as the page does (multipart/form-data)');
  // The declared length, when there is one, is refused before reading: the files and some room for the fields.
  const room = limits.maxBytes + limits.maxFieldBytes + 1024 * 1024;
  if (Number(req.get('content-length') ?? 0) > room) throw tooLarge(limits);

  let proven = req.query.csrf !== undefined ? csrfOk(req.query.csrf) : null;
  if (proven === false) {
    // Nothing is stored; the body is read and dropped so the browser still gets the refusal page.
    req.resume();
    throw new CsrfRefused();
  }
  const fields = new Map<string, string>();
  const files: FormFile[] = [];
  let dir: string | null = null;
  const dispose = async () => {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  };

  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: req.headers,
      // Browsers send file names as UTF-8 bytes (busboy's default reads them as latin1: 'é' became two characters, one a control).
      defParamCharset: 'utf8',
      limits: { files: limits.maxFiles, fields: MAX_FIELDS, fieldSize: limits.maxFieldBytes, parts: limits.maxFiles + MAX_FIELDS, fileSize: limits.maxBytes, fieldNameSize: 100 },
    });
  } catch {
    throw new HubgateError('invalid', 'send the form as the page does (multipart/form-data with a boundary)');
  }

  let total = 0;
  let count = 0;
  const writes: Promise<void>[] = [];
  const outcome = new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      // The rest of the body is read and dropped, so the browser still gets the answer.
      req.resume();
      reject(err);
    };
    const firstPart = (name: string, value: string | null): boolean => {
      if (proven !== null) return true;
      proven = name === 'csrf' && value !== null && csrfOk(value);
      if (!proven) fail(new CsrfRefused());
      return proven;
    };

    bb.on('field', (name, value, info) => {
      if (!firstPart(name, value)) return;
      if (info.valueTruncated) return fail(new HubgateError('too-large', `the field "${name.slice(0, 100)}" is over ${limits.maxFieldBytes} bytes: upload the content as a file instead`));
      if (name !== 'csrf') fields.set(name, value);
    });
    bb.on('file', (name, stream, info) => {
      if (!firstPart(name, null) || failed) return stream.resume();
      // A file input left empty still sends a part, with no name and no bytes.
      // Browsers send a '"' in a file name as %22 (the HTML standard's form encoding): the file keeps its own name.
      const filename = info.filename?.replace(/%22/g, '"');
      if (!filename) return stream.resume();
      const n = count++;
      const hash = crypto.createHash('sha256');
      const sample: Buffer[] = [];
      let sampled = 0;
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          total += chunk.length;
          if (total > limits.maxBytes) return cb(tooLarge(limits));
          hash.update(chunk);
          if (sampled < SAMPLE) {
            sample.push(chunk.subarray(0, SAMPLE - sampled));
            sampled += Math.min(chunk.length, SAMPLE - sampled);
          }
          cb(null, chunk);
        },
      });
      stream.on('limit', () => counter.destroy(tooLarge(limits)));
      const write = (async () => {
        dir ??= await scratchDir(tmpRoot, 'web-upload');
        const file = path.join(dir, `file-${n}`);
        await pipeline(stream, counter, fs.createWriteStream(file, { flags: 'wx' }));
        files.push({ field: name, name: filename, file, size, sha256: hash.digest('hex'), sample: Buffer.concat(sample) });
      })();
      write.catch((err: Error) => {
        stream.resume();
        fail(err);
      });
      writes.push(write);
    });
    bb.on('filesLimit', () => fail(new HubgateError('too-large', `send at most ${limits.maxFiles} files at once: upload the rest in another commit`)));
    bb.on('fieldsLimit', () => fail(new HubgateError('too-large', 'the form has too many fields: send it as the page does')));
    bb.on('partsLimit', () => fail(new HubgateError('too-large', `send at most ${limits.maxFiles} files at once: upload the rest in another commit`)));
    bb.on('error', (err: Error) => fail(new HubgateError('invalid', `the form could not be read: ${err.message}`)));
    bb.on('close', () => {
      if (failed) return;
      Promise.all(writes).then(() => {
        if (proven !== true) return fail(new CsrfRefused());
        resolve();
      }, fail);
    });
    req.on('aborted', () => fail(new HubgateError('invalid', 'the browser stopped sending the form')));
    req.pipe(bb);
  });

  try {
    await outcome;
  } catch (err) {
    // Writes already begun end (failed or not) before their files go.
    await Promise.allSettled(writes);
    await dispose();
    throw err;
  }
  // In the order the browser sent them (they finish in that order, as parts are sequential).
  files.sort((a, b) => a.file.localeCompare(b.file, 'en', { numeric: true }));
  return { fields, files, dispose };
}

function tooLarge(limits: FormLimits): HubgateError {
  return new HubgateError('too-large', `the files are over ${limits.maxBytes} bytes together: upload fewer at once, or push large files with git lfs`);
}
