import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// The protocol v2 answer to `GET info/refs?service=git-upload-pack` lists no refs: only the
// server's capabilities (version, agent, ls-refs, fetch, object-format...), which depend on git
// and on the configuration it reads, not on the repo's refs or objects. `git ls-remote` and every
// fetch ask for it first, so it is made once by git itself and then answered without starting a
// process. It is kept per repo and made again when the repo's config file changes (its object
// format and upload settings live there); hubgate's own settings reach git through the
// environment (git/env.ts), the same for every process, and the machine's config files are
// never read.

/** How many repos' answers are kept (each ~150 bytes); least recently used out first. */
const MAX_KEPT = 1024;
/** What git's v2 capability advertisement starts with: the `version 2` pkt-line. */
const V2_START = Buffer.from('000eversion 2\n');

export interface AdvertisementCache {
  /** git's v2 capability advertisement for upload-pack in `dir`; null when git did not give one (then run git as usual). */
  uploadPackV2(dir: string, env: NodeJS.ProcessEnv): Promise<Buffer | null>;
}

export function advertisementCache(): AdvertisementCache {
  const kept = new Map<string, { stamp: string; body: Buffer }>();
  return {
    async uploadPackV2(dir, env) {
      const stamp = await configStamp(dir);
      if (stamp === null) return null;
      // Keyed by the whole protocol header as well: other keys in it may change git's answer.
      const key = `${dir}\0${env.GIT_PROTOCOL ?? ''}`;
      const hit = kept.get(key);
      if (hit && hit.stamp === stamp) {
        kept.delete(key);
        kept.set(key, hit);
        return hit.body;
      }
      const body = await runAdvertisement(dir, env);
      if (!body) return null;
      kept.delete(key);
      kept.set(key, { stamp, body });
      if (kept.size > MAX_KEPT) kept.delete(kept.keys().next().value!);
      return body;
    },
  };
}

/** The identity of the repo's config file as it is now (a change of it shows in its mtime, size or inode); null when it cannot be read. */
async function configStamp(dir: string): Promise<string | null> {
  try {
    const st = await fs.promises.stat(path.join(dir, 'config'), { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return null;
  }
}

function runAdvertisement(dir: string, env: NodeJS.ProcessEnv): Promise<Buffer | null> {
  return new Promise((resolve) => {
    execFile('git', ['upload-pack', '--stateless-rpc', '--advertise-refs', dir], { env, encoding: 'buffer', maxBuffer: 64 * 1024, timeout: 10_000 }, (err, stdout) => {
      // Only a well-formed v2 answer ending in a flush packet is kept; anything else goes the usual way.
      const ok = !err && stdout.subarray(0, V2_START.length).equals(V2_START) && stdout.subarray(-4).toString() === '0000';
      resolve(ok ? stdout : null);
    });
  });
}
