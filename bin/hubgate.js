#!/usr/bin/env node
// The `hubgate` command: runs the compiled CLI (npm install / npm run build produce dist/).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/index.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('hubgate: dist/ is missing: run `npm run build` in the hubgate checkout first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
