// The small scheduling helpers of src/util: a cap on concurrent tasks, and per-key queues.
import { describe, expect, it } from 'vitest';
import { concurrencyLimit } from '../../src/util/concurrency.ts';
import { keyedQueue } from '../../src/util/keyed-queue.ts';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('concurrencyLimit', () => {
  it('runs at most `limit` tasks at once, every task once, and a failure frees its slot', async () => {
    const run = concurrencyLimit(3);
    let now = 0;
    let most = 0;
    const task = (i: number) => async () => {
      now++;
      most = Math.max(most, now);
      await tick();
      now--;
      if (i % 4 === 0) throw new Error(`task ${i}`);
      return i;
    };
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => run(task(i))));
    expect(most).toBe(3);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'task 0', 1, 2, 3, 'task 4', 5, 6, 7, 'task 8', 9,
    ]);
  });
});

describe('keyedQueue', () => {
  it('runs tasks of one key in order, one at a time, and other keys beside them', async () => {
    const queue = keyedQueue();
    const log: string[] = [];
    const task = (key: string, i: number, fail = false) =>
      queue(key, async () => {
        log.push(`${key}${i} start`);
        await tick();
        log.push(`${key}${i} end`);
        if (fail) throw new Error('failed');
        return i;
      });
    const all = await Promise.allSettled([task('a', 1, true), task('a', 2), task('b', 1)]);
    expect(all.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    // a2 starts only after a1 ended (even though a1 failed); b1 ran beside a1.
    expect(log.indexOf('a2 start')).toBeGreaterThan(log.indexOf('a1 end'));
    expect(log.indexOf('b1 start')).toBeLessThan(log.indexOf('a1 end'));
  });
});
