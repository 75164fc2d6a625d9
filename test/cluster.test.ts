// Two hubgate nodes behind nginx (round-robin), one shared data directory, one PostgreSQL
// database (of the run's cluster; HUBGATE_TEST_CLUSTER_DB=sqlite runs the same on SQLite in the
// shared data directory), LFS objects in s3rver: the reference deployment of docs/deploy.md on one machine. Real git,
// git-lfs and @huggingface/hub go through the balancer; a test that must choose which node
// answers sends that request to the node itself. Checked: LFS uploads begun on one node and
// finished on the other, multipart uploads completed on either, concurrent pushes and commits
// to one branch, access changed on one node and enforced at once on the other, one digest per
// period for both nodes, a node killed mid-push and mid-commit while the other serves (the
// retries land, nothing half-done stays), and a node stopped (SIGTERM) during a clone that
// still finishes.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { uploadFiles } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from './helpers/cluster.js';
import { fastImport, git, ok, poll, scratch, sleep } from './helpers/git-client.js';
import { clientEnv, type DatabaseKind, type Hubgate, tempDir } from './helpers/hubgate.js';
import { lfsClient, MiB, randomObject } from './helpers/lfs-client.js';
import { NGINX } from './helpers/nginx.js';
import { startSmtp } from './helpers/smtp.js';

if (!NGINX) console.warn('cluster.test.ts: nginx is not installed, so the cluster tests are skipped (apt-get install nginx)');

const DB = (process.env.HUBGATE_TEST_CLUSTER_DB ?? 'postgres') as DatabaseKind;
const DIGEST_INTERVAL = 1500;
const T0 = 1_700_000_000;
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

describe.skipIf(!NGINX)(`two nodes behind a balancer, on ${DB}`, () => {
  let cluster: Cluster;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  const tokens: Record<string, string> = {};

  /** A request through the balancer, or to `node` when given. */
  const api = (method: string, urlPath: string, token: string | undefined, body?: unknown, node?: number) =>
    fetch(`${node === undefined ? cluster.url : cluster.nodes[node].url}${urlPath}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const status = async (r: Promise<Response>) => {
    const res = await r;
    await res.arrayBuffer();
    return res.status;
  };
  const cli = async (...args: string[]) => {
    const r = await cluster.cli(args);
    expect(r.code, `hubgate ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout.trim();
  };
  /** git in a bare repo of the shared data directory (reads only). */
  const bare = async (repo: string, args: string[]) => ok(await git([`--git-dir=${cluster.nodes[0].repoDir(repo)}`, ...args], cluster.dataDir), `git ${args[0]}`);
  /** `git fsck` of a repo finds nothing wrong (dangling objects of a refused push are not wrong). */
  const fsckClean = async (repo: string) => {
    const r = await git([`--git-dir=${cluster.nodes[0].repoDir(repo)}`, 'fsck', '--no-progress', '--no-dangling'], cluster.dataDir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/error|missing|broken|bad/i);
  };
  /** The processes whose parent is `pid`. */
  const childrenOf = (pid: number) =>
    fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).flatMap((e) => {
      try {
        const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
        const ppid = Number(stat.replace(/^.*\) /s, '').split(' ')[1]);
        return ppid === pid ? [{ pid: Number(e), cmd: fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ') }] : [];
      } catch {
        return [];
      }
    });
  /** Waits until one node runs a git child matching `re`; that node's index. */
  const nodeRunning = async (re: RegExp, timeoutMs = 20_000): Promise<number> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = cluster.nodes.findIndex((n) => n.process.exitCode === null && childrenOf(n.process.pid!).some((c) => re.test(c.cmd)));
      if (i >= 0) return i;
      if (Date.now() > deadline) throw new Error(`no node ran ${re} within ${timeoutMs} ms`);
      await sleep(5);
    }
  };
  /** A clone of `repo` through the balancer to work in; its main's commit id. */
  const cloneWork = async (repo: string): Promise<{ work: string; head: string }> => {
    const work = scratch('work-');
    ok(await git(['clone', '-q', cluster.remote(repo, tokens.alice), work], work), 'clone');
    return { work, head: ok(await git(['rev-parse', 'HEAD'], work)).trim() };
  };
  const killNode = async (i: number) => {
    const child = cluster.nodes[i].process;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    smtp = await startSmtp();
    cluster = await startCluster({
      db: DB,
      env: {
        HUBGATE_LFS_MULTIPART_THRESHOLD: String(6 * MiB),
        HUBGATE_LFS_MULTIPART_CHUNK: String(5 * MiB),
        HUBGATE_MAX_FILE_SIZE: String(40 * MiB),
        HUBGATE_DIGEST_INTERVAL_MS: String(DIGEST_INTERVAL),
        HUBGATE_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        HUBGATE_SMTP_FROM: 'hub@example.org',
        HUBGATE_SHUTDOWN_TIMEOUT_MS: '20000',
      },
    });
    // The first command creates the database; the others run side by side (a CLI command starts slowly).
    await cli('user', 'create', 'alice', '--email', 'alice@example.com', '--admin');
    await Promise.all([
      ...['bob', 'carol', 'dave', 'erin', 'frank'].map((name) => cli('user', 'create', name, '--email', `${name}@example.com`)),
      ...['alice/lfs', 'alice/mp', 'alice/busy', 'alice/crash', 'alice/big'].map((repo) => cli('repo', 'create', repo)),
      cli('repo', 'create', 'alice/gated', '--gated', 'manual'),
      cli('repo', 'create', 'alice/daily', '--gated', 'manual'),
      cli('org', 'create', 'acme').then(() => cli('org', 'add', 'acme', 'alice', '--role', 'admin')).then(() => cli('repo', 'create', 'acme/private', '--private')),
    ]);
    await Promise.all(['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map(async (name) => (tokens[name] = await cli('token', 'create', name, '--role', 'write'))));
    ok(await git(['lfs', 'install', '--skip-repo'], scratch()), 'git lfs install');
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await smtp?.close();
  });

  it('balances round-robin: both nodes answer through nginx', async () => {
    for (let i = 0; i < 4; i++) expect(await status(api('GET', '/api/whoami-v2', tokens.alice))).toBe(200);
    // nginx writes a request's log line once it has answered: the last one may come a moment later.
    const whoami = () => cluster.answeredBy((uri) => uri === '/api/whoami-v2').map((r) => r.nodes);
    await poll(() => whoami().length >= 4, 5000, 20);
    expect(whoami().sort()).toEqual(['a', 'a', 'b', 'b']);
  });

  it('an LFS upload batched on one node is verified on the other; git-lfs pushes and clones through the balancer', async () => {
    const objects = Array.from({ length: 3 }, () => randomObject(200_000));
    const onA = lfsClient({ url: cluster.nodes[0].url } as Hubgate, tokens.alice, 'alice/lfs');
    const batch = await onA.batch('upload', objects, ['basic'], 30_000);
    expect(batch.status, batch.text).toBe(200);
    for (const [i, obj] of objects.entries()) {
      const actions = batch.json.objects[i].actions;
      expect((await onA.put(actions.upload, obj.bytes)).status).toBe(200);
      // The link names the balancer (every node signs with the same key); sent to node b here.
      expect(actions.verify.href.startsWith(`${cluster.url}/`)).toBe(true);
      const verified = await onA.verify({ ...actions.verify, href: cluster.onNode(1, actions.verify.href) }, obj);
      expect(verified.status, verified.text).toBe(200);
    }
    const onB = lfsClient({ url: cluster.nodes[1].url } as Hubgate, tokens.alice, 'alice/lfs');
    expect((await onB.downloadableIntact(objects)).sort()).toEqual(objects.map((o) => o.oid).sort());

    // git-lfs: one batch and a verify per object, spread over both nodes by the balancer.
    const { work } = await cloneWork('alice/lfs');
    ok(await git(['lfs', 'track', '*.bin'], work));
    const files = Array.from({ length: 4 }, (_, i) => [`w${i}.bin`, crypto.randomBytes(300_000)] as const);
    for (const [name, bytes] of files) fs.writeFileSync(path.join(work, name), bytes);
    ok(await git(['add', '.'], work));
    ok(await git(['commit', '-qm', 'weights'], work));
    const before = cluster.answeredBy(() => true).length;
    ok(await git(['push', '-q', 'origin', 'main'], work), 'git push');
    const lfsRequests = cluster.answeredBy(() => true).slice(before).filter((r) => r.uri.includes('/info/lfs/'));
    expect(lfsRequests.length).toBeGreaterThanOrEqual(5);
    expect(new Set(lfsRequests.map((r) => r.nodes))).toEqual(new Set(['a', 'b']));
    const clone = scratch('clone-');
    ok(await git(['clone', '-q', cluster.remote('alice/lfs', tokens.alice), clone], clone), 'git clone');
    for (const [name, bytes] of files) expect(sha256(fs.readFileSync(path.join(clone, name)))).toBe(sha256(bytes));
  });

  it('multipart uploads: begun on one node, completed on either; @huggingface/hub through the balancer', async () => {
    const big = [randomObject(12 * MiB), randomObject(11 * MiB)];
    const onA = lfsClient({ url: cluster.nodes[0].url } as Hubgate, tokens.alice, 'alice/mp');
    const batch = await onA.batch('upload', big, ['multipart', 'basic']);
    expect(batch.status, batch.text).toBe(200);
    expect(batch.json.transfer).toBe('multipart');
    // The first completed on node a, the second on node b; each verified on the other.
    for (const [i, obj] of big.entries()) {
      const actions = batch.json.objects[i].actions;
      const parts = await onA.putParts(actions.upload, obj);
      expect(parts.length).toBe(3);
      const done = await onA.complete(cluster.onNode(i, actions.upload.href), obj.oid, parts);
      expect(done.status, done.text).toBe(200);
      const verified = await poll(async () => {
        const v = await onA.verify({ href: cluster.onNode(1 - i, actions.verify.href) }, obj);
        return v.status === 503 ? null : v;
      }, 20_000);
      expect(verified?.status, verified?.text).toBe(200);
    }
    expect((await onA.downloadableIntact(big)).sort()).toEqual(big.map((o) => o.oid).sort());

    // @huggingface/hub: preupload, batch, parts to S3, completion, commit; its requests to hubgate land on both nodes.
    const weights = crypto.randomBytes(13 * MiB);
    const before = cluster.answeredBy(() => true).length;
    const out = await uploadFiles({ repo: 'alice/mp', hubUrl: cluster.url, accessToken: tokens.alice, files: [{ path: 'big.safetensors', content: new Blob([weights]) }] });
    const mine = cluster.answeredBy(() => true).slice(before);
    expect(new Set(mine.map((r) => r.nodes))).toEqual(new Set(['a', 'b']));
    expect(cluster.s3.requests.some((r) => r.method === 'PUT' && /partNumber=3/.test(r.url))).toBe(true);
    expect(out?.commit.oid).toBe((await bare('alice/mp', ['rev-parse', 'main'])).trim());
    const clone = scratch('clone-');
    ok(await git(['clone', '-q', cluster.remote('alice/mp', tokens.alice), clone], clone), 'git clone');
    expect(sha256(fs.readFileSync(path.join(clone, 'big.safetensors')))).toBe(sha256(weights));
  });

  it('concurrent pushes and API commits to one branch: each lands or is refused cleanly, and all land on retry; fsck is clean', async () => {
    const repo = 'alice/busy';
    const { head: base } = await cloneWork(repo);
    const pushers = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const work = scratch('pusher-');
        ok(await git(['clone', '-q', cluster.remote(repo, tokens.alice), work], work), 'clone');
        await fastImport(work, { ref: 'refs/heads/main', count: 2, time: T0 + 10 * (i + 1), prefix: `push${i}-`, from: base });
        ok(await git(['reset', '-q', '--hard'], work), 'reset'); // the work tree as the imported commits have it
        return work;
      }),
    );
    const commit = (i: number) =>
      fetch(`${cluster.url}/api/models/${repo}/commit/main`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${tokens.alice}`, 'Content-Type': 'application/x-ndjson' },
        body: [
          { key: 'header', value: { summary: `api ${i}`, description: '' } },
          { key: 'file', value: { path: `api-${i}.txt`, content: Buffer.from(`api ${i}\n`).toString('base64'), encoding: 'base64' } },
        ].map((l) => JSON.stringify(l)).join('\n'),
      });
    const [pushes, commits] = await Promise.all([
      Promise.all(pushers.map((work) => git(['push', '-q', 'origin', 'main'], work))),
      Promise.all(Array.from({ length: 4 }, async (_, i) => {
        const r = await commit(i);
        return { status: r.status, text: await r.text() };
      })),
    ]);
    // API commits without a parent are applied on top of whatever landed first: all land.
    for (const c of commits) expect(c.status, c.text).toBe(200);
    // A push loses the race cleanly: git's own refusal, not a server error.
    for (const p of pushes.filter((r) => r.code !== 0)) expect(p.stderr).toMatch(/rejected|fetch first|failed to update ref|cannot lock ref|non-fast-forward/);
    // (The API commits may all land first: then every push of the first round is refused.)
    // The losers fetch, rebase and push again until they land.
    for (const [i, work] of pushers.entries()) {
      if (pushes[i].code === 0) continue;
      for (let attempt = 0; ; attempt++) {
        ok(await git(['pull', '-q', '--rebase', 'origin', 'main'], work), 'pull --rebase');
        if ((await git(['push', '-q', 'origin', 'main'], work)).code === 0) break;
        expect(attempt).toBeLessThan(5);
      }
    }
    const names = (await bare(repo, ['ls-tree', '--name-only', 'main'])).split('\n');
    for (let i = 0; i < 4; i++) expect(names).toEqual(expect.arrayContaining([`push${i}-0.txt`, `push${i}-1.txt`, `api-${i}.txt`]));
    expect(Number((await bare(repo, ['rev-list', '--count', `${base}..main`])).trim())).toBe(4 * 2 + 4);
    await fsckClean(repo);
  });

  it('access changed on one node is enforced on the other at once: gated accept, org membership, token revocation, a disabled account', async () => {
    await cluster.nodes[0].pushFiles('alice/gated', tokens.alice, { 'README.md': '# gated\n' });
    const gatedFile = '/alice/gated/resolve/main/README.md';
    expect(await status(api('POST', '/alice/gated/ask-access', tokens.bob, { fields: {} }, 0))).toBe(201);
    expect(await status(api('GET', gatedFile, tokens.bob, undefined, 1))).toBe(403);
    expect(await status(api('POST', '/api/models/alice/gated/user-access-request/handle', tokens.alice, { user: 'bob', status: 'accepted' }, 0))).toBe(200);
    expect(await status(api('GET', gatedFile, tokens.bob, undefined, 1))).toBe(200);
    expect(await status(api('POST', '/api/models/alice/gated/user-access-request/handle', tokens.alice, { user: 'bob', status: 'rejected' }, 1))).toBe(200);
    expect(await status(api('GET', gatedFile, tokens.bob, undefined, 0))).toBe(403);

    const privateInfo = '/api/models/acme/private';
    expect(await status(api('GET', privateInfo, tokens.carol, undefined, 1))).toBe(404);
    expect(await status(api('POST', '/api/organizations/acme/members', tokens.alice, { user: 'carol', role: 'read' }, 0))).toBe(201);
    expect(await status(api('GET', privateInfo, tokens.carol, undefined, 1))).toBe(200);
    expect(await status(api('DELETE', '/api/organizations/acme/members/carol', tokens.alice, undefined, 1))).toBe(200);
    expect(await status(api('GET', privateInfo, tokens.carol, undefined, 0))).toBe(404);

    // A token revoked by an operator's command; an account disabled through one node.
    const dave = await cli('token', 'create', 'dave', '--role', 'read');
    for (const node of [0, 1]) expect(await status(api('GET', '/api/whoami-v2', dave, undefined, node))).toBe(200);
    const id = /^(\S+)/.exec((await cli('token', 'list', 'dave')).split('\n').find((l) => l.includes('read'))!)![1];
    await cli('token', 'revoke', id);
    for (const node of [0, 1]) expect(await status(api('GET', '/api/whoami-v2', dave, undefined, node))).toBe(401);
    expect(await status(api('POST', '/api/admin/users/erin/disable', tokens.alice, undefined, 1))).toBe(200);
    for (const node of [0, 1]) expect(await status(api('GET', '/api/whoami-v2', tokens.erin, undefined, node))).toBe(401);
  });

  it('sends one digest per period with both nodes running, every request in exactly one', async () => {
    const askers = ['bob', 'carol', 'frank'];
    // Requests through either node, one per ~¾ period, so each period may have new ones.
    for (const [i, user] of askers.entries()) {
      expect(await status(api('POST', '/alice/daily/ask-access', tokens[user], { fields: {} }, i % 2))).toBe(201);
      if (i < askers.length - 1) await sleep(DIGEST_INTERVAL * 0.75);
    }
    const daily = () => smtp.mails.filter((m) => m.subject.endsWith(' to alice/daily'));
    const named = () => daily().flatMap((d) => [...d.text.matchAll(/^ *- (\w+)\b/gm)].map((m) => m[1]));
    expect(await poll(() => named().length >= askers.length, 20_000, 100)).toBe(true);
    await sleep(2 * DIGEST_INTERVAL);
    // Every request in exactly one digest (none sent by both nodes), to the owner.
    expect(named().sort()).toEqual([...askers].sort());
    for (const d of daily()) expect(d.to).toEqual(['alice@example.com']);
    // Never two digests within one period.
    const times = daily().map((m) => m.at);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(DIGEST_INTERVAL - 300);
  });

  it('a node killed mid-push: the push fails, the other node serves, the retry lands, nothing half-done stays', async () => {
    const repo = 'alice/crash';
    const seeded = await cluster.nodes[0].pushFiles(repo, tokens.alice, { 'README.md': 'seed\n' });
    const work = scratch('crash-');
    ok(await git(['clone', '-q', cluster.remote(repo, tokens.alice), work], work), 'clone');
    await fastImport(work, { ref: 'refs/heads/main', count: 1, time: T0, prefix: 'heavy-', from: seeded, file: () => crypto.randomBytes(16 * MiB) });
    const tip = ok(await git(['rev-parse', 'main'], work)).trim();
    const push = git(['push', '-q', 'origin', 'main'], work);
    // The node receiving the pack (the POST), not the one that answered the advertisement (the GET before it).
    const victim = await nodeRunning(/receive-pack --stateless-rpc (?!--advertise-refs)/);
    await killNode(victim);
    const failed = await push;
    expect(failed.code).not.toBe(0);
    // The branch still names the commit it named; the other node serves (nginx passes reads on).
    expect((await bare(repo, ['rev-parse', 'main'])).trim()).toBe(seeded);
    for (let i = 0; i < 3; i++) expect(await status(api('GET', `/api/models/${repo}`, tokens.alice))).toBe(200);
    // The killed node starts again (its leftovers swept at start) while the retry goes on.
    const rejoined = cluster.restart(victim);
    const again = await git(['push', '-q', 'origin', 'main'], work);
    expect(again.code, again.stderr).toBe(0);
    expect((await bare(repo, ['rev-parse', 'main'])).trim()).toBe(tip);
    await fsckClean(repo);
    await rejoined;
    const info = await (await api('GET', `/api/models/${repo}`, tokens.alice, undefined, victim)).json();
    expect(info.sha).toBe(tip);
  });

  it('a node killed mid-commit: the retry through the balancer lands once, the pending LFS upload is confirmed by the other node', async () => {
    const repo = 'alice/crash';
    const before = (await bare(repo, ['rev-parse', 'main'])).trim();
    // An LFS object uploaded as @huggingface/hub does (batch on node b, PUT to S3, no verify).
    const weights = randomObject(300_000);
    const onB = lfsClient({ url: cluster.nodes[1].url } as Hubgate, tokens.alice, repo);
    const batch = await onB.batch('upload', [weights]);
    expect((await onB.put(batch.json.objects[0].actions.upload, weights.bytes)).status).toBe(200);
    const inline = crypto.randomBytes(8 * MiB);
    const lines = [
      JSON.stringify({ key: 'header', value: { summary: 'weights and data', description: '' } }),
      JSON.stringify({ key: 'lfsFile', value: { path: 'weights.bin', algo: 'sha256', oid: weights.oid, size: weights.size } }),
      JSON.stringify({ key: 'file', value: { path: 'data.bin', content: inline.toString('base64'), encoding: 'base64' } }),
    ].join('\n');
    // Half of the body to node b, which is then killed while it reads the rest.
    const half = Math.floor(lines.length / 2);
    const req = http.request(`${cluster.nodes[1].url}/api/models/${repo}/commit/main`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.alice}`, 'Content-Type': 'application/x-ndjson', 'Content-Length': String(Buffer.byteLength(lines)) },
    });
    const answered = new Promise<string>((resolve) => {
      req.on('response', (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
    req.write(lines.slice(0, half));
    await poll(() => fs.existsSync(path.join(cluster.dataDir, 'tmp')) && fs.readdirSync(path.join(cluster.dataDir, 'tmp')).some((n) => n.includes(String(cluster.nodes[1].process.pid))), 10_000, 20);
    await killNode(1);
    expect(await answered).toMatch(/^error /);
    expect((await bare(repo, ['rev-parse', 'main'])).trim()).toBe(before);

    // The client retries through the balancer: node b is down, node a takes it.
    const retry = await fetch(`${cluster.url}/api/models/${repo}/commit/main`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.alice}`, 'Content-Type': 'application/x-ndjson' },
      body: lines,
    });
    expect(retry.status, await retry.clone().text()).toBe(200);
    const commitsLogged = () => cluster.answeredBy((uri) => uri === `/api/models/${repo}/commit/main`);
    await poll(() => commitsLogged().length > 0, 5000, 20);
    expect(commitsLogged().at(-1)?.nodes).toMatch(/^(b,)?a$/); // passed on if b was tried first: it got no byte
    const rejoined = cluster.restart(1);
    const landed = (await retry.json()).commitOid;
    expect((await bare(repo, ['rev-parse', 'main'])).trim()).toBe(landed);
    expect((await bare(repo, ['rev-list', '--count', `${before}..main`])).trim()).toBe('1');
    expect((await bare(repo, ['rev-parse', 'main:data.bin'])).trim()).toBe(crypto.createHash('sha1').update(`blob ${inline.length}\0`).update(inline).digest('hex'));
    const onA = lfsClient({ url: cluster.nodes[0].url } as Hubgate, tokens.alice, repo);
    expect(await onA.downloadableIntact([weights])).toEqual([weights.oid]);
    await fsckClean(repo);
    await rejoined;
  });

  it('SIGTERM during a clone: the node finishes the clone before it exits, the other node takes new requests', async () => {
    const repo = 'alice/big';
    const { work, head } = await cloneWork(repo);
    await fastImport(work, { ref: 'refs/heads/main', count: 1, time: T0, from: head, file: () => crypto.randomBytes(24 * MiB) });
    ok(await git(['push', '-q', 'origin', 'main'], work), 'push');
    const tip = ok(await git(['rev-parse', 'main'], work)).trim();

    // The clone in its own process group, so the test can hold it (SIGSTOP) with the node mid-send
    // (the pack is larger than what the sockets between them can buffer).
    const dest = path.join(tempDir('hubgate-clone-'), 'c');
    const clone = spawn('git', ['clone', '-q', '--no-checkout', cluster.remote(repo, tokens.alice), dest], { env: clientEnv(scratch('home-')), detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    clone.stderr!.on('data', (b) => (stderr += b));
    const cloned = new Promise<number | null>((resolve) => clone.on('exit', (code) => resolve(code)));
    // A clone's ls-refs and its fetch run the same upload-pack and may go to different nodes: the
    // node sending the pack is the one whose upload-pack is still running with the clone held.
    const uploadPack = /upload-pack --stateless-rpc (?!--advertise-refs)/;
    let serving = -1;
    for (let attempt = 0; serving < 0; attempt++) {
      if (attempt === 20) throw new Error('no node was caught sending the pack');
      await nodeRunning(uploadPack);
      process.kill(-clone.pid!, 'SIGSTOP');
      await sleep(500);
      serving = cluster.nodes.findIndex((n) => n.process.exitCode === null && childrenOf(n.process.pid!).some((c) => uploadPack.test(c.cmd)));
      if (serving < 0) process.kill(-clone.pid!, 'SIGCONT');
    }
    const node = cluster.nodes[serving];
    const exited = new Promise<number | null>((resolve) => node.process.once('exit', (code) => resolve(code)));
    node.process.kill('SIGTERM');
    await sleep(1000);
    // Still draining: the node has not exited; it takes no new connection; the other node answers through nginx.
    expect(node.process.exitCode).toBeNull();
    expect(await fetch(`${node.url}/healthz`).then(() => 'answered', () => 'refused')).toBe('refused');
    for (let i = 0; i < 3; i++) expect(await status(api('GET', `/api/models/${repo}`, tokens.alice))).toBe(200);
    process.kill(-clone.pid!, 'SIGCONT');
    expect(await cloned, stderr).toBe(0);
    expect(await exited).toBe(0);
    expect(ok(await git(['rev-parse', 'HEAD'], dest)).trim()).toBe(tip);
    ok(await git(['fsck', '--no-progress'], dest), 'fsck of the clone');
  });
});
