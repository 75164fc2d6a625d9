import type { RepoRef } from '../domain/names.js';
import { printable } from '../domain/names.js';
import { parseRepoLocation } from '../domain/repo-path.js';

// The commands an SSH client may run: what git and git-lfs send, nothing else. A command is
// parsed whole here, and the repo it names checked by the same name rules as HTTP's paths,
// before anything touches the database or the disk.

export type GitService = 'upload-pack' | 'receive-pack';

export type SshCommand =
  | { kind: 'git'; service: GitService; repo: RepoRef }
  | { kind: 'lfs-authenticate'; repo: RepoRef; operation: 'upload' | 'download' }
  | { kind: 'refused'; message: string };

const HELP = 'hubgate serves git over SSH only: git clone ssh://git@HOST:PORT/NAMESPACE/NAME (there is no shell)';
const MAX_COMMAND = 1024;

/** One argument as git and git-lfs send it: 'quoted' (git's sq_quote; names never need escapes) or bare. */
const ARGUMENT = /^(?:'([^'\\]*)'|([^\s'"\\`$;&|<>()]+))$/;

export function parseCommand(command: string): SshCommand {
  if (command.length > MAX_COMMAND) return { kind: 'refused', message: `command too long: ${HELP}` };
  const words = command.trim().split(/\s+/);
  // `git upload-pack` is the same command as `git-upload-pack`.
  if (words[0] === 'git' && words.length > 1) words.splice(0, 2, `git-${words[1]}`);
  const [name, ...args] = words;
  switch (name) {
    case 'git-upload-pack':
    case 'git-receive-pack': {
      if (args.length !== 1) return { kind: 'refused', message: `${name} takes one repository path, such as ${name} 'alice/my-model'` };
      const repo = repoArgument(args[0]);
      return 'message' in repo ? repo : { kind: 'git', service: name === 'git-upload-pack' ? 'upload-pack' : 'receive-pack', repo: repo.ref };
    }
    case 'git-upload-archive':
      return { kind: 'refused', message: 'git archive --remote is not served: clone the repository, then run git archive locally' };
    case 'git-lfs-authenticate': {
      const operation = args[1];
      if (args.length !== 2 || (operation !== 'upload' && operation !== 'download')) {
        return { kind: 'refused', message: 'usage: git-lfs-authenticate NAMESPACE/NAME upload|download' };
      }
      const repo = repoArgument(args[0]);
      return 'message' in repo ? repo : { kind: 'lfs-authenticate', repo: repo.ref, operation };
    }
    case 'git-lfs-transfer':
      // git-lfs falls back to git-lfs-authenticate and the HTTP API when this fails.
      return { kind: 'refused', message: 'git-lfs-transfer is not served: git-lfs uses git-lfs-authenticate and the HTTP API instead' };
    default:
      return { kind: 'refused', message: `unknown command "${printable(name ?? '')}": ${HELP}` };
  }
}

function repoArgument(arg: string): { ref: RepoRef } | { kind: 'refused'; message: string } {
  const m = ARGUMENT.exec(arg);
  if (!m) return { kind: 'refused', message: `invalid repository path "${printable(arg)}": use NAMESPACE/NAME, datasets/NAMESPACE/NAME or spaces/NAMESPACE/NAME` };
  const parsed = parseRepoLocation(m[1] ?? m[2]);
  return parsed.ok ? { ref: parsed.ref } : { kind: 'refused', message: parsed.message };
}
