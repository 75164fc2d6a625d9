import fs from 'node:fs';
import http, { type Server } from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { gitEnv } from './git/env.js';
import { createMaintenance } from './git/maintenance.js';
import { startDigest } from './gating/digest.js';
import { createMailer } from './gating/mailer.js';
import { createNotifier, listeningUrl } from './gating/notify.js';
import type { AppContext } from './http/context.js';
import { storageFault } from './domain/faults.js';
import { cleanUpAtStart, startHousekeeping } from './ops/housekeeping.js';
import { startPeriodicJob } from './ops/jobs.js';
import { collectLfsGarbage } from './services/lfs-gc.js';
import { createLogger } from './ops/logger.js';
import type { LfsPorts } from '../lfs/ports.js';
import { createSigner } from '../lfs/signing.js';
import { createObjectStore } from '../lfs/store/index.js';
import { CLAIM_SECONDS, createTransfers, type Transfers } from '../lfs/transfers.js';
import { createHubUrls } from '../lfs/urls.js';
import { listen } from './ops/listen.js';
import { createMetrics } from './ops/metrics.js';
import { othersAtWork, startPresence } from './ops/presence.js';
import { checkWritableDir, createReadiness } from './ops/readiness.js';
import { startWorkers } from './ops/primary.js';
import { clusterExposition, isWorker, onStopRequest, reportReady, reportStartFailure } from './ops/worker.js';
import { type Db, openDatabase, pingDatabase } from './services/database.js';
import { lfsLinks } from './services/lfs-links.js';
import { lfsLocks } from './services/lfs-locks.js';
import { createDownloadCounter, fillMissingListings } from './services/listing.js';
import { lfsUploads } from './services/lfs-uploads.js';
import { xetObjects } from './services/lfs-xet-reads.js';
import { createXetService } from './services/xet.js';
import { type ConversionQueue, conversionsAtStart, createConversionQueue, startConverter } from './services/xet-convert.js';
import { TYPE_PLURAL } from './domain/names.js';
import { urlSigningKey } from './services/secrets.js';
import { userOfSshKey, userOfSshKeyId } from './services/ssh-keys.js';
import { createSshServer, type SshServer } from './ssh/server.js';

/**
 * What only a process that serves requests needs (the app, its routes, the metrics listener's
 * app): loaded when it starts serving, so the primary, which serves none, does without them.
 */
async function loadFrontEnd() {
  const [app, authorize, moved, repoPath, requestBody, urls, metrics, lfsHttp, lfsRouter, limits] = await Promise.all([
    import('./http/app.js'), import('./http/authorize.js'), import('./http/moved.js'), import('./http/repo-path.js'),
    import('./http/request-body.js'), import('./http/urls.js'), import('./http/metrics.js'), import('../lfs/http.js'), import('../lfs/routes.js'),
    import('./http/limits.js'),
  ]);
  return {
    createApp: app.createApp, createLimits: limits.createLimits, repoGuard: authorize.repoGuard, redirectMoved: moved.redirectMoved, parseRepoPath: repoPath.parseRepoPath,
    declaredLengthAtMost: requestBody.declaredLengthAtMost, baseUrlOf: urls.baseUrlOf, metricsApp: metrics.metricsApp, lfsDeny: lfsHttp.deny, lfsRoutes: lfsRouter.lfsRoutes,
  };
}

/** How one `hubgate serve` runs: a single process, or a primary (src/ops/primary.ts) and its workers. */
export async function serve(cfg: Config): Promise<void> {
  if (isWorker()) return serveAsWorker(cfg);
  if (cfg.workers > 1) return runPrimary(cfg);
  await serveRequests(cfg, 'single');
}

/** The data directory's layout, and what deleting repos left when a previous run was stopped halfway (src/services/repos.ts deleteRepo). */
function prepareDataDir(cfg: Config, log: Logger): void {
  fs.mkdirSync(path.join(cfg.dataDir, 'repos'), { recursive: true });
  fs.mkdirSync(path.join(cfg.dataDir, 'git-home'), { recursive: true });
  void fs.promises.rm(path.join(cfg.dataDir, 'trash'), { recursive: true, force: true }).catch((err) => log.warn({ err }, 'emptying the trash failed'));
}

/** The LFS store and its uploads, as every process that serves or sweeps them opens them; objects they link go to `conversions` (Xet). */
async function openLfs(cfg: Config, db: Db, log: Logger, conversions?: ConversionQueue) {
  // One key for every node on the database: what one signs, any other verifies.
  const signer = createSigner(await urlSigningKey(db, cfg.dataDir));
  const urls = createHubUrls(signer);
  const store = await createObjectStore(cfg, urls);
  // Objects uploaded through Xet are read from their xorbs, whether Xet uploads are on or off now.
  const xetReads = xetObjects(db, store);
  const transfers = createTransfers({ uploads: lfsUploads(db, conversions?.linked), store, urls, log, settings: cfg, xetObjects: xetReads });
  return { signer, urls, store, transfers, xetReads };
}

/**
 * What one `hubgate serve` does once, at its start: remove what earlier processes left (older
 * than this one), and read the cards of repos listings lack (a data directory from before
 * listings), in the background. The single process, or the primary before it forks its workers.
 */
function startUpWork(cfg: Config, db: Db, log: Logger, transfers: Transfers, conversions?: ConversionQueue): Promise<unknown> {
  const cleanUp = cleanUpAtStart({ db, dataDir: cfg.dataDir, log, startedAt: performance.timeOrigin, sweepUploads: (opts) => transfers.sweep(opts) });
  const listings = fillMissingListings(db, cfg.dataDir, log)
    .then((n) => n > 0 && log.info({ repos: n }, 'cards read for listings'))
    .catch((err) => log.warn({ err }, 'reading cards for listings failed'));
  // LFS objects Xet clients cannot read through Xet yet (linked before Xet, or while it was off) are queued for conversion.
  const converting = cfg.xet && cfg.xetConvert
    ? othersAtWork(db).catch(() => true)
      .then((busy) => conversionsAtStart(db, log, { startedAt: performance.timeOrigin, alone: !busy, queue: conversions }))
      .catch((err) => log.warn({ err }, 'queueing LFS objects for Xet conversion failed'))
    : undefined;
  return Promise.all([cleanUp, listings, converting]);
}

/**
 * The composition root of a process that serves requests (the single process, or a worker):
 * opens what the app needs, starts the background jobs (each claimed in the database, so one
 * process of all runs it), listens, and stops cleanly on a signal; returns its stop.
 */
async function serveRequests(cfg: Config, role: 'single' | 'worker'): Promise<{ stop: () => void; port: number }> {
  const single = role === 'single';
  const log = createLogger(cfg.logLevel);
  const { createApp, createLimits, repoGuard, redirectMoved, parseRepoPath, declaredLengthAtMost, baseUrlOf, metricsApp, lfsDeny, lfsRoutes } = await loadFrontEnd();
  if (single) prepareDataDir(cfg, log);
  const db = await openDatabase(cfg);
  // Known to the processes that start after it, here or on other machines: they leave its files alone.
  const presence = await startPresence(db, log);
  // Links in notification emails: the public URL, else the address we listen on (known after listen).
  let baseUrl = cfg.publicUrl ?? '';
  const mailer = createMailer(cfg);
  const notifier = createNotifier({ db, log, mailer, baseUrl: () => baseUrl });
  // Counted in each process and added to the database in batches (and at stop): increments add up across workers.
  const downloads = createDownloadCounter(db, log);
  // A worker's /metrics tells every worker's counts, gathered by the primary.
  const metrics = createMetrics(single ? undefined : clusterExposition);
  // LFS objects linked to repos are stored as Xet files too, in the background: one at a time per process.
  const conversions = cfg.xet && cfg.xetConvert ? createConversionQueue(db, log) : undefined;
  // After a push, in the process that served it; one job per repo at a time across processes (a lock file).
  const { signer, urls, store, transfers, xetReads } = await openLfs(cfg, db, log, conversions);
  // What /readyz checks, each within its deadline: every node answers for the shared parts it uses.
  const readiness = createReadiness({
    database: () => pingDatabase(db),
    objectStore: (signal) => store.ready(signal),
    repoStorage: () => checkWritableDir(path.join(cfg.dataDir, 'repos')),
  }, log);
  const ctx: AppContext = { cfg, db, log, metrics, maintenance: createMaintenance(gitEnv(cfg.dataDir), log), notifier, downloads, readiness };
  // LFS's ports: the pipeline's guard bound to LFS's denial renderer (and to a moved repo's redirect, which git-lfs follows), its rows, and the HTTP helpers it shares.
  const xet = cfg.xet
    ? createXetService({
      db, store, signer, maxFileSize: cfg.lfsMaxObjectSize,
      counters: { xorbBytesReceived: (n) => ctx.metrics.xetXorbBytesReceived.inc(n), xorbBytesStored: (n) => ctx.metrics.xetXorbBytesStored.inc(n) },
    })
    : undefined;
  const lfsPorts: LfsPorts = {
    guard: repoGuard(ctx, lfsDeny, redirectMoved(307)),
    locks: lfsLocks(db),
    links: lfsLinks(db),
    web: { baseUrl: (req) => baseUrlOf(cfg, req), parseRepoPath, declaredLengthAtMost },
    downloads: { count: (repoId, n) => downloads.count(repoId, n) },
    xetObjects: xetReads,
    // Upload batches offering the xet transfer go to the CAS: each object to send points at the repo's write-token route.
    xet: xet && {
      async uploadBatch(repoId, ref, baseUrl, objects) {
        const linked = await lfsUploads(db).linkedSizes(repoId, objects.map((o) => o.oid));
        const tokenRoute = `${baseUrl}/api/${TYPE_PLURAL[ref.type]}/${ref.namespace}/${ref.name}/xet-write-token/main`;
        return objects.map((o) => (linked.get(o.oid) === o.size ? o : { ...o, upload: tokenRoute }));
      },
    },
  };
  // Images of cards and blob pages are resolve URLs, which redirect to the store's own URLs (s3):
  // the pages' policy allows that origin, computed once here from the settings, never from a request.
  const downloadOrigin = await store.downloadOrigin?.();
  // One set of per-caller limits for the process: a caller's git processes count alike over HTTP and SSH.
  const limits = createLimits(cfg);
  const { app, classes } = createApp(ctx, { xet, routes: lfsRoutes({ store, signer, transfers, accelRedirect: cfg.accelRedirect && `${cfg.accelRedirect}lfs/` }, lfsPorts), store, transfers, downloadOrigin, signer, urls }, limits);
  // git over SSH (HUBGATE_SSH_PORT; 0: off), the same pipeline with a key's user as the caller.
  const ssh: SshServer | undefined = cfg.sshPort > 0
    ? createSshServer({
      cfg, db, log, metrics: ctx.metrics, maintenance: ctx.maintenance, limits, signer, baseUrl: () => baseUrl,
      keys: { userOfKey: (blob) => userOfSshKey(db, blob), userOfKeyId: (id) => userOfSshKeyId(db, id) },
    })
    : undefined;
  // Cleaning up after crashes and expiries: what earlier processes left, now (never in a worker:
  // the primary did it before forking); then a periodic sweep that one process runs for all.
  // Hashing that a crash stopped is also taken up once its claim lapses (CLAIM_SECONDS after the
  // crash, at the latest) by this process.
  if (single) void startUpWork(cfg, db, log, transfers, conversions);
  const housekeeping = startHousekeeping({
    db, dataDir: cfg.dataDir, log, startedAt: performance.timeOrigin, intervalMs: cfg.sweepIntervalMs,
    sweepUploads: (opts) => transfers.sweep(opts),
  });
  // LFS garbage collection by the server itself, when asked for (HUBGATE_LFS_GC_INTERVAL_MS): one process for all.
  const lfsGc = cfg.lfsGcIntervalMs > 0
    ? startPeriodicJob({
      db, log, name: 'lfs-gc', intervalMs: cfg.lfsGcIntervalMs, lastRunIfNew: Date.now(),
      run: async () => {
        const r = await collectLfsGarbage({ db, dataDir: cfg.dataDir, store, removeLeftovers: transfers.removeLeftovers, log }, { graceMs: cfg.lfsGcGraceMs });
        log.info({ objects: r.removed.length, bytes: r.bytes, staged: r.staging.staged, multipart: r.staging.multipart, keptNamed: r.keptNamed.length, xetFiles: r.xet.files, xetXorbs: r.xet.xorbs, xetBytes: r.xet.bytes }, 'LFS garbage collected');
      },
    })
    : undefined;
  setTimeout(() => void transfers.sweep().catch((err) => log.warn({ err }, 'sweeping LFS uploads failed')), (CLAIM_SECONDS + 1) * 1000).unref();
  const converter = conversions && startConverter({
    db, store, log, queue: conversions,
    settings: { maxSize: cfg.xetConvertMaxSize, maxTimeMs: cfg.xetConvertMaxTimeMs, bytesPerSecond: cfg.xetConvertRate },
    counters: { xorbBytesStored: (n) => ctx.metrics.xetXorbBytesStored.inc(n) },
  });

  // The network front ends every serving process runs, on ports the workers share (the primary
  // hands out connections in turn): HTTP here. The SSH server (HUBGATE_SSH_PORT) belongs next to
  // it: created, listened in the try below and added to `frontEnds` the same way, so each worker
  // serves SSH too and a stop drains its sessions with the HTTP requests.
  // Clones and pushes of large repos may take as long as they take (no request timeout); a body
  // that stops moving is cut by the app (HUBGATE_BODY_IDLE_TIMEOUT_MS), headers that never end here.
  const server = http.createServer({ requestTimeout: 0, headersTimeout: cfg.headersTimeoutMs, connectionsCheckingInterval: 1000, ...classes }, app);
  server.timeout = 0;
  // Idle keep-alive connections stay open a minute, not Node's 5 s: a client whose event loop is busy
  // (@huggingface/hub chunking a large file for Xet) may send its next request on a connection idle
  // for 5 s, and a POST on a connection the server has just closed fails (EPIPE), not retried.
  // Stops still close idle connections at once (drain below).
  server.keepAliveTimeout = 65_000;
  // Per process: with workers, each counts the connections it was handed.
  capConnectionsPerIp(server, cfg.maxConnectionsPerIp);
  const frontEnds: FrontEnd[] = [server];
  // A port in use or a bad host stops the start with one line naming the setting (ListenError).
  // With workers, the primary serves the metrics listener (every worker's metrics together).
  const metricsServer = single && cfg.metricsListen ? http.createServer(metricsApp(ctx)) : undefined;
  try {
    await listen(server, cfg.host, cfg.port, { host: 'HUBGATE_HOST', port: 'HUBGATE_PORT', hostFix: 'HUBGATE_HOST or --host', portFix: 'HUBGATE_PORT or --port' });
    if (metricsServer && cfg.metricsListen) await listenForMetrics(metricsServer, cfg.metricsListen, log);
    if (ssh) {
      await listen(ssh.tcp, cfg.sshHost, cfg.sshPort, { host: 'HUBGATE_SSH_HOST', port: 'HUBGATE_SSH_PORT', hostFix: 'HUBGATE_SSH_HOST', portFix: 'HUBGATE_SSH_PORT (0 turns SSH off)' });
      frontEnds.push(ssh.tcp);
      if (single) log.info({ host: cfg.sshHost, port: cfg.sshPort }, `git over SSH on ${cfg.sshHost}:${cfg.sshPort}`);
    }
  } catch (err) {
    server.close();
    ssh?.close();
    await housekeeping.stop();
    await downloads.stop();
    await lfsGc?.stop();
    await converter?.stop();
    await presence.stop();
    await db.destroy();
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;
  if (single) log.info({ url: `http://${cfg.host}:${port}`, dataDir: cfg.dataDir }, `hubgate listening on http://${cfg.host}:${port}`);
  baseUrl = cfg.publicUrl ?? listeningUrl(cfg.host, port);
  const digest = startDigest({ db, log, mailer, baseUrl: () => baseUrl, dataDir: cfg.dataDir, intervalMs: cfg.digestIntervalMs });
  if (single) log.info({ via: mailer.describe, links: baseUrl }, cfg.smtpUrl ? 'notifications are sent by SMTP' : 'notifications are written to the outbox file (set HUBGATE_SMTP_URL to send them)');

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down');
    // /readyz says so at once, so a load balancer stops sending work here; with
    // HUBGATE_SHUTDOWN_DELAY_MS requests are still served that long, while it notices.
    readiness.markStopping();
    // Then no new connections; requests and SSH sessions in flight (a push, a clone) finish, up
    // to HUBGATE_SHUTDOWN_TIMEOUT_MS; SSH connections still open then are ended.
    void new Promise((r) => setTimeout(r, cfg.shutdownDelayMs)).then(() => {
      if (metricsServer) metricsServer.close();
      return drain(frontEnds, cfg.shutdownTimeoutMs);
    }).then((all) => {
      if (!all) log.warn({ timeoutMs: cfg.shutdownTimeoutMs }, 'requests still in flight at the shutdown timeout were cut');
      ssh?.close();
      // Sends in progress get a few seconds to finish; a mail server that hangs does not hold up the exit.
      const notified = Promise.all([digest.stop(), housekeeping.stop(), lfsGc?.stop(), converter?.stop(), notifier.idle(), downloads.stop()]);
      return Promise.all([ctx.maintenance.idle(), Promise.race([notified, new Promise((r) => setTimeout(r, 5000).unref())])]);
    })
      .then(() => mailer.close())
      .then(() => presence.stop())
      .then(() => db.destroy())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return { stop, port };
}

/** A worker: serves until the primary tells it to stop (or it gets SIGTERM); a failed start is told to the primary, which reports it. */
async function serveAsWorker(cfg: Config): Promise<void> {
  let stop: (() => void) | undefined;
  // Told to stop while still starting: nothing is served yet.
  onStopRequest(() => (stop ? stop() : process.exit(0)));
  let port: number;
  try {
    ({ stop, port } = await serveRequests(cfg, 'worker'));
  } catch (err) {
    const message = (storageFault(err) ?? (err as Error))?.message ?? String(err);
    await reportStartFailure(message.split('\n')[0]);
    process.exit(1);
  }
  await reportReady(port);
}

/**
 * `hubgate serve --workers N`: migrations and the start-up cleanup once, here, before any worker
 * serves; then N workers (src/ops/primary.ts) and, with HUBGATE_METRICS_LISTEN, the metrics
 * listener with every worker's metrics. Resolves when all have stopped (SIGTERM, SIGINT);
 * rejects with one line when they cannot start (the same reason in every worker, told once) or
 * keep failing.
 */
async function runPrimary(cfg: Config): Promise<void> {
  const log = createLogger(cfg.logLevel);
  prepareDataDir(cfg, log);
  const db = await openDatabase(cfg);
  const { transfers } = await openLfs(cfg, db, log, cfg.xet && cfg.xetConvert ? createConversionQueue(db, log) : undefined);
  // Everything it removes was written before this process started, so before any worker existed.
  const startUp = startUpWork(cfg, db, log, transfers);
  // A stopping worker serves on for the shutdown delay, then drains: both count before the primary kills it.
  const primary = startWorkers({ workers: cfg.workers, log, shutdownTimeoutMs: cfg.shutdownDelayMs + cfg.shutdownTimeoutMs });
  const stop = () => {
    log.info('shutting down: telling the workers to stop');
    primary.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const metricsServer = cfg.metricsListen ? http.createServer((await import('./http/metrics.js')).metricsApp({ cfg, metrics: primary })) : undefined;
  const close = async () => {
    metricsServer?.close();
    // The start-up work gets a few seconds to end; what it has not done is done at the next start.
    await Promise.race([startUp, new Promise((r) => setTimeout(r, 5000).unref())]);
    await db.destroy();
  };
  try {
    const port = await primary.ready;
    // null: stopped (SIGTERM) before the workers served.
    if (port !== null && metricsServer && cfg.metricsListen) await listenForMetrics(metricsServer, cfg.metricsListen, log);
    if (port !== null) log.info({ url: `http://${cfg.host}:${port}`, dataDir: cfg.dataDir, workers: cfg.workers }, `hubgate listening on http://${cfg.host}:${port} with ${cfg.workers} workers`);
    await primary.finished;
  } catch (err) {
    primary.stop();
    await primary.finished.catch(() => {});
    await close();
    throw err;
  }
  await close();
  process.exit(0);
}

async function listenForMetrics(server: Server, at: { host: string; port: number }, log: Logger): Promise<void> {
  const settings = { host: 'HUBGATE_METRICS_LISTEN host', port: 'HUBGATE_METRICS_LISTEN port', hostFix: 'HUBGATE_METRICS_LISTEN', portFix: 'HUBGATE_METRICS_LISTEN' };
  await listen(server, at.host, at.port, settings);
  log.info({ url: `http://${at.host}:${at.port}/metrics` }, 'metrics are served on HUBGATE_METRICS_LISTEN only');
}

/** A listening server a stop drains: net.Server's close() (the callback once every connection has ended), and HTTP's idle keep-alive connections. */
interface FrontEnd {
  close(done: () => void): unknown;
  closeIdleConnections?(): void;
}

/**
 * Stops accepting connections and lets those open finish their request: idle ones are closed at
 * once, busy ones when their response has been sent. True when all ended within `timeoutMs`.
 */
function drain(servers: FrontEnd[], timeoutMs: number): Promise<boolean> {
  const closed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  const idle = setInterval(() => servers.forEach((s) => s.closeIdleConnections?.()), 100);
  servers.forEach((s) => s.closeIdleConnections?.());
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
  return Promise.race([closed.then(() => true), timedOut]).finally(() => {
    clearInterval(idle);
    clearTimeout(timer);
  });
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
