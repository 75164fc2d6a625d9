// Several hubgate nodes as the reference deployment (docs/deploy.md) runs them, on one machine:
// one shared data directory (the bare repos; on a real cluster an NFS/EFS/CephFS mount), one
// shared database (PostgreSQL, or SQLite in the data directory), LFS objects in s3rver, and
// nginx in front balancing round-robin over the nodes.
// Each node listens on a port of its own that it keeps across a restart, so nginx's upstream
// list stays valid when a test kills a node and starts it again.
import fs from 'node:fs';
import path from 'node:path';
import { type DatabaseKind, freePort, type Hubgate, startHubgate, tempDir } from './hubgate.js';
import { type Nginx, startNginx } from './nginx.js';
import { type S3rverHandle, startS3rver } from './s3.js';


export interface Cluster {
  /** The balancer's URL: what clients are given. */
  url: string;
  nodes: Hubgate[];
  nginx: Nginx;
  s3: S3rverHandle;
  dataDir: string;
  db: DatabaseKind;
  /** `hubgate ARGS --data DATADIR` with the nodes' settings (an operator's command on any machine). */
  cli: Hubgate['cli'];
  /** `http://x:TOKEN@balancer/PATH`. */
  remote(repoPath: string, token?: string): string;
  /** The same URL on node `i` (a test pins which node answers). */
  onNode(i: number, url: string): string;
  /** Which node answered each request to a path matching `match`, from nginx's access log ("a", "b", "a,b" when retried). */
  answeredBy(match: (requestUri: string) => boolean): { uri: string; method: string; status: number; nodes: string }[];
  /** Starts node `i` again (after a kill) on its port and the same settings. */
  restart(i: number): Promise<Hubgate>;
  stop(): Promise<void>;
}

/** Node names in the access log, by upstream address. */
const NODE_NAMES = 'abcdefgh';

/**
 * The nginx side of the reference deployment (docs/deploy.md): round-robin over the nodes,
 * streaming both ways (git and LFS bodies are large and long), no body limit, long timeouts.
 * A request is passed to the next node only when the first one could not be reached or timed
 * out (`error timeout`), and a POST, LOCK or PATCH only when it could not be sent at all
 * (nginx's default without `non_idempotent`): a push or a commit that reached a node that died may have landed, and
 * only the client (git, @huggingface/hub) can tell and retry. A body that already started
 * streaming is never resent (proxy_request_buffering off keeps no copy). A node that failed is
 * not left out for a while (`max_fails=0`): the tests kill and restart both nodes in turn, and
 * with both marked failed within `fail_timeout` nginx would answer 502 ("no live upstreams")
 * while a node is up; a refused connection costs one try before the other node. No connection to a node is kept open between requests: one
 * kept to a node that has since died or is stopping fails the next request, and a POST sent on
 * it gets a 502 instead of being passed on; a new connection to such a node is refused, and the
 * request passed on.
 */
export function balancerConfig(ports: number[]): { http: string; server: string } {
  return {
    http: `  upstream hubgate {
${ports.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join('\n')}
  }`,
    server: `    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_connect_timeout 5s;
    proxy_read_timeout 3600s;
    proxy_send_timeout 3600s;
    location / {
      proxy_pass http://hubgate;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 2;
    }`,
  };
}

/**
 * `db`: where the nodes keep their metadata: a PostgreSQL database of the run's cluster, as the
 * reference deployment does, or SQLite in the shared data directory (processes on one machine only).
 */
export async function startCluster(opts: { nodes?: number; db?: DatabaseKind; env?: NodeJS.ProcessEnv } = {}): Promise<Cluster> {
  const count = opts.nodes ?? 2;
  const s3 = await startS3rver();
  const dataDir = path.join(tempDir('hubgate-cluster-'), 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const balancerPort = await freePort();
  const url = `http://127.0.0.1:${balancerPort}`;
  // What must be the same on every node (docs/deploy.md): the data directory, the database,
  // the object store, the public URL (links signed by one node are followed on another).
  const env: NodeJS.ProcessEnv = { ...s3.env, HUBGATE_PUBLIC_URL: url, HUBGATE_LOG_LEVEL: 'info', ...opts.env };
  // One after the other: the first creates the database and the data directory's layout.
  const nodes: Hubgate[] = [await startHubgate({ dataDir, port: ports[0], env, db: opts.db })];
  // The others, and any restart, on the database the first was given.
  if (nodes[0].databaseUrl) env.HUBGATE_DATABASE_URL = nodes[0].databaseUrl;
  for (const port of ports.slice(1)) nodes.push(await startHubgate({ dataDir, port, env }));
  const nginx = await startNginx({
    ...balancerConfig(ports),
    port: balancerPort,
    logFormat: '$request_method $request_uri $status upstream=$upstream_addr',
  });
  const nodeName = (addr: string) => NODE_NAMES[ports.indexOf(Number(addr.trim().split(':')[1]))] ?? '?';
  const cluster: Cluster = {
    url,
    nodes,
    nginx,
    s3,
    dataDir,
    db: nodes[0].db,
    cli: (args, input) => nodes[0].cli(args, input),
    remote: (repoPath, token) => `http://${token ? `x:${token}@` : ''}127.0.0.1:${balancerPort}/${repoPath}`,
    onNode: (i, target) => target.replace(url, nodes[i].url),
    answeredBy(match) {
      return fs
        .readFileSync(nginx.accessLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          // $upstream_addr is last: "ADDR" or "ADDR, ADDR" when nginx passed the request on.
          const [method, uri, status, ...upstream] = line.split(' ');
          return { method, uri, status: Number(status), nodes: upstream.join(' ').slice('upstream='.length).split(',').filter((a) => a.includes(':')).map(nodeName).join(',') };
        })
        .filter((r) => match(r.uri));
    },
    async restart(i) {
      nodes[i] = await startHubgate({ dataDir, port: ports[i], env });
      return nodes[i];
    },
    async stop() {
      await nginx.stop();
      // A node a test killed has exited already.
      await Promise.all(nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null).map((n) => n.stop()));
      await s3.stop();
    },
  };
  return cluster;
}
