// Git smart HTTP conformance, ported from git's own t5551/t5541/t5702/t5539/t5616/t5545
// scenarios (see /work/shared/reference/git-http.md §4): the real git client against a real
// hubgate process, once with protocol v0 and once with v2.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countLines, fastImport, git, installCustomHook, newWorkRepo, ok, scratch, traces } from './helpers/git-client.js';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';

const T0 = 1_700_000_000;

describe.each([0, 2])('git smart HTTP, protocol v%i', (version) => {
  let hub: Hubgate;
  let token: string;

  /** git with `-c protocol.version=N`, in `cwd`. */
  const g = (args: string[], cwd: string, env?: NodeJS.ProcessEnv) => git(['-c', `protocol.version=${version}`, ...args], cwd, { env });
  const remote = (repo: string) => hub.remote(repo, token);
  /** Reads the server's bare repo directly. */
  const server = (repo: string, args: string[]) => git([`--git-dir=${hub.repoDir(repo)}`, ...args], hub.dataDir);
  const serverRef = async (repo: string, ref: string) => (await server(repo, ['rev-parse', '--verify', '-q', ref])).stdout.trim();
  const serverRefs = async (repo: string) => ok(await server(repo, ['for-each-ref', '--format=%(refname)']));

  async function createRepo(id: string): Promise<void> {
    ok(await hub.cli(['repo', 'create', id]), `repo create ${id}`);
  }

  /** A new server repo whose main holds `count` commits (pushed from a scratch repo); returns the scratch repo and tip. */
  async function seeded(id: string, count: number): Promise<{ work: string; tip: string }> {
    await createRepo(id);
    const work = await newWorkRepo(remote(id));
    const tip = await fastImport(work, { ref: 'refs/heads/main', count, time: T0 });
    // --force: a new repo's main holds hubgate's initial .gitattributes commit, which this history replaces.
    ok(await g(['push', '--force', 'origin', 'main'], work));
    expect(await serverRef(id, 'refs/heads/main')).toBe(tip);
    return { work, tip };
  }

  /** A scratch repo whose main is the server's main (fetched at the version under test). */
  async function workOn(id: string): Promise<string> {
    const work = await newWorkRepo(remote(id));
    ok(await g(['fetch', '--update-head-ok', 'origin', 'main:main'], work));
    return work;
  }

  beforeAll(async () => {
    hub = await startHubgate();
    token = await hub.userWithToken('alice');
  });
  afterAll(() => hub?.stop());

  it('clones, then fetches what another clone pushed', async () => {
    const { work, tip: first } = await seeded('alice/fetch', 3);
    const clone = scratch();
    const t = traces();
    ok(await g(['clone', remote('alice/fetch'), clone], clone, t.env));
    expect(ok(await git(['rev-parse', 'HEAD'], clone)).trim()).toBe(first);
    // The client really spoke the version under test.
    if (version === 2) expect(t.packet()).toMatch(/< version 2\s*$/m);
    else expect(t.packet()).not.toMatch(/version 2/);

    const second = await fastImport(work, { ref: 'refs/heads/main', from: first, count: 2, time: T0 + 100, prefix: 'more-' });
    ok(await g(['push', 'origin', 'main'], work));
    ok(await g(['fetch', 'origin'], clone));
    expect(ok(await git(['rev-parse', 'origin/main'], clone)).trim()).toBe(second);
    expect(ok(await git(['rev-list', '--count', 'origin/main'], clone)).trim()).toBe('5');
  });

  it(`ls-remote makes ${version === 2 ? 'exactly one POST' : 'no POST (one GET)'}`, async () => {
    const { tip } = await seeded('alice/lsremote', 1);
    const t = traces();
    const out = ok(await g(['ls-remote', remote('alice/lsremote')], scratch(), t.env));
    expect(out).toContain(`${tip}\trefs/heads/main`);
    expect(out).toMatch(/\tHEAD$/m);
    const curl = t.curl();
    expect(countLines(curl, /Send header: GET .*\/info\/refs\?service=git-upload-pack/)).toBe(1);
    expect(countLines(curl, /Send header: POST /)).toBe(version === 2 ? 1 : 0);
    if (version === 2) {
      expect(curl).toMatch(/Send header: Git-Protocol: version=2/);
      expect(t.packet()).toMatch(/< version 2\s*$/m);
      expect(t.packet()).toMatch(/> command=ls-refs/);
      // As git http-backend: no "# service=" preamble in a v2 advertisement.
      expect(t.packet()).not.toMatch(/# service=/);
    } else {
      expect(t.packet()).not.toMatch(/version 2/);
      // v0 over HTTP starts with the service announcement.
      expect(t.packet()).toMatch(/< # service=git-upload-pack/);
    }
  });

  it('shallow clone --depth 1, then fetch --deepen 5', async () => {
    const { tip } = await seeded('alice/shallow', 12);
    const clone = scratch();
    ok(await g(['clone', '--depth', '1', remote('alice/shallow'), clone], clone));
    expect(ok(await git(['rev-list', '--count', 'HEAD'], clone)).trim()).toBe('1');
    expect(fs.existsSync(path.join(clone, '.git', 'shallow'))).toBe(true);
    ok(await g(['fetch', '--deepen', '5'], clone));
    expect(ok(await git(['rev-list', '--count', 'HEAD'], clone)).trim()).toBe('6');
    expect(ok(await git(['rev-parse', 'HEAD'], clone)).trim()).toBe(tip);
  });

  it('partial clone --filter=blob:none, then a checkout fetches the blobs lazily', async () => {
    await seeded('alice/partial', 10);
    const clone = scratch();
    const res = await g(['clone', '--filter=blob:none', '--no-checkout', remote('alice/partial'), clone], clone);
    ok(res);
    expect(res.stderr).not.toMatch(/filtering not recognized/);
    expect(ok(await git(['config', 'remote.origin.promisor'], clone)).trim()).toBe('true');
    const missing = () => git(['rev-list', '--objects', '--missing=print', '--all'], clone).then((r) => countLines(ok(r), /^\?/));
    // Ten commits of one new file each: ten blobs, none of them fetched yet.
    expect(await missing()).toBe(10);

    const checkout = await g(['checkout', 'main'], clone);
    ok(checkout);
    expect(fs.readFileSync(path.join(clone, 'file-9.txt'), 'utf8')).toBe('file-9\n');
    expect(fs.readFileSync(path.join(clone, 'file-0.txt'), 'utf8')).toBe('file-0\n');
    expect(await missing()).toBe(0);
    expect(ok(await git(['status', '--porcelain'], clone))).toBe('');
  });

  it('pushes with chunked encoding (http.postBuffer=4)', async () => {
    const { tip: base } = await seeded('alice/chunked', 1);
    const work = await workOn('alice/chunked');
    // Random data does not compress: the pack is > 300 KB, well over the 64 KiB floor of http.postBuffer.
    const tip = await fastImport(work, { ref: 'refs/heads/main', from: base, count: 3, time: T0 + 100, prefix: 'big-', file: () => crypto.randomBytes(120 * 1024) });
    const t = traces();
    ok(await g(['-c', 'http.postBuffer=4', 'push', 'origin', 'main'], work, t.env));
    const curl = t.curl();
    expect(curl).toMatch(/Send header: POST .*\/git-receive-pack/);
    expect(curl).toMatch(/Send header: Transfer-Encoding: chunked/);
    expect(await serverRef('alice/chunked', 'refs/heads/main')).toBe(tip);
    ok(await server('alice/chunked', ['fsck', '--connectivity-only', '--no-progress']));
  });

  it('accepts a gzip-compressed fetch negotiation (many local haves)', async () => {
    const { work, tip: base } = await seeded('alice/gzip', 2);
    const clone = scratch();
    ok(await g(['clone', '--no-checkout', remote('alice/gzip'), clone], clone));
    // 80 local commits the server never saw, newer than anything it has: the client offers
    // them all as haves, so a negotiation request grows well past 1 KiB and git gzips it.
    await fastImport(clone, { ref: 'refs/heads/main', from: base, count: 80, time: T0 + 1000, prefix: 'local-' });
    const serverTip = await fastImport(work, { ref: 'refs/heads/main', from: base, count: 3, time: T0 + 2000, prefix: 'remote-' });
    ok(await g(['push', 'origin', 'main'], work));

    const t = traces();
    ok(await g(['fetch', 'origin'], clone, t.env));
    expect(t.curl()).toMatch(/Send header: Content-Encoding: gzip/);
    expect(ok(await git(['rev-parse', 'origin/main'], clone)).trim()).toBe(serverTip);
    ok(await git(['fsck', '--connectivity-only', '--no-progress'], clone));
  });

  describe('hooks', () => {
    const optionsFile = () => path.join(hub.dataDir, '..', `push-options-v${version}.txt`);

    beforeAll(async () => {
      await seeded('alice/hooks', 2);
      const dir = hub.repoDir('alice/hooks');
      installCustomHook(dir, '10-block', `#!/bin/sh
while read old new ref; do
  if [ "$ref" = refs/heads/blocked ]; then
    echo "policy: pushing to $ref is not allowed" >&2
    exit 1
  fi
done
exit 0
`);
      installCustomHook(dir, '20-options', `#!/bin/sh
cat >/dev/null
{
  echo "count=\${GIT_PUSH_OPTION_COUNT:-unset}"
  i=0
  while [ "$i" -lt "\${GIT_PUSH_OPTION_COUNT:-0}" ]; do
    eval "echo \\"option=\\$GIT_PUSH_OPTION_$i\\""
    i=$((i + 1))
  done
} > '${optionsFile()}'
sed 's/^/push-option: /' '${optionsFile()}' >&2
`);
    });

    it('an atomic push with one ref refused by a hook creates neither ref', async () => {
      const work = await workOn('alice/hooks');
      const res = await g(['push', '--atomic', '--porcelain', 'origin', 'main:refs/heads/ok1', 'main:refs/heads/blocked'], work);
      const said = res.stdout + res.stderr;
      expect(res.code).not.toBe(0);
      expect(said).toMatch(/^remote: policy: pushing to refs\/heads\/blocked is not allowed/m);
      expect(said).toMatch(/refs\/heads\/ok1\s.*(pre-receive hook declined|atomic push failed)/);
      expect(said).toMatch(/refs\/heads\/blocked\s.*pre-receive hook declined/);
      const refs = await serverRefs('alice/hooks');
      expect(refs).not.toContain('refs/heads/ok1');
      expect(refs).not.toContain('refs/heads/blocked');

      // The human-readable report says the same.
      const human = await g(['push', '--atomic', 'origin', 'main:refs/heads/ok1', 'main:refs/heads/blocked'], work);
      expect(human.code).not.toBe(0);
      expect(human.stderr).toMatch(/! \[remote rejected\] main -> blocked \(pre-receive hook declined\)/);
      expect(await serverRefs('alice/hooks')).not.toContain('refs/heads/ok1');

      // Without the refused ref the push goes through.
      ok(await g(['push', 'origin', 'main:refs/heads/ok1'], work));
      expect(await serverRef('alice/hooks', 'refs/heads/ok1')).toBe(ok(await git(['rev-parse', 'main'], work)).trim());
      expect(await serverRefs('alice/hooks')).not.toContain('refs/heads/blocked');
    });

    it('an atomic push fails as a whole on a server-side ref error', async () => {
      // t5541: a D/F conflict on one ref fails the transaction; the other ref is not created.
      const work = await workOn('alice/hooks');
      ok(await g(['push', 'origin', 'main:refs/heads/dir'], work));
      const res = await g(['push', '--atomic', 'origin', 'main:refs/heads/ok2', 'main:refs/heads/dir/sub'], work);
      expect(res.code).not.toBe(0);
      expect(res.stderr).toMatch(/atomic (push|transaction) failed/);
      const refs = await serverRefs('alice/hooks');
      expect(refs).not.toContain('refs/heads/ok2');
      expect(refs).not.toContain('refs/heads/dir/sub');
    });

    it('push options reach the pre-receive hooks', async () => {
      const work = await workOn('alice/hooks');
      const res = await g(['push', '-o', 'ci.skip', '-o', 'reviewer=bob', 'origin', 'main:refs/heads/with-options'], work);
      ok(res);
      expect(fs.readFileSync(optionsFile(), 'utf8')).toBe('count=2\noption=ci.skip\noption=reviewer=bob\n');
      expect(res.stderr).toMatch(/^remote: push-option: option=ci.skip/m);
      expect(res.stderr).toMatch(/^remote: push-option: option=reviewer=bob/m);

      // No options: the hook sees none.
      ok(await g(['push', 'origin', 'main:refs/heads/without-options'], work));
      expect(fs.readFileSync(optionsFile(), 'utf8')).toMatch(/^count=(0|unset)\n$/);
    });
  });

  it('pushes 2,000 tags; ls-remote and a fresh clone see all of them', async () => {
    await createRepo('alice/tags');
    const work = await newWorkRepo(remote('alice/tags'));
    // 2,000 distinct commits (each rewriting one file, so trees stay small), each tagged, so a
    // clone also sends 2,000 wants.
    const tag = (i: number) => `v${String(i).padStart(4, '0')}`;
    const tip = await fastImport(work, { ref: 'refs/heads/main', count: 2000, time: T0, tag, path: () => 'counter.txt' });
    ok(await g(['push', '--force', 'origin', 'main', '--tags'], work)); // replaces the initial commit

    const listed = ok(await g(['ls-remote', '--tags', remote('alice/tags')], work));
    expect(countLines(listed, /\trefs\/tags\/v\d{4}$/)).toBe(2000);
    expect(listed).toContain(`${tip}\trefs/tags/v1999`);

    const clone = scratch();
    // t5551/t5702: the large want list goes out chunked with a small postBuffer.
    const t = traces();
    ok(await g(['-c', 'http.postBuffer=65536', 'clone', '--no-checkout', remote('alice/tags'), clone], clone, t.env));
    expect(t.curl()).toMatch(/Send header: Transfer-Encoding: chunked/);
    expect(countLines(ok(await git(['tag', '--list'], clone)), /^v\d{4}$/)).toBe(2000);
    expect(ok(await git(['rev-parse', 'v0000^{commit}', 'v1999^{commit}'], clone)).trim().split('\n')[1]).toBe(tip);
  });

  it('creates and deletes a branch over push', async () => {
    const { work, tip } = await seeded('alice/branches', 2);
    ok(await g(['push', 'origin', 'main:refs/heads/feature'], work));
    expect(await serverRef('alice/branches', 'refs/heads/feature')).toBe(tip);
    expect(ok(await g(['ls-remote', '--heads', 'origin'], work))).toContain(`${tip}\trefs/heads/feature`);

    const del = await g(['push', 'origin', '--delete', 'feature'], work);
    ok(del);
    expect(del.stderr).toMatch(/\[deleted\]\s+feature/);
    expect(await serverRef('alice/branches', 'refs/heads/feature')).toBe('');
    expect(ok(await g(['ls-remote', '--heads', 'origin'], work))).not.toContain('refs/heads/feature');
    expect(await serverRef('alice/branches', 'refs/heads/main')).toBe(tip);
  });
});
