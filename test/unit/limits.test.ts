// The per-caller limiters of src/http/limits.ts, on a clock the test moves.
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit, RateLimit } from '../../src/http/limits.ts';

describe('RateLimit', () => {
  it('allows a minute\'s worth at once, then one per 60/perMinute s, and says how long to wait; keys are apart', () => {
    let now = 0;
    const rate = new RateLimit(6, () => now); // one every 10 s
    for (let i = 0; i < 6; i++) expect(rate.take('a')).toBe(0);
    expect(rate.take('a')).toBe(10);
    expect(rate.take('b')).toBe(0);
    now += 4_000;
    expect(rate.take('a')).toBe(6);
    now += 6_000;
    expect(rate.take('a')).toBe(0);
    expect(rate.take('a')).toBe(10);
  });

  it('forgets callers whose bucket is full again, and 0 means no limit', () => {
    let now = 0;
    const rate = new RateLimit(60, () => now);
    expect(rate.take('a')).toBe(0);
    now += 120_000;
    expect(rate.take('b')).toBe(0);
    expect((rate as unknown as { buckets: Map<string, unknown> }).buckets.has('a')).toBe(false);
    const open = new RateLimit(0);
    for (let i = 0; i < 1000; i++) expect(open.take('a')).toBe(0);
  });
});

describe('ConcurrencyLimit', () => {
  it('holds at most `max` per key; a release frees one slot once, however often it is called', () => {
    const limit = new ConcurrencyLimit(2);
    const first = limit.acquire('a')!;
    expect(limit.acquire('a')).not.toBeNull();
    expect(limit.acquire('a')).toBeNull();
    expect(limit.acquire('b')).not.toBeNull();
    first();
    first();
    expect(limit.acquire('a')).not.toBeNull();
    expect(limit.acquire('a')).toBeNull();
    expect(new ConcurrencyLimit(0).acquire('a')).not.toBeNull();
  });

  it('acquireWithin: waiters get freed slots first come first served, give up at their deadline or on abort', async () => {
    const limit = new ConcurrencyLimit(1);
    const held = limit.acquire('a')!;
    const order: number[] = [];
    const first = limit.acquireWithin('a', 10_000).then((r) => (order.push(1), r));
    const second = limit.acquireWithin('a', 10_000).then((r) => (order.push(2), r));
    expect(await limit.acquireWithin('a', 20)).toBeNull();
    const aborted = new AbortController();
    const leaving = limit.acquireWithin('a', 10_000, aborted.signal);
    aborted.abort();
    expect(await leaving).toBeNull();
    held();
    const got1 = await first;
    expect(got1).not.toBeNull();
    expect(limit.acquire('a')).toBeNull();
    got1!();
    const got2 = await second;
    expect(order).toEqual([1, 2]);
    got2!();
    expect(limit.acquire('a')).not.toBeNull();
  });
});
