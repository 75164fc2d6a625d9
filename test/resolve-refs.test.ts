// Downloads read which commit a branch names from the repo's ref files (src/git/ref-files.ts), in
// every process: two servers on one data directory (two nodes, or a restart overlapping the old
// process) each see a push through the other at their very next download, whether the branch is
// a loose ref or packed (`git pack-refs`, as maintenance does), and a tag named like the branch
// still wins as it does in git.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';

let a: Hubgate;
let b: Hubgate;
let token: string;
const REPO = 'alice/refs';

const commitOf = async (hub: Hubgate, path: string, revision = 'main') => {
  const r = await fetch(`${hub.url}/${REPO}/resolve/${revision}/${path}`, { method: 'HEAD' });
  expect(r.status).toBe(200);
  return r.headers.get('x-repo-commit');
};
const inRepo = (...args: string[]) => execFileSync('git', args, { cwd: a.repoDir(REPO), env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }, encoding: 'utf8' }).trim();

beforeAll(async () => {
  a = await startHubgate();
  b = await startHubgate({ dataDir: a.dataDir });
  token = await a.userWithToken('alice');
  expect((await a.cli(['repo', 'create', REPO])).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('which commit a branch names, across processes', () => {
  it('a push through one server is what the other downloads next, loose or packed', async () => {
    for (let i = 0; i < 4; i++) {
      const pusher = i % 2 === 0 ? a : b;
      const other = i % 2 === 0 ? b : a;
      // Every other round the refs are packed first: the branch is then in packed-refs until the push writes its loose file.
      if (i >= 2) inRepo('pack-refs', '--all');
      const pushed = await pusher.pushFiles(REPO, token, { 'f.txt': `round ${i}\n` }, `round ${i}`);
      expect(await commitOf(other, 'f.txt')).toBe(pushed);
      expect(await commitOf(pusher, 'f.txt')).toBe(pushed);
      inRepo('pack-refs', '--all');
      expect(await commitOf(other, 'f.txt')).toBe(pushed);
      const body = await (await fetch(`${other.url}/${REPO}/resolve/main/f.txt`)).text();
      expect(body).toBe(`round ${i}\n`);
    }
  }, 120_000);

  it('a tag named like the branch is what git takes, and so do downloads', async () => {
    const main = await commitOf(a, 'f.txt');
    const before = inRepo('rev-parse', 'refs/heads/main~1');
    expect(before).not.toBe(main);
    inRepo('tag', 'main', before);
    try {
      expect(await commitOf(b, 'f.txt')).toBe(before);
      expect(await commitOf(b, 'f.txt', 'refs%2Fheads%2Fmain')).toBe(main);
    } finally {
      inRepo('tag', '-d', 'main');
    }
    expect(await commitOf(b, 'f.txt')).toBe(main);
  });
});
