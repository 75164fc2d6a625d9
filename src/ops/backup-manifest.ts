import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// backup.json: what a backup holds. It is written last, so a backup without it is not complete.

export const MANIFEST_FILE = 'backup.json';
const FORMAT = 1;

export interface BackupManifest {
  format: number;
  /** The hubgate version that took the backup. */
  hubgate: string;
  startedAt: string;
  finishedAt: string;
  /** The data directory backed up. */
  dataDir: string;
  repos: number;
  refs: number;
  gitObjectFiles: number;
  /** Repos in the database whose directory was gone (deleted or moved while the backup ran). */
  missingRepos: string[];
  lfs: {
    store: 'fs' | 's3';
    /** LFS objects linked to repos in the database. */
    linked: number;
    /** LFS object files in the backup (fs store only). */
    copied: number;
    /** Linked objects the store did not hold (fs store only). */
    missing: string[];
    /** Where the objects stay (s3 store): they are not in the backup. */
    bucket?: string;
    prefix?: string;
  };
}

/** The running hubgate's version (package.json beside dist/). */
export async function hubgateVersion(): Promise<string> {
  try {
    const pkg = fileURLToPath(new URL('../../../package.json', import.meta.url));
    return (JSON.parse(await fs.readFile(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function writeManifest(dir: string, manifest: Omit<BackupManifest, 'format'>): Promise<BackupManifest> {
  const full = { format: FORMAT, ...manifest };
  await fs.writeFile(path.join(dir, MANIFEST_FILE), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

/** The manifest of a complete backup in `dir`; an error saying what is wrong otherwise. */
export async function readManifest(dir: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new Error(`${dir} is not a complete hubgate backup (it has no ${MANIFEST_FILE}): give the directory \`hubgate backup\` wrote`);
  }
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(text) as BackupManifest;
  } catch {
    throw new Error(`${path.join(dir, MANIFEST_FILE)} is damaged (not JSON): this backup cannot be restored`);
  }
  if (manifest?.format !== FORMAT) throw new Error(`${path.join(dir, MANIFEST_FILE)} has format ${manifest?.format}, this hubgate reads format ${FORMAT}: restore it with the hubgate version that took it (${manifest?.hubgate})`);
  if (typeof manifest.finishedAt !== 'string' || !manifest.lfs) throw new Error(`${path.join(dir, MANIFEST_FILE)} is incomplete: this backup cannot be restored`);
  return manifest;
}
