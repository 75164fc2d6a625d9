import path from 'node:path';
import { createFsStore } from './fs.js';
import type { S3Settings } from './s3.js';
import type { HubUrls, ObjectStore } from './types.js';

/** The settings that choose and build the store (HUBGATE_LFS_STORE, HUBGATE_S3_*, the data directory). */
export interface StoreSettings extends S3Settings {
  lfsStore: 'fs' | 's3';
  dataDir: string;
  /** fs: sync uploaded bytes to disk before keeping them (HUBGATE_LFS_FSYNC). */
  lfsFsync: boolean;
}

/** The single place a store is chosen and built from the settings. */
export async function createObjectStore(cfg: StoreSettings, urls: HubUrls): Promise<ObjectStore> {
  if (cfg.lfsStore === 's3') {
    const { createS3Store } = await import('./s3.js');
    return createS3Store(cfg);
  }
  return createFsStore(path.join(cfg.dataDir, 'lfs'), urls, { sync: cfg.lfsFsync });
}
