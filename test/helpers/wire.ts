// Raw-wire helpers for access and bad-input tests: pkt-lines, hand-made git requests,
// HTTP requests whose path is sent exactly as written, and snapshots of server state on disk.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { clientEnv, type Hubgate, run, tempDir } from './hubgate.js';

const HOME = tempDir('hubgate-wire-home-');

/** One pkt-line: 4 hex digits of length (including themselves), then the payload. */
export function pkt(payload: string | Buffer): Buffer {
  const b = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, '0')), b]);
}
export const FLUSH = Buffer.from('0000');
export const ZERO_ID = '0'.repeat(40);

/** A valid pack with no objects (what git sends when the pushed commit is already on the server). */
export function emptyPack(): Buffer {
  const head = Buffer.alloc(12);
  head.write('PACK', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(0, 8);
  return Buffer.concat([head, crypto.createHash('sha1').update(head).digest()]);
}

/** A protocol-v0 receive-pack request that creates `ref` at `commit` (a commit the repo already has). */
export function createBranchRequest(commit: string, ref: string): Buffer {
  return Buffer.concat([pkt(`${ZERO_ID} ${commit} ${ref}\0report-status\n`), FLUSH, emptyPack()]);
}

/** A protocol-v0 upload-pack request for `commit` (a full fetch: want, flush, done). */
export function wantRequest(commit: string): Buffer {
  return Buffer.concat([pkt(`want ${commit}\n`), FLUSH, pkt('done\n')]);
}

export const basic = (password: string, user = 'x') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
export const bearer = (token: string) => `Bearer ${token}`;

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** An HTTP request whose path goes on the wire byte for byte (fetch would normalize `..` and `%2e`). */
export function rawRequest(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** `refname objectname` lines of a bare repo on the server, as git itself reads them. */
export async function refsOf(gitDir: string): Promise<string> {
  const r = await run('git', ['--git-dir', gitDir, 'for-each-ref', '--format=%(refname) %(objectname)'], { env: clientEnv(HOME) });
  if (r.code !== 0) throw new Error(`for-each-ref in ${gitDir} failed: ${r.stderr}`);
  return r.stdout;
}

/** Every path under `root`, relative and sorted ('/' after directories); [] when it does not exist. */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        out.push(`${r}/`);
        walk(path.join(dir, entry.name), r);
      } else out.push(r);
    }
  };
  if (fs.existsSync(root)) walk(root, '');
  return out.sort();
}

/** Waits until `listTree(root)` stops changing (background repository maintenance after pushes). */
export async function settledTree(root: string, quietMs = 400, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let last = listTree(root);
  for (;;) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = listTree(root);
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    if (Date.now() > deadline) throw new Error(`${root} kept changing for ${timeoutMs} ms`);
    last = now;
  }
}

/** Runs `fn` over `items` with at most `limit` at a time (CLI calls are separate processes). */
export async function inBatches<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]);
      }
    }),
  );
  return results;
}

/**
 * Clones `repo` (new repos start with the Hub's .gitattributes commit), adds a commit with
 * `files` (none: an empty commit), pushes it to main and returns its id and the work tree.
 */
export async function commitAndPush(
  hub: Hubgate,
  repo: string,
  token: string,
  files: Record<string, string | Buffer> = {},
  message = 'test commit',
): Promise<{ tip: string; work: string }> {
  const work = tempDir('hubgate-wire-work-');
  const must = async (args: string[]) => {
    const r = await hub.git(args, { cwd: work });
    if (r.code !== 0) throw new Error(`git ${args.join(' ')} (${repo}): ${r.stderr}`);
    return r.stdout.trim();
  };
  await must(['clone', '-q', hub.remote(repo, token), '.']);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(work, name), content);
  await must(['add', '-A']);
  await must(['commit', '-q', '--allow-empty', '-m', message]);
  await must(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
  return { tip: await must(['rev-parse', 'HEAD']), work };
}
