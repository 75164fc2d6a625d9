import type { Request } from 'express';
import type { Config } from '../config.js';

/** The public base URL, for links hubgate hands out: HUBGATE_PUBLIC_URL, else the request's own host. */
export function baseUrlOf(cfg: Pick<Config, 'publicUrl'>, req: Request): string {
  return cfg.publicUrl ?? `${req.protocol}://${req.get('host')}`;
}
