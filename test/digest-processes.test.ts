// The daily digest with several `hubgate serve` processes on one data directory (issue 10: the
// digest is a job claimed in the database). Two processes share the data directory; requests
// arrive all the time at several daily-notified repos; each repo's digest goes out once per
// interval, every request in exactly one digest. A process killed while it sends leaves a claim
// that lapses, and the other process sends that digest. A state file of older versions is imported.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, freePort, type Hubgate, run, startHubgate, tempDir } from './helpers/hubgate.js';

const INTERVAL = 2000;
const REPOS = ['alice/r1', 'alice/r2', 'alice/r3'];
const USERS = Array.from({ length: 10 }, (_, i) => `u${i + 1}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Digest {
  repo: string;
  at: number;
  users: string[];
}

describe('the digest with two processes on one data directory', () => {
  const dataDir = path.join(tempDir(), 'data');
  const env = { HUBGATE_DIGEST_INTERVAL_MS: String(INTERVAL) };
  const offline = (...args: string[]) => run(process.execPath, [BIN, ...args, '--data', dataDir]);
  const tokens: Record<string, string> = {};
  const hubs: Hubgate[] = [];
  // An SMTP server that accepts connections and never answers: a process sending to it hangs mid-run.
  const stalled: net.Socket[] = [];
  const blackHole = net.createServer((socket) => stalled.push(socket));
  let legacyLastRun = '';

  /** The digests written to DATA/outbox.jsonl so far, by repo. */
  const digests = (): Digest[] => {
    const file = path.join(dataDir, 'outbox.jsonl');
    if (!fs.existsSync(file)) return [];
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { subject: string; text: string; at: string })
      .map((m) => ({
        repo: / to (alice\/r\d)$/.exec(m.subject)![1],
        at: Date.parse(m.at),
        users: [...m.text.matchAll(/^ *- (u\d+)\b/gm)].map((x) => x[1]),
      }));
  };
  const ask = async (hub: Hubgate, user: string) => {
    for (const repo of REPOS) {
      const res = await fetch(`${hub.url}/${repo}/ask-access`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[user]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ fields: {} }),
      });
      expect(res.status, await res.text()).toBe(201);
    }
  };

  beforeAll(async () => {
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    // alice first and alone: the first command creates the database.
    expect((await offline('user', 'create', 'alice', '--email', 'alice@example.com')).code).toBe(0);
    const user = async (u: string) => {
      expect((await offline('user', 'create', u, '--email', `${u}@example.com`)).code).toBe(0);
      tokens[u] = (await offline('token', 'create', u, '--role', 'write')).stdout.trim();
    };
    for (let i = 0; i < USERS.length; i += 4) await Promise.all(USERS.slice(i, i + 4).map(user));
    for (const repo of REPOS) expect((await offline('repo', 'create', repo, '--gated', 'manual')).code).toBe(0);
    // As an older hubgate left it: the time of the last digest in a file (just now: the next is an interval away).
    legacyLastRun = new Date().toISOString();
    fs.writeFileSync(path.join(dataDir, 'digest-state.json'), `${JSON.stringify({ lastRun: legacyLastRun })}\n`);
    hubs.push(await startHubgate({ dataDir, env }));
  }, 30_000);
  afterAll(async () => {
    for (const hub of hubs) {
      if (hub.process.exitCode !== null || hub.process.signalCode === 'SIGKILL') continue;
      hub.process.kill('SIGCONT');
      await hub.stop();
    }
    for (const s of stalled) s.destroy();
    blackHole.close();
  });

  it('imports the last digest time of DATA/digest-state.json once, then removes the file', async () => {
    const deadline = Date.now() + 2000;
    while (fs.existsSync(path.join(dataDir, 'digest-state.json')) && Date.now() < deadline) await sleep(20);
    expect(fs.existsSync(path.join(dataDir, 'digest-state.json'))).toBe(false);
    const sqlite = new SQLite(path.join(dataDir, 'hubgate.sqlite'), { readonly: true });
    const row = sqlite.prepare(`select last_run_at from jobs where name = 'digest'`).get() as { last_run_at: string };
    sqlite.close();
    expect(row.last_run_at).toBe(legacyLastRun);
  });

  it('sends each repo its digest once per interval, every request in exactly one, then survives a kill -9 mid-send', async () => {
    const [a] = hubs;
    const b = await startHubgate({ dataDir, env });
    hubs.push(b);
    const users = [...USERS];
    // Requests every half interval, through either process, so every interval has new ones.
    for (let step = 0; step < 6; step++) {
      await ask(step % 2 ? b : a, users.shift()!);
      await sleep(INTERVAL / 2);
    }
    const sentByBoth = digests().length;

    // One process stops for good, the other pauses; a third one, whose mail server never answers,
    // claims the next digest and hangs while sending it; it is killed there, holding the claim.
    await a.stop();
    b.process.kill('SIGSTOP');
    const c = await startHubgate({ dataDir, env: { ...env, HUBGATE_SMTP_URL: `smtp://127.0.0.1:${(blackHole.address() as net.AddressInfo).port}` } });
    hubs.push(c);
    await ask(c, users.shift()!);
    const claimedBy = Date.now() + 2 * INTERVAL;
    while (stalled.length === 0 && Date.now() < claimedBy) await sleep(20);
    expect(stalled.length, 'the third process started sending the digest').toBeGreaterThan(0);
    c.process.kill('SIGKILL');
    const killedAt = Date.now();
    b.process.kill('SIGCONT');

    // The remaining process takes the lapsed claim over, and goes on.
    for (let step = 0; step < 3; step++) {
      await sleep(INTERVAL / 2);
      await ask(b, users.shift()!);
    }
    await sleep(2 * INTERVAL + 500);

    const all = digests();
    for (const repo of REPOS) {
      const mine = all.filter((d) => d.repo === repo);
      // Every request in exactly one digest: none sent twice, none missed.
      expect(mine.flatMap((d) => d.users).sort(), repo).toEqual([...USERS].sort());
      // Never two digests of one repo within an interval (timestamps are taken while sending, a few ms after a run starts).
      const gaps = mine.slice(1).map((d, i) => d.at - mine[i].at);
      expect(Math.min(...gaps), `${repo}: gaps ${gaps.join(', ')}`).toBeGreaterThanOrEqual(INTERVAL - 200);
      // And one each interval while requests kept coming, but for the wait for the killed process's claim to lapse.
      const spansKill = (i: number) => mine[i].at < killedAt && mine[i + 1].at > killedAt;
      const steady = gaps.filter((_, i) => !spansKill(i));
      expect(Math.max(...steady), `${repo}: gaps ${gaps.join(', ')}`).toBeLessThanOrEqual(INTERVAL + 600);
      // The digest the killed process was sending went out from the other one, once its claim had lapsed.
      const takenOver = mine.find((d) => d.at > killedAt);
      expect(takenOver, repo).toBeDefined();
      expect(takenOver!.at - killedAt, repo).toBeLessThan(2 * INTERVAL + 1000);
    }
    expect(sentByBoth, 'digests went out while both processes ran').toBeGreaterThanOrEqual(2 * REPOS.length);
    expect(b.log()).not.toContain('"level":50');
  }, 40_000);
});
