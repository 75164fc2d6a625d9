// Leftovers of work a crash cut short: hubgate killed with -9 (with its git children, as the
// OOM killer or a power loss would) mid-push and mid-API-commit, then started again on the same
// data directory, which removes them; the interrupted operation then succeeds. The periodic
// sweep's rule is checked on the module itself with entries of known ages and owners.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEFTOVER_MAX_IDLE_MS, removeLeftovers } from '../src/ops/leftovers.ts';
import { git, newWorkRepo, ok, packOf, pkt, poll, processesIn } from './helpers/git-client.js';
import { type Hubgate, run, startHubgate, tempDir } from './helpers/hubgate.js';
import { basic } from './helpers/wire.js';

let hub: Hubgate;
let token: string;
let dataDir: string;

beforeAll(async () => {
  dataDir = path.join(tempDir(), 'data');
  hub = await startHubgate({ dataDir });
  token = await hub.userWithToken('alice');
  for (const repo of ['alice/pushed', 'alice/committed']) {
    const r = await hub.cli(['repo', 'create', repo]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
});
afterAll(() => hub?.stop());

const quarantines = (repo: string) => fs.readdirSync(path.join(hub.repoDir(repo), 'objects')).filter((n) => n.startsWith('tmp_objdir-'));
const scratch = () => (fs.existsSync(path.join(dataDir, 'tmp')) ? fs.readdirSync(path.join(dataDir, 'tmp')) : []);

/** kill -9 of hubgate and every git process working in its data directory. */
async function crash(): Promise<void> {
  const exited = new Promise((r) => hub.process.once('exit', r));
  for (const p of processesIn(dataDir)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await exited;
}

/** Starts a POST whose body is sent as far as `first`, the rest never; the request is left hanging. */
function hangingPost(urlPath: string, headers: Record<string, string>, first: Buffer): http.ClientRequest {
  const req = http.request({ host: '127.0.0.1', port: hub.port, method: 'POST', path: urlPath, headers: { ...headers, 'Transfer-Encoding': 'chunked' }, agent: false });
  req.on('error', () => {}); // the server dies under it
  req.write(first);
  return req;
}

async function fsck(repo: string): Promise<void> {
  const r = await run('git', ['--git-dir', hub.repoDir(repo), 'fsck', '--strict', '--no-progress']);
  expect(r.code, r.stderr).toBe(0);
}

describe('leftovers of a crash are removed when hubgate starts again', () => {
  it('kill -9 mid-push leaves git\'s quarantine (objects/tmp_objdir-incoming-*); the restart removes it and the push then succeeds', async () => {
    // A commit with a 4 MB incompressible file on top of the repo's main, and its pack.
    const work = await newWorkRepo(hub.remote('alice/pushed', token));
    ok(await git(['pull', '-q', 'origin', 'main'], work));
    fs.writeFileSync(path.join(work, 'big.bin'), crypto.randomBytes(4 * 1024 * 1024));
    ok(await git(['add', 'big.bin'], work));
    ok(await git(['commit', '-qm', 'big'], work));
    const [old, tip] = ok(await git(['rev-parse', 'origin/main', 'HEAD'], work)).trim().split('\n');
    const pack = await packOf(work, [tip]);
    const commands = Buffer.concat([Buffer.from(pkt(`${old} ${tip} refs/heads/main\0report-status\n`)), Buffer.from('0000')]);

    // Half the pack, then nothing: receive-pack waits inside its quarantine.
    const req = hangingPost('/alice/pushed.git/git-receive-pack', { Authorization: basic(token), 'Content-Type': 'application/x-git-receive-pack-request' }, Buffer.concat([commands, pack.subarray(0, pack.length / 2)]));
    expect(await poll(() => quarantines('alice/pushed').length > 0, 10_000, 50)).toBe(true);
    await crash();
    req.destroy();
    expect(quarantines('alice/pushed').length).toBeGreaterThan(0);

    hub = await startHubgate({ dataDir });
    expect(await poll(() => quarantines('alice/pushed').length === 0, 5000, 50)).toBe(true);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    expect(ok(await git(['ls-remote', hub.remote('alice/pushed', token), 'refs/heads/main'], work)).split('\t')[0]).toBe(old);
    ok(await git(['remote', 'set-url', 'origin', hub.remote('alice/pushed', token)], work));
    ok(await git(['push', '-q', 'origin', 'main'], work));
    expect(ok(await git(['ls-remote', 'origin', 'refs/heads/main'], work)).split('\t')[0]).toBe(tip);
    await fsck('alice/pushed');
  });

  it('kill -9 mid-API-commit leaves DATA/tmp/commit-* (and the commit\'s quarantine); the restart removes them and the commit then succeeds', async () => {
    const before = (await run('git', ['--git-dir', hub.repoDir('alice/committed'), 'rev-parse', 'main'])).stdout.trim();
    const line = (v: unknown) => `${JSON.stringify(v)}\n`;
    const content = crypto.randomBytes(2 * 1024 * 1024).toString('base64');
    const fileLine = line({ key: 'file', value: { path: 'one.bin', content } });
    // The header and one whole file line (written to a temporary file), then half of the next line.
    const first = Buffer.from(line({ key: 'header', value: { summary: 'interrupted' } }) + fileLine + fileLine.replace('one.bin', 'two.bin').slice(0, fileLine.length / 2));
    const req = hangingPost('/api/models/alice/committed/commit/main', { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-ndjson' }, first);
    const commitDir = () => scratch().find((n) => n.startsWith('commit-'));
    expect(await poll(() => {
      const dir = commitDir();
      return dir !== undefined && fs.readdirSync(path.join(dataDir, 'tmp', dir)).length > 0;
    }, 10_000, 50)).toBe(true);
    await crash();
    req.destroy();
    expect(commitDir()).toBeDefined();

    hub = await startHubgate({ dataDir });
    expect(await poll(() => scratch().length === 0 && quarantines('alice/committed').length === 0, 5000, 50)).toBe(true);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    expect((await run('git', ['--git-dir', hub.repoDir('alice/committed'), 'rev-parse', 'main'])).stdout.trim()).toBe(before);

    const res = await fetch(`${hub.url}/api/models/alice/committed/commit/main`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-ndjson' },
      body: line({ key: 'header', value: { summary: 'again' } }) + fileLine,
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await res.json()).commitOid).toBe((await run('git', ['--git-dir', hub.repoDir('alice/committed'), 'rev-parse', 'main'])).stdout.trim());
    await fsck('alice/committed');
  });

  it('a repo creation cut short between claiming the name and putting its directory in place is released at the restart', async () => {
    await crash();
    // What such a crash leaves: the name's row, not yet ready, and perhaps the directory half moved in.
    const db = new SQLite(path.join(dataDir, 'hubgate.sqlite'));
    const owner = db.prepare("select id from accounts where name = 'alice'").get() as { id: number };
    db.prepare("insert into repos (type, owner_id, name, private, created_at, ready) values ('model', ?, 'halfmade', 0, ?, 0)").run(owner.id, new Date().toISOString());
    db.close();
    fs.mkdirSync(path.join(hub.repoDir('alice/halfmade'), 'objects'), { recursive: true });

    hub = await startHubgate({ dataDir });
    const info = () => fetch(`${hub.url}/api/models/alice/halfmade`, { headers: { Authorization: `Bearer ${token}` } });
    expect(await poll(async () => !fs.existsSync(hub.repoDir('alice/halfmade')), 5000, 50)).toBe(true);
    expect((await info()).status).toBe(404);
    // The name is free again, and the repo made anew is whole.
    const made = await hub.cli(['repo', 'create', 'alice/halfmade']);
    expect(made.code, made.stderr).toBe(0);
    expect((await info()).status).toBe(200);
    const work = tempDir('hubgate-halfmade-');
    ok(await git(['clone', '-q', hub.remote('alice/halfmade', token), '.'], work));
    expect(fs.existsSync(path.join(work, '.gitattributes'))).toBe(true);
    await fsck('alice/halfmade');
  });
});

describe('the periodic sweep', () => {
  it('removes entries idle past the limit that no live process holds, and keeps the rest', async () => {
    const data = tempDir('hubgate-leftovers-');
    const tmp = path.join(data, 'tmp');
    const objects = path.join(data, 'repos', 'models', 'ns', 'r.git', 'objects');
    fs.mkdirSync(tmp, { recursive: true });
    fs.mkdirSync(objects, { recursive: true });
    // A pid that is certainly dead: a process that has exited.
    const gone = spawn('true');
    const deadPid = gone.pid!;
    await new Promise((r) => gone.once('exit', r));
    const livePid = process.pid; // this test process: alive
    const now = Date.now();
    const old = (now - LEFTOVER_MAX_IDLE_MS - 60_000) / 1000;
    const make = (dir: string, name: string, idleSince?: number, child?: string) => {
      const entry = path.join(dir, name);
      fs.mkdirSync(entry, { recursive: true });
      if (child) {
        fs.mkdirSync(path.join(entry, 'pack'));
        fs.writeFileSync(path.join(entry, 'pack', child), 'x');
      }
      if (idleSince !== undefined) {
        if (child) fs.utimesSync(path.join(entry, 'pack', child), idleSince, idleSince);
        if (child) fs.utimesSync(path.join(entry, 'pack'), idleSince, idleSince);
        fs.utimesSync(entry, idleSince, idleSince);
      }
      return name;
    };
    const deadOld = make(tmp, `commit-${deadPid}-aaaaaa`, old);
    const liveOld = make(tmp, `commit-${livePid}-bbbbbb`, old);
    const deadFresh = make(tmp, `commit-${deadPid}-cccccc`);
    const gitOld = make(objects, 'tmp_objdir-incoming-dddddd', old, 'tmp_pack_x');
    const gitActive = make(objects, 'tmp_objdir-incoming-eeeeee', old, 'tmp_pack_y');
    fs.utimesSync(path.join(objects, gitActive, 'pack', 'tmp_pack_y'), now / 1000, now / 1000); // a pack still arriving
    const other = make(objects, 'pack', old);

    // The periodic rule: idle for longer than the limit; this process started long before.
    const removed = await removeLeftovers(data, { before: now - LEFTOVER_MAX_IDLE_MS, startedAt: now - 10 * LEFTOVER_MAX_IDLE_MS });
    expect(removed).toBe(2);
    expect(fs.readdirSync(tmp).sort()).toEqual([liveOld, deadFresh].sort());
    expect(fs.readdirSync(objects).sort()).toEqual([gitActive, other].sort());
    expect(fs.existsSync(path.join(tmp, deadOld)) || fs.existsSync(path.join(objects, gitOld))).toBe(false);
  });
});
