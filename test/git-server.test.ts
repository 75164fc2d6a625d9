// Server-side git behaviour that does not depend on the protocol version: Hub addresses of the
// three repo types, background maintenance, isolation from the machine's git config, and
// surviving a client that hangs up mid-clone.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countLines,
  fastImport,
  git,
  installCustomHook,
  newWorkRepo,
  ok,
  packOf,
  pkt,
  poll,
  processesIn,
  scratch,
  sleep,
  stallingProxy,
} from './helpers/git-client.js';
import { clientEnv, DATABASES, type Hubgate, startHubgate } from './helpers/hubgate.js';

const T0 = 1_700_000_000;
/** hubgate_git_bytes_served_total for upload-pack, from a /metrics page. */
const bytesServed = (metrics: string) => Number(/hubgate_git_bytes_served_total\{service="upload-pack"\} (\d+)/.exec(metrics)?.[1] ?? NaN);

// Pushes and clones on each database (the push hooks read and write it).
describe.each(DATABASES)('git serving (%s)', (db) => {
  let hub: Hubgate;
  let token: string;
  const remote = (repo: string) => hub.remote(repo, token);
  const serverRef = async (repo: string, ref: string) =>
    (await git([`--git-dir=${hub.repoDir(repo)}`, 'rev-parse', '--verify', '-q', ref], hub.dataDir)).stdout.trim();

  beforeAll(async () => {
    hub = await startHubgate({ db });
    token = await hub.userWithToken('alice');
  });
  afterAll(() => hub?.stop());
  // What the database plays no part in (maintenance, processes of clients that hang up) runs once, on SQLite.
  const onceIt = it.runIf(db === 'sqlite');

  it('serves models, datasets and spaces at their Hub addresses, with and without .git', async () => {
    const cases = [
      { type: 'model', id: 'alice/m', pushTo: 'alice/m', cloneFrom: 'alice/m.git' },
      { type: 'dataset', id: 'alice/d', pushTo: 'datasets/alice/d.git', cloneFrom: 'datasets/alice/d' },
      { type: 'space', id: 'alice/s', pushTo: 'spaces/alice/s', cloneFrom: 'spaces/alice/s.git' },
    ];
    for (const c of cases) {
      ok(await hub.cli(['repo', 'create', c.id, '--type', c.type]), `repo create ${c.type}`);
      const work = await newWorkRepo(remote(c.pushTo));
      const tip = await fastImport(work, { ref: 'refs/heads/main', count: 2, time: T0, prefix: `${c.type}-` });
      // --force here and below: a new repo's main holds hubgate's initial .gitattributes commit, which these histories replace.
      ok(await git(['push', '--force', 'origin', 'main'], work));
      // The push landed in that type's own directory.
      expect(await serverRef(c.cloneFrom, 'refs/heads/main')).toBe(tip);
      const clone = scratch();
      ok(await git(['clone', remote(c.cloneFrom), clone], clone));
      expect(ok(await git(['rev-parse', 'HEAD'], clone)).trim()).toBe(tip);
      expect(fs.readFileSync(path.join(clone, `${c.type}-1.txt`), 'utf8')).toBe(`${c.type}-1\n`);
    }
    expect(hub.repoDir('alice/m')).toContain(`${path.sep}models${path.sep}`);
    expect(hub.repoDir('datasets/alice/d')).toContain(`${path.sep}datasets${path.sep}`);

    // Same namespace and name under another type is another (here: missing) repo.
    for (const wrong of ['datasets/alice/m', 'spaces/alice/d', 'alice/s']) {
      const res = await git(['ls-remote', remote(wrong)], scratch());
      expect(res.code, wrong).not.toBe(0);
      expect(res.stderr, wrong).toMatch(/not found|404/i);
    }
  });

  onceIt('brings a repo a bitmap and a commit-graph soon after a push', async () => {
    ok(await hub.cli(['repo', 'create', 'alice/maint']));
    const dir = hub.repoDir('alice/maint');
    const work = await newWorkRepo(remote('alice/maint'));
    await fastImport(work, { ref: 'refs/heads/main', count: 20, time: T0 });
    ok(await git(['push', '--force', 'origin', 'main'], work));

    const packDir = path.join(dir, 'objects', 'pack');
    const hasBitmap = () => fs.readdirSync(packDir).some((f) => f.endsWith('.bitmap'));
    const hasCommitGraph = () =>
      fs.existsSync(path.join(dir, 'objects', 'info', 'commit-graph')) ||
      fs.existsSync(path.join(dir, 'objects', 'info', 'commit-graphs', 'commit-graph-chain'));
    expect(await poll(() => hasBitmap() && hasCommitGraph(), 20_000)).toBe(true);
    // The maintained repo is sound and still serves.
    await poll(() => processesIn(dir).length === 0, 10_000);
    ok(await git([`--git-dir=${dir}`, 'fsck', '--no-progress'], dir));
    ok(await git([`--git-dir=${dir}`, 'commit-graph', 'verify'], dir));
    const clone = scratch();
    ok(await git(['clone', '--no-checkout', remote('alice/maint'), clone], clone));
    expect(ok(await git(['rev-list', '--count', 'HEAD'], clone)).trim()).toBe('20');
  });

  onceIt('keeps serving after a client hangs up mid-clone, and leaves no git process behind', async () => {
    ok(await hub.cli(['repo', 'create', 'alice/big']));
    const dir = hub.repoDir('alice/big');
    const work = await newWorkRepo(remote('alice/big'));
    // 16 MB that does not compress: far more than socket buffers hold, so the server is
    // still writing when the client goes away.
    const tip = await fastImport(work, { ref: 'refs/heads/main', count: 8, time: T0, file: () => crypto.randomBytes(2 * 1024 * 1024) });
    ok(await git(['push', '--force', 'origin', 'main'], work));
    // Let the maintenance that push started finish, so every git process seen later is a clone's.
    expect(await poll(() => processesIn(dir).length === 0, 20_000)).toBe(true);

    const proxy = await stallingProxy(hub.port, { trigger: /^POST \/alice\/big\/git-upload-pack /m, limit: 256 * 1024 });
    const dest = scratch();
    const clone = spawn('git', ['clone', '--no-checkout', `http://x:${token}@127.0.0.1:${proxy.port}/alice/big`, dest], {
      env: clientEnv(scratch('home-')),
      stdio: 'ignore',
      detached: true, // its own process group: git, git-remote-http and index-pack die together
    });
    const exited = new Promise((r) => clone.once('exit', r));
    try {
      await Promise.race([proxy.stalled, exited.then(() => Promise.reject(new Error('clone ended before the proxy stalled it')))]);
      // The server's upload-pack is blocked writing the pack the client stopped reading.
      expect(processesIn(dir).map((p) => p.cmd).join('\n')).toMatch(/upload-pack/);
    } finally {
      process.kill(-clone.pid!, 'SIGKILL');
      proxy.hangUp();
    }
    await exited;

    // The server killed its git processes for that request...
    const left = await poll(() => processesIn(dir).length === 0, 10_000);
    expect(left, JSON.stringify(processesIn(dir))).toBe(true);
    // ...counted the request as aborted...
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/hubgate_git_service_duration_seconds_count\{service="upload-pack",outcome="aborted"\} 1/);
    // ...and still serves a full clone.
    const again = scratch();
    ok(await git(['clone', '--no-checkout', remote('alice/big'), again], again));
    // The aborted clone was cut short rather than run to the end into the void.
    const aborted = bytesServed(metrics);
    const full = bytesServed(await (await fetch(`${hub.url}/metrics`)).text()) - aborted;
    expect(full).toBeGreaterThan(16 * 1024 * 1024);
    expect(aborted).toBeLessThan(full / 2);
    expect(ok(await git(['rev-parse', 'HEAD'], again)).trim()).toBe(tip);
    ok(await git(['fsck', '--connectivity-only', '--no-progress'], again));
    expect((await fetch(`${hub.url}/healthz`)).ok).toBe(true);
  });

  onceIt('cleans up after a push whose client hangs up mid-upload', async () => {
    ok(await hub.cli(['repo', 'create', 'alice/cut']));
    const dir = hub.repoDir('alice/cut');
    const work = await newWorkRepo(remote('alice/cut'));
    const tip = await fastImport(work, { ref: 'refs/heads/main', count: 4, time: T0, file: () => crypto.randomBytes(1024 * 1024) });
    const pack = await packOf(work, [tip]);
    const before = await serverRef('alice/cut', 'refs/heads/main'); // hubgate's initial commit

    // A receive-pack request by hand: the command, then half the pack, then the client is gone.
    const req = http.request(`${hub.url}/alice/cut/git-receive-pack`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-git-receive-pack-request',
        Authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
        'Transfer-Encoding': 'chunked',
      },
    });
    req.on('error', () => {});
    req.write(`${pkt(`${before} ${tip} refs/heads/main\0report-status\n`)}0000`);
    req.write(pack.subarray(0, pack.length >> 1));
    const quarantines = () => fs.readdirSync(path.join(dir, 'objects')).filter((f) => f.startsWith('tmp_objdir'));
    // git has started receiving into its quarantine...
    expect(await poll(() => quarantines().length > 0 && processesIn(dir).length > 0, 10_000)).toBe(true);
    await sleep(200);
    req.destroy();

    // ...and once the client is gone, it and its quarantine (the partial push) are gone too.
    expect(await poll(() => processesIn(dir).length === 0, 10_000), JSON.stringify(processesIn(dir))).toBe(true);
    expect(quarantines()).toEqual([]);
    expect(await serverRef('alice/cut', 'refs/heads/main')).toBe(before);
    // A real push of the same commits then works.
    ok(await git(['push', '--force', 'origin', 'main'], work));
    expect(await serverRef('alice/cut', 'refs/heads/main')).toBe(tip);
  });
});

describe("git serving ignores the machine's git config", () => {
  let hub: Hubgate;
  let token: string;
  const optionsFile = path.join(scratch('options-'), 'options.txt');

  beforeAll(async () => {
    // Everything here would break serving if the server's git read it.
    const home = scratch('hostile-home-');
    const hostile = [
      '[uploadpack]',
      '\tallowFilter = false',
      '\tallowAnySHA1InWant = false',
      '[core]',
      '\thooksPath = /nonexistent',
      '[receive]',
      '\tadvertisePushOptions = false',
      '\tdenyDeletes = true',
      '[transfer]',
      '\thideRefs = refs/heads/hidden',
      '',
    ].join('\n');
    fs.writeFileSync(path.join(home, '.gitconfig'), hostile);
    fs.mkdirSync(path.join(home, '.config', 'git'), { recursive: true });
    fs.writeFileSync(path.join(home, '.config', 'git', 'config'), hostile);
    hub = await startHubgate({
      env: {
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, '.config'),
        GIT_CONFIG_GLOBAL: path.join(home, '.gitconfig'),
        GIT_CONFIG_SYSTEM: path.join(home, '.gitconfig'),
        GIT_CONFIG_PARAMETERS: "'uploadpack.allowfilter'='false' 'core.hookspath'='/nonexistent'",
      },
    });
    token = await hub.userWithToken('alice');
  });
  afterAll(() => hub?.stop());

  it('still serves partial clones, runs custom hooks with push options, and deletes branches', async () => {
    ok(await hub.cli(['repo', 'create', 'alice/iso']));
    const dir = hub.repoDir('alice/iso');
    installCustomHook(dir, '10-check', `#!/bin/sh
echo "count=\${GIT_PUSH_OPTION_COUNT:-unset} first=\${GIT_PUSH_OPTION_0:-}" > '${optionsFile}'
while read old new ref; do
  if [ "$ref" = refs/heads/blocked ]; then echo "policy: no pushes to $ref" >&2; exit 1; fi
done
`);
    const work = await newWorkRepo(hub.remote('alice/iso', token));
    const tip = await fastImport(work, { ref: 'refs/heads/main', count: 5, time: T0 });

    // Push options are advertised and reach the custom hook (core.hooksPath is hubgate's).
    ok(await git(['push', '--force', '-o', 'ci.skip', 'origin', 'main', 'main:refs/heads/hidden'], work));
    expect(fs.readFileSync(optionsFile, 'utf8')).toBe('count=1 first=ci.skip\n');
    const refused = await git(['push', 'origin', 'main:refs/heads/blocked'], work);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^remote: policy: no pushes to refs\/heads\/blocked/m);
    expect(refused.stderr).toMatch(/\[remote rejected\] main -> blocked \(pre-receive hook declined\)/);

    // No ref is hidden.
    const listed = ok(await git(['ls-remote', 'origin'], work));
    expect(listed).toContain(`${tip}\trefs/heads/hidden`);

    // Filters are allowed, and (v0) missing blobs can be fetched by id.
    const clone = scratch();
    const res = await git(['-c', 'protocol.version=0', 'clone', '--filter=blob:none', '--no-checkout', hub.remote('alice/iso', token), clone], clone);
    ok(res);
    expect(res.stderr).not.toMatch(/filtering not recognized/);
    const missing = () => git(['rev-list', '--objects', '--missing=print', '--all'], clone).then((r) => countLines(ok(r), /^\?/));
    expect(await missing()).toBe(5);
    ok(await git(['-c', 'protocol.version=0', 'checkout', 'main'], clone));
    expect(await missing()).toBe(0);

    // Deleting a branch is allowed.
    ok(await git(['push', 'origin', '--delete', 'hidden'], work));
    expect(ok(await git(['ls-remote', 'origin'], work))).not.toContain('refs/heads/hidden');
  });
});
