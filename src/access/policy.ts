import type { GatedMode, MemberRole, TokenRole } from '../domain/types.js';

// The one access policy: every permission question in hubgate is answered by decide().
// It is pure and synchronous; src/access/resolve.ts gathers the facts from the database.

export type Level = 'none' | 'read' | 'write' | 'admin';
/** `view`: see the repo, its card and metadata (gates never apply); `read`: its files (git, LFS, downloads). */
export type Action = 'view' | 'read' | 'write' | 'admin';
export type GateStatus = 'none' | 'pending' | 'accepted' | 'rejected';

const RANK: Record<Level, number> = { none: 0, read: 1, write: 2, admin: 3 };
export const atLeast = (have: Level, need: Level): boolean => RANK[have] >= RANK[need];

export interface AccessFacts {
  caller: 'anonymous' | 'invalid' | 'user';
  /** The token's role; null for anonymous callers. */
  tokenRole: TokenRole | null;
  repo: null | {
    private: boolean;
    gated: GatedMode;
    /** The caller is the namespace owner (a user repo's own user). */
    isOwner: boolean;
    /** The caller's role in the owning org, if any. */
    orgRole: MemberRole | null;
    /** The caller's access request, for gated repos. */
    gate: { status: GateStatus; rejectionReason?: string | null };
  };
}

export type Denial =
  /** No credentials where some are needed. `hidden` when the repo may not exist or is private, so the answer must not say which. */
  | { reason: 'needs-authentication'; hidden: boolean }
  | { reason: 'invalid-credentials' }
  /** The repo does not exist or the caller may not know it exists. */
  | { reason: 'not-found' }
  | { reason: 'read-only-token'; need: Action }
  | { reason: 'forbidden'; need: Action }
  | { reason: 'gated'; status: Exclude<GateStatus, 'accepted'>; rejectionReason: string | null; anonymous: boolean };

export type Decision = { allow: true; level: Level } | ({ allow: false } & Denial);

/** What the caller holds on the repo, before the token's role caps it. */
function held(facts: AccessFacts): Level {
  const repo = facts.repo!;
  if (facts.caller === 'user') {
    if (repo.isOwner) return 'admin';
    if (repo.orgRole) return repo.orgRole;
  }
  return repo.private ? 'none' : 'read';
}

export function decide(facts: AccessFacts, action: Action): Decision {
  if (facts.caller === 'invalid') return { allow: false, reason: 'invalid-credentials' };
  const anonymous = facts.caller === 'anonymous';
  if (!facts.repo) return anonymous ? { allow: false, reason: 'needs-authentication', hidden: true } : { allow: false, reason: 'not-found' };

  const holds = held(facts);
  const needs: Level = action === 'view' ? 'read' : action;
  if (holds === 'none') return anonymous ? { allow: false, reason: 'needs-authentication', hidden: true } : { allow: false, reason: 'not-found' };

  // A read token caps everything at read; a write token is the highest role a token has.
  const level: Level = facts.tokenRole === 'read' && atLeast(holds, 'write') ? 'read' : holds;
  if (!atLeast(level, needs)) {
    if (anonymous) return { allow: false, reason: 'needs-authentication', hidden: false };
    if (atLeast(holds, needs)) return { allow: false, reason: 'read-only-token', need: action };
    return { allow: false, reason: 'forbidden', need: action };
  }

  // Gating is per user and never applies to those who can write to the repo.
  const repo = facts.repo;
  if (action !== 'view' && repo.gated && !atLeast(holds, 'write') && repo.gate.status !== 'accepted') {
    return { allow: false, reason: 'gated', status: repo.gate.status, rejectionReason: repo.gate.rejectionReason ?? null, anonymous };
  }
  return { allow: true, level };
}

const ACTIONS: Action[] = ['view', 'read', 'write', 'admin'];

/**
 * What else the caller may do, from the same facts as the request's one decision: pages show a
 * link or a form only when it would be allowed. Pure, like decide(): no second look-up.
 */
export function mayAll(facts: AccessFacts): Record<Action, boolean> {
  return Object.fromEntries(ACTIONS.map((action) => [action, decide(facts, action).allow])) as Record<Action, boolean>;
}

/** Facts about a namespace (a user or an organization), to create a repo in it. */
export interface NamespaceFacts {
  caller: AccessFacts['caller'];
  tokenRole: TokenRole | null;
  /** null when no user or organization has that name. */
  namespace: null | {
    /** The namespace is the caller's own user. */
    isSelf: boolean;
    /** The caller's role in it, when it is an organization the caller belongs to. */
    orgRole: MemberRole | null;
  };
}

/**
 * May the caller create a repo in the namespace? Creating is writing to the namespace, so the
 * answer is decide()'s for writing to a public repo of it: the own user or an org's write and
 * admin members, with a write token; a missing namespace is not found.
 */
export function decideCreate(facts: NamespaceFacts): Decision {
  const ns = facts.namespace;
  return decide(
    {
      caller: facts.caller,
      tokenRole: facts.tokenRole,
      repo: ns && { private: false, gated: false, isOwner: ns.isSelf, orgRole: ns.orgRole, gate: { status: 'none' } },
    },
    'write',
  );
}

/** `view`: see an organization's members (its members may); `admin`: change its members and roles (its admins). */
export type OrgAction = 'view' | 'admin';

/** Facts about (caller, organization), gathered by resolveOrgAccess. */
export interface OrgFacts {
  caller: AccessFacts['caller'];
  tokenRole: TokenRole | null;
  /** null when no organization has that name. */
  org: null | {
    /** The caller's role in it; null when the caller is no member. */
    role: MemberRole | null;
  };
}

/**
 * May the caller do `action` on the organization? Members see it, admins manage it; a read token
 * caps a member at read. To anyone else a missing organization and one they do not belong to look
 * alike (not found; anonymous callers are asked to sign in).
 */
export function decideOrg(facts: OrgFacts, action: OrgAction): Decision {
  if (facts.caller === 'invalid') return { allow: false, reason: 'invalid-credentials' };
  const role = facts.caller === 'user' ? (facts.org?.role ?? null) : null;
  if (!role) return facts.caller === 'anonymous' ? { allow: false, reason: 'needs-authentication', hidden: true } : { allow: false, reason: 'not-found' };
  const needs: Level = action === 'view' ? 'read' : 'admin';
  const level: Level = facts.tokenRole === 'read' && atLeast(role, 'write') ? 'read' : role;
  if (!atLeast(level, needs)) return atLeast(role, needs) ? { allow: false, reason: 'read-only-token', need: action } : { allow: false, reason: 'forbidden', need: action };
  return { allow: true, level };
}

/** What the caller may do on the organization, from the same facts (the settings page shows its forms only to admins). */
export function mayOrg(facts: OrgFacts): Record<OrgAction, boolean> {
  return { view: decideOrg(facts, 'view').allow, admin: decideOrg(facts, 'admin').allow };
}
