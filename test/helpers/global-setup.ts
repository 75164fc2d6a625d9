import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Tests drive the real `hubgate` binary, so compile once before any test file runs.
export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync(process.execPath, [`${root}/node_modules/typescript/bin/tsc`, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
}
