import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { GitError } from './run.js';

// A commit's changes as git itself computes them: `git diff-tree -p --root -M` (against the
// first parent for a merge), read as a stream and parsed one line at a time. Reading stops (and
// git is ended) once the diff exceeds the caller's line or byte budget: a huge commit costs the
// budget, never its whole diff.

export const ZERO_OID = /^0+$/;

/** One line of a hunk: `+` added, `-` removed, ` ` context, `\` git's "No newline at end of file". */
export interface DiffLine {
  kind: '+' | '-' | ' ' | '\\';
  text: string;
}

export interface Hunk {
  /** The `@@ -a,b +c,d @@ context` line. */
  header: string;
  oldStart: number;
  newStart: number;
  lines: DiffLine[];
}

/** A changed file: git's raw record (modes, blob ids, status, paths) and its parsed patch. */
export interface FileDiff {
  /** A added, D deleted, M modified, R renamed, C copied, T type changed (file ↔ symlink). */
  status: string;
  /** Similarity of a rename or copy, in percent. */
  similarity?: number;
  oldPath: string;
  newPath: string;
  oldMode: string;
  newMode: string;
  /** All zeros when the file is added (old) or deleted (new). */
  oldOid: string;
  newOid: string;
  /** git said "Binary files ... differ". */
  binary: boolean;
  hunks: Hunk[];
  /** Whether git's patch for this file was read whole (false once the budget ran out before or within it). */
  complete: boolean;
}

export interface CommitDiff {
  files: FileDiff[];
  /** Whether reading stopped at the budget: some files or lines are not shown. */
  truncated: boolean;
}

export interface DiffBudget {
  /** Most lines of patch (file headers included) read. */
  maxLines: number;
  /** Most characters of git's output read. */
  maxBytes: number;
}

/** The diff-tree arguments for `commit` (its first parent's diff for a merge; the whole tree for a root commit). */
function diffTreeArgs(commit: string, firstParent: string | null, extra: string[]): string[] {
  return [
    'diff-tree', '-r', '--root', '-M', '--no-commit-id', '--no-color', '--no-ext-diff', '--no-textconv', ...extra,
    '--end-of-options', ...(firstParent ? [firstParent, commit] : [commit]),
  ];
}

/** git diff-tree's patch for `commit`, as a stream (the raw .diff download); `stop()` ends git early. */
export function streamCommitPatch(dir: string, env: NodeJS.ProcessEnv, commit: string, firstParent: string | null): { stdout: Readable; stop: () => void; done: Promise<void> } {
  const child = spawn('git', diffTreeArgs(commit, firstParent, ['-p']), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  let stopped = false;
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 || stopped ? resolve() : reject(new GitError('git diff-tree', code, Buffer.concat(stderr).toString('utf8')))));
  });
  return {
    stdout: child.stdout,
    done,
    stop: () => {
      stopped = true;
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
const RAW_META = /^:(\d{6}) (\d{6}) ([0-9a-f]+) ([0-9a-f]+) ([A-Z])(\d*)$/;

/**
 * The files `commit` changed and their patches, read from one `git diff-tree --patch-with-raw -z`
 * (raw records give the paths and blob ids unquoted; the patches follow in the same order), up to
 * `budget`: past it git is stopped and the diff marked truncated.
 */
export function readCommitDiff(dir: string, env: NodeJS.ProcessEnv, commit: string, firstParent: string | null, budget: DiffBudget): Promise<CommitDiff> {
  return new Promise((resolve, reject) => {
    const child: ChildProcessWithoutNullStreams = spawn('git', diffTreeArgs(commit, firstParent, ['--patch-with-raw', '-z', '--no-abbrev']), { cwd: dir, env });
    child.stdin.end();
    const stderr: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => stderr.push(b));

    const files: FileDiff[] = [];
    let inRaw = true;
    /** Raw fields waiting for their record's paths. */
    let pendingMeta: RegExpExecArray | null = null;
    let pendingPaths: string[] = [];
    let rest = '';
    let lines = 0;
    let bytes = 0;
    /** Index of the file whose patch is being read (-1 before the first "diff --git"). */
    let current = -1;
    let hunk: Hunk | null = null;
    let oldLeft = 0;
    let newLeft = 0;
    let done = false;

    const finish = (truncated: boolean) => {
      if (done) return;
      done = true;
      if (!truncated && current >= 0) files[current].complete = true;
      child.stdout.destroy();
      if (child.exitCode === null) child.kill('SIGTERM');
      resolve({ files, truncated });
    };

    const rawField = (field: string): void => {
      if (!pendingMeta) {
        if (field === '') {
          inRaw = false;
          return;
        }
        pendingMeta = RAW_META.exec(field);
        if (!pendingMeta) throw new Error(`unexpected raw record from git diff-tree: ${field.slice(0, 80)}`);
        pendingPaths = [];
        return;
      }
      pendingPaths.push(field);
      const status = pendingMeta[5];
      if (pendingPaths.length < (status === 'R' || status === 'C' ? 2 : 1)) return;
      const [, oldMode, newMode, oldOid, newOid, , score] = pendingMeta;
      files.push({
        status,
        ...(score ? { similarity: Number(score) } : {}),
        oldPath: pendingPaths[0],
        newPath: pendingPaths[pendingPaths.length - 1],
        oldMode,
        newMode,
        oldOid,
        newOid,
        binary: false,
        hunks: [],
        complete: false,
      });
      pendingMeta = null;
      lines++; // each file is a line of the page
    };

    const patchLine = (line: string): void => {
      if (hunk && (oldLeft > 0 || newLeft > 0)) {
        const kind = line[0];
        if (kind === '+') newLeft--;
        else if (kind === '-') oldLeft--;
        else {
          oldLeft--;
          newLeft--;
        }
        hunk.lines.push({ kind: kind === '+' || kind === '-' ? kind : ' ', text: line.slice(1) });
        return;
      }
      if (hunk && line.startsWith('\\')) {
        hunk.lines.push({ kind: '\\', text: line.slice(1).trim() });
        return;
      }
      hunk = null;
      if (line.startsWith('diff --git ')) {
        if (current >= 0) files[current].complete = true;
        current++;
        return;
      }
      const file = files[current];
      if (!file) return;
      const m = HUNK_HEADER.exec(line);
      if (m) {
        hunk = { header: line, oldStart: Number(m[1]), newStart: Number(m[3]), lines: [] };
        oldLeft = m[2] === undefined ? 1 : Number(m[2]);
        newLeft = m[4] === undefined ? 1 : Number(m[4]);
        file.hunks.push(hunk);
      } else if (line.startsWith('Binary files ') || line === 'GIT binary patch') {
        file.binary = true;
      }
    };

    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (done) return;
      try {
        let text = rest + chunk;
        rest = '';
        while (inRaw) {
          const nul = text.indexOf('\0');
          if (nul < 0) {
            rest = text;
            text = '';
            break;
          }
          rawField(text.slice(0, nul));
          text = text.slice(nul + 1);
          bytes += nul + 1;
          if (lines > budget.maxLines || bytes > budget.maxBytes) return finish(true);
        }
        if (inRaw) return;
        let start = 0;
        for (;;) {
          const nl = text.indexOf('\n', start);
          if (nl < 0) break;
          const line = text.slice(start, nl);
          bytes += line.length + 1;
          if (++lines > budget.maxLines || bytes > budget.maxBytes) return finish(true);
          patchLine(line);
          start = nl + 1;
        }
        rest = text.slice(start);
        if (rest.length > budget.maxBytes) return finish(true);
      } catch (err) {
        done = true;
        child.kill('SIGTERM');
        reject(err);
      }
    });
    child.on('error', (err) => {
      if (!done) {
        done = true;
        reject(err);
      }
    });
    child.on('close', (code) => {
      if (done) return;
      if (code !== 0) {
        done = true;
        return reject(new GitError('git diff-tree', code, Buffer.concat(stderr).toString('utf8')));
      }
      if (rest && !inRaw) patchLine(rest);
      finish(false);
    });
  });
}
