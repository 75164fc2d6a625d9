import { type Account, findAccount, membershipRole } from '../db/accounts.js';
import type { Db } from '../db/index.js';
import { findRedirectTarget, findRepoWithFacts, type RepoWithFacts, type RepoWithOwner } from '../db/repos.js';
import type { RepoRef } from '../domain/names.js';
import type { Caller } from '../identity/identify.js';
import { type AccessFacts, type Action, type Decision, decide, decideCreate, decideOrg, mayAll, mayOrg, type OrgAction, type OrgFacts } from './policy.js';

/**
 * Gathers the facts about (caller, repo) from the database and asks the policy. With
 * resolveCreateAccess, the only caller of the policy; called once per request by the pipeline
 * (src/http/authorize.ts), by the LFS links port, and by the CLI's services.
 */
export async function resolveAccess(
  db: Db,
  caller: Caller,
  ref: RepoRef,
  action: Action,
): Promise<{ decision: Decision; repo: RepoWithOwner | undefined; may: () => Record<Action, boolean> }> {
  // One query for the repo and the caller's membership and access request, on every request:
  // decisions are never cached, so a revoked membership or a rejected request counts at once.
  const found = await findRepoWithFacts(db, ref, callerId(caller));
  const facts = factsOf(caller, found);
  // What else the caller may do, from the same facts: asked by the pages only, so worked out when asked.
  return { decision: decide(facts, action), repo: found?.repo, may: () => mayAll(facts) };
}

/**
 * Where a name that names no repo now leads: the repo moved away from it (to its current name),
 * when the caller may see that repo. Undefined otherwise, so that a private repo's move is never
 * told to whoever may not see it: they get the answer for a missing repo.
 */
export async function resolveMovedRepo(db: Db, caller: Caller, ref: RepoRef): Promise<RepoWithOwner | undefined> {
  const target = await findRedirectTarget(db, ref);
  if (!target) return undefined;
  const found = await findRepoWithFacts(db, target, callerId(caller));
  return found && decide(factsOf(caller, found), 'view').allow ? found.repo : undefined;
}

function callerId(caller: Caller): number | null {
  return caller.kind === 'user' ? caller.user.id : null;
}

/** The policy's facts from the loaded row: a membership counts in an organization's repos only, an access request in gated ones only. */
function factsOf(caller: Caller, found: RepoWithFacts | undefined): AccessFacts {
  const user = caller.kind === 'user' ? caller.user : null;
  const repo = found?.repo;
  return {
    caller: caller.kind,
    tokenRole: caller.kind === 'user' ? caller.tokenRole : null,
    repo: repo
      ? {
          private: repo.private,
          gated: repo.gated,
          isOwner: user !== null && repo.ownerKind === 'user' && repo.ownerId === user.id,
          orgRole: user !== null && repo.ownerKind === 'org' ? found.orgRole : null,
          gate: repo.gated && user !== null && found.gate ? found.gate : { status: 'none' },
        }
      : null,
  };
}

/** Gathers the facts about (caller, namespace) and asks the policy whether the caller may create a repo there. */
export async function resolveCreateAccess(db: Db, caller: Caller, namespace: string): Promise<Decision> {
  const account = await findAccount(db, namespace);
  const user = caller.kind === 'user' ? caller.user : null;
  return decideCreate({
    caller: caller.kind,
    tokenRole: caller.kind === 'user' ? caller.tokenRole : null,
    namespace: account
      ? {
          isSelf: account.kind === 'user' && user !== null && account.id === user.id,
          orgRole: account.kind === 'org' && user ? ((await membershipRole(db, account.id, user.id)) ?? null) : null,
        }
      : null,
  });
}

/** Gathers the facts about (caller, organization) from the database and asks decideOrg once. `org`: its row when it exists. */
export async function resolveOrgAccess(
  db: Db,
  caller: Caller,
  orgName: string,
  action: OrgAction,
): Promise<{ decision: Decision; org: Account | undefined; may: Record<OrgAction, boolean> }> {
  const found = await findAccount(db, orgName);
  const org = found?.kind === 'org' ? found : undefined;
  const facts: OrgFacts = {
    caller: caller.kind,
    tokenRole: caller.kind === 'user' ? caller.tokenRole : null,
    org: org ? { role: caller.kind === 'user' ? ((await membershipRole(db, org.id, caller.user.id)) ?? null) : null } : null,
  };
  return { decision: decideOrg(facts, action), org, may: mayOrg(facts) };
}
