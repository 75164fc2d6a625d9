import fs from 'node:fs';
import path from 'node:path';
import { type DigestItem, dueForDigest, markDigestSent } from '../db/access-requests.js';
import { findRepo } from '../db/repos.js';
import { repoIdOf } from '../domain/names.js';
import { digestMessage } from './messages.js';
import { deliver, type NotifyDeps } from './notify.js';
import { authorRecipients } from './recipients.js';

// The daily digest: for repos whose notifications are "daily", one message per repo listing
// the pending requests that arrived since the last digest. Runs every HUBGATE_DIGEST_INTERVAL_MS
// (a day); the time of the last run is kept in the data directory, so a restart neither sends
// a second digest the same day nor skips one that fell due while hubgate was down.

export const DIGEST_STATE_FILE = 'digest-state.json';

export interface DigestScheduler {
  /** Stops the timer; resolves once a run in progress has finished. */
  stop(): Promise<void>;
}

export function startDigest(deps: NotifyDeps & { dataDir: string; intervalMs: number }): DigestScheduler {
  const stateFile = path.join(deps.dataDir, DIGEST_STATE_FILE);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(tick, Math.min(Math.max(delay, 0), deps.intervalMs));
    timer.unref();
  };
  const tick = () => {
    const startedAt = Date.now();
    writeLastRun(stateFile, startedAt, deps);
    running = sendDigests(deps)
      .catch((err) => deps.log.error({ err }, 'sending the daily digest failed'))
      .finally(() => schedule(startedAt + deps.intervalMs - Date.now()));
  };

  // The first run ever is a full interval away; after a restart, the one that is due.
  let lastRun = readLastRun(stateFile);
  if (lastRun === null || lastRun > Date.now()) {
    lastRun = Date.now();
    writeLastRun(stateFile, lastRun, deps);
  }
  schedule(lastRun + deps.intervalMs - Date.now());

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** One message per repo with due requests; a repo's flags are cleared only once its digest was handed over. */
export async function sendDigests(deps: NotifyDeps): Promise<void> {
  const byRepo = new Map<number, DigestItem[]>();
  for (const item of await dueForDigest(deps.db)) {
    const items = byRepo.get(item.repo.id) ?? [];
    items.push(item);
    byRepo.set(item.repo.id, items);
  }
  for (const items of byRepo.values()) {
    const { type, namespace, name } = items[0].repo;
    const sent = items.map((i) => ({ repoId: i.repo.id, userId: i.request.user.id }));
    const repo = await findRepo(deps.db, type, namespace, name);
    const about = { notification: 'digest', repo: repoIdOf(items[0].repo), requests: items.length };
    if (!repo || !repo.gated) {
      // Gating was turned off meanwhile: there is nothing to review any more.
      await markDigestSent(deps.db, sent);
      continue;
    }
    const to = await authorRecipients(deps.db, repo);
    if (to.length === 0) {
      deps.log.info(about, 'no one to send the access-request digest to: set a notifications email on the repo');
      await markDigestSent(deps.db, sent);
      continue;
    }
    const delivered = await deliver(deps, to, digestMessage(deps.baseUrl(), repo, items.map((i) => i.request)), about);
    // Nobody got it (mail server down): the requests wait for the next digest.
    if (delivered > 0) await markDigestSent(deps.db, sent);
  }
}

function readLastRun(file: string): number | null {
  try {
    const at = Date.parse((JSON.parse(fs.readFileSync(file, 'utf8')) as { lastRun?: string }).lastRun ?? '');
    return Number.isNaN(at) ? null : at;
  } catch {
    return null;
  }
}

function writeLastRun(file: string, at: number, deps: Pick<NotifyDeps, 'log'>): void {
  try {
    fs.writeFileSync(file, `${JSON.stringify({ lastRun: new Date(at).toISOString() })}\n`);
  } catch (err) {
    deps.log.warn({ err }, 'could not record the time of the daily digest');
  }
}
