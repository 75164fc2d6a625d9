// The push policy (design §6, hooks/pre-receive + hooks/policy.ts) seen through real `git push`
// and git-lfs against a real hubgate: files over the limit must be LFS pointers, LFS pointers
// must name objects linked to this repo, and each refusal says what to run. New repos start
// with the Hub's default .gitattributes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultGitattributes } from '../src/git/default-gitattributes.js';
import { git, ok, scratch } from './helpers/git-client.js';
import { type Hubgate, ROOT, run, startHubgate } from './helpers/hubgate.js';

const MB = 1_000_000;
const POLICY = path.join(ROOT, 'dist', 'hooks', 'policy.js');

/** A hand-written LFS pointer file. */
const pointer = (oid: string, size: number) => `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${size}\n`;

describe('push policy', () => {
  let hub: Hubgate; // default limit; every git the server (and its hooks) runs is logged
  let raised: Hubgate; // HUBGATE_MAX_FILE_SIZE=20000000
  let token: string;
  let raisedToken: string;
  const gitLog = path.join(scratch('git-log-'), 'git.log');

  beforeAll(async () => {
    // A `git` that logs its arguments, so a test can count the git processes one push costs:
    // first on the server's PATH, and in a copy of git's exec path, which git puts first on
    // PATH for the hooks it runs.
    const bin = scratch('bin-');
    const execDir = scratch('exec-path-');
    const realGit = (await run('sh', ['-c', 'command -v git'])).stdout.trim();
    const realExecPath = (await run(realGit, ['--exec-path'])).stdout.trim();
    for (const name of fs.readdirSync(realExecPath)) {
      if (name !== 'git') fs.symlinkSync(path.join(realExecPath, name), path.join(execDir, name));
    }
    const logger = `#!/bin/sh\nprintf '%s\\n' "$*" >> '${gitLog}'\nGIT_EXEC_PATH='${execDir}' exec '${realGit}' "$@"\n`;
    for (const dir of [bin, execDir]) fs.writeFileSync(path.join(dir, 'git'), logger, { mode: 0o755 });
    [hub, raised] = await Promise.all([
      startHubgate({ env: { PATH: `${bin}${path.delimiter}${process.env.PATH}` } }),
      startHubgate({ env: { HUBGATE_MAX_FILE_SIZE: String(20 * MB) } }),
    ]);
    [token, raisedToken] = await Promise.all([hub.userWithToken('alice'), raised.userWithToken('alice')]);
  });
  afterAll(async () => {
    await Promise.all([hub?.stop(), raised?.stop()]);
  });

  /** Creates `repo` (NS/NAME) on `on` and clones it; with `lfs`, git-lfs is set up in the clone. */
  async function cloneNew(repo: string, opts: { on?: Hubgate; lfs?: boolean; type?: string } = {}): Promise<{ work: string; url: string }> {
    const on = opts.on ?? hub;
    ok(await on.cli(['repo', 'create', repo, ...(opts.type ? ['--type', opts.type] : [])]), `repo create ${repo}`);
    const url = on.remote(opts.type === 'dataset' ? `datasets/${repo}` : repo, on === hub ? token : raisedToken);
    const work = scratch('work-');
    ok(await git(['clone', '-q', url, '.'], work));
    if (opts.lfs) ok(await git(['lfs', 'install', '--local'], work));
    return { work, url };
  }

  const commitAll = async (work: string, message: string) => {
    ok(await git(['add', '-A'], work));
    ok(await git(['commit', '-q', '-m', message], work));
  };
  const serverMain = async (url: string) => /^(\S+)\trefs\/heads\/main$/m.exec(ok(await git(['ls-remote', url], scratch())))?.[1];
  const headOf = async (work: string) => ok(await git(['rev-parse', 'HEAD'], work)).trim();

  it("starts a new repo with the Hub's default .gitattributes in one commit by hubgate", async () => {
    const model = await cloneNew('alice/fresh');
    const attributes = fs.readFileSync(path.join(model.work, '.gitattributes'), 'utf8');
    expect(attributes).toBe(defaultGitattributes('model'));
    for (const pattern of ['*.safetensors', '*.bin', '*.pt', '*.onnx', '*.parquet', 'saved_model/**/*', '*tfevents*']) {
      expect(attributes).toContain(`${pattern} filter=lfs diff=lfs merge=lfs -text\n`);
    }
    expect(attributes).not.toContain('*.mp3');
    const log = ok(await git(['log', '--format=%an <%ae>|%cn <%ce>|%s'], model.work)).trim().split('\n');
    expect(log).toEqual(['hubgate <hubgate@localhost>|hubgate <hubgate@localhost>|initial commit']);
    expect(ok(await git(['ls-tree', '-r', '--name-only', 'HEAD'], model.work)).trim()).toBe('.gitattributes');

    // Datasets also send audio and images to LFS.
    const dataset = await cloneNew('alice/fresh-data', { type: 'dataset' });
    const datasetAttributes = fs.readFileSync(path.join(dataset.work, '.gitattributes'), 'utf8');
    expect(datasetAttributes).toBe(defaultGitattributes('dataset'));
    for (const pattern of ['*.safetensors', '*.mp3', '*.wav', '*.png', '*.jpg']) expect(datasetAttributes).toContain(`${pattern} filter=lfs`);
  });

  it('refuses a plain 11 MB file, naming it and saying how to move it to LFS, and moves no ref', async () => {
    const { work, url } = await cloneNew('alice/plain-big');
    const before = await serverMain(url);
    fs.mkdirSync(path.join(work, 'data'));
    fs.writeFileSync(path.join(work, 'data', 'big.dat'), crypto.randomBytes(11 * MB));
    fs.writeFileSync(path.join(work, 'README.md'), '# small\n');
    await commitAll(work, 'big file');

    const push = await git(['push', 'origin', 'main'], work);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/^remote: hubgate: push refused: 1 file is larger than 10 MB \(10000000 bytes\) and not stored with Git LFS/m);
    expect(push.stderr).toMatch(/^remote: {3}data\/big\.dat: 11 MB \(11000000 bytes\)/m);
    expect(push.stderr).toMatch(/^remote: {3}git lfs migrate import --include="data\/big\.dat"/m);
    expect(push.stderr).toMatch(/^remote: {3}git lfs track "\*\.dat"/m);
    expect(push.stderr).toMatch(/\[remote rejected\] main -> main \(pre-receive hook declined\)/);
    expect(push.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    expect(await serverMain(url)).toBe(before);

    // The advice works: rewrite, push.
    ok(await git(['lfs', 'install', '--local'], work));
    ok(await git(['lfs', 'migrate', 'import', '--include=data/big.dat'], work));
    ok(await git(['push', 'origin', 'main'], work));
    expect(await serverMain(url)).toBe(await headOf(work));
    expect(ok(await git(['cat-file', '-p', 'HEAD:data/big.dat'], work))).toMatch(/^version https:\/\/git-lfs\.github\.com\/spec\/v1\noid sha256:/);
  });

  it('lets the same file through when HUBGATE_MAX_FILE_SIZE is raised', async () => {
    const { work, url } = await cloneNew('alice/plain-big', { on: raised });
    fs.writeFileSync(path.join(work, 'big.dat'), crypto.randomBytes(11 * MB));
    await commitAll(work, 'big file');
    ok(await git(['push', 'origin', 'main'], work));
    expect(await serverMain(url)).toBe(await headOf(work));
    // ...but not one over the raised limit.
    fs.writeFileSync(path.join(work, 'bigger.dat'), crypto.randomBytes(21 * MB));
    await commitAll(work, 'bigger file');
    const push = await git(['push', 'origin', 'main'], work);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/larger than 20 MB \(20000000 bytes\)[\s\S]*bigger\.dat: 21 MB \(21000000 bytes\)/);
  });

  it('refuses an LFS pointer whose object was never uploaded, saying to run git lfs push --all', async () => {
    // Without git-lfs in the clone, the pointer is committed as it is written.
    const { work, url } = await cloneNew('alice/dangling');
    const before = await serverMain(url);
    const oid = crypto.randomBytes(32).toString('hex');
    fs.writeFileSync(path.join(work, 'model.safetensors'), pointer(oid, 123_456));
    await commitAll(work, 'pointer to nothing');

    const push = await git(['push', 'origin', 'main'], work);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/^remote: hubgate: push refused: 1 Git LFS pointer names an object this repository does not have/m);
    expect(push.stderr).toContain(`model.safetensors: sha256:${oid} (123456 bytes)`);
    expect(push.stderr).toMatch(/^remote: {3}git lfs push --all origin/m);
    expect(push.stderr).toMatch(/pre-receive hook declined/);
    expect(await serverMain(url)).toBe(before);
  });

  it('refuses a git-lfs push that skipped the upload, and takes it once the objects are there', async () => {
    const { work, url } = await cloneNew('alice/skipped', { lfs: true });
    const before = await serverMain(url);
    fs.writeFileSync(path.join(work, 'weights.bin'), crypto.randomBytes(2 * MB));
    await commitAll(work, 'weights');

    const push = await git(['push', 'origin', 'main'], work, { env: { GIT_LFS_SKIP_PUSH: '1' } });
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/weights\.bin: sha256:[0-9a-f]{64} \(2000000 bytes\)/);
    expect(push.stderr).toContain('git lfs push --all origin');
    expect(await serverMain(url)).toBe(before);

    // The advice works.
    ok(await git(['lfs', 'push', '--all', 'origin'], work));
    ok(await git(['push', 'origin', 'main'], work));
    expect(await serverMain(url)).toBe(await headOf(work));
  });

  it('takes a normal git-lfs push of a 12 MB tracked file, and a clone gets the bytes back', async () => {
    const { work, url } = await cloneNew('alice/lfs-ok', { lfs: true });
    // *.safetensors is tracked by the default .gitattributes: no `git lfs track` needed.
    const bytes = crypto.randomBytes(12 * MB);
    fs.writeFileSync(path.join(work, 'model.safetensors'), bytes);
    await commitAll(work, 'weights');
    ok(await git(['push', 'origin', 'main'], work));
    expect(await serverMain(url)).toBe(await headOf(work));

    // (git-lfs set up in the clone alone: a global `git lfs install` would reach this file's other tests.)
    const clone = scratch('clone-');
    ok(await git(['clone', '-q', url, '.'], clone));
    ok(await git(['lfs', 'install', '--local'], clone));
    ok(await git(['lfs', 'pull'], clone));
    expect(crypto.createHash('sha256').update(fs.readFileSync(path.join(clone, 'model.safetensors'))).digest('hex')).toBe(
      crypto.createHash('sha256').update(bytes).digest('hex'),
    );
  });

  it("refuses a pointer to an object that only another repo has", async () => {
    const owner = await cloneNew('alice/has-object', { lfs: true });
    fs.writeFileSync(path.join(owner.work, 'model.safetensors'), crypto.randomBytes(3 * MB));
    await commitAll(owner.work, 'weights');
    ok(await git(['push', 'origin', 'main'], owner.work));
    const text = ok(await git(['cat-file', '-p', 'HEAD:model.safetensors'], owner.work));
    const oid = /oid sha256:([0-9a-f]{64})/.exec(text)![1];

    // The same pointer committed in another repo, without uploading the bytes there.
    const other = await cloneNew('alice/wants-object');
    const before = await serverMain(other.url);
    fs.writeFileSync(path.join(other.work, 'copied.safetensors'), text);
    await commitAll(other.work, 'borrowed pointer');
    const push = await git(['push', 'origin', 'main'], other.work);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain(`copied.safetensors: sha256:${oid} (3000000 bytes)`);
    expect(await serverMain(other.url)).toBe(before);
  });

  it('reports both kinds of problem in one push', async () => {
    const { work } = await cloneNew('alice/both');
    fs.writeFileSync(path.join(work, 'raw.dat'), crypto.randomBytes(11 * MB));
    fs.writeFileSync(path.join(work, 'model.bin'), pointer(crypto.randomBytes(32).toString('hex'), 5));
    await commitAll(work, 'two problems');
    const push = await git(['push', 'origin', 'main'], work);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain('raw.dat: 11 MB (11000000 bytes)');
    expect(push.stderr).toContain('git lfs track "*.dat"');
    expect(push.stderr).toMatch(/model\.bin: sha256:[0-9a-f]{64} \(5 bytes\)/);
    expect(push.stderr).toContain('git lfs push --all origin');
  });

  it('lets through branch deletions, new branches at known commits, and a big file already on the server', async () => {
    const { work, url } = await cloneNew('alice/refs', { on: raised });
    fs.writeFileSync(path.join(work, 'big.dat'), crypto.randomBytes(11 * MB));
    await commitAll(work, 'big file');
    ok(await git(['push', 'origin', 'main', 'main:refs/heads/old'], work)); // allowed: the limit is raised on `raised`
    // Nothing new: a branch at a known commit, a tag, a deletion.
    ok(await git(['tag', 'v1'], work));
    ok(await git(['push', 'origin', 'main:refs/heads/copy', 'v1', ':refs/heads/old'], work));
    const refs = ok(await git(['ls-remote', url], work));
    expect(refs).toContain('refs/heads/copy');
    expect(refs).toContain('refs/tags/v1');
    expect(refs).not.toContain('refs/heads/old');
  });

  it('checks a push of 2,000 small files with three git processes, not one per object', async () => {
    const { work, url } = await cloneNew('alice/many');
    for (let i = 0; i < 2000; i++) {
      const dir = path.join(work, `d${i % 20}`);
      fs.mkdirSync(dir, { recursive: true });
      // 200-odd bytes: each is small enough to be a pointer, so each goes through `cat-file --batch`.
      fs.writeFileSync(path.join(dir, `f${i}.txt`), `file ${i}\n${'x'.repeat(200)}\n`);
    }
    // One real-looking pointer among them, to an object the repo does not have.
    fs.writeFileSync(path.join(work, 'd0', 'weights.bin'), pointer(crypto.randomBytes(32).toString('hex'), 42));
    await commitAll(work, 'many files');

    const mark = fs.existsSync(gitLog) ? fs.readFileSync(gitLog, 'utf8').length : 0;
    const push = await git(['push', 'origin', 'main'], work);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/d0\/weights\.bin: sha256:[0-9a-f]{64} \(42 bytes\)/);
    const ran = fs.readFileSync(gitLog, 'utf8').slice(mark).split('\n').filter(Boolean);
    // The policy's three, once each; everything else is receive-pack's own handful.
    expect(ran.filter((cmd) => cmd === 'rev-list --objects --stdin --not --all')).toHaveLength(1);
    expect(ran.filter((cmd) => cmd.startsWith('cat-file')).sort()).toEqual([
      'cat-file --batch-check=%(objecttype) %(objectname) %(objectsize) %(rest)',
      'cat-file --batch=%(objectname) %(objecttype) %(objectsize) %(rest)',
    ]);
    expect(ran.length, ran.join('\n')).toBeLessThan(15);

    // Without the dangling pointer the same push goes through.
    fs.rmSync(path.join(work, 'd0', 'weights.bin'));
    ok(await git(['commit', '-q', '--amend', '-a', '--no-edit'], work));
    ok(await git(['push', 'origin', 'main'], work));
    expect(await serverMain(url)).toBe(await headOf(work));
  });
});

describe('push policy program, given bad input', () => {
  const policy = (input: string, env: NodeJS.ProcessEnv = {}) => run(process.execPath, [POLICY], { input, env: { PATH: process.env.PATH, ...env } });
  const sha = 'a'.repeat(40);

  it.each([
    ['a line that is not "old new ref"', 'garbage\n', {}, /unexpected ref update from git: "garbage"/],
    ['an object id that is not hex', `${'z'.repeat(40)} ${sha} refs/heads/main\n`, {}, /unexpected ref update/],
    ['a bad HUBGATE_MAX_FILE_SIZE', `${'0'.repeat(40)} ${sha} refs/heads/main\n`, { HUBGATE_MAX_FILE_SIZE: 'ten' }, /HUBGATE_MAX_FILE_SIZE/],
    ['no repository to read', `${'0'.repeat(40)} ${sha} refs/heads/main\n`, { GIT_DIR: scratch('empty-') }, /push policy failed: git rev-list failed/],
  ])('refuses %s with one line and no stack trace', async (_what, input, env, message) => {
    const r = await policy(input, env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hubgate: push refused: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('accepts a push that only deletes (nothing to check)', async () => {
    const r = await policy(`${sha} ${'0'.repeat(40)} refs/heads/gone\n`);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });
});
