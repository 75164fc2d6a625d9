import type { Request } from 'express';
import type { Config } from '../config.js';

/** The public base URL, for links hubgate hands out: HUBGATE_PUBLIC_URL, else the request's own host. */
export function baseUrlOf(cfg: Pick<Config, 'publicUrl'>, req: Request): string {
  return cfg.publicUrl ?? `${req.protocol}://${req.get('host')}`;
}

/**
 * The SSH clone URL prefix the pages show (`ssh://git@host:2222`), or null when SSH is off:
 * HUBGATE_SSH_PUBLIC_URL, else the public URL's host (or the request's) with HUBGATE_SSH_PORT.
 */
export function sshBaseUrlOf(cfg: Pick<Config, 'publicUrl' | 'sshPort' | 'sshPublicUrl'>, req: Request): string | null {
  if (cfg.sshPort === 0) return null;
  if (cfg.sshPublicUrl) return cfg.sshPublicUrl;
  const host = cfg.publicUrl ? new URL(cfg.publicUrl).hostname : req.hostname;
  return `ssh://git@${host}:${cfg.sshPort}`;
}
