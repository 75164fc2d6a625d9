import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import type { RepoRef } from '../domain/names.js';
import type { Caller } from '../identity/identify.js';
import type { Metrics } from '../ops/metrics.js';
import type { Readiness } from '../ops/readiness.js';
import type { DownloadCounter } from '../services/listing.js';
import type { Notifier } from '../services/ports.js';
import type { AuthorizedOrg, AuthorizedRepo } from './authorize.js';

/** Background git maintenance after writes (implemented by src/git/maintenance.ts). */
export interface RepoMaintenance {
  /** Asks for maintenance of the repo at `dir` soon; returns at once. */
  schedule(dir: string): void;
  /** Resolves once no maintenance is running (for a clean shutdown). */
  idle(): Promise<void>;
}

/** What every router is given: built once by the composition root (src/server.ts). */
export interface AppContext {
  cfg: Config;
  db: Db;
  log: Logger;
  metrics: Metrics;
  maintenance: RepoMaintenance;
  notifier: Notifier;
  /** Downloads per repo (resolve GETs, LFS batch downloads), written in batches. */
  downloads: DownloadCounter;
  /** What /readyz answers: the database, the object store and the repos' storage, or that this node is stopping. */
  readiness: Readiness;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      caller: Caller;
      /** Route label for metrics, set by the router that handled the request. */
      route?: string;
      /** The repo the path names, as the caller spelled it: parsed by the surface, before its guard. */
      repoRef?: RepoRef;
      /** Set by the route's guard (src/http/authorize.ts) when the caller may do the route's action. */
      repo?: AuthorizedRepo;
      /** The organization the path names, as spelled, for the org guard; then what the guard allowed. */
      orgName?: string;
      org?: AuthorizedOrg;
    }
  }
}
