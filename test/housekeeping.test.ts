// The housekeeping sweep (LFS uploads, leftovers of crashes, unfinished repos) is one job for all
// the processes sharing a data directory: with two `hubgate serve` processes it runs once per
// interval, by one or the other, never by both.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, logEntries, startHubgate, tempDir } from './helpers/hubgate.js';

const INTERVAL_MS = 1000;

/** When (ms) each run of the housekeeping job in a process's log began. */
const housekeepingRuns = (hub: Hubgate): number[] =>
  logEntries(hub).flatMap((entry) => (entry.job === 'housekeeping' && entry.msg === 'periodic job ran' ? [entry.startedAt as number] : []));

describe('housekeeping with two processes on one data directory', () => {
  const hubs: Hubgate[] = [];
  let firstStart = 0;
  beforeAll(async () => {
    firstStart = Date.now();
    const dataDir = path.join(tempDir(), 'data');
    const env = { HUBGATE_SWEEP_INTERVAL_MS: String(INTERVAL_MS) };
    hubs.push(await startHubgate({ dataDir, env }));
    hubs.push(await startHubgate({ dataDir, env }));
  });
  afterAll(async () => {
    for (const hub of hubs) await hub.stop();
  });

  it('runs once per interval, by one process or the other', async () => {
    await new Promise((r) => setTimeout(r, 6 * INTERVAL_MS));
    const runs = hubs.flatMap(housekeepingRuns).sort((a, b) => a - b);
    // About one run per interval over ~6 intervals (the first is an interval after the first
    // start; a loaded machine may wake a little late, never early).
    expect(runs.length).toBeGreaterThanOrEqual(2);
    // Two processes each running it would be about twice this.
    expect(runs.length).toBeLessThanOrEqual(Math.floor((Date.now() - firstStart) / INTERVAL_MS));
    // Never two runs in one interval, whichever process ran them.
    for (let i = 1; i < runs.length; i++) expect(runs[i] - runs[i - 1]).toBeGreaterThanOrEqual(INTERVAL_MS);
  });
});
