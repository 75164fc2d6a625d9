import fs from 'node:fs';
import path from 'node:path';
import { DISK_FULL, InsufficientStorage, type ServiceUnavailable, storageFault } from '../domain/faults.js';
import type { RepoType } from '../domain/names.js';
import { gitEnv } from './env.js';

// What every front end serving git (smart HTTP, SSH) gives git upload-pack / receive-pack: the same
// environment (so the hooks apply the push policy and audit the push whoever carried it), the same
// guard on the protocol the client asks for, and the same refusal of a push to a disk that cannot take it.

/** Only well-formed key=value pairs reach GIT_PROTOCOL (the same guard as Gitea's). */
export const SAFE_GIT_PROTOCOL = /^[0-9a-zA-Z]+=[0-9a-zA-Z]+(:[0-9a-zA-Z]+=[0-9a-zA-Z]+)*$/;

/** The client's GIT_PROTOCOL when it is safe to pass on, else undefined (git then speaks v0). */
export function safeGitProtocol(value: string | undefined): string | undefined {
  return value && SAFE_GIT_PROTOCOL.test(value) ? value : undefined;
}

/** Whether the protocol asks for v2 (HTTP's advertisement differs). */
export function isV2(gitProtocol: string | undefined): boolean {
  return gitProtocol?.split(':').includes('version=2') ?? false;
}

export interface ServiceCall {
  repoId: string;
  repoType: RepoType;
  /** The user pushing or fetching; null for anonymous callers. */
  userName: string | null;
  gitProtocol: string | undefined;
  /** For the push policy (hooks/policy.ts). */
  maxFileSize: number;
}

/** The environment of one upload-pack / receive-pack run. */
export function gitServiceEnv(dataDir: string, call: ServiceCall): NodeJS.ProcessEnv {
  return gitEnv(dataDir, {
    ...(call.gitProtocol ? { GIT_PROTOCOL: call.gitProtocol } : {}),
    HUBGATE_REPO: call.repoId,
    HUBGATE_REPO_TYPE: call.repoType,
    HUBGATE_USER: call.userName ?? '',
    HUBGATE_MAX_FILE_SIZE: String(call.maxFileSize),
    ...(call.userName ? { GIT_COMMITTER_NAME: call.userName, GIT_COMMITTER_EMAIL: `${call.userName}@hubgate` } : {}),
  });
}

/** Free bytes below which a push is refused at once: git needs room for the pack and its index. */
const MIN_FREE_BYTES = 1024 * 1024;

/** The fault a push into `dir` would meet: its objects/ cannot be written, or the disk is (nearly) full. */
export async function cannotWrite(dir: string): Promise<InsufficientStorage | ServiceUnavailable | undefined> {
  const objects = path.join(dir, 'objects');
  try {
    await fs.promises.access(objects, fs.constants.W_OK);
    const space = await fs.promises.statfs(objects);
    if (space.bavail * space.bsize < MIN_FREE_BYTES) return new InsufficientStorage(DISK_FULL);
  } catch (err) {
    return storageFault(err);
  }
  return undefined;
}
