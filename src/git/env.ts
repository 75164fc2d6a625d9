import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** hubgate's hooks/ directory: every repo's core.hooksPath. */
export const HOOKS_DIR = fileURLToPath(new URL('../../../hooks', import.meta.url));

// Server-side git configuration, passed to every git process so the machine's own
// (/etc/gitconfig, ~/.gitconfig) never applies.
const SERVER_CONFIG: [string, string][] = [
  ['core.hooksPath', HOOKS_DIR],
  ['uploadpack.allowFilter', 'true'],
  // Partial clones fetch missing blobs by id later.
  ['uploadpack.allowAnySHA1InWant', 'true'],
  ['receive.advertisePushOptions', 'true'],
  ['receive.advertiseAtomic', 'true'],
  ['receive.fsckObjects', 'true'],
  // Maintenance runs in the background after pushes (src/git/maintenance.ts), never inside them.
  ['receive.autogc', 'false'],
  ['gc.auto', '0'],
  ['core.logAllRefUpdates', 'false'],
];

/** The isolated environment for git processes: its own HOME, no system config, hubgate's settings. */
export function gitEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: path.join(dataDir, 'git-home'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_NO_REPLACE_OBJECTS: '1',
    LC_ALL: 'C',
    HUBGATE_DATA_DIR: dataDir,
    // The hooks open the same database as the server (the setting is only ever in the environment).
    ...(process.env.HUBGATE_DATABASE_URL ? { HUBGATE_DATABASE_URL: process.env.HUBGATE_DATABASE_URL } : {}),
    // The Node that runs hubgate also runs its hooks (hooks/pre-receive), whatever PATH holds.
    HUBGATE_NODE: process.execPath,
    GIT_CONFIG_COUNT: String(SERVER_CONFIG.length),
    ...extra,
  };
  SERVER_CONFIG.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}
