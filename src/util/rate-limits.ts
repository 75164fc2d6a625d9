// Per-key limits (keys are callers: a user, or an IP address), kept in this process: how many
// things run at once, and how many start per minute. The front ends (HTTP, SSH) count their
// callers' git processes in the same instances, so one caller's slots are the same on both.

/**
 * At most `max` at a time per key (0: unlimited). A caller at its limit may wait a bounded time
 * for a slot, first come first served, so a burst (a CI farm behind one address cloning at once)
 * queues for a moment instead of failing, while a caller holding its slots for long still gets 429.
 */
export class ConcurrencyLimit {
  private readonly inUse = new Map<string, number>();
  private readonly waiting = new Map<string, ((release: () => void) => void)[]>();

  constructor(readonly max: number) {}

  /** A release function (call it once the work is done; later calls do nothing), or null when the key is at its limit. */
  acquire(key: string): (() => void) | null {
    if (this.max <= 0) return () => {};
    const n = this.inUse.get(key) ?? 0;
    if (n >= this.max) return null;
    this.inUse.set(key, n + 1);
    return this.releaser(key);
  }

  /** As acquire, but waits up to `waitMs` for a slot (null if none came); `signal` gives up the wait. */
  acquireWithin(key: string, waitMs: number, signal?: AbortSignal): Promise<(() => void) | null> {
    const now = this.acquire(key);
    if (now || waitMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const queue = this.waiting.get(key) ?? [];
      this.waiting.set(key, queue);
      const giveUp = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        const i = queue.indexOf(handOver);
        if (i >= 0) queue.splice(i, 1);
        if (queue.length === 0 && this.waiting.get(key) === queue) this.waiting.delete(key);
        resolve(null);
      };
      const handOver = (release: () => void) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        resolve(release);
      };
      const timer = setTimeout(giveUp, waitMs);
      signal?.addEventListener('abort', giveUp, { once: true });
      queue.push(handOver);
    });
  }

  private releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot goes straight to the first caller waiting for it, if any.
      const queue = this.waiting.get(key);
      const next = queue?.shift();
      if (queue && queue.length === 0) this.waiting.delete(key);
      if (next) return next(this.releaser(key));
      const left = (this.inUse.get(key) ?? 1) - 1;
      if (left > 0) this.inUse.set(key, left);
      else this.inUse.delete(key);
    };
  }
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * At most `perMinute` requests per key per minute, as a token bucket: a caller may send a minute's
 * worth at once, then gets one more every 60/perMinute seconds (0: unlimited).
 */
export class RateLimit {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private lastSweep: number;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
    this.lastSweep = now();
  }

  /** 0 when the request may go ahead (and is counted), else the seconds to wait before the next one would. */
  take(key: string): number {
    if (this.perMinute <= 0) return 0;
    const now = this.now();
    this.sweep(now);
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000));
  }

  /** Forgets full buckets once a minute, so memory follows the callers of the last minute. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.perMinute) this.buckets.delete(key);
    }
  }
}


/** The refusal when `who` (e.g. "user alice", "your address") started too many git requests this minute: HTTP and SSH say it alike. */
export function gitRateMessage(limit: RateLimit, who: string, waitSeconds: number): string {
  return `too many git requests: at most ${limit.perMinute} a minute for ${who}; try again in ${waitSeconds} s`;
}

/** The refusal when `who` holds all its git process slots and none came free within `waitMs`. */
export function gitSlotsMessage(limit: ConcurrencyLimit, who: string, waitMs: number): string {
  return `too many git requests at once: at most ${limit.max} git processes run at a time for ${who} and none came free within ${+(waitMs / 1000).toFixed(1)} s; wait for your other clones and pushes to finish, then try again`;
}
