import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import type { User } from '../domain/types.js';
import type { ClaimSigner } from '../identity/lfs-ssh-token.js';
import type { Metrics } from '../ops/metrics.js';
import type { ConcurrencyLimit, RateLimit } from '../util/rate-limits.js';

/** What the SSH front end is given by the composition root (src/server.ts). */
export interface SshContext {
  cfg: Config;
  db: Db;
  log: Logger;
  metrics: Metrics;
  /** Background git maintenance after pushes (src/git/maintenance.ts). */
  maintenance: { schedule(dir: string): void };
  /** The process's per-caller git limits, shared with HTTP. */
  limits: { gitProcesses: ConcurrencyLimit; gitRequests: RateLimit };
  /** Signs the tokens git-lfs-authenticate hands out. */
  signer: ClaimSigner;
  /** Where users reach hubgate over HTTP (the public URL, else the address listened on). */
  baseUrl: () => string;
  /** Who a key belongs to (services/ssh-keys.ts): at authentication by the key, at every command by its id. */
  keys: {
    userOfKey(blob: Buffer): Promise<{ keyId: number; user: User } | undefined>;
    userOfKeyId(keyId: number): Promise<User | undefined>;
  };
}
