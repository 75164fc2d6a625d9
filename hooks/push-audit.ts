// hubgate's push audit, run by hooks/post-receive once a push has moved its refs, with git's ref
// lines on stdin ("<old> <new> <ref>", one per ref that moved): one audit entry per ref, naming
// the pusher (HUBGATE_USER, set by hubgate's git routes). The push has happened whatever this
// does, so it always exits 0; a failure is one line on stderr, which the pusher sees as "remote: ...".

import { parseRepoId, parseRepoType, type RepoRef, TYPE_PREFIX } from '../src/domain/names.js';

const OBJECT_ID = '[0-9a-f]{40}(?:[0-9a-f]{24})?'; // sha1 or sha256 repositories
const REF_LINE = new RegExp(`^(${OBJECT_ID}) (${OBJECT_ID}) (\\S+)$`);

function repoFromEnv(): RepoRef {
  const type = parseRepoType(process.env.HUBGATE_REPO_TYPE ?? '');
  const id = process.env.HUBGATE_REPO ?? '';
  if (!id.startsWith(TYPE_PREFIX[type])) throw new Error(`HUBGATE_REPO is not a ${type} repo id`);
  return { type, ...parseRepoId(id.slice(TYPE_PREFIX[type].length)) };
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  const updates = Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .flatMap((line) => {
      const m = REF_LINE.exec(line);
      return m ? [{ old: m[1], new: m[2], ref: m[3] }] : [];
    });
  if (updates.length === 0) return;
  const dataDir = process.env.HUBGATE_DATA_DIR;
  if (!dataDir) throw new Error('HUBGATE_DATA_DIR is not set (the push did not come through hubgate)');
  const repo = repoFromEnv();
  // Loaded only when there is something to record.
  const { recordPush } = await import('../src/services/push-audit.js');
  const { databaseFrom } = await import('../src/config.js');
  const failed = await recordPush(databaseFrom(dataDir), repo, process.env.HUBGATE_USER || null, updates);
  if (failed) throw failed;
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (err: unknown) => {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.stderr.write(`hubgate: the push went through but is not in the audit log: ${message}\n`);
    process.exitCode = 0;
  },
);
