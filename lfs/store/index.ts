import path from 'node:path';
import type { Config } from '../../src/config.js';
import { createFsStore } from './fs.js';
import type { HubUrls, ObjectStore } from './types.js';

/** The single place a store is chosen and built from the settings. */
export async function createObjectStore(cfg: Config, urls: HubUrls): Promise<ObjectStore> {
  if (cfg.lfsStore === 's3') {
    const { createS3Store } = await import('./s3.js');
    return createS3Store(cfg);
  }
  return createFsStore(path.join(cfg.dataDir, 'lfs'), urls);
}
