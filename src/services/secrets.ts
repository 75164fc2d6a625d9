import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../db/index.js';
import { settleSecret } from '../db/secrets.js';

// The secrets every node shares, kept in the database (src/db/secrets.ts) so that any node
// verifies what another signed. Made by the first node that needs one.

/** Where versions before the secrets table kept the URL signing key; its bytes are imported once. */
export const LEGACY_SIGNING_KEY_FILE = 'signing.key';

/**
 * The key that signs transfer and completion URLs, download links and LFS-over-SSH tokens
 * (lfs/signing.ts). A data directory from before keeps its DATA/signing.key: its bytes become
 * the shared key, so links handed out before the upgrade stay valid. The file is left in place
 * (an older version started on the data directory still finds its key) but no longer read once
 * the database holds the key.
 */
export function urlSigningKey(db: Db, dataDir: string): Promise<Buffer> {
  return settleSecret(db, 'url-signing', () => legacyKey(path.join(dataDir, LEGACY_SIGNING_KEY_FILE)) ?? crypto.randomBytes(32));
}

function legacyKey(file: string): Buffer | null {
  try {
    const key = fs.readFileSync(file);
    return key.length >= 16 ? key : null;
  } catch {
    return null;
  }
}
