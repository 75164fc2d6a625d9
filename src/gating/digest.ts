import fs from 'node:fs';
import path from 'node:path';
import { type DigestItem, dueForDigest, markDigestSent } from '../db/access-requests.js';
import { findRepo } from '../db/repos.js';
import { repoIdOf } from '../domain/names.js';
import { type PeriodicJob, startPeriodicJob } from '../ops/jobs.js';
import { digestMessage } from './messages.js';
import { deliver, type NotifyDeps } from './notify.js';
import { authorRecipients } from './recipients.js';

// The daily digest: for repos whose notifications are "daily", one message per repo listing
// the pending requests that arrived since the last digest. Runs every HUBGATE_DIGEST_INTERVAL_MS
// (a day) as a job claimed in the database (src/ops/jobs.ts): however many processes share it,
// exactly one sends each digest, a restart neither sends a second one within the interval nor
// skips one that fell due while hubgate was down, and the first is a full interval after the first start.

/** Where versions before the jobs table kept the time of the last digest; imported once, then removed. */
const LEGACY_STATE_FILE = 'digest-state.json';

export function startDigest(deps: NotifyDeps & { dataDir: string; intervalMs: number }): PeriodicJob {
  const legacyFile = path.join(deps.dataDir, LEGACY_STATE_FILE);
  const legacyLastRun = readLegacyLastRun(legacyFile);
  return startPeriodicJob({
    db: deps.db,
    log: deps.log,
    name: 'digest',
    intervalMs: deps.intervalMs,
    lastRunIfNew: legacyLastRun !== null && legacyLastRun <= Date.now() ? legacyLastRun : Date.now(),
    onAdded: () => {
      fs.promises.rm(legacyFile, { force: true }).catch((err) => deps.log.warn({ err }, `could not remove ${LEGACY_STATE_FILE}, which is no longer used`));
    },
    run: () => sendDigests(deps),
  });
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

function readLegacyLastRun(file: string): number | null {
  try {
    const at = Date.parse((JSON.parse(fs.readFileSync(file, 'utf8')) as { lastRun?: string }).lastRun ?? '');
    return Number.isNaN(at) ? null : at;
  } catch {
    return null;
  }
}
