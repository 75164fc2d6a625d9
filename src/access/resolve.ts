import { accessStatusOf } from '../db/access-requests.js';
import { type Account, findAccount, membershipRole } from '../db/accounts.js';
import type { Db } from '../db/index.js';
import { findRedirectTarget, findRepo, type RepoWithOwner } from '../db/repos.js';
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
): Promise<{ decision: Decision; repo: RepoWithOwner | undefined; may: Record<Action, boolean> }> {
  const repo = await findRepo(db, ref.type, ref.namespace, ref.name);
  const facts = await factsOf(db, caller, repo);
  return { decision: decide(facts, action), repo, may: mayAll(facts) };
}

/**
 * Where a name that names no repo now leads: the repo moved away from it (to its current name),
 * when the caller may see that repo. Undefined otherwise, so that a private repo's move is never
 * told to whoever may not see it: they get the answer for a missing repo.
 */
export async function resolveMovedRepo(db: Db, caller: Caller, ref: RepoRef): Promise<RepoWithOwner | undefined> {
  const target = await findRedirectTarget(db, ref);
  if (!target) return undefined;
  return decide(await factsOf(db, caller, target), 'view').allow ? target : undefined;
}

async function factsOf(db: Db, caller: Caller, repo: RepoWithOwner | undefined): Promise<AccessFacts> {
  return {
    caller: caller.kind,
    tokenRole: caller.kind === 'user' ? caller.tokenRole : null,
    repo: repo
      ? {
          private: repo.private,
          gated: repo.gated,
          isOwner: caller.kind === 'user' && repo.ownerKind === 'user' && repo.ownerId === caller.user.id,
          orgRole: caller.kind === 'user' && repo.ownerKind === 'org' ? ((await membershipRole(db, repo.ownerId, caller.user.id)) ?? null) : null,
          gate: repo.gated && caller.kind === 'user' ? ((await accessStatusOf(db, repo.id, caller.user.id)) ?? { status: 'none' }) : { status: 'none' },
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
