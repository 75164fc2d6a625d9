// A minimal Git LFS client over HTTP for the fault tests: batch, transfers, verify, completion,
// and the check that nothing downloadable differs from its oid. Every request has a deadline, so
// a server that never answers fails the test instead of hanging it.
import crypto from 'node:crypto';
import type { Hubgate } from './hubgate.js';

export const LFS_JSON = 'application/vnd.git-lfs+json';
export const MiB = 1024 ** 2;

export interface LfsObject {
  oid: string;
  size: number;
  bytes: Buffer;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  ms: number;
}

export function randomObject(size: number): LfsObject {
  const bytes = crypto.randomBytes(size);
  return { oid: crypto.createHash('sha256').update(bytes).digest('hex'), size, bytes };
}

/** One request that must be answered within `timeoutMs`; a hang rejects with a message saying so. */
export async function call(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Answer> {
  const t0 = Date.now();
  const timeoutMs = init.timeoutMs ?? 30_000;
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') throw new Error(`${init.method ?? 'GET'} ${url.split('?')[0]} was not answered within ${timeoutMs} ms`);
    throw err;
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, ms: Date.now() - t0 };
}

export function lfsClient(hub: Hubgate, token: string, repo: string) {
  const auth = { Authorization: `Bearer ${token}` };
  const lfsHeaders = { ...auth, 'Content-Type': LFS_JSON, Accept: LFS_JSON };
  return {
    batch(operation: 'upload' | 'download', objects: { oid: string; size: number }[], transfers = ['basic'], timeoutMs = 30_000) {
      return call(`${hub.url}/${repo}.git/info/lfs/objects/batch`, {
        method: 'POST', headers: lfsHeaders, timeoutMs,
        body: JSON.stringify({ operation, transfers, objects: objects.map(({ oid, size }) => ({ oid, size })), hash_algo: 'sha256' }),
      });
    },
    put(action: { href: string; header?: Record<string, string> }, body: Buffer, timeoutMs = 30_000) {
      return call(action.href, { method: 'PUT', headers: { ...(action.header ?? {}), 'Content-Length': String(body.length) }, body, timeoutMs });
    },
    verify(action: { href: string; header?: Record<string, string> }, obj: { oid: string; size: number }, timeoutMs = 30_000) {
      return call(action.href, { method: 'POST', headers: { ...(action.header ?? {}), 'Content-Type': LFS_JSON }, body: JSON.stringify({ oid: obj.oid, size: obj.size }), timeoutMs });
    },
    /** Sends the parts named in a multipart action's header; the etags in order. */
    async putParts(action: { header: Record<string, string> }, obj: LfsObject, timeoutMs = 30_000): Promise<{ partNumber: number; etag: string }[]> {
      const chunk = Number(action.header.chunk_size);
      const etags = [];
      for (const key of Object.keys(action.header).filter((k) => /^\d{5}$/.test(k)).sort()) {
        const n = Number(key);
        const r = await call(action.header[key], { method: 'PUT', body: obj.bytes.subarray((n - 1) * chunk, n * chunk), timeoutMs });
        if (r.status !== 200) throw new Error(`part ${n}: ${r.status} ${r.text}`);
        etags.push({ partNumber: n, etag: r.headers.get('etag') ?? '' });
      }
      return etags;
    },
    complete(href: string, oid: string, parts: { partNumber: number; etag: string }[], timeoutMs = 30_000) {
      return call(href, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ oid, parts }), timeoutMs });
    },
    /** An API commit adding `obj` as the Git LFS file `path` on main. */
    commitLfsFile(obj: { oid: string; size: number }, path: string, timeoutMs = 30_000) {
      return call(`${hub.url}/api/models/${repo}/commit/main`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/x-ndjson' },
        body: [
          { key: 'header', value: { summary: `add ${path}`, description: '' } },
          { key: 'lfsFile', value: { path, algo: 'sha256', oid: obj.oid, size: obj.size } },
        ].map((l) => JSON.stringify(l)).join('\n'),
        timeoutMs,
      });
    },
    /** Batch + PUT + verify of a basic upload; throws unless every step succeeds. */
    async upload(obj: LfsObject): Promise<void> {
      const b = await this.batch('upload', [{ oid: obj.oid, size: obj.size }]);
      const o = b.json?.objects?.[0];
      if (b.status !== 200 || o?.error) throw new Error(`batch: ${b.status} ${b.text.slice(0, 300)}`);
      if (!o.actions) return;
      const put = await this.put(o.actions.upload, obj.bytes);
      if (put.status !== 200) throw new Error(`PUT: ${put.status} ${put.text}`);
      const v = await this.verify(o.actions.verify, obj);
      if (v.status !== 200) throw new Error(`verify: ${v.status} ${v.text}`);
    },
    /**
     * Downloads each object the repo will hand out and checks its bytes hash to its oid; the
     * oids that were downloadable.
     */
    async downloadableIntact(oids: { oid: string; size: number }[]): Promise<string[]> {
      const b = await this.batch('download', oids.map(({ oid, size }) => ({ oid, size })));
      if (b.status !== 200) throw new Error(`download batch: ${b.status} ${b.text.slice(0, 300)}`);
      const found = [];
      for (const o of b.json.objects) {
        if (o.error) continue;
        const r = await fetch(o.actions.download.href, { headers: o.actions.download.header ?? {}, signal: AbortSignal.timeout(30_000) });
        const bytes = Buffer.from(await r.arrayBuffer());
        if (r.status !== 200) throw new Error(`download of ${o.oid}: ${r.status}`);
        const sha = crypto.createHash('sha256').update(bytes).digest('hex');
        if (sha !== o.oid) throw new Error(`the object downloadable as ${o.oid} hashes to ${sha}`);
        found.push(o.oid);
      }
      return found;
    },
  };
}
