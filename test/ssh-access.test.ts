import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, tempDir } from './helpers/hubgate.js';
import { generateKey } from './helpers/ssh-keys.js';
import { type SshHubgate, startSshHubgate } from './helpers/ssh.js';

// Who may do what over SSH: the access rules of HTTP (one policy; an SSH key acts as its user
// with a write token), the same refusal words, keys removed or unknown, and commands that are
// not git's. Driven by the real OpenSSH client.

let hub: SshHubgate;
const keys: Record<string, string> = {};
const keyIds: Record<string, number> = {};
const tokens: Record<string, string> = {};

const api = (method: string, urlPath: string, token: string, body?: unknown) =>
  fetch(`${hub.url}${urlPath}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

beforeAll(async () => {
  hub = await startSshHubgate();
  for (const user of ['alice', 'reader', 'writer', 'boss', 'bob', 'carol', 'dave']) {
    tokens[user] = await hub.userWithToken(user);
    const key = await hub.addKey(user);
    keys[user] = key.file;
    keyIds[user] = key.id;
  }
  const setup = [
    ['org', 'create', 'acme'],
    ['org', 'add', 'acme', 'reader', '--role', 'read'],
    ['org', 'add', 'acme', 'writer', '--role', 'write'],
    ['org', 'add', 'acme', 'boss', '--role', 'admin'],
    ['repo', 'create', 'alice/pub'],
    ['repo', 'create', 'alice/priv', '--private'],
    ['repo', 'create', 'acme/priv', '--private'],
    ['repo', 'create', 'alice/gated', '--gated', 'manual'],
  ];
  for (const args of setup) {
    const r = await hub.cli(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  }
  for (const repo of ['alice/pub', 'alice/priv', 'alice/gated']) await hub.pushFiles(repo, tokens.alice, { 'README.md': `# ${repo}\n` });
  await hub.pushFiles('acme/priv', tokens.writer, { 'README.md': '# acme\n' });
  // bob asks for gated access and waits; carol asks and is turned down with a reason.
  for (const user of ['bob', 'carol']) expect((await api('POST', '/alice/gated/ask-access', tokens[user], { fields: {} })).status).toBe(201);
  const handled = await api('POST', '/api/models/alice/gated/user-access-request/handle', tokens.alice, { user: 'carol', status: 'rejected', rejectionReason: 'Students only, sorry' });
  expect(handled.status).toBe(200);
});
afterAll(() => hub?.stop());

const sshEnv = (user: string) => ({ GIT_SSH_COMMAND: hub.sshCommand(keys[user]) });

async function clone(user: string, repo: string) {
  return hub.git(['clone', '-q', hub.sshRemote(repo), 'c'], { env: sshEnv(user) });
}

/** Clones `repo` over HTTP with a writer's token, commits a file and pushes it over SSH as `user`. */
async function pushAs(user: string, repo: string) {
  const dir = tempDir();
  const c = await hub.git(['clone', '-q', hub.remote(repo, repo.startsWith('acme/') ? tokens.writer : tokens.alice), '.'], { cwd: dir });
  expect(c.code, c.stderr).toBe(0);
  fs.writeFileSync(path.join(dir, `${user}.txt`), `${user}\n`);
  await hub.git(['add', '.'], { cwd: dir });
  await hub.git(['commit', '-qm', `by ${user}`], { cwd: dir });
  return hub.git(['push', hub.sshRemote(repo), 'HEAD:main'], { cwd: dir, env: sshEnv(user) });
}

const NOT_FOUND = (repo: string) => `Repository not found: ${repo}`;

describe('access over SSH: the policy of HTTP', () => {
  it.each([
    // who, repo, may read, may write (null: the refusal's words)
    ['alice', 'alice/pub', true, true],
    ['alice', 'alice/priv', true, true],
    ['bob', 'alice/pub', true, 'You do not have write access to alice/pub'],
    ['bob', 'alice/priv', NOT_FOUND('alice/priv'), NOT_FOUND('alice/priv')],
    ['reader', 'acme/priv', true, 'You do not have write access to acme/priv'],
    ['writer', 'acme/priv', true, true],
    ['boss', 'acme/priv', true, true],
    ['bob', 'acme/priv', NOT_FOUND('acme/priv'), NOT_FOUND('acme/priv')],
  ] as const)('%s on %s: read %s, write %s', async (user, repo, read, write) => {
    const r = await clone(user, repo);
    if (read === true) expect(r.code, r.stderr).toBe(0);
    else {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(read);
    }
    const p = await pushAs(user, repo);
    if (write === true) expect(p.code, p.stderr).toBe(0);
    else {
      expect(p.code).not.toBe(0);
      expect(p.stderr).toContain(write);
      expect(p.stderr).not.toMatch(/at .*\.js:\d+|TypeError|Error:/);
    }
  });

  it('answers a private repo and a missing one in the same words', async () => {
    const hidden = await hub.ssh(keys.bob, "git-upload-pack 'alice/priv'");
    const missing = await hub.ssh(keys.bob, "git-upload-pack 'alice/nothing-here'");
    expect(hidden.code).toBe(1);
    expect(missing.code).toBe(1);
    expect(hidden.stderr.replace('priv', 'X')).toBe(missing.stderr.replace('nothing-here', 'X'));
    expect(hidden.stdout).toBe('');
  });

  it('refuses gated repos to users without access, with the state and the reason, and serves their writers', async () => {
    const none = await clone('dave', 'alice/gated');
    expect(none.stderr).toContain('Access to alice/gated is restricted: it is a gated repository. Visit');
    const pending = await clone('bob', 'alice/gated');
    expect(pending.stderr).toContain('Access to alice/gated is restricted: your request for access is awaiting a decision');
    const rejected = await clone('carol', 'alice/gated');
    expect(rejected.stderr).toContain("Access to alice/gated is restricted: your request for access was rejected by the repository's authors: Students only, sorry");
    for (const r of [none, pending, rejected]) expect(r.code).not.toBe(0);
    expect((await clone('alice', 'alice/gated')).code).toBe(0);
  });

  it('follows a renamed repo to its new name for who may see it', async () => {
    expect((await hub.cli(['repo', 'create', 'alice/old-name'])).code).toBe(0);
    await hub.pushFiles('alice/old-name', tokens.alice, { 'x.txt': 'x\n' });
    const renamed = await hub.cli(['repo', 'rename', 'alice/old-name', 'alice/new-name']);
    expect(renamed.code, renamed.stderr).toBe(0);
    const r = await clone('bob', 'alice/old-name');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`alice/old-name has moved to alice/new-name: use the new name in your remote: git remote set-url origin ssh://git@127.0.0.1:${hub.sshPort}/alice/new-name`);
  });
});

describe('keys and commands', () => {
  it('refuses a key nobody added, and passwords', async () => {
    const stranger = await generateKey('ed25519');
    const r = await hub.ssh(stranger.file, "git-upload-pack 'alice/pub'");
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('Permission denied (publickey)');
    const password = await hub.ssh(stranger.file, "git-upload-pack 'alice/pub'", ['-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password,keyboard-interactive']);
    expect(password.code).toBe(255);
    expect(password.stderr).toContain('Permission denied (publickey)');
  });

  it('refuses a removed key at its next command, on a connection already open too', async () => {
    const key = await hub.addKey('dave');
    const control = path.join(tempDir('hubgate-cm-'), 'cm');
    const master = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${control}`, '-o', 'ControlPersist=30'];
    const before = await hub.ssh(key.file, "git-upload-pack 'alice/pub'", master);
    // upload-pack waits for the client's wants: with stdin at its end it stops after the advertisement.
    expect(before.stdout).toMatch(/refs\/heads\/main/);
    expect((await hub.cli(['ssh-key', 'remove', String(key.id)])).code).toBe(0);
    const after = await hub.ssh(key.file, "git-upload-pack 'alice/pub'", master);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('this SSH key is no longer valid');
    expect(after.stdout).toBe('');
    await run('ssh', ['-o', `ControlPath=${control}`, '-O', 'exit', 'git@127.0.0.1']);
    const fresh = await hub.ssh(key.file, "git-upload-pack 'alice/pub'");
    expect(fresh.code).toBe(255);
    expect(fresh.stderr).toContain('Permission denied (publickey)');
  });

  it.each([
    ['ls', 'unknown command "ls"'],
    ['sh -c id', 'unknown command "sh"'],
    ["git-upload-pack '../../etc'", 'invalid repository path'],
    ["git-upload-pack '/etc/passwd/x/y'", 'invalid repository path'],
    ["git-receive-pack 'alice/a..b'", "'..' is not allowed"],
    ["git-upload-pack 'alice/pub'; id", 'git-upload-pack takes one repository path'],
    ["git-upload-pack 'alice/pub;id'", 'invalid repo name "pub;id"'],
    ['git-upload-pack $(id)', 'invalid repository path'],
    ["git-upload-archive 'alice/pub'", 'git archive --remote is not served'],
    ['git-lfs-authenticate alice/pub delete', 'usage: git-lfs-authenticate'],
  ])('refuses %s with a message and a non-zero exit', async (command, message) => {
    const r = await hub.ssh(keys.alice, command);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('gives no shell and no port forwarding', async () => {
    const shell = await hub.ssh(keys.alice, '', ['-T']);
    expect(shell.code).not.toBe(0);
    const forward = await run('ssh', ['-F', '/dev/null', '-i', keys.alice, '-p', String(hub.sshPort), '-o', `UserKnownHostsFile=${hub.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes', '-N', '-R', '0:127.0.0.1:22', 'git@127.0.0.1']);
    expect(forward.code).toBe(255);
    expect(forward.stderr).toMatch(/remote port forwarding failed/i);
  });
});
