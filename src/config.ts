import path from 'node:path';
import { z } from 'zod';

// Settings come from flags, then HUBGATE_* environment variables, then defaults; all are validated here.

const schema = z.object({
  dataDir: z.string().min(1),
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
});

export type Config = z.infer<typeof schema> & { publicUrl?: string };

const ENV_OF: Record<keyof z.infer<typeof schema>, string> = {
  dataDir: 'HUBGATE_DATA_DIR',
  host: 'HUBGATE_HOST',
  port: 'HUBGATE_PORT',
  publicUrl: 'HUBGATE_PUBLIC_URL',
  logLevel: 'HUBGATE_LOG_LEVEL',
};

export class ConfigError extends Error {}

export function loadConfig(flags: Partial<Record<keyof Config, string | undefined>>, env: NodeJS.ProcessEnv = process.env): Config {
  const pick = (key: keyof Config) => flags[key] ?? (env[ENV_OF[key]] || undefined);
  const parsed = schema.safeParse({
    dataDir: pick('dataDir') ?? './data',
    host: pick('host') ?? '127.0.0.1',
    port: pick('port') ?? '8080',
    publicUrl: pick('publicUrl'),
    logLevel: pick('logLevel') ?? 'info',
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path[0] as keyof Config;
    throw new ConfigError(`invalid setting ${ENV_OF[key]} (--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}): ${issue.message}`);
  }
  const cfg = parsed.data;
  return Object.freeze({ ...cfg, dataDir: path.resolve(cfg.dataDir), publicUrl: cfg.publicUrl?.replace(/\/+$/, '') });
}

/** Only the data directory, for admin commands that do not serve. */
export function dataDirFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? (env.HUBGATE_DATA_DIR || './data'));
}
