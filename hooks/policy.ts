// hubgate's push policy (design §6), run by hooks/pre-receive with git's ref lines on stdin
// ("<old> <new> <ref>"), inside the quarantine: the pushed objects are readable, no ref has
// moved yet, and a non-zero exit refuses the whole push. Everything printed to stderr reaches
// the pusher as "remote: ..." lines.
//
// It refuses a push that adds
// - a file over the size limit (HUBGATE_MAX_FILE_SIZE, default 10 MB) that is not a Git LFS pointer;
// - a Git LFS pointer naming an object that is not linked to this repo (never uploaded here).
//
// The new objects are listed in one pass: `git rev-list --objects <new tips> --not --all`
// streamed into one `git cat-file --batch-check`; the blobs small enough to be pointers go to
// one `git cat-file --batch`. Three git processes per push, however many objects it carries.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { MAX_POINTER_SIZE, MIN_POINTER_SIZE, parsePointer, type Pointer } from '../lfs/pointer.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { NameError, parseRepoId, parseRepoType, printable, type RepoRef, repoIdOf, TYPE_PREFIX } from '../src/domain/names.js';

class Refusal extends Error {}

const OBJECT_ID = '[0-9a-f]{40}(?:[0-9a-f]{24})?'; // sha1 or sha256 repositories
const REF_LINE = new RegExp(`^${OBJECT_ID} (${OBJECT_ID}) \\S+$`);
const MAX_REF_INPUT = 64 * 1024 * 1024;
/** How many offending files or objects a message lists by name. */
const LIST_MAX = 10;

interface Scan {
  /** Blobs over the limit, the first LIST_MAX by path, and how many there are in all. */
  large: { path: string; size: number }[];
  largeCount: number;
  /** The LFS pointers pushed, by oid, with the first path each was seen at. */
  pointers: Map<string, Pointer & { path: string }>;
}

/** The new values of the "<old> <new> <ref>" lines, without deletions (new = 0…0) or repeats. */
function newTips(input: string): string[] {
  const tips = new Set<string>();
  for (const line of input.split('\n')) {
    if (line === '') continue;
    const m = REF_LINE.exec(line);
    if (!m) throw new Refusal(`unexpected ref update from git: "${printable(line)}"`);
    if (!/^0+$/.test(m[1])) tips.add(m[1]);
  }
  return [...tips];
}

interface Git {
  child: ChildProcessWithoutNullStreams;
  /** Resolves once git has exited: null if it succeeded, else what went wrong. Never rejects. */
  finished: Promise<Error | null>;
}

function git(args: string[]): Git {
  // The hook's environment carries GIT_DIR and the quarantine's object directories.
  const child = spawn('git', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  child.stdin.on('error', () => {}); // a git that stops reading reports through its exit code
  const finished = new Promise<Error | null>((resolve) => {
    child.on('error', (err) => resolve(err));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(null);
      const why = Buffer.concat(stderr).toString('utf8').trim().split('\n')[0] || `exit ${code ?? signal}`;
      resolve(new Error(`git ${args[0]} failed: ${why}`));
    });
  });
  return { child, finished };
}

/** Calls `onBlob` for each object `git cat-file --batch='%(objectname) %(objecttype) %(objectsize) %(rest)'` prints. */
async function readBatch(stdout: Readable, onBlob: (path: string, content: Buffer) => void): Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  for await (const chunk of stdout as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0) break;
      const header = buf.subarray(0, nl).toString('utf8');
      const m = /^\S+ (\S+) (\d+)(?: (.*))?$/.exec(header);
      if (!m) {
        if (!/^\S+ missing$/.test(header)) throw new Error(`unexpected output from git cat-file --batch: "${printable(header)}"`);
        buf = buf.subarray(nl + 1);
        continue;
      }
      const end = nl + 1 + Number(m[2]);
      if (buf.length < end + 1) break; // the content and its newline have not all arrived
      if (m[1] === 'blob') onBlob(m[3] ?? '', buf.subarray(nl + 1, end));
      buf = buf.subarray(end + 1);
    }
  }
  if (buf.length) throw new Error('git cat-file --batch output ended mid-object');
}

/** Lists the objects the push adds (reachable from the new tips, from no ref before the push). */
async function scanNewObjects(tips: string[], maxFileSize: number): Promise<Scan> {
  const scan: Scan = { large: [], largeCount: 0, pointers: new Map() };
  const revList = git(['rev-list', '--objects', '--stdin', '--not', '--all']);
  const check = git(['cat-file', '--batch-check=%(objecttype) %(objectname) %(objectsize) %(rest)']);
  revList.child.stdout.pipe(check.child.stdin);
  revList.child.stdin.end(tips.map((t) => `${t}\n`).join(''));

  // Started at the first blob small enough to be a pointer; fed "<oid> <path>" lines.
  let batch: (Git & { read: Promise<Error | null> }) | undefined;
  const startBatch = () => {
    const b = git(['cat-file', '--batch=%(objectname) %(objecttype) %(objectsize) %(rest)']);
    const read = readBatch(b.child.stdout, (path, content) => {
      const pointer = parsePointer(content.toString('utf8'));
      if (pointer && !scan.pointers.has(pointer.oid)) scan.pointers.set(pointer.oid, { ...pointer, path });
    }).then(
      () => null,
      (err: Error) => {
        b.child.kill();
        return err;
      },
    );
    return { ...b, read };
  };

  for await (const line of readline.createInterface({ input: check.child.stdout, crlfDelay: Infinity })) {
    // "<type> <oid> <size> <path>"; commits have no path, the root tree an empty one.
    const m = /^(\S+) (\S+) (\d+)(?: (.*))?$/.exec(line);
    if (!m || m[1] !== 'blob') continue;
    const size = Number(m[3]);
    const path = m[4] ?? '';
    if (size > maxFileSize) {
      if (scan.large.length < LIST_MAX) scan.large.push({ path, size });
      scan.largeCount++;
    } else if (size >= MIN_POINTER_SIZE && size <= MAX_POINTER_SIZE) {
      batch ??= startBatch();
      if (!batch.child.stdin.write(`${m[2]} ${path}\n`)) await once(batch.child.stdin, 'drain');
    }
  }
  batch?.child.stdin.end();
  const failures = await Promise.all([revList.finished, check.finished, batch?.read, batch?.finished]);
  const failure = failures.find((f) => f);
  if (failure) throw failure;
  return scan;
}

function repoFromEnv(): RepoRef {
  const type = parseRepoType(process.env.HUBGATE_REPO_TYPE ?? '');
  const id = process.env.HUBGATE_REPO ?? '';
  if (!id.startsWith(TYPE_PREFIX[type])) throw new Refusal(`HUBGATE_REPO "${printable(id)}" is not a ${type} repo id`);
  return { type, ...parseRepoId(id.slice(TYPE_PREFIX[type].length)) };
}

/** The pushed pointers whose objects are not linked to this repo (or are linked with another size). */
async function unlinkedPointers(pointers: Scan['pointers']): Promise<{ path: string; oid: string; size: number; have?: number }[]> {
  const dataDir = process.env.HUBGATE_DATA_DIR;
  if (!dataDir) throw new Refusal('HUBGATE_DATA_DIR is not set: pushes must go through hubgate');
  const ref = repoFromEnv();
  // Loaded only for pushes that carry pointers: a push of plain files never opens the database.
  const { unlinkedPointers: unlinked } = await import('../src/services/push-check.js');
  const { databaseFrom } = await import('../src/config.js');
  const missing = await unlinked(databaseFrom(dataDir), ref, [...pointers.values()]);
  if (!missing) throw new Refusal(`${repoIdOf(ref)} is not in hubgate's database`);
  return missing;
}

/** "11 MB (11000000 bytes)", or "208 bytes" below a megabyte. */
function sizeText(n: number): string {
  if (n < 1e6) return `${n} bytes`;
  const short = n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : `${(n / 1e6).toFixed(1)} MB`;
  return `${short.replace('.0 ', ' ')} (${n} bytes)`;
}

function andMore(shown: number, total: number): string[] {
  return total > shown ? [`  ... and ${total - shown} more`] : [];
}

function largeFilesMessage(scan: Scan, maxFileSize: number): string[] {
  const n = scan.largeCount;
  const paths = scan.large.map(({ path }) => path);
  // For files added later: a pattern per extension ("*.bin"), or the path of a file without one.
  const patterns = [...new Set(paths.map((path) => {
    const base = path.slice(path.lastIndexOf('/') + 1);
    const dot = base.lastIndexOf('.');
    return dot > 0 ? `*${base.slice(dot)}` : path;
  }))];
  return [
    `hubgate: push refused: ${n === 1 ? '1 file is' : `${n} files are`} larger than ${sizeText(maxFileSize)} and not stored with Git LFS:`,
    ...scan.large.map(({ path, size }) => `  ${path || '(no path)'}: ${sizeText(size)}`),
    ...andMore(scan.large.length, n),
    'Store them with Git LFS and push again. In your clone:',
    '  git lfs install',
    // Past the listed few, by size (git-lfs 3.2 and later) rather than by a list of paths.
    n > scan.large.length ? `  git lfs migrate import --above=${maxFileSize}b` : `  git lfs migrate import --include="${paths.join(',')}"`,
    '  git push',
    '`git lfs migrate import` rewrites the commits the server does not have yet so that they hold',
    'LFS pointers for those files (add --everything to rewrite all branches). For files you add',
    'later, track their type before `git add`:',
    ...patterns.map((p) => `  git lfs track "${p}"`),
  ];
}

function missingObjectsMessage(missing: Awaited<ReturnType<typeof unlinkedPointers>>): string[] {
  const n = missing.length;
  const shown = missing.slice(0, LIST_MAX);
  return [
    `hubgate: push refused: ${n === 1 ? '1 Git LFS pointer names an object' : `${n} Git LFS pointers name objects`} this repository does not have:`,
    ...shown.map((p) =>
      `  ${p.path || '(no path)'}: sha256:${p.oid} (${p.size} bytes)` +
      (p.have === undefined ? '' : `: the repository's object with this oid has ${p.have} bytes`),
    ),
    ...andMore(shown.length, n),
    'Upload the LFS objects first, then push the commits again:',
    '  git lfs push --all origin        (origin: your hubgate remote)',
    '  git push',
    '(With git-lfs installed, `git lfs install` makes every `git push` upload them first;',
    ' huggingface_hub and @huggingface/hub upload them before they commit.)',
  ];
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_REF_INPUT) throw new Refusal('too many ref updates in one push');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<number> {
  // A new branch (old = 0…0) needs nothing special: --not --all leaves out what the repo already has.
  const tips = newTips(await readStdin());
  if (tips.length === 0) return 0;
  let maxFileSize: number;
  try {
    ({ maxFileSize } = loadConfig({}, process.env));
  } catch (err) {
    if (err instanceof ConfigError) throw new Refusal(err.message);
    throw err;
  }

  const scan = await scanNewObjects(tips, maxFileSize);
  const lines: string[] = [];
  if (scan.largeCount > 0) lines.push(...largeFilesMessage(scan, maxFileSize));
  const missing = scan.pointers.size > 0 ? await unlinkedPointers(scan.pointers) : [];
  if (missing.length > 0) lines.push(...(lines.length ? [''] : []), ...missingObjectsMessage(missing));
  if (lines.length === 0) return 0;
  process.stderr.write(`${lines.join('\n')}\n`);
  return 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // One line, never a stack trace; anything unexpected refuses the push rather than letting it through.
    const known = err instanceof Refusal || err instanceof NameError;
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.stderr.write(`hubgate: push refused: ${known ? '' : 'the push policy failed: '}${message}\n`);
    process.exit(1); // without waiting for git processes a failure may have left blocked on a pipe
  },
);
