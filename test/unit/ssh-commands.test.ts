// The SSH commands hubgate runs, as a table: every form git and git-lfs send parses to the
// same repo; anything else is refused with a message, before any look-up.
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/ssh/commands.ts';

const model = { type: 'model', namespace: 'alice', name: 'm' };

describe('parseCommand', () => {
  it.each([
    ["git-upload-pack 'alice/m'", 'upload-pack', model],
    ["git-upload-pack '/alice/m'", 'upload-pack', model],
    ["git-upload-pack 'alice/m.git'", 'upload-pack', model],
    ["git-upload-pack '/alice/m.git'", 'upload-pack', model],
    ['git-upload-pack alice/m', 'upload-pack', model],
    ["git upload-pack 'alice/m'", 'upload-pack', model],
    ["git-receive-pack 'alice/m'", 'receive-pack', model],
    ["git receive-pack '/alice/m.git'", 'receive-pack', model],
    ["git-upload-pack 'datasets/alice/d'", 'upload-pack', { type: 'dataset', namespace: 'alice', name: 'd' }],
    ["git-receive-pack '/spaces/alice/s.git'", 'receive-pack', { type: 'space', namespace: 'alice', name: 's' }],
  ])('%s', (command, service, repo) => {
    expect(parseCommand(command)).toEqual({ kind: 'git', service, repo });
  });

  it.each([
    ['git-lfs-authenticate alice/m download', 'download', model],
    ["git-lfs-authenticate '/alice/m.git' upload", 'upload', model],
    ['git-lfs-authenticate datasets/alice/d upload', 'upload', { type: 'dataset', namespace: 'alice', name: 'd' }],
  ])('%s', (command, operation, repo) => {
    expect(parseCommand(command)).toEqual({ kind: 'lfs-authenticate', operation, repo });
  });

  it.each([
    ['', 'unknown command ""'],
    ['ls', 'unknown command "ls"'],
    ['sh -c id', 'unknown command "sh"'],
    ['bash', 'unknown command "bash"'],
    ["git-upload-pack '../../etc'", 'invalid repository path'],
    ["git-upload-pack '../etc'", "invalid namespace \"..\""],
    ["git-upload-pack 'alice/../../etc'", 'invalid repository path'],
    ["git-upload-pack 'alice'", 'invalid repository path'],
    ["git-upload-pack 'models/alice/m'", 'invalid repository path'],
    ["git-upload-pack 'a/b/c/d'", 'invalid repository path'],
    ["git-upload-pack 'alice/m' extra", 'takes one repository path'],
    ['git-upload-pack', 'takes one repository path'],
    ["git-upload-pack 'alice/m", 'invalid repository path'],
    ['git-upload-pack "alice/m"', 'invalid repository path'],
    ["git-upload-pack 'al'\\''ice/m'", 'invalid repository path'],
    ['git-upload-pack $(id)/m', 'invalid repository path'],
    ["git-upload-pack '-alice/m'", 'invalid namespace "-alice"'],
    ["git-upload-pack 'alice/m.git.git'", 'a name cannot end in .git'],
    ["git-upload-archive 'alice/m'", 'git archive --remote is not served'],
    ["git-lfs-transfer 'alice/m' upload", 'git-lfs-transfer is not served'],
    ['git-lfs-authenticate alice/m', 'usage: git-lfs-authenticate'],
    ['git-lfs-authenticate alice/m delete', 'usage: git-lfs-authenticate'],
    [`git-upload-pack '${'a'.repeat(2000)}'`, 'command too long'],
  ])('refuses %s', (command, message) => {
    const parsed = parseCommand(command);
    expect(parsed.kind).toBe('refused');
    expect(parsed.kind === 'refused' && parsed.message).toContain(message);
  });
});
