// Generates the bench's bare repositories with `git fast-import` and caches them under
// bench/.work/repos/<kind>-<signature>.git, so later runs reuse them.
//
//   big:    many commits over many small text files (real deltas, ~200k+ objects) plus
//           incompressible random blobs to make the pack large (~200+ MB)
//   medium: the same recipe, smaller (~30 MB pack)
//   refs:   a small history with 5,000 refs (branches + annotated tags)
//
// Output is deterministic for a given spec (seeded PRNG, fixed timestamps).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { rmrf, run } from './util.js';

export const SPECS = {
  big: { kind: 'history', dirs: 200, filesPerDir: 100, lines: 30, commits: 2400, editsPerCommit: 40, binEvery: 24, binBytes: 2_300_000, tagEvery: 100, branches: 6 },
  medium: { kind: 'history', dirs: 50, filesPerDir: 40, lines: 30, commits: 600, editsPerCommit: 20, binEvery: 60, binBytes: 2_000_000, tagEvery: 50, branches: 3 },
  refs: { kind: 'refs', commits: 100, branches: 2499, tags: 2500 },
  // --quick variants: same shapes, small enough to build in seconds.
  'big-quick': { kind: 'history', dirs: 40, filesPerDir: 50, lines: 30, commits: 300, editsPerCommit: 20, binEvery: 15, binBytes: 1_000_000, tagEvery: 50, branches: 3 },
  'medium-quick': { kind: 'history', dirs: 20, filesPerDir: 20, lines: 30, commits: 100, editsPerCommit: 10, binEvery: 20, binBytes: 1_000_000, tagEvery: 25, branches: 2 },
};

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  LC_ALL: 'C',
};

function signature(spec) {
  return crypto.createHash('sha1').update(JSON.stringify({ v: 2, ...spec })).digest('hex').slice(0, 10);
}

/** mulberry32: small, fast, seeded. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (() => {
  const r = prng(42);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const words = [];
  for (let i = 0; i < 512; i++) {
    const n = 2 + Math.floor(r() * 9);
    let w = '';
    for (let j = 0; j < n; j++) w += letters[Math.floor(r() * 26)];
    words.push(w);
  }
  return words;
})();

function lineText(seed) {
  const r = prng(seed);
  const n = 4 + Math.floor(r() * 8);
  const parts = [];
  for (let i = 0; i < n; i++) parts.push(WORDS[Math.floor(r() * WORDS.length)]);
  return `${parts.join(' ')}\n`;
}

/** Incompressible, deterministic bytes: AES-CTR keystream. */
function randomBytes(n, seed) {
  const key = crypto.createHash('sha256').update(`bench-${seed}`).digest().subarray(0, 16);
  const c = crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return c.update(Buffer.alloc(n));
}

/** Writes to fast-import's stdin with backpressure. */
class Feed {
  constructor(stream) {
    this.stream = stream;
    this.pending = [];
    this.pendingBytes = 0;
  }
  push(buf) {
    this.pending.push(typeof buf === 'string' ? Buffer.from(buf) : buf);
    this.pendingBytes += this.pending.at(-1).length;
  }
  data(buf) {
    const b = typeof buf === 'string' ? Buffer.from(buf) : buf;
    this.push(`data ${b.length}\n`);
    this.push(b);
    this.push('\n');
  }
  async flush(force = false) {
    if (!force && this.pendingBytes < 1 << 20) return;
    const chunk = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.stream.write(chunk)) await new Promise((r) => this.stream.once('drain', r));
  }
}

function startFastImport(gitDir) {
  const child = spawn('git', ['-C', gitDir, 'fast-import', '--quiet', '--done'], { env: GIT_ENV, stdio: ['pipe', 'ignore', 'pipe'] });
  const err = [];
  child.stderr.on('data', (b) => err.push(b));
  const done = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import failed (${code}): ${Buffer.concat(err).toString().slice(0, 2000)}`))));
  });
  return { child, done, feed: new Feed(child.stdin) };
}

const ident = (t) => `Bench Bot <bench@example.com> ${t} +0000`;
const T0 = 1_600_000_000;

async function genHistory(gitDir, s) {
  const { child, done, feed } = startFastImport(gitDir);
  const r = prng(1234);
  const nFiles = s.dirs * s.filesPerDir;
  const fileName = (i) => `src/d${String(Math.floor(i / s.filesPerDir)).padStart(3, '0')}/f${String(i % s.filesPerDir).padStart(3, '0')}.txt`;
  // Each file is `lines` lines; a line is derived from its seed, so a file is its seed array.
  const seeds = new Uint32Array(nFiles * s.lines);
  for (let i = 0; i < seeds.length; i++) seeds[i] = Math.floor(r() * 4294967296);
  const fileText = (i) => {
    let t = '';
    for (let l = 0; l < s.lines; l++) t += lineText(seeds[i * s.lines + l]);
    return t;
  };

  let mark = 0;
  const commitMarks = [];
  for (let c = 0; c < s.commits; c++) {
    const t = T0 + c * 60;
    const msg = `commit ${c}\n\nUpdate ${c === 0 ? 'everything' : `${s.editsPerCommit} files`}.\n`;
    feed.push(`commit refs/heads/main\nmark :${++mark}\nauthor ${ident(t)}\ncommitter ${ident(t)}\n`);
    feed.data(msg);
    if (c > 0) feed.push(`from :${commitMarks[c - 1]}\n`);
    if (c === 0) {
      for (let i = 0; i < nFiles; i++) {
        feed.push(`M 100644 inline ${fileName(i)}\n`);
        feed.data(fileText(i));
        await feed.flush();
      }
      feed.push('M 100644 inline README.md\n');
      feed.data('# bench repo\n\nGenerated by bench/gen-repos.js.\n');
    } else {
      const touched = new Set();
      for (let e = 0; e < s.editsPerCommit; e++) {
        const i = Math.floor(r() * nFiles);
        if (touched.has(i)) continue;
        touched.add(i);
        // Change 1-3 lines: small deltas, like real edits.
        const k = 1 + Math.floor(r() * 3);
        for (let j = 0; j < k; j++) seeds[i * s.lines + Math.floor(r() * s.lines)] = Math.floor(r() * 4294967296);
        feed.push(`M 100644 inline ${fileName(i)}\n`);
        feed.data(fileText(i));
      }
      if (c % s.binEvery === 0) {
        feed.push(`M 100644 inline weights/shard-${String(c).padStart(5, '0')}.bin\n`);
        feed.data(randomBytes(s.binBytes, `${c}`));
      }
    }
    feed.push('\n');
    commitMarks.push(mark);
    if (c > 0 && c % s.tagEvery === 0) {
      feed.push(`tag v${c}\nfrom :${mark}\ntagger ${ident(t)}\n`);
      feed.data(`release ${c}\n`);
    }
    await feed.flush();
  }
  for (let b = 0; b < s.branches; b++) {
    const at = commitMarks[Math.floor(((b + 1) * s.commits) / (s.branches + 1))];
    feed.push(`reset refs/heads/release-${b}\nfrom :${at}\n\n`);
  }
  feed.push('done\n');
  await feed.flush(true);
  child.stdin.end();
  await done;
}

async function genRefs(gitDir, s) {
  const { child, done, feed } = startFastImport(gitDir);
  const marks = [];
  for (let c = 0; c < s.commits; c++) {
    const t = T0 + c * 60;
    feed.push(`commit refs/heads/main\nmark :${c + 1}\nauthor ${ident(t)}\ncommitter ${ident(t)}\n`);
    feed.data(`commit ${c}\n`);
    if (c > 0) feed.push(`from :${c}\n`);
    feed.push(`M 100644 inline file-${c % 10}.txt\n`);
    feed.data(`content ${c}\n`);
    feed.push('\n');
    marks.push(c + 1);
  }
  for (let b = 0; b < s.branches; b++) {
    feed.push(`reset refs/heads/feature/branch-${String(b).padStart(5, '0')}\nfrom :${marks[b % marks.length]}\n\n`);
    await feed.flush();
  }
  for (let g = 0; g < s.tags; g++) {
    feed.push(`tag v0.${String(g).padStart(5, '0')}\nfrom :${marks[g % marks.length]}\ntagger ${ident(T0 + g)}\n`);
    feed.data(`tag ${g}\n`);
    await feed.flush();
  }
  feed.push('done\n');
  await feed.flush(true);
  child.stdin.end();
  await done;
}

/** Packs everything into one pack with a bitmap and writes the commit-graph and packed-refs. */
export async function finishRepo(gitDir, { log = () => {} } = {}) {
  log(`  repack -a -d -b (${gitDir})`);
  await run('git', ['-C', gitDir, 'repack', '-a', '-d', '-b', '-q'], { env: GIT_ENV });
  await run('git', ['-C', gitDir, 'commit-graph', 'write', '--reachable', '--no-progress'], { env: GIT_ENV });
  await run('git', ['-C', gitDir, 'pack-refs', '--all'], { env: GIT_ENV });
}

/** Object count and pack bytes of a bare repo. */
export async function repoStats(gitDir) {
  const { stdout } = await run('git', ['-C', gitDir, 'count-objects', '-v'], { env: GIT_ENV });
  const get = (k) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(stdout)?.[1] ?? 0);
  const packDir = path.join(gitDir, 'objects', 'pack');
  const files = fs.existsSync(packDir) ? fs.readdirSync(packDir) : [];
  const packBytes = files.filter((f) => f.endsWith('.pack')).reduce((n, f) => n + fs.statSync(path.join(packDir, f)).size, 0);
  const { stdout: refs } = await run('git', ['-C', gitDir, 'for-each-ref', '--format=x'], { env: GIT_ENV });
  return {
    objects: get('count') + get('in-pack'),
    packs: get('packs'),
    packBytes,
    looseObjects: get('count'),
    refs: refs.split('\n').filter(Boolean).length,
    bitmap: files.some((f) => f.endsWith('.bitmap')),
  };
}

/** Returns the path of the cached repo for `name`, generating it first if needed. */
export async function ensureRepo(workDir, name, { log = console.error } = {}) {
  const spec = SPECS[name];
  if (!spec) throw new Error(`unknown repo spec ${name}`);
  const dir = path.join(workDir, 'repos', `${name}-${signature(spec)}.git`);
  if (fs.existsSync(path.join(dir, 'bench-complete'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmrf(tmp);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const t0 = Date.now();
  log(`bench: generating the ${name} repo (cached in ${path.relative(process.cwd(), dir)}) ...`);
  await run('git', ['init', '-q', '--bare', '--initial-branch=main', tmp], { env: GIT_ENV });
  if (spec.kind === 'history') await genHistory(tmp, spec);
  else await genRefs(tmp, spec);
  await finishRepo(tmp, { log: () => {} });
  fs.writeFileSync(path.join(tmp, 'bench-complete'), JSON.stringify(spec));
  rmrf(dir);
  fs.renameSync(tmp, dir);
  // Older generations of the same repo (a changed recipe) are no longer used.
  for (const f of fs.readdirSync(path.dirname(dir))) {
    if (f.startsWith(`${name}-`) && /^[0-9a-f]{10}\.git$/.test(f.slice(name.length + 1)) && f !== path.basename(dir)) rmrf(path.join(path.dirname(dir), f));
  }
  const st = await repoStats(dir);
  log(`bench:   ${name}: ${st.objects} objects, pack ${(st.packBytes / 1e6).toFixed(1)} MB, ${st.refs} refs (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return dir;
}
