// What `@huggingface/hub` sends when it uploads through Xet, captured without a server: its
// `uploadFiles` runs against a `fetch` that answers the few Hub and CAS requests of an upload the
// way the Hub does (preupload: LFS; LFS batch: the xet transfer; a write token; xorb and shard
// uploads accepted; no global dedup match; the commit accepted), and keeps the xorb and shard
// bodies for the format tests to check against the client's own hashes.
import { uploadFiles } from '@huggingface/hub';

export interface CapturedUpload {
  /** Each xorb upload: the hash in its URL and its body. */
  xorbs: { hash: string; body: Uint8Array }[];
  shards: Uint8Array[];
  /** The sha256 (hex) the client committed for each path. */
  committed: Map<string, { sha256: string; size: number }>;
  /** Every request, as "METHOD url". */
  requests: string[];
}

const HUB = 'http://hub.test';
const CAS = 'http://cas.test';

export async function captureXetUpload(files: { path: string; content: Uint8Array }[]): Promise<CapturedUpload> {
  const captured: CapturedUpload = { xorbs: [], shards: [], committed: new Map(), requests: [] };
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const fakeFetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = init.method ?? 'GET';
    captured.requests.push(`${method} ${url.href}`);
    const body = async () => new Uint8Array(await new Response(init.body as BodyInit).arrayBuffer());
    if (url.origin === HUB && url.pathname.endsWith('/preupload/main')) {
      const asked = JSON.parse(String(init.body)) as { files: { path: string }[] };
      return json({ files: asked.files.map((f) => ({ path: f.path, uploadMode: 'lfs', shouldIgnore: false })) });
    }
    if (url.origin === HUB && url.pathname.endsWith('.git/info/lfs/objects/batch')) {
      const asked = JSON.parse(String(init.body)) as { transfers: string[]; objects: { oid: string; size: number }[] };
      if (!asked.transfers.includes('xet')) throw new Error('the client did not offer the xet transfer');
      return json({
        transfer: 'xet',
        objects: asked.objects.map((o) => ({
          oid: o.oid,
          size: o.size,
          actions: { upload: { href: `${HUB}/api/models/u/r/xet-write-token/main`, header: { 'X-Xet-Session-Id': 'session-1' } } },
        })),
      });
    }
    if (url.origin === HUB && url.pathname.includes('/xet-write-token/')) {
      return json({ accessToken: 'xet-token', exp: Math.floor(Date.now() / 1000) + 600, casUrl: CAS });
    }
    if (url.origin === CAS && method === 'POST' && url.pathname.startsWith('/v1/xorbs/default/')) {
      captured.xorbs.push({ hash: url.pathname.slice('/v1/xorbs/default/'.length), body: await body() });
      return json({ was_inserted: true });
    }
    if (url.origin === CAS && method === 'POST' && url.pathname === '/v1/shards') {
      captured.shards.push(await body());
      return json({ result: 1 });
    }
    if (url.origin === CAS && url.pathname.startsWith('/v1/chunks/')) return new Response('', { status: 404 });
    if (url.origin === HUB && url.pathname.endsWith('/commit/main')) {
      for (const line of String(init.body).split('\n')) {
        const entry = JSON.parse(line) as { key: string; value: { path?: string; algo?: string; oid?: string; size?: number } };
        if (entry.key === 'lfsFile' && entry.value.path) captured.committed.set(entry.value.path, { sha256: entry.value.oid!, size: entry.value.size! });
      }
      return json({ commitOid: 'a'.repeat(40), commitUrl: `${HUB}/u/r/commit/${'a'.repeat(40)}` });
    }
    return json({ error: `not part of a Xet upload: ${method} ${url.href}` }, 404);
  };
  await uploadFiles({
    repo: 'u/r',
    accessToken: 'hf_test',
    hubUrl: HUB,
    fetch: fakeFetch as typeof fetch,
    files: files.map((f) => ({ path: f.path, content: new Blob([f.content]) })),
  });
  return captured;
}
