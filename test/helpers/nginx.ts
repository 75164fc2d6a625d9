// A real nginx for the tests that put hubgate behind a proxy (X-Accel-Redirect, a balanced
// cluster): one process on a free loopback port, its config, pid, temp files and logs in a
// scratch directory. The caller gives what goes in the http block and in the one server block.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, ownProcess, tempDir } from './hubgate.js';

/** Debian installs nginx in /usr/sbin, outside a user's PATH; HUBGATE_TEST_NGINX names another. */
export const NGINX = process.env.HUBGATE_TEST_NGINX ?? ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));

export interface Nginx {
  url: string;
  port: number;
  /** Its scratch directory: nginx.conf, error.log, access.log. */
  prefix: string;
  /** Every request as `logFormat` wrote it, one line each (the file is written as requests end). */
  accessLog: string;
  errorLog(): string;
  child: ChildProcess;
  /** A graceful stop (SIGQUIT: requests in flight finish). */
  stop(): Promise<void>;
}

/**
 * Starts nginx and waits until `probe` answers 200. `logFormat` is the access log's format
 * (nginx variables); `port`: listen there (a caller that must tell the backends the public URL
 * before nginx starts picks it first).
 */
export async function startNginx(opts: { http?: string; server: string; logFormat?: string; probe?: string; port?: number }): Promise<Nginx> {
  if (!NGINX) throw new Error('nginx is not installed (apt-get install nginx)');
  const prefix = tempDir('hubgate-nginx-');
  for (const d of ['tmp/body', 'tmp/proxy', 'tmp/fastcgi', 'tmp/uwsgi', 'tmp/scgi']) fs.mkdirSync(path.join(prefix, d), { recursive: true });
  const port = opts.port ?? (await freePort());
  const accessLog = path.join(prefix, 'access.log');
  const errorLog = path.join(prefix, 'error.log');
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${errorLog} warn;
events { worker_connections 256; }
http {
  sendfile on;
  types { }
  default_type application/octet-stream;
  log_format test '${opts.logFormat ?? '$request_method $request_uri $status $body_bytes_sent'}';
  access_log ${accessLog} test;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
${opts.http ?? ''}
  server {
    listen 127.0.0.1:${port};
${opts.server}
  }
}
`,
  );
  const child = ownProcess(spawn(NGINX, ['-p', prefix, '-c', conf, '-e', errorLog], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stderr!.on('data', (b) => (output += b));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${output}`);
    if (await fetch(`${url}${opts.probe ?? '/healthz'}`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error(`nginx did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    prefix,
    accessLog,
    child,
    errorLog: () => (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : ''),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
    },
  };
}
