import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate, tempDir } from './helpers/hubgate.js';

// The quickstart, with the data directory under a dot-directory (as in ~/.hubgate).
// Regression: fs-store downloads answered 404 there (send's dotfiles: 'ignore' checks every path part).
describe('smoke: quickstart with LFS, data under a dot-directory', () => {
  let hub: Hubgate;
  beforeAll(async () => {
    hub = await startHubgate({ dataDir: path.join(tempDir(), '.hubgate', 'data') });
  });
  afterAll(() => hub.stop());

  it('clones what it pushed, LFS weights included', async () => {
    const token = await hub.userWithToken('alice');
    expect((await hub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
    expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
    const work = tempDir();
    expect((await hub.git(['clone', hub.remote('alice/m', token), '.'], { cwd: work })).code).toBe(0);
    const weights = crypto.randomBytes(2 * 1024 * 1024);
    fs.writeFileSync(path.join(work, 'model.safetensors'), weights);
    expect((await hub.git(['add', 'model.safetensors'], { cwd: work })).code).toBe(0);
    expect((await hub.git(['commit', '-m', 'weights'], { cwd: work })).code).toBe(0);
    const push = await hub.git(['push', 'origin', 'main'], { cwd: work });
    expect(push.code, push.stderr).toBe(0);

    const copy = tempDir();
    const clone = await hub.git(['clone', hub.remote('alice/m', token), '.'], { cwd: copy });
    expect(clone.code, clone.stderr).toBe(0);
    expect(fs.readFileSync(path.join(copy, 'model.safetensors')).equals(weights)).toBe(true);
  });
});
