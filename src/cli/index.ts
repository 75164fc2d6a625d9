import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { runAgent } from '../../lfs/agent.js';
import { ConfigError, databaseFrom, dataDirFrom, loadConfig } from '../config.js';
import { HubgateError } from '../domain/errors.js';
import { storageFault } from '../domain/faults.js';
import { NameError, parseRepoId, parseRepoType } from '../domain/names.js';
import { backup, POSTGRES_BACKUP } from '../ops/backup.js';
import { restore } from '../ops/restore.js';
import type { GatedMode, MemberRole, TokenRole } from '../domain/types.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { createOrg, createUser, setPassword } from '../services/accounts.js';
import { auditEntries, auditRepoRef, detailsText } from '../services/audit.js';
import { collectLfsGarbageIn, humanBytes } from '../services/lfs-gc.js';
import { deleteOrg, listOrgs, orgMembers, removeMember, setMember } from '../services/orgs.js';
import { copySqliteToPostgres, type Db, withDatabase } from '../services/database.js';
import { createRepo, deleteRepo, listRepos, moveRepo, requireRepo, setVisibility, updateSettings } from '../services/repos.js';
import { addSshKey, removeSshKey, sshKeysOf } from '../services/ssh-keys.js';
import { createToken, revoke, tokensOf } from '../services/tokens.js';
import { deleteUser, disableUser, enableUser, listUsers, setUser } from '../services/users.js';

// Exit codes (design §7): 0 ok; 1 an error that says what to do; 2 a usage error.

class UsageError extends Error {}

const dataOption = () => new Option('--data <dir>', 'data directory (default $HUBGATE_DATA_DIR or ./data)');
const typeOption = () => new Option('--type <type>', 'repo type').choices(['model', 'dataset', 'space']).default('model');

/** Opens the data directory for an admin command and always closes it. */
async function withDb<T>(opts: { data?: string }, fn: (db: Db, dataDir: string) => Promise<T>): Promise<T> {
  const where = databaseFrom(opts.data);
  return withDatabase(where, (db) => fn(db, where.dataDir));
}

/** A database URL as it may be shown: host, port and database, no user or password. */
function databaseHost(url: string): string {
  const u = new URL(url);
  return `${u.host}${u.pathname}`;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('--password-stdin reads the password from standard input: pipe it in');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Standard input as text, refused past `max` bytes (a public key is one short line). */
async function readStdinBounded(max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > max) throw new UsageError(`standard input is over ${max} bytes: pipe in one public key (a .pub file)`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs git in `cwd`; its trimmed stdout, or null when it fails. */
function gitIn(cwd: string, args: string[]): Promise<string | null> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') reject(new Error('git was not found: install git and git-lfs, then run this again'));
      else resolve(err ? null : stdout.trim());
    });
  });
}

/** Makes a clone push large LFS files through `hubgate lfs-multipart-upload` (as huggingface-cli lfs-enable-largefiles does). */
async function enableLargefiles(dir: string): Promise<string> {
  const abs = path.resolve(dir);
  if (!fs.statSync(abs, { throwIfNoEntry: false })?.isDirectory() || (await gitIn(abs, ['rev-parse', '--is-inside-work-tree'])) !== 'true') {
    throw new Error(`${abs} is not a git working tree: run this in a clone of the repo, e.g. \`cd CLONE && hubgate lfs-enable-largefiles .\``);
  }
  // git-lfs runs the bin directly (it has a #!/usr/bin/env node line).
  const bin = fileURLToPath(new URL('../../../bin/hubgate.js', import.meta.url));
  if (!fs.existsSync(bin)) throw new Error(`hubgate's command ${bin} is missing: reinstall hubgate`);
  for (const [key, value] of [['lfs.customtransfer.multipart.path', bin], ['lfs.customtransfer.multipart.args', 'lfs-multipart-upload']]) {
    if ((await gitIn(abs, ['config', key, value])) === null) throw new Error(`could not set ${key} in ${abs}: check that its .git/config is writable`);
  }
  return abs;
}

export function buildProgram(): Command {
  const program = new Command('hubgate')
    .description('Self-hosted, Hugging Face Hub-compatible server for model and dataset repositories')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  program
    .command('serve')
    .description('serve git, LFS and the Hub API')
    .addOption(dataOption())
    .option('--host <host>', 'address to listen on (default $HUBGATE_HOST or 127.0.0.1)')
    .option('--port <port>', 'port to listen on (default $HUBGATE_PORT or 8080)')
    .option('--public-url <url>', 'the URL users reach hubgate at (default $HUBGATE_PUBLIC_URL)')
    .option('--workers <n>', 'worker processes serving requests; 1: a single process (default $HUBGATE_WORKERS or the number of CPUs)')
    .action(async (o) => {
      // Loaded only to serve: admin commands stay quick.
      const { serve } = await import('../server.js');
      await serve(loadConfig({ dataDir: o.data, host: o.host, port: o.port, publicUrl: o.publicUrl, workers: o.workers }));
    });

  const user = program.command('user').description('manage users');
  user
    .command('create <name>')
    .description('create a user')
    .addOption(dataOption())
    .option('--email <email>')
    .option('--fullname <fullname>')
    .option('--password-stdin', 'read a web login password from standard input')
    .option('--admin', 'make the user a site administrator')
    .action(async (name: string, o) => {
      const password = o.passwordStdin ? await readStdin() : undefined;
      await withDb(o, (db) => createUser(db, { name, email: o.email, fullname: o.fullname, password, isAdmin: !!o.admin }, null));
      say(`created user ${name}`);
    });

  user
    .command('password <name>')
    .description("set a user's web password, read from standard input (signs the user out of the pages)")
    .addOption(dataOption())
    .requiredOption('--password-stdin', 'read the password from standard input')
    .action(async (name: string, o) => {
      const password = await readStdin();
      await withDb(o, (db) => setPassword(db, name, password, null));
      say(`set the web password of ${name}`);
    });

  user
    .command('list')
    .description('list users: name, email, full name, site admin, disabled, created')
    .addOption(dataOption())
    .action(async (o) => {
      const users = await withDb(o, (db) => listUsers(db));
      say(['NAME', 'EMAIL', 'FULLNAME', 'ADMIN', 'DISABLED', 'CREATED'].join('\t'));
      for (const u of users) say([u.name, u.email ?? '', u.fullname, u.isAdmin ? 'yes' : 'no', u.disabledAt ?? 'no', u.createdAt].join('\t'));
    });
  user
    .command('disable <name>')
    .description('disable a user at once: their tokens, sessions and download links stop working; their repos stay')
    .addOption(dataOption())
    .action(async (name: string, o) => {
      const changed = await withDb(o, (db) => disableUser(db, name, null));
      say(changed ? `disabled user ${name}` : `${name} was already disabled`);
    });
  user
    .command('enable <name>')
    .description('enable a disabled user again (their tokens work again; pages need a new sign-in)')
    .addOption(dataOption())
    .action(async (name: string, o) => {
      const changed = await withDb(o, (db) => enableUser(db, name, null));
      say(changed ? `enabled user ${name}` : `${name} was not disabled`);
    });
  user
    .command('delete <name>')
    .description('delete a user; refused while they own repos, unless --transfer-to or --delete-repos')
    .addOption(dataOption())
    .addOption(new Option('--transfer-to <ns>', 'move their repos to this user or organization').conflicts('deleteRepos'))
    .option('--delete-repos', 'delete their repos with them')
    .action(async (name: string, o) => {
      const done = await withDb(o, (db, dataDir) => deleteUser(db, dataDir, name, { transferTo: o.transferTo, deleteRepos: !!o.deleteRepos }, null));
      for (const id of done.transferred) say(`moved ${id}`);
      for (const id of done.deleted) say(`deleted ${id}`);
      say(`deleted user ${name}`);
    });
  user
    .command('set <name>')
    .description("change a user's email, full name or site admin role")
    .addOption(dataOption())
    .option('--email <email>', "the email ('' to clear it)")
    .option('--fullname <fullname>')
    .option('--admin', 'make the user a site administrator')
    .option('--no-admin', 'take the site administrator role away')
    .action(async (name: string, o) => {
      if (o.email === undefined && o.fullname === undefined && o.admin === undefined) throw new UsageError('nothing to change: give --email, --fullname, --admin or --no-admin');
      const u = await withDb(o, (db) => setUser(db, name, { email: o.email, fullname: o.fullname, isAdmin: o.admin }, null));
      say(`${u.name}: email ${u.email ?? '(none)'}, full name ${u.fullname || '(none)'}, ${u.isAdmin ? 'site admin' : 'not a site admin'}`);
    });

  const org = program.command('org').description('manage organizations');
  org
    .command('create <name>')
    .description('create an organization')
    .addOption(dataOption())
    .option('--fullname <fullname>')
    .action(async (name: string, o) => {
      await withDb(o, (db) => createOrg(db, { name, fullname: o.fullname }, null));
      say(`created organization ${name}`);
    });
  org
    .command('add <org> <user>')
    .description("add a member to an organization, or change a member's role")
    .addOption(dataOption())
    .addOption(new Option('--role <role>', 'read, write or admin').choices(['read', 'write', 'admin']).makeOptionMandatory())
    .action(async (orgName: string, userName: string, o) => {
      await withDb(o, (db) => setMember(db, orgName, userName, o.role as MemberRole, null));
      say(`${userName} is now a member of ${orgName} with the ${o.role} role`);
    });
  org
    .command('list')
    .description('list organizations')
    .addOption(dataOption())
    .action(async (o) => {
      const orgs = await withDb(o, (db) => listOrgs(db));
      say(['NAME', 'MEMBERS', 'CREATED', 'FULL NAME'].join('\t'));
      for (const g of orgs) say([g.name, g.members, g.createdAt, g.fullname].join('\t'));
    });
  org
    .command('members <org>')
    .description("list an organization's members and their roles")
    .addOption(dataOption())
    .action(async (orgName: string, o) => {
      const members = await withDb(o, (db) => orgMembers(db, orgName));
      say(['USER', 'ROLE', 'SINCE', 'FULL NAME'].join('\t'));
      for (const m of members) say([m.name, m.role, m.since, m.fullname].join('\t'));
    });
  org
    .command('remove <org> <user>')
    .description('remove a member from an organization (effective at their next request)')
    .addOption(dataOption())
    .action(async (orgName: string, userName: string, o) => {
      await withDb(o, (db) => removeMember(db, orgName, userName, null));
      say(`${userName} is no longer a member of ${orgName}`);
    });
  org
    .command('delete <org>')
    .description('delete an organization that owns no repos')
    .addOption(dataOption())
    .action(async (orgName: string, o) => {
      await withDb(o, (db) => deleteOrg(db, orgName, null));
      say(`deleted organization ${orgName}`);
    });

  const token = program.command('token').description('manage user access tokens');
  token
    .command('create <user>')
    .description('create an access token and print it alone on stdout (shown once)')
    .addOption(dataOption())
    .addOption(new Option('--role <role>', 'read or write').choices(['read', 'write']).makeOptionMandatory())
    .option('--name <name>', 'display name')
    .action(async (userName: string, o) => {
      const { secret } = await withDb(o, (db) => createToken(db, userName, o.role as TokenRole, o.name, null));
      say(secret);
    });
  token
    .command('list <user>')
    .description("list a user's tokens (never their secrets)")
    .addOption(dataOption())
    .action(async (userName: string, o) => {
      const tokens = await withDb(o, (db) => tokensOf(db, userName));
      say(['ID', 'ROLE', 'STATUS', 'CREATED', 'LAST USED', 'NAME'].join('\t'));
      for (const t of tokens) {
        say([t.id, t.role, t.revokedAt ? 'revoked' : 'active', t.createdAt, t.lastUsedAt ?? 'never', t.name].join('\t'));
      }
    });
  token
    .command('revoke <id>')
    .description('revoke a token by its id (from `token list`)')
    .addOption(dataOption())
    .action(async (id: string, o) => {
      if (!/^[1-9][0-9]{0,15}$/.test(id)) throw new UsageError(`invalid token id "${id}": use the number shown by \`hubgate token list USER\``);
      await withDb(o, (db) => revoke(db, Number(id), null));
      say(`revoked token ${id}`);
    });

  const sshKey = program.command('ssh-key').description("manage users' SSH public keys (git over SSH)");
  sshKey
    .command('add <user>')
    .description('add a public key, read from standard input (one line of a .pub file); prints its id and fingerprint')
    .addOption(dataOption())
    .requiredOption('--title <title>', 'what the key is, e.g. the machine it is on')
    .action(async (userName: string, o) => {
      if (process.stdin.isTTY) throw new UsageError('ssh-key add reads the public key from standard input: `hubgate ssh-key add USER --title T < ~/.ssh/id_ed25519.pub`');
      const text = await readStdinBounded(64 * 1024);
      const key = await withDb(o, (db) => addSshKey(db, userName, o.title, text, null));
      say(`${key.id}\t${key.fingerprint}`);
    });
  sshKey
    .command('list <user>')
    .description("list a user's SSH keys")
    .addOption(dataOption())
    .action(async (userName: string, o) => {
      const keys = await withDb(o, (db) => sshKeysOf(db, userName));
      say(['ID', 'FINGERPRINT', 'TYPE', 'CREATED', 'LAST USED', 'TITLE'].join('\t'));
      for (const k of keys) say([k.id, k.fingerprint, k.algorithm, k.createdAt, k.lastUsedAt ?? 'never', k.title].join('\t'));
    });
  sshKey
    .command('remove <id>')
    .description('remove an SSH key by its id (from `ssh-key list`); its access ends at once')
    .addOption(dataOption())
    .action(async (id: string, o) => {
      if (!/^[1-9][0-9]{0,15}$/.test(id)) throw new UsageError(`invalid SSH key id "${id}": use the number shown by \`hubgate ssh-key list USER\``);
      await withDb(o, (db) => removeSshKey(db, Number(id), null));
      say(`removed SSH key ${id}`);
    });

  const repo = program.command('repo').description('manage repositories');
  repo
    .command('create <id>')
    .description('create a repository NAMESPACE/NAME')
    .addOption(dataOption())
    .addOption(typeOption())
    .option('--private', 'visible only to its owner and org members')
    .addOption(new Option('--gated <mode>', 'gate access with auto or manual approval').choices(['auto', 'manual']))
    .action(async (id: string, o) => {
      const ref = { ...parseRepoId(id), type: parseRepoType(o.type) };
      const created = await withDb(o, (db, dataDir) => createRepo(db, dataDir, { ...ref, private: !!o.private, gated: (o.gated ?? false) as GatedMode }, null));
      say(`created ${created.type} ${created.namespace}/${created.name} (${created.private ? 'private' : 'public'}${created.gated ? `, gated: ${created.gated}` : ''})`);
    });
  repo
    .command('gate <id> <mode>')
    .description('set gating of a repository: auto, manual or off')
    .addOption(dataOption())
    .addOption(typeOption())
    .action(async (id: string, mode: string, o) => {
      if (!['auto', 'manual', 'off'].includes(mode)) throw new UsageError(`invalid gate mode "${mode}": use auto, manual or off`);
      const ref = { ...parseRepoId(id), type: parseRepoType(o.type) };
      await withDb(o, async (db) => updateSettings(db, await requireRepo(db, ref), { gated: mode === 'off' ? false : (mode as GatedMode) }, null));
      say(`${id}: gating ${mode}`);
    });

  repo
    .command('list [namespace]')
    .description('list repositories, all or those of a user or organization')
    .addOption(dataOption())
    .addOption(new Option('--type <type>', 'only repos of this type').choices(['model', 'dataset', 'space']))
    .action(async (namespace: string | undefined, o) => {
      const repos = await withDb(o, (db) => listRepos(db, { namespace, type: o.type ? parseRepoType(o.type) : undefined }));
      say(['TYPE', 'REPO', 'VISIBILITY', 'GATED', 'CREATED'].join('\t'));
      for (const r of repos) say([r.type, `${r.namespace}/${r.name}`, r.private ? 'private' : 'public', r.gated || 'no', r.createdAt].join('\t'));
    });
  repo
    .command('delete <id>')
    .description('delete a repository NAMESPACE/NAME with its history (LFS objects stay until collected)')
    .addOption(dataOption())
    .addOption(typeOption())
    .action(async (id: string, o) => {
      const ref = { ...parseRepoId(id), type: parseRepoType(o.type) };
      await withDb(o, async (db, dataDir) => deleteRepo(db, dataDir, await requireRepo(db, ref), null));
      say(`deleted ${o.type} ${id}`);
    });
  repo
    .command('set <id>')
    .description('make a repository private or public')
    .addOption(dataOption())
    .addOption(typeOption())
    .addOption(new Option('--private', 'visible only to its owner and org members').conflicts('public'))
    .addOption(new Option('--public', 'visible to everyone').conflicts('private'))
    .action(async (id: string, o) => {
      if (!o.private && !o.public) throw new UsageError('say what to set: --private or --public');
      const ref = { ...parseRepoId(id), type: parseRepoType(o.type) };
      const updated = await withDb(o, async (db) => setVisibility(db, await requireRepo(db, ref), !!o.private, null));
      say(`${id} is now ${updated.private ? 'private' : 'public'}`);
    });
  repo
    .command('rename <id> <new-id>')
    .description('rename a repository, or move it to another user or organization: NS/NAME NEWNS/NEWNAME')
    .addOption(dataOption())
    .addOption(typeOption())
    .action(async (id: string, newId: string, o) => {
      const type = parseRepoType(o.type);
      const moved = await withDb(o, (db, dataDir) => moveRepo(db, dataDir, { ...parseRepoId(id), type }, { ...parseRepoId(newId), type }, null));
      say(`${id} is now ${moved.namespace}/${moved.name}`);
    });

  program
    .command('audit')
    .description('print the audit log, newest first: time, actor (- for the command line), action, repo, target, details')
    .addOption(dataOption())
    .option('--repo <id>', 'only entries about this repo: NAMESPACE/NAME (with --type) or datasets/NAMESPACE/NAME')
    .addOption(new Option('--type <type>', 'the type of the --repo repo (default model)').choices(['model', 'dataset', 'space']))
    .option('--user <name>', 'only entries by this user or about them')
    .option('--since <date>', 'only entries at or after this time, e.g. 2026-11-30 or 2026-11-30T08:00:00Z')
    .option('--limit <n>', 'at most this many entries (1 to 1000)', '100')
    .action(async (o) => {
      if (o.type && !o.repo) throw new UsageError('--type goes with --repo: give the repo too');
      if (!/^[0-9]{1,4}$/.test(o.limit)) throw new UsageError(`invalid --limit "${o.limit}": give a number from 1 to 1000`);
      const repo = o.repo === undefined ? undefined : auditRepoRef(o.repo, o.type);
      const since = o.since === undefined ? undefined : new Date(o.since);
      const entries = await withDb(o, (db) => auditEntries(db, { repo, user: o.user, since, limit: Number(o.limit) }));
      for (const e of entries) say([e.at, e.actor ?? '-', e.action, e.repo ?? '-', e.target ?? '-', detailsText(e.details)].join(' ').trimEnd());
    });

  const database = program.command('db').description('the metadata database (SQLite in the data directory, or HUBGATE_DATABASE_URL)');
  database
    .command('migrate')
    .description('bring the database schema up to date, then exit (every start does this too; for operators who migrate separately)')
    .addOption(dataOption())
    .action(async (o) => {
      const where = databaseFrom(o.data);
      await withDb(o, async () => {});
      say(`the database ${where.databaseUrl ? `at ${databaseHost(where.databaseUrl)}` : `in ${where.dataDir}`} is up to date`);
    });

  database
    .command('copy')
    .description('copy every row of a SQLite installation into a new, empty PostgreSQL database (same ids), then compare the counts; stop the server first')
    .requiredOption('--from <sqlite:PATH>', 'the SQLite database: sqlite:DATA_DIR or sqlite:DATA_DIR/hubgate.sqlite')
    .requiredOption('--to <postgres://...>', 'the PostgreSQL database (created and empty; its schema is made here)')
    .action(async (o: { from: string; to: string }) => {
      if (!o.from.startsWith('sqlite:') || o.from.length === 'sqlite:'.length) throw new UsageError('--from takes sqlite:PATH, the data directory (or its hubgate.sqlite) to copy from');
      if (!/^postgres(ql)?:\/\//.test(o.to)) throw new UsageError('--to takes a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL');
      const counts = await copySqliteToPostgres(o.from.slice('sqlite:'.length), o.to, (table, rows) => say(`copied ${table}: ${rows} rows`));
      say(`verified: ${counts.length} tables, ${counts.reduce((sum, c) => sum + c.target, 0)} rows, the same counts on both sides`);
    });

  program
    .command('backup <dir>')
    .description('copy the data directory into DIR (new or empty) while the server runs: database, repos, LFS objects, keys')
    .addOption(dataOption())
    .action(async (dir: string, o) => {
      const m = await backup(loadConfig({ dataDir: o.data }), dir);
      say(`backed up ${m.repos} repos and ${m.lfs.store === 'fs' ? `${m.lfs.copied} LFS objects` : `the database (LFS objects stay in s3://${m.lfs.bucket}/${m.lfs.prefix})`} into ${path.resolve(dir)}`);
      for (const repo of m.missingRepos) process.stderr.write(`hubgate: warning: ${repo} was deleted or moved during the backup and is not in it\n`);
      if (m.lfs.missing.length) process.stderr.write(`hubgate: warning: ${m.lfs.missing.length} linked LFS objects were not in the store (listed in backup.json)\n`);
    });
  program
    .command('restore <dir>')
    .description('make the backup in DIR a new data directory (--data, which must be new or empty)')
    .addOption(dataOption())
    .action(async (dir: string, o) => {
      if (databaseFrom(o.data).databaseUrl) throw new Error(POSTGRES_BACKUP);
      const m = await restore(dir, dataDirFrom(o.data));
      say(`restored the backup of ${m.finishedAt} into ${dataDirFrom(o.data)}${m.lfs.store === 's3' ? ` (LFS objects are in s3://${m.lfs.bucket}/${m.lfs.prefix}: serve with the same HUBGATE_S3_* settings)` : ''}`);
    });

  const lfs = program.command('lfs').description('manage Git LFS storage');
  lfs
    .command('gc')
    .description('remove LFS objects no repo links (after the grace period) and what interrupted uploads left; the server may keep running')
    .addOption(dataOption())
    .option('--dry-run', 'only print what would be removed')
    .option('--grace <duration>', 'keep objects unlinked for less than this, e.g. 24h, 30m, 7d, 0 (default $HUBGATE_LFS_GC_GRACE or 24h)')
    .option('--no-scan', "skip reading every repo's history for pointers naming what would be removed (faster, relies on links alone)")
    .option('--verbose', 'print each object removed')
    .action(async (o) => {
      const cfg = loadConfig({ dataDir: o.data });
      let graceMs = cfg.lfsGcGraceMs;
      if (o.grace !== undefined) {
        const ms = parseDuration(o.grace);
        if (ms === null) throw new UsageError(`invalid --grace "${o.grace}": use a number and a unit, such as 24h, 30m, 7d (or 0)`);
        graceMs = ms;
      }
      const r = await collectLfsGarbageIn(cfg, { graceMs, dryRun: !!o.dryRun, scanHistory: o.scan !== false, actor: null });
      const verb = r.dryRun ? 'would remove' : 'removed';
      if (o.verbose) for (const x of r.removed) say(`${verb} ${x.oid} ${x.size}`);
      say(`${verb} ${r.removed.length} LFS objects (${humanBytes(r.bytes)}) unlinked for over ${formatDuration(graceMs)}`);
      const st = r.staging;
      say(`${verb} ${st.staged} staged uploads, ${st.multipart} multipart uploads, ${st.scratch} scratch files and ${r.finishedUploads} finished upload records`);
      if (r.xetFiles) say(`${verb} ${r.xetFiles} Xet file records no repo registers (their xorbs are left to xorb collection)`);
      if (r.scannedRepos) say(`read the history of ${r.scannedRepos} repos for LFS pointers in ${(r.scanMs / 1000).toFixed(1)} s`);
      if (r.skipped) say(`left ${r.skipped} objects an upload began to use meanwhile`);
      for (const k of r.keptNamed) process.stderr.write(`hubgate: warning: kept ${k.oid}: no repo links it, but pointers in ${k.repos.join(', ')} name it\n`);
      if (r.unlinkedPointerCount) {
        process.stderr.write(`hubgate: warning: ${r.unlinkedPointerCount} LFS pointers name objects their repo does not link${r.unlinkedPointerCount > r.unlinkedPointers.length ? ' (first ones shown)' : ''}:\n`);
        for (const p of r.unlinkedPointers) process.stderr.write(`  ${p.repo} ${p.oid}\n`);
      }
      if (r.failed) process.stderr.write(`hubgate: warning: ${r.failed} objects could not be removed from the store: they stay, run again later\n`);
    });

  program
    .command('lfs-enable-largefiles <path>')
    .description('make the clone at PATH upload large LFS files in parts (through lfs-multipart-upload)')
    .action(async (dir: string) => {
      const abs = await enableLargefiles(dir);
      say(`${abs}: large files will now be pushed in parts by \`hubgate lfs-multipart-upload\``);
    });
  program
    .command('lfs-multipart-upload')
    .description('the git-lfs custom transfer agent for multipart uploads (git-lfs runs it)')
    .action(async () => {
      const code = await runAgent({ input: process.stdin, output: process.stdout });
      // Exit now: idle keep-alive sockets or stdin must not hold git-lfs waiting.
      process.exit(code);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander has already printed its message.
    return err.exitCode === 0 ? 0 : 2;
  }
  const oneLine = (m: string) => m.split('\n')[0];
  if (err instanceof UsageError || err instanceof NameError || err instanceof ConfigError) {
    process.stderr.write(`hubgate: ${oneLine(err.message)}\n`);
    return 2;
  }
  // A full or read-only disk (a HubgateError too, so first): what happened and what to do, in one line.
  const fault = storageFault(err);
  if (fault || err instanceof HubgateError) {
    process.stderr.write(`hubgate: ${oneLine((fault ?? (err as HubgateError)).message)}\n`);
    return 1;
  }
  process.stderr.write(`hubgate: ${oneLine((err as Error)?.message ?? String(err))}\n`);
  return 1;
}
