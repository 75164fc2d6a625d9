#!/usr/bin/env node
// The `hubgate` command: runs the compiled CLI (npm install / npm run build produce dist/).
import { existsSync } from 'node:fs';

const dist = (file) => new URL(`../dist/${file}`, import.meta.url);
if (!existsSync(dist('src/cli/index.js'))) {
  process.stderr.write('hubgate: dist/ is missing: run `npm run build` in the hubgate checkout first\n');
  process.exit(1);
}
if (process.argv[2] === 'lfs-multipart-upload') {
  // git-lfs starts several agents before the first byte moves: load only the agent, not the server.
  const { runAgent } = await import(dist('lfs/agent.js').href);
  process.exit(await runAgent({ input: process.stdin, output: process.stdout }));
}
const { main } = await import(dist('src/cli/index.js').href);
await main(process.argv);
