import type { ServerChannel } from 'ssh2';
import { type RepoRef, repoIdOf } from '../domain/names.js';
import { issueLfsSshToken, LFS_SSH_TOKEN_SECONDS, type LfsOperation } from '../identity/lfs-ssh-token.js';
import type { SshContext } from './context.js';
import { finish } from './git-service.js';

/**
 * `git-lfs-authenticate REPO upload|download`, once access is decided: where the repo's LFS API
 * is and a short-lived token for it, limited to that repo and operation (src/identity/lfs-ssh-token.ts),
 * so git-lfs moves the files of a repo cloned over SSH through the HTTP API with no configuration.
 */
export function lfsAuthenticate(ctx: SshContext, channel: ServerChannel, userId: number, repo: RepoRef, operation: LfsOperation): number {
  const token = issueLfsSshToken(ctx.signer, userId, repo, operation);
  const answer = {
    href: `${ctx.baseUrl()}/${repoIdOf(repo)}.git/info/lfs`,
    header: { Authorization: `Bearer ${token}` },
    // A minute early, so a token is never used in its last seconds.
    expires_in: LFS_SSH_TOKEN_SECONDS - 60,
  };
  channel.write(`${JSON.stringify(answer)}\n`);
  return finish(channel, '', 0);
}
