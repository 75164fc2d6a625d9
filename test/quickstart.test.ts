// The README's quickstart, run as written: its shell blocks after `npm start`, against a real
// server (its address and data dir swapped in), in a HOME of its own so the machine's git config
// is never touched. The token goes to git's credential helper, never into a URL: it must not
// show in .git/config or in what git and git-lfs print, clone, push and LFS push included.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, clientEnv, type Hubgate, ROOT, run, startHubgate, tempDir } from './helpers/hubgate.js';

/** The sh blocks of the README's Quickstart section, in order. */
function quickstartBlocks(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quickstart\n'))!;
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

describe('README quickstart', () => {
  let hub: Hubgate;
  beforeAll(async () => {
    hub = await startHubgate();
  });
  afterAll(() => hub?.stop());

  it('clones and pushes (LFS too) with the token in the credential helper, never in a URL', async () => {
    const blocks = quickstartBlocks();
    expect(blocks[0]).toContain('npm start');
    const steps = blocks.slice(1).join('\n');
    expect(steps).toContain('git credential approve');
    expect(steps).not.toMatch(/:\$TOKEN@/);

    const home = tempDir('hubgate-quickstart-home-');
    const work = tempDir('hubgate-quickstart-');
    const weights = crypto.randomBytes(1024 * 1024);
    fs.writeFileSync(path.join(home, 'model.safetensors'), weights);
    // `npx hubgate` is this checkout's bin on the server's data dir; the server is at its test port.
    const script = [
      'set -e',
      `npx() { [ "$1" = hubgate ] && shift; "${process.execPath}" "${BIN}" "$@"; }`,
      steps.replaceAll('127.0.0.1:8080', `127.0.0.1:${hub.port}`),
      'echo "TOKEN=$TOKEN"',
    ].join('\n');
    const r = await run('sh', ['-c', script], { cwd: work, env: clientEnv(home, { HUBGATE_DATA_DIR: hub.dataDir, GIT_TRACE: '0' }) });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const token = /^TOKEN=(\S+)$/m.exec(r.stdout)![1];
    expect(token).toMatch(/^hf_/);

    // Only the credential store and the global config it names hold the secret's trace.
    expect(fs.readFileSync(path.join(home, '.gitconfig'), 'utf8')).toMatch(/helper = store/);
    expect(fs.readFileSync(path.join(home, '.git-credentials'), 'utf8').trim()).toMatch(new RegExp(`^http://alice:${token}@127\\.0\\.0\\.1(:|%3a)${hub.port}$`));
    const clone = path.join(work, 'my-model');
    expect(fs.readFileSync(path.join(clone, '.git', 'config'), 'utf8')).not.toContain(token);
    expect(`${r.stdout.replace(/^TOKEN=.*$/m, '')}${r.stderr}`).not.toContain(token);

    // What was pushed is on the server: the card and the weights, the latter through LFS.
    const copy = tempDir('hubgate-quickstart-copy-');
    const check = await run('git', ['clone', '-q', hub.remote('alice/my-model', token), '.'], { cwd: copy, env: clientEnv(home) });
    expect(check.code, check.stderr).toBe(0);
    expect(fs.readFileSync(path.join(copy, 'README.md'), 'utf8')).toBe('# my model\n');
    expect(fs.readFileSync(path.join(copy, 'model.safetensors')).equals(weights)).toBe(true);
    const pointer = await run('git', ['cat-file', 'blob', 'HEAD:model.safetensors'], { cwd: copy, env: clientEnv(home) });
    expect(pointer.stdout).toContain('version https://git-lfs.github.com/spec/v1');
  });
});
