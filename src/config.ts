import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from './util/duration.js';

// Settings come from flags, then HUBGATE_* environment variables, then defaults; all are validated here.

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const bytes = z.coerce.number().int().positive();
/** 0 means no limit. */
const count = z.coerce.number().int().min(0);
const millis = z.coerce.number().int().min(0).max(2 ** 31 - 1);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
/** `host:port` (`[v6]:port`), for a second listener. */
const hostPort = z.string().transform((s, ctx) => {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(s);
  if (m && Number(m[3]) >= 1 && Number(m[3]) <= 65535) return { host: m[1] ?? m[2], port: Number(m[3]) };
  ctx.addIssue({ code: 'custom', message: `"${s.slice(0, 100)}" is not host:port: use an address and a port such as 127.0.0.1:9100 (or [::1]:9100)` });
  return z.NEVER;
});

/** A PostgreSQL connection URL (the password, if in it, is never shown back). */
const postgresUrl = z.string().refine((s) => /^postgres(ql)?:\/\/[^\s]+$/.test(s) && URL.canParse(s), {
  message: 'use a postgres:// URL, such as postgres://hubgate:PASSWORD@db.example.com:5432/hubgate (unset: SQLite in the data directory)',
});
const poolSize = z.coerce.number().int().min(1, 'use at least 1').max(1000, 'use at most 1000');

const schema = z.object({
  dataDir: z.string().min(1),
  databaseUrl: postgresUrl.optional(),
  databasePoolSize: poolSize,
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  lfsStore: z.enum(['fs', 's3']),
  s3Bucket: z.string().min(3).optional(),
  s3Endpoint: z.url({ protocol: /^https?$/ }).optional(),
  s3Region: z.string().min(1),
  s3ForcePathStyle: bool,
  s3Prefix: z.string().regex(/^([A-Za-z0-9._-]+\/)*$/, 'use path segments ending in "/", such as "lfs/"'),
  multipartThreshold: bytes,
  multipartChunk: bytes.min(5 * MiB, 'S3 needs parts of at least 5 MiB (5242880 bytes)'),
  maxFileSize: bytes,
  webUploadMaxBytes: bytes,
  webUploadMaxFiles: z.coerce.number().int().min(1).max(10_000),
  corsOrigins: z
    .string()
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s*,]+$/, 'use origins such as https://app.example.com (scheme, host and port only), separated by commas'))),
  smtpUrl: z.url({ protocol: /^smtps?$/, message: 'use an smtp:// or smtps:// URL, such as smtp://user:password@mail.example.com:587' }).optional(),
  smtpFrom: z.email({ message: 'use an email address such as hubgate@example.com' }).optional(),
  digestIntervalMs: z.coerce.number().int().min(100).max(2 ** 31 - 1),
  bodyIdleTimeoutMs: millis,
  headersTimeoutMs: millis.min(1000, 'give clients at least 1000 ms to send their headers'),
  gitProcessesPerCaller: count,
  apiRequestsPerMinute: count,
  validateYamlPerMinute: count,
  maxConnectionsPerIp: count,
  gitRequestsPerMinute: count,
  gitSlotWaitMs: millis,
  sweepIntervalMs: z.coerce.number().int().min(100).max(2 ** 31 - 1),
  lfsMaxObjectSize: bytes,
  lfsFsync: bool,
  s3TimeoutMs: z.coerce.number().int().min(100).max(10 * 60 * 1000),
  lfsGcGraceMs: z.string().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms !== null) return ms;
    ctx.addIssue({ code: 'custom', message: `"${s.slice(0, 100)}" is not a duration: use a number and a unit, such as 24h, 30m, 7d (or 0)` });
    return z.NEVER;
  }),
  lfsGcIntervalMs: millis,
  metricsToken: z
    .string()
    .min(16, 'use at least 16 characters, such as the output of `openssl rand -hex 32`')
    .regex(/^[\x21-\x7e]+$/, 'use printable ASCII characters without spaces')
    .optional(),
  metricsListen: hostPort.optional(),
  workers: z.coerce.number().int().min(1, 'use at least 1 (1: one process, no primary)').max(256, 'use at most 256'),
  shutdownTimeoutMs: millis,
  shutdownDelayMs: millis,
  blobCacheSize: count,
  accelRedirect: z
    .string()
    .regex(/^\/(?:[A-Za-z0-9._~-]+\/)*$/, 'use a path of the proxy\'s internal location that starts and ends with "/", such as /internal/')
    .optional(),
  sshPort: z.coerce.number().int().min(0).max(65535),
  sshHost: z.string().min(1).optional(),
  sshPublicUrl: z
    .string()
    .regex(/^ssh:\/\/([A-Za-z0-9._~-]+@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?\/?$/, 'use an ssh:// URL with a host and an optional user and port, such as ssh://git@hub.example.com:2222')
    .optional(),
  sshIdleTimeoutMs: millis.min(1000, 'give SSH sessions at least 1000 ms'),
  sshMaxConnectionsPerIp: count,
  sshMaxConnections: count,
  xet: z.enum(['on', 'off'], { message: 'use on or off' }).transform((v) => v === 'on'),
  xetConvert: z.enum(['on', 'off'], { message: 'use on or off' }).transform((v) => v === 'on'),
  xetConvertMaxSize: bytes,
  xetConvertMaxTimeMs: z.string().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms !== null && ms > 0) return ms;
    ctx.addIssue({ code: 'custom', message: `"${s.slice(0, 100)}" is not a duration: use a number and a unit, such as 6h, 30m` });
    return z.NEVER;
  }),
  xetConvertRate: count,
});

type Parsed = z.infer<typeof schema>;
export type Config = Readonly<Omit<Parsed, 'sshHost'> & { sshHost: string }>;

export const SETTINGS: Record<keyof Parsed, { env: string; flag?: string; fallback?: string }> = {
  dataDir: { env: 'HUBGATE_DATA_DIR', flag: '--data', fallback: './data' },
  // The metadata's database: PostgreSQL at this URL, through a pool of this many connections per
  // process; unset, the SQLite file in the data directory.
  databaseUrl: { env: 'HUBGATE_DATABASE_URL' },
  databasePoolSize: { env: 'HUBGATE_DATABASE_POOL_SIZE', fallback: '10' },
  host: { env: 'HUBGATE_HOST', flag: '--host', fallback: '127.0.0.1' },
  port: { env: 'HUBGATE_PORT', flag: '--port', fallback: '8080' },
  publicUrl: { env: 'HUBGATE_PUBLIC_URL', flag: '--public-url' },
  logLevel: { env: 'HUBGATE_LOG_LEVEL', fallback: 'info' },
  lfsStore: { env: 'HUBGATE_LFS_STORE', fallback: 'fs' },
  s3Bucket: { env: 'HUBGATE_S3_BUCKET' },
  s3Endpoint: { env: 'HUBGATE_S3_ENDPOINT' },
  s3Region: { env: 'HUBGATE_S3_REGION', fallback: 'us-east-1' },
  s3ForcePathStyle: { env: 'HUBGATE_S3_FORCE_PATH_STYLE', fallback: 'false' },
  s3Prefix: { env: 'HUBGATE_S3_PREFIX', fallback: 'lfs/' },
  multipartThreshold: { env: 'HUBGATE_LFS_MULTIPART_THRESHOLD', fallback: String(5 * GiB) },
  multipartChunk: { env: 'HUBGATE_LFS_MULTIPART_CHUNK', fallback: String(512 * MiB) },
  maxFileSize: { env: 'HUBGATE_MAX_FILE_SIZE', fallback: String(10 * 1000 * 1000) },
  // Uploads from the web pages (/{repo}/upload/...): all the files of one form together, and how many.
  webUploadMaxBytes: { env: 'HUBGATE_WEB_UPLOAD_MAX_BYTES', fallback: String(5 * GiB) },
  webUploadMaxFiles: { env: 'HUBGATE_WEB_UPLOAD_MAX_FILES', fallback: '100' },
  // Origins whose browser code may call the API with credentials; every other origin gets CORS without them.
  corsOrigins: { env: 'HUBGATE_CORS_ORIGINS', fallback: '' },
  smtpUrl: { env: 'HUBGATE_SMTP_URL' },
  smtpFrom: { env: 'HUBGATE_SMTP_FROM' },
  // How often the "daily" digest of access requests goes out; shorter only for tests.
  digestIntervalMs: { env: 'HUBGATE_DIGEST_INTERVAL_MS', fallback: String(24 * 60 * 60 * 1000) },
  // Abuse and fault limits (src/http/limits.ts, src/http/request-body.ts); 0 turns one off.
  bodyIdleTimeoutMs: { env: 'HUBGATE_BODY_IDLE_TIMEOUT_MS', fallback: '60000' },
  headersTimeoutMs: { env: 'HUBGATE_HEADERS_TIMEOUT_MS', fallback: '20000' },
  gitProcessesPerCaller: { env: 'HUBGATE_GIT_PROCESSES_PER_CALLER', fallback: '8' },
  apiRequestsPerMinute: { env: 'HUBGATE_API_REQUESTS_PER_MINUTE', fallback: '1200' },
  validateYamlPerMinute: { env: 'HUBGATE_VALIDATE_YAML_PER_MINUTE', fallback: '30' },
  maxConnectionsPerIp: { env: 'HUBGATE_MAX_CONNECTIONS_PER_IP', fallback: '0' },
  gitRequestsPerMinute: { env: 'HUBGATE_GIT_REQUESTS_PER_MINUTE', fallback: '300' },
  gitSlotWaitMs: { env: 'HUBGATE_GIT_SLOT_WAIT_MS', fallback: '20000' },
  // How often the housekeeping sweep runs (one process for all); shorter only for tests.
  sweepIntervalMs: { env: 'HUBGATE_SWEEP_INTERVAL_MS', fallback: String(10 * 60 * 1000) },
  // The largest LFS object a batch accepts: S3's own limit for one object, 5 TiB.
  lfsMaxObjectSize: { env: 'HUBGATE_LFS_MAX_OBJECT_SIZE', fallback: String(5 * 1024 * GiB) },
  // Whether the fs store syncs an uploaded object to disk (one fsync) before it is kept; off only where losing uploads of the last seconds in a power cut is acceptable.
  lfsFsync: { env: 'HUBGATE_LFS_FSYNC', fallback: 'true' },
  // How long an S3 connection may take to open, and a request may stay silent, before it is given up.
  s3TimeoutMs: { env: 'HUBGATE_S3_TIMEOUT_MS', fallback: '15000' },
  // LFS garbage collection (src/services/lfs-gc.ts): how long an object stays after its last link
  // goes, and how often the server collects by itself (0: never; run `hubgate lfs gc`).
  lfsGcGraceMs: { env: 'HUBGATE_LFS_GC_GRACE', fallback: '24h' },
  lfsGcIntervalMs: { env: 'HUBGATE_LFS_GC_INTERVAL_MS', fallback: '0' },
  // Who may read /metrics: a bearer token, and/or only a separate address (then not the main one).
  metricsToken: { env: 'HUBGATE_METRICS_TOKEN' },
  metricsListen: { env: 'HUBGATE_METRICS_LISTEN' },
  // Worker processes serving requests (src/ops/primary.ts): one per CPU by default; 1 is a single
  // process. On SIGTERM requests in flight get shutdownTimeoutMs to finish.
  workers: { env: 'HUBGATE_WORKERS', flag: '--workers', fallback: String(os.availableParallelism()) },
  shutdownTimeoutMs: { env: 'HUBGATE_SHUTDOWN_TIMEOUT_MS', fallback: '30000' },
  // Behind a load balancer that polls /readyz: how long a stopping node keeps serving (and
  // answering /readyz with 503) before it stops accepting connections.
  shutdownDelayMs: { env: 'HUBGATE_SHUTDOWN_DELAY_MS', fallback: '0' },
  // Git files over 64 KiB are served from a copy per blob under DATA/cache/blobs (src/git/blob-cache.ts), at most this many bytes in all; 0: off.
  blobCacheSize: { env: 'HUBGATE_BLOB_CACHE_SIZE', fallback: String(GiB) },
  // Behind nginx: file bodies are sent by the proxy (X-Accel-Redirect to this internal location), hubgate only authorises.
  accelRedirect: { env: 'HUBGATE_ACCEL_REDIRECT' },
  // git over SSH (src/ssh/): the port (0: off), the address (default HUBGATE_HOST), the clone URL
  // prefix the pages show (default ssh://git@HOST:PORT from the public URL's host), and its limits.
  sshPort: { env: 'HUBGATE_SSH_PORT', fallback: '2222' },
  sshHost: { env: 'HUBGATE_SSH_HOST' },
  sshPublicUrl: { env: 'HUBGATE_SSH_PUBLIC_URL' },
  sshIdleTimeoutMs: { env: 'HUBGATE_SSH_IDLE_TIMEOUT_MS', fallback: '600000' },
  sshMaxConnectionsPerIp: { env: 'HUBGATE_SSH_MAX_CONNECTIONS_PER_IP', fallback: '20' },
  sshMaxConnections: { env: 'HUBGATE_SSH_MAX_CONNECTIONS', fallback: '500' },
  // Xet storage (docs/xet.md): token endpoints, the CAS under /cas, resolve's Xet headers, the LFS batch's xet transfer.
  xet: { env: 'HUBGATE_XET', fallback: 'on' },
  // Storing LFS objects (git-lfs pushes, web uploads, files from before Xet) as Xet files too, in
  // the background (src/services/xet-convert.ts): on or off; the largest object converted; the
  // longest one conversion may take; its read rate in bytes per second (0: as fast as it goes).
  xetConvert: { env: 'HUBGATE_XET_CONVERT', fallback: 'on' },
  xetConvertMaxSize: { env: 'HUBGATE_XET_CONVERT_MAX_SIZE', fallback: String(20 * GiB) },
  xetConvertMaxTimeMs: { env: 'HUBGATE_XET_CONVERT_MAX_TIME', fallback: '6h' },
  xetConvertRate: { env: 'HUBGATE_XET_CONVERT_RATE', fallback: '0' },
};

export class ConfigError extends Error {}

export function loadConfig(flags: Partial<Record<keyof Parsed, string | undefined>>, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string | undefined> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [keyof Parsed, (typeof SETTINGS)[keyof Parsed]][]) {
    raw[key] = flags[key] ?? (env[s.env] || undefined) ?? s.fallback;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const s = SETTINGS[issue.path[0] as keyof Parsed];
    throw new ConfigError(`invalid setting ${s.env}${s.flag ? ` (${s.flag})` : ''}: ${issue.message}`);
  }
  const cfg = parsed.data;
  if (cfg.lfsStore === 's3' && !cfg.s3Bucket) throw new ConfigError('HUBGATE_LFS_STORE=s3 needs HUBGATE_S3_BUCKET');
  if (cfg.metricsListen?.port === cfg.port) throw new ConfigError(`HUBGATE_METRICS_LISTEN needs a port of its own: ${cfg.port} is HUBGATE_PORT's`);
  if (cfg.sshPort !== 0 && cfg.sshPort === cfg.port) throw new ConfigError(`HUBGATE_SSH_PORT needs a port of its own: ${cfg.port} is HUBGATE_PORT's (0 turns SSH off)`);
  return Object.freeze({
    ...cfg,
    dataDir: path.resolve(cfg.dataDir),
    publicUrl: cfg.publicUrl?.replace(/\/+$/, ''),
    sshHost: cfg.sshHost ?? cfg.host,
    sshPublicUrl: cfg.sshPublicUrl?.replace(/\/+$/, ''),
  });
}

/** Where the metadata is: the data directory and the database settings. */
export interface DatabaseSettings {
  dataDir: string;
  databaseUrl?: string;
  databasePoolSize: number;
}

/**
 * The data directory and the database, for admin commands and the git hooks (which do not
 * serve): the same settings and checks as `serve`'s.
 */
export function databaseFrom(dataDirFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): DatabaseSettings {
  const dataDir = dataDirFrom(dataDirFlag, env);
  const parsed = z.object({ databaseUrl: postgresUrl.optional(), databasePoolSize: poolSize }).safeParse({
    databaseUrl: env[SETTINGS.databaseUrl.env] || undefined,
    databasePoolSize: env[SETTINGS.databasePoolSize.env] || SETTINGS.databasePoolSize.fallback,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`invalid setting ${SETTINGS[issue.path[0] as keyof Parsed].env}: ${issue.message}`);
  }
  return { dataDir, ...parsed.data };
}

/** Only the data directory, for admin commands that do not serve. */
export function dataDirFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? (env.HUBGATE_DATA_DIR || SETTINGS.dataDir.fallback!));
}
