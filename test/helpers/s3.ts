// s3rver on loopback for the S3 store's tests: a fresh directory, one bucket, and the
// environment that points hubgate (and the AWS SDK) at it.
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
// s3rver is CommonJS without types.
// @ts-expect-error no declaration file
import S3rver from 's3rver';
import { freePort, ownProcess, ROOT, tempDir } from './hubgate.js';

export interface S3Event {
  eventName: string;
  key: string;
}

export interface S3Request {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface S3rverHandle {
  port: number;
  endpoint: string;
  bucket: string;
  /** s3rver's storage directory; the bucket's objects are files under `${directory}/${bucket}`. */
  directory: string;
  /** The environment for a hubgate using this bucket (merge into startHubgate's env). */
  env: Record<string, string>;
  /** Puts, copies and multipart completions s3rver has received, oldest first. */
  events: S3Event[];
  /** Every HTTP request s3rver has received (method, URL, headers), oldest first. */
  requests: S3Request[];
  /** The file holding an object's bytes in s3rver's directory (it may not exist). */
  objectFile(key: string): string;
  /** Keys of the objects in the bucket (walks the directory). */
  keys(): string[];
  stop(): Promise<void>;
}

const SUFFIX = '._S3rver_object';

/** hubgate's settings for an s3rver bucket (s3rver takes any signature made with its fixed key). */
function s3rverEnv(endpoint: string, bucket: string): Record<string, string> {
  return {
    HUBGATE_LFS_STORE: 's3',
    HUBGATE_S3_BUCKET: bucket,
    HUBGATE_S3_ENDPOINT: endpoint,
    HUBGATE_S3_FORCE_PATH_STYLE: 'true',
    HUBGATE_S3_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
}

export async function startS3rver(bucket = 'hubgate-test'): Promise<S3rverHandle> {
  const directory = tempDir('hubgate-s3rver-');
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const events: S3Event[] = [];
  server.on('event', (e: { Records: { eventName: string; s3: { object: { key: string } } }[] }) => {
    for (const r of e.Records) events.push({ eventName: r.eventName, key: r.s3.object.key });
  });
  const { port } = (await server.run()) as AddressInfo;
  const requests: S3Request[] = [];
  // A second listener only observes: s3rver's own handler answers.
  server.httpServer.on('request', (req: IncomingMessage) => requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } }));
  const endpoint = `http://127.0.0.1:${port}`;
  const root = path.join(directory, bucket);
  return {
    port,
    endpoint,
    bucket,
    directory,
    events,
    requests,
    env: s3rverEnv(endpoint, bucket),
    objectFile: (key) => path.join(root, `${key}${SUFFIX}`),
    keys() {
      const found: string[] = [];
      const walk = (dir: string, rel: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory()) {
            if (!entry.name.startsWith('._S3rver')) walk(path.join(dir, entry.name), `${rel}${entry.name}/`);
          } else if (entry.name.endsWith(SUFFIX)) {
            found.push(`${rel}${entry.name.slice(0, -SUFFIX.length)}`);
          }
        }
      };
      if (fs.existsSync(root)) walk(root, '');
      return found.sort();
    },
    stop: () => server.close(),
  };
}

const hmac = (key: Buffer | string, data: string) => crypto.createHmac('sha256', key).update(data).digest();
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Whether S3 would accept a request sending exactly `headers` to the presigned `url` (SigV4, UNSIGNED-PAYLOAD): s3rver does not check. */
export function sigV4Valid(method: string, url: URL, headers: Record<string, string>, secret: string): boolean {
  const q = url.searchParams;
  const [, date, region, service] = q.get('X-Amz-Credential')!.split('/');
  const sent = new Map(Object.entries({ host: url.host, ...headers }).map(([k, v]) => [k.toLowerCase(), v.trim()]));
  const signed = q.get('X-Amz-SignedHeaders')!.split(';');
  if (signed.some((name) => !sent.has(name))) return false;
  const query = [...q.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .sort()
    .join('&');
  const canonical = [method, url.pathname, query, ...signed.map((n) => `${n}:${sent.get(n)}`), '', signed.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', q.get('X-Amz-Date')!, scope, crypto.createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return hmac(key, toSign).toString('hex') === q.get('X-Amz-Signature');
}

/** s3rver in a child process, so a test can freeze it (SIGSTOP), kill it and start it again on the same port and directory. */
export interface S3rverProcess {
  endpoint: string;
  env: Record<string, string>;
  process: ChildProcess;
  /** Starts it again (after kill) on the same port, with the same objects. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const S3RVER_CHILD = `
const S3rver = require('s3rver');
const [dir, bucket, port] = process.argv.slice(1);
new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory: dir, configureBuckets: [{ name: bucket }] })
  .run().then(() => process.stdout.write('listening\\n'), (e) => { console.error(e); process.exit(1); });
`;

export async function startS3rverProcess(bucket = 'hubgate-test'): Promise<S3rverProcess> {
  const directory = tempDir('hubgate-s3rver-');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const launch = async (): Promise<ChildProcess> => {
    const child = ownProcess(spawn(process.execPath, ['-e', S3RVER_CHILD, directory, bucket, String(port)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    let err = '';
    child.stderr!.on('data', (b) => (err += b));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b) => String(b).includes('listening') && resolve());
      child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${err}`)));
    });
    return child;
  };
  const handle: S3rverProcess = {
    endpoint,
    process: await launch(),
    env: s3rverEnv(endpoint, bucket),
    async restart() {
      handle.process = await launch();
    },
    async stop() {
      const child = handle.process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
  return handle;
}
