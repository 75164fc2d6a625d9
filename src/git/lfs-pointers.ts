import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { MAX_POINTER_SIZE, MIN_POINTER_SIZE, parsePointer, type Pointer } from '../../lfs/pointer.js';
import { GitError } from './run.js';

// Every Git LFS pointer a repo holds, for garbage collection's check that no pointer names an
// object it is about to remove. All the repo's objects are read, reachable or not (a branch
// deleted or rewritten leaves its commits until git prunes them): more than "the history", so
// nothing a ref could name again is missed. Only blobs of a pointer's size are read in full.

function start(args: string[], dir: string, env: NodeJS.ProcessEnv) {
  const child = spawn('git', args, { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  child.stdin.on('error', () => {});
  const finished = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new GitError(`git ${args.join(' ')}`, code, Buffer.concat(stderr).toString('utf8')))));
  });
  return { child, finished };
}

/** The pointers (oid and size, each oid once) among all the objects of the bare repo at `dir`. */
export async function lfsPointersIn(dir: string, env: NodeJS.ProcessEnv): Promise<Map<string, Pointer>> {
  const list = start(['cat-file', '--batch-all-objects', '--unordered', '--batch-check=%(objecttype) %(objectname) %(objectsize)'], dir, env);
  list.child.stdin.end();
  const candidates: string[] = [];
  for await (const line of readline.createInterface({ input: list.child.stdout, crlfDelay: Infinity })) {
    const [type, name, size] = line.split(' ');
    if (type === 'blob' && Number(size) >= MIN_POINTER_SIZE && Number(size) <= MAX_POINTER_SIZE) candidates.push(name);
  }
  await list.finished;
  const pointers = new Map<string, Pointer>();
  if (candidates.length === 0) return pointers;

  const read = start(['cat-file', '--batch=%(objectname) %(objectsize)'], dir, env);
  read.child.stdin.end(candidates.map((c) => `${c}\n`).join(''));
  let buf: Buffer = Buffer.alloc(0);
  for await (const chunk of read.child.stdout as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0) break;
      const m = /^\S+ (\d+)$/.exec(buf.subarray(0, nl).toString('utf8'));
      if (!m) throw new Error(`unexpected output from git cat-file --batch in ${dir}`);
      const end = nl + 1 + Number(m[1]);
      if (buf.length < end + 1) break;
      const p = parsePointer(buf.subarray(nl + 1, end));
      if (p && !pointers.has(p.oid)) pointers.set(p.oid, p);
      buf = buf.subarray(end + 1);
    }
  }
  await read.finished;
  return pointers;
}
