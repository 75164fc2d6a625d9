import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';

describe('smoke', () => {
  let hub: Hubgate;
  beforeAll(async () => {
    hub = await startHubgate();
  });
  afterAll(() => hub.stop());

  it('clones what it pushed', async () => {
    const token = await hub.userWithToken('alice');
    expect((await hub.cli(['repo', 'create', 'alice/m'])).code).toBe(0);
    const work = await hub.git(['clone', hub.remote('alice/m', token), '.']);
    expect(work.code).toBe(0);
  });
});
