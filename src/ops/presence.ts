import crypto from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { announceNode, forgetNode, forgetNodesSeenBefore, nodesSeenSince } from '../db/nodes.js';
import { processAlive } from '../util/process-alive.js';

// Which serving processes are at work, on this machine or others sharing the database and the
// data directory. Each serving process renews its row every RENEW_MS; one not renewed for
// ALIVE_MS has died. A process starting asks before it removes what earlier processes left on
// the shared disk: while others work, a file written before its start may be theirs and live.

const RENEW_MS = 20_000;
/** A row renewed within this long is a live process (two missed renewals, and clocks a little apart). */
export const ALIVE_MS = 60_000;

export interface Presence {
  /** Stops renewing and removes this process's row. */
  stop(): Promise<void>;
}

/** Announces this serving process and keeps its row renewed until stop(). */
export async function startPresence(db: Db, log: Logger): Promise<Presence> {
  const now = () => new Date().toISOString();
  const node = { id: crypto.randomUUID(), hostname: os.hostname(), pid: process.pid, startedAt: now(), seenAt: now() };
  await announceNode(db, node);
  const timer = setInterval(() => {
    void announceNode(db, { ...node, seenAt: now() }).catch((err) => log.warn({ err }, 'renewing this process\'s presence in the database failed'));
    // Rows of processes that died without removing theirs: any process clears them.
    void forgetNodesSeenBefore(db, new Date(Date.now() - 10 * ALIVE_MS).toISOString()).catch(() => {});
  }, RENEW_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await forgetNode(db, node.id).catch((err) => log.warn({ err }, 'removing this process\'s presence from the database failed'));
    },
  };
}

/**
 * Whether a serving process other than this one may be at work now: a row renewed within
 * ALIVE_MS, unless it is of this machine and its pid is gone (a crash before this start), or is
 * this very pid (a restart that got the same pid, as pid 1 in a container).
 */
export async function othersAtWork(db: Db): Promise<boolean> {
  const host = os.hostname();
  const seen = await nodesSeenSince(db, new Date(Date.now() - ALIVE_MS).toISOString());
  return seen.some((n) => n.hostname !== host || (n.pid !== process.pid && processAlive(n.pid)));
}
