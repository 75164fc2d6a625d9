import fs from 'node:fs';
import type { ServerChannel } from 'ssh2';
import { answerFor } from '../access/answer.js';
import type { Action } from '../access/policy.js';
import { resolveAccess, resolveMovedRepo } from '../access/resolve.js';
import type { RepoWithOwner } from '../db/repos.js';
import { type RepoRef, repoIdOf } from '../domain/names.js';
import { repoDir } from '../git/repo-dirs.js';
import { cannotWrite, gitServiceEnv, safeGitProtocol } from '../git/service-env.js';
import type { Caller } from '../identity/identify.js';
import { refreshListing } from '../services/listing.js';
import { parseCommand } from './commands.js';
import type { SshContext } from './context.js';
import { finish, runGitService } from './git-service.js';
import { lfsAuthenticate } from './lfs-authenticate.js';
import { gitRateMessage, gitSlotsMessage } from '../util/rate-limits.js';

// One exec request: the SSH front end's pipeline, as HTTP's for one request. The key's user is
// loaded again (a key removed or a user disabled since the connection opened is refused here),
// the command parsed, the repo's access decided once by the one policy for the command's action,
// then git runs, or git-lfs gets its token. Refusals are the words HTTP answers with, on stderr.

/** Exit status of a refused command (git shows the stderr lines and "Could not read from remote repository"). */
const REFUSED = 1;

/** `touch`: called whenever data moves, for the idle timeout (server.ts). */
export async function runExec(ctx: SshContext, channel: ServerChannel, keyId: number, command: string, gitProtocolEnv: string | undefined, touch: () => void): Promise<number> {
  const user = await ctx.keys.userOfKeyId(keyId);
  if (!user) return finish(channel, 'this SSH key is no longer valid: it was removed or its user disabled; add a key to your account in the settings', REFUSED);
  // An SSH key acts as its user with a write token: the user's own rights, capped as a write token caps them.
  const caller: Caller = { kind: 'user', user, tokenRole: 'write', token: null };
  const parsed = parseCommand(command);
  if (parsed.kind === 'refused') return finish(channel, parsed.message, REFUSED);

  const action: Action = parsed.kind === 'git' ? (parsed.service === 'receive-pack' ? 'write' : 'read') : parsed.operation === 'upload' ? 'write' : 'read';
  const allowed = await decide(ctx, channel, caller, parsed.repo, action);
  if (!allowed) return REFUSED;
  const { row, ref } = allowed;
  const repoId = repoIdOf(ref);
  if (parsed.kind === 'lfs-authenticate') return lfsAuthenticate(ctx, channel, user.id, ref, parsed.operation);

  const dir = repoDir(ctx.cfg.dataDir, ref);
  if (!fs.existsSync(dir)) {
    ctx.log.error({ repo: repoId }, 'repository row exists but its directory is missing');
    return finish(channel, `Repository not found: ${repoIdOf(parsed.repo)}`, REFUSED);
  }
  // A push to a full or read-only disk is refused before it starts, as over HTTP.
  if (parsed.service === 'receive-pack') {
    const fault = await cannotWrite(dir);
    if (fault) {
      ctx.log.error({ repo: repoId, err: fault.message }, 'push refused: storage fault');
      return finish(channel, fault.message, REFUSED);
    }
  }
  const key = `user:${user.id}`;
  const wait = ctx.limits.gitRequests.take(key);
  if (wait) return finish(channel, gitRateMessage(ctx.limits.gitRequests, `user ${user.name}`, wait), REFUSED);
  const gone = new AbortController();
  channel.once('close', () => gone.abort());
  const release = await ctx.limits.gitProcesses.acquireWithin(key, ctx.cfg.gitSlotWaitMs, gone.signal);
  if (release && gone.signal.aborted) {
    release();
    return REFUSED;
  }
  if (!release) {
    if (gone.signal.aborted) return REFUSED;
    return finish(channel, gitSlotsMessage(ctx.limits.gitProcesses, `user ${user.name}`, ctx.cfg.gitSlotWaitMs), REFUSED);
  }
  const env = gitServiceEnv(ctx.cfg.dataDir, { repoId, repoType: ref.type, userName: user.name, gitProtocol: safeGitProtocol(gitProtocolEnv), maxFileSize: ctx.cfg.maxFileSize });
  // After a push, listings read the card of the default branch again (it may have moved).
  const afterPush = () => void refreshListing(ctx.db, ctx.cfg.dataDir, { ...ref, id: row.id }, ctx.log);
  return runGitService(ctx, channel, { service: parsed.service, dir, env, repoId, release, afterPush, touch });
}

/** The SSH address prefix users clone from (as the pages show it). */
function sshBaseUrl(ctx: SshContext): string {
  return ctx.cfg.sshPublicUrl ?? `ssh://git@${new URL(ctx.baseUrl()).hostname}:${ctx.cfg.sshPort}`;
}

/**
 * The one access decision of a command. A moved repo's old name leads to its new one when the
 * caller may see it there (git over HTTP follows a redirect; here the command is served from the
 * new name, with a line telling to update the remote). A refusal is written to stderr: undefined.
 */
async function decide(ctx: SshContext, channel: ServerChannel, caller: Caller, requested: RepoRef, action: Action): Promise<{ row: RepoWithOwner; ref: RepoRef } | undefined> {
  let { decision, repo } = await resolveAccess(ctx.db, caller, requested, action);
  if (!decision.allow && !repo) {
    const target = await resolveMovedRepo(ctx.db, caller, requested);
    if (target) {
      const moved: RepoRef = { type: requested.type, namespace: target.namespace, name: target.name };
      channel.stderr.write(`${repoIdOf(requested)} has moved to ${repoIdOf(moved)}: use the new name in your remote: git remote set-url origin ${sshBaseUrl(ctx)}/${repoIdOf(moved)}\n`);
      ({ decision, repo } = await resolveAccess(ctx.db, caller, moved, action));
    }
  }
  if (!decision.allow || !repo) {
    // Denials name the repo as the caller spelled it: the stored spelling would tell a hidden repo from a missing one.
    finish(channel, answerFor(decision.allow ? { reason: 'not-found' } : decision, repoIdOf(requested), ctx.baseUrl()).message, REFUSED);
    return undefined;
  }
  return { row: repo, ref: { type: requested.type, namespace: repo.namespace, name: repo.name } };
}
