import os from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { RepoWithOwner } from '../db/repos.js';
import { repoIdOf } from '../domain/names.js';
import type { Notifier } from '../services/ports.js';
import type { Mailer } from './mailer.js';
import { type Message, requestCreatedMessage, requestDecidedMessage } from './messages.js';
import { authorRecipients } from './recipients.js';

/** Tells no one (for code paths that have no mailer). */
export const silentNotifier: Notifier = {
  requestCreated() {},
  requestDecided() {},
};

export interface MailingNotifier extends Notifier {
  /** Resolves once every send started so far has finished (for a clean shutdown). */
  idle(): Promise<void>;
}

export interface NotifyDeps {
  db: Db;
  log: Logger;
  mailer: Mailer;
  /** hubgate's public URL, for links in messages; read when a message is written. */
  baseUrl: () => string;
}

/**
 * Sends `message` to each recipient separately; resolves to how many were handed over.
 * Never rejects: failures are logged without addresses or credentials.
 */
export async function deliver(deps: Pick<NotifyDeps, 'log' | 'mailer'>, to: string[], message: Message, about: Record<string, unknown>): Promise<number> {
  let sent = 0;
  for (const address of to) {
    try {
      await deps.mailer.send({ to: address, ...message });
      sent++;
    } catch (err) {
      const e = err as { code?: string; responseCode?: number; message?: string };
      deps.log.warn({ ...about, via: deps.mailer.describe, code: e.code, responseCode: e.responseCode, error: e.message }, 'sending a notification failed');
    }
  }
  if (sent > 0) deps.log.info({ ...about, via: deps.mailer.describe, recipients: sent }, 'notification sent');
  return sent;
}

export function createNotifier(deps: NotifyDeps): MailingNotifier {
  const inFlight = new Set<Promise<unknown>>();
  const background = (what: string, repo: RepoWithOwner, work: () => Promise<unknown>) => {
    const p = work()
      .catch((err) => deps.log.error({ err, repo: repoIdOf(repo), notification: what }, 'preparing a notification failed'))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  return {
    requestCreated(repo, request) {
      // Daily repos hear about it in the digest (src/gating/digest.ts).
      if (request.status !== 'pending' || repo.notifyFrequency !== 'instant') return;
      background('request-created', repo, async () => {
        const about = { notification: 'request-created', repo: repoIdOf(repo), user: request.user.name };
        const to = await authorRecipients(deps.db, repo);
        if (to.length === 0) {
          deps.log.info(about, 'no one to notify of the access request: set a notifications email on the repo');
          return;
        }
        await deliver(deps, to, requestCreatedMessage(deps.baseUrl(), repo, request), about);
      });
    },
    requestDecided(repo, request) {
      const message = requestDecidedMessage(deps.baseUrl(), repo, request);
      const email = request.user.email;
      if (!message || !email) return;
      background('request-decided', repo, () =>
        deliver(deps, [email], message, { notification: `request-${request.status}`, repo: repoIdOf(repo), user: request.user.name }),
      );
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * Where links point when HUBGATE_PUBLIC_URL is not set: the address hubgate listens on,
 * with this machine's name in place of a wildcard address.
 */
export function listeningUrl(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' || host === '' ? os.hostname() || 'localhost' : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}
