// node-git-server 1.0.0 serving a directory of bare repos, for the bench. Runs in its own process
// so it never shares an event loop with the measuring client.
//   node bench/ngs-server.js REPO_ROOT PORT
import http from 'node:http';
import { Git } from 'node-git-server';

const [root, port] = process.argv.slice(2);
if (!root || !port) {
  process.stderr.write('usage: node bench/ngs-server.js REPO_ROOT PORT\n');
  process.exit(2);
}

const repos = new Git(root, {
  autoCreate: false,
  // Accept everyone: the bench measures transport speed, not auth.
  authenticate: (_info, next) => next(),
});
repos.on('fetch', (fetch) => fetch.accept());
repos.on('push', (push) => push.accept());
repos.on('tag', (tag) => tag.accept());
repos.on('error', (err) => process.stderr.write(`node-git-server error: ${err?.message ?? err}\n`));
// An aborted request would otherwise take the whole process down (known node-git-server defect).
process.on('uncaughtException', (err) => process.stderr.write(`node-git-server uncaught: ${err?.stack ?? err}\n`));

const server = http.createServer((req, res) => repos.handle(req, res));
server.keepAliveTimeout = 5000;
server.requestTimeout = 0;
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`node-git-server listening on 127.0.0.1:${port}\n`));
process.on('SIGTERM', () => process.exit(0));
