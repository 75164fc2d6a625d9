import fs from 'node:fs';
import http, { type Server } from 'node:http';
import path from 'node:path';
import { createApp } from './http/app.js';
import { createLimits } from './http/limits.js';
import { repoGuard } from './http/authorize.js';
import { redirectMoved } from './http/moved.js';
import { parseRepoPath } from './http/repo-path.js';
import { declaredLengthAtMost } from './http/request-body.js';
import { baseUrlOf } from './http/urls.js';
import { metricsApp } from './http/metrics.js';
import type { Config } from './config.js';
import { gitEnv } from './git/env.js';
import { createMaintenance } from './git/maintenance.js';
import { startDigest } from './gating/digest.js';
import { createMailer } from './gating/mailer.js';
import { createNotifier, listeningUrl } from './gating/notify.js';
import type { AppContext } from './http/context.js';
import { startHousekeeping } from './ops/housekeeping.js';
import { startPeriodicJob } from './ops/jobs.js';
import { collectLfsGarbage } from './services/lfs-gc.js';
import { createLogger } from './ops/logger.js';
import { deny as lfsDeny } from '../lfs/http.js';
import type { LfsPorts } from '../lfs/ports.js';
import { lfsRoutes } from '../lfs/routes.js';
import { loadSigner } from '../lfs/signing.js';
import { createObjectStore } from '../lfs/store/index.js';
import { CLAIM_SECONDS, createTransfers } from '../lfs/transfers.js';
import { createHubUrls } from '../lfs/urls.js';
import { listen } from './ops/listen.js';
import { createMetrics } from './ops/metrics.js';
import { openDatabase } from './services/database.js';
import { lfsLinks } from './services/lfs-links.js';
import { lfsLocks } from './services/lfs-locks.js';
import { createDownloadCounter, fillMissingListings } from './services/listing.js';
import { lfsUploads } from './services/lfs-uploads.js';
import { userOfSshKey, userOfSshKeyId } from './services/ssh-keys.js';
import { createSshServer, type SshServer } from './ssh/server.js';

/** The composition root: opens what the app needs, starts listening, and stops cleanly on a signal. */
export async function serve(cfg: Config): Promise<{ server: Server; ctx: AppContext }> {
  const log = createLogger(cfg.logLevel);
  fs.mkdirSync(path.join(cfg.dataDir, 'repos'), { recursive: true });
  fs.mkdirSync(path.join(cfg.dataDir, 'git-home'), { recursive: true });
  // Repos deleted while a previous run was stopped halfway (src/services/repos.ts deleteRepo).
  void fs.promises.rm(path.join(cfg.dataDir, 'trash'), { recursive: true, force: true }).catch((err) => log.warn({ err }, 'emptying the trash failed'));
  const db = await openDatabase(cfg.dataDir);
  // Links in notification emails: the public URL, else the address we listen on (known after listen).
  let baseUrl = cfg.publicUrl ?? '';
  const mailer = createMailer(cfg);
  const notifier = createNotifier({ db, log, mailer, baseUrl: () => baseUrl });
  const downloads = createDownloadCounter(db, log);
  const ctx: AppContext = { cfg, db, log, metrics: createMetrics(), maintenance: createMaintenance(gitEnv(cfg.dataDir), log), notifier, downloads };
  const signer = loadSigner(cfg.dataDir);
  const urls = createHubUrls(signer);
  const store = await createObjectStore(cfg, urls);
  const transfers = createTransfers({ uploads: lfsUploads(db), store, urls, log, settings: cfg });
  // LFS's ports: the pipeline's guard bound to LFS's denial renderer (and to a moved repo's redirect, which git-lfs follows), its rows, and the HTTP helpers it shares.
  const lfsPorts: LfsPorts = {
    guard: repoGuard(ctx, lfsDeny, redirectMoved(307)),
    locks: lfsLocks(db),
    links: lfsLinks(db),
    web: { baseUrl: (req) => baseUrlOf(cfg, req), parseRepoPath, declaredLengthAtMost },
    downloads: { count: (repoId, n) => downloads.count(repoId, n) },
  };
  // One set of per-caller limits for the process: a caller's git processes count alike over HTTP and SSH.
  const limits = createLimits(cfg);
  const app = createApp(ctx, { routes: lfsRoutes({ store, signer, transfers }, lfsPorts), store, transfers, signer }, limits);
  // git over SSH (HUBGATE_SSH_PORT; 0: off), the same pipeline with a key's user as the caller.
  const ssh: SshServer | undefined = cfg.sshPort > 0
    ? createSshServer({
      cfg, db, log, metrics: ctx.metrics, maintenance: ctx.maintenance, limits, signer, baseUrl: () => baseUrl,
      keys: { userOfKey: (blob) => userOfSshKey(db, blob), userOfKeyId: (id) => userOfSshKeyId(db, id) },
    })
    : undefined;
  // Cleaning up after crashes and expiries: what earlier processes left, now; then a periodic
  // sweep that one process runs for all. Hashing that a crash stopped is also taken up once its
  // claim lapses (CLAIM_SECONDS after the crash, at the latest) by this process.
  const housekeeping = startHousekeeping({
    db, dataDir: cfg.dataDir, log, startedAt: performance.timeOrigin, intervalMs: cfg.sweepIntervalMs,
    sweepUploads: (opts) => transfers.sweep(opts),
  });
  // Listings show repos whose card was never read (a data directory from before listings) once it is, in the background.
  void fillMissingListings(db, cfg.dataDir, log)
    .then((n) => n > 0 && log.info({ repos: n }, 'cards read for listings'))
    .catch((err) => log.warn({ err }, 'reading cards for listings failed'));
  // LFS garbage collection by the server itself, when asked for (HUBGATE_LFS_GC_INTERVAL_MS): one process for all.
  const lfsGc = cfg.lfsGcIntervalMs > 0
    ? startPeriodicJob({
      db, log, name: 'lfs-gc', intervalMs: cfg.lfsGcIntervalMs, lastRunIfNew: Date.now(),
      run: async () => {
        const r = await collectLfsGarbage({ db, dataDir: cfg.dataDir, store, removeLeftovers: transfers.removeLeftovers, log }, { graceMs: cfg.lfsGcGraceMs });
        log.info({ objects: r.removed.length, bytes: r.bytes, staged: r.staging.staged, multipart: r.staging.multipart, keptNamed: r.keptNamed.length }, 'LFS garbage collected');
      },
    })
    : undefined;
  setTimeout(() => void transfers.sweep().catch((err) => log.warn({ err }, 'sweeping LFS uploads failed')), (CLAIM_SECONDS + 1) * 1000).unref();

  // Clones and pushes of large repos may take as long as they take (no request timeout); a body
  // that stops moving is cut by the app (HUBGATE_BODY_IDLE_TIMEOUT_MS), headers that never end here.
  const server = http.createServer({ requestTimeout: 0, headersTimeout: cfg.headersTimeoutMs, connectionsCheckingInterval: 1000 }, app);
  server.timeout = 0;
  capConnectionsPerIp(server, cfg.maxConnectionsPerIp);
  // A port in use or a bad host stops the start with one line naming the setting (ListenError).
  const metricsServer = cfg.metricsListen && http.createServer(metricsApp(ctx));
  try {
    await listen(server, cfg.host, cfg.port, { host: 'HUBGATE_HOST', port: 'HUBGATE_PORT', hostFix: 'HUBGATE_HOST or --host', portFix: 'HUBGATE_PORT or --port' });
    if (metricsServer && cfg.metricsListen) {
      const at = { host: 'HUBGATE_METRICS_LISTEN host', port: 'HUBGATE_METRICS_LISTEN port', hostFix: 'HUBGATE_METRICS_LISTEN', portFix: 'HUBGATE_METRICS_LISTEN' };
      await listen(metricsServer, cfg.metricsListen.host, cfg.metricsListen.port, at);
      log.info({ url: `http://${cfg.metricsListen.host}:${cfg.metricsListen.port}/metrics` }, 'metrics are served on HUBGATE_METRICS_LISTEN only');
    }
    if (ssh) {
      await listen(ssh.tcp, cfg.sshHost, cfg.sshPort, { host: 'HUBGATE_SSH_HOST', port: 'HUBGATE_SSH_PORT', hostFix: 'HUBGATE_SSH_HOST', portFix: 'HUBGATE_SSH_PORT (0 turns SSH off)' });
      log.info({ host: cfg.sshHost, port: cfg.sshPort }, `git over SSH on ${cfg.sshHost}:${cfg.sshPort}`);
    }
  } catch (err) {
    server.close();
    ssh?.close();
    await housekeeping.stop();
    await downloads.stop();
    await lfsGc?.stop();
    await db.destroy();
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;
  log.info({ url: `http://${cfg.host}:${port}`, dataDir: cfg.dataDir }, `hubgate listening on http://${cfg.host}:${port}`);
  baseUrl = cfg.publicUrl ?? listeningUrl(cfg.host, port);
  const digest = startDigest({ db, log, mailer, baseUrl: () => baseUrl, dataDir: cfg.dataDir, intervalMs: cfg.digestIntervalMs });
  log.info({ via: mailer.describe, links: baseUrl }, cfg.smtpUrl ? 'notifications are sent by SMTP' : 'notifications are written to the outbox file (set HUBGATE_SMTP_URL to send them)');

  const stop = () => {
    log.info('shutting down');
    server.close();
    server.closeIdleConnections();
    if (metricsServer) metricsServer.close();
    ssh?.close();
    // Sends in progress get a few seconds to finish; a mail server that hangs does not hold up the exit.
    const notified = Promise.all([digest.stop(), housekeeping.stop(), lfsGc?.stop(), notifier.idle(), downloads.stop()]);
    Promise.all([ctx.maintenance.idle(), Promise.race([notified, new Promise((r) => setTimeout(r, 5000).unref())])])
      .then(() => mailer.close())
      .then(() => db.destroy())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return { server, ctx };
}

/** Closes new connections from an address that already has `max` open (0: no cap), so one client cannot hold every socket. */
function capConnectionsPerIp(server: Server, max: number): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const ip = socket.remoteAddress ?? '';
    const n = open.get(ip) ?? 0;
    if (n >= max) return void socket.destroy();
    open.set(ip, n + 1);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left > 0) open.set(ip, left);
      else open.delete(ip);
    });
  });
}
