import { type AuditRow, appendAudit, listAudit } from '../db/audit.js';
import type { Db } from '../db/index.js';
import { badRequest } from '../domain/errors.js';
import { parseRepoId, parseRepoType, type RepoRef, TYPE_PLURAL } from '../domain/names.js';

export type { AuditRow };

// The audit log of who did what: every service that changes accounts, memberships, tokens, repos,
// gates or access requests, every push and every API commit records one entry. Entries carry
// names and ids, never a token, password or session secret.

export const AUDIT_ACTIONS = [
  'user.create', 'user.update', 'user.password', 'user.disable', 'user.enable', 'user.delete',
  'org.create', 'org.delete', 'member.add', 'member.role', 'member.remove',
  'token.create', 'token.revoke', 'token.rotate',
  'ssh_key.add', 'ssh_key.remove',
  'repo.create', 'repo.delete', 'repo.move', 'repo.visibility', 'repo.gate', 'repo.settings',
  'access.request', 'access.accept', 'access.reject', 'access.cancel', 'access.grant',
  'push', 'commit',
  'branch.create', 'branch.delete', 'tag.create', 'tag.delete',
  'lfs.gc', 'xet.upload',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEvent {
  /** The user who acted; null for the command line (an operator on the server) or hubgate itself. */
  actor: string | null;
  action: AuditAction;
  repo?: RepoRef;
  /** The user, org or token acted on. */
  target?: string;
  /** Particulars: a ref with its old and new commit, a role, a token's id and name; never a secret. */
  details?: Record<string, string | number | boolean | null>;
}

/** `models/alice/bert`: the repo's type and stored names, as audit entries name it. */
export const auditRepoName = (ref: RepoRef): string => `${TYPE_PLURAL[ref.type]}/${ref.namespace}/${ref.name}`;

export async function recordAudit(db: Db, event: AuditEvent, at = new Date()): Promise<void> {
  await appendAudit(db, {
    at: at.toISOString(),
    actor: event.actor,
    action: event.action,
    repo: event.repo ? auditRepoName(event.repo) : null,
    target: event.target ?? null,
    details: event.details ?? {},
  });
}

/**
 * Records an entry for something that has already happened and cannot be taken back (a push, an
 * API commit): a failed write is returned for the caller to report, never thrown.
 */
export async function recordAuditAfter(db: Db, event: AuditEvent): Promise<Error | undefined> {
  try {
    await recordAudit(db, event);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** 'off', 'auto' or 'manual': a gate mode as entries name it. */
export const gateName = (gated: false | 'auto' | 'manual'): string => gated || 'off';

export interface AuditFilter {
  /** `NS/NAME`, `datasets/NS/NAME` or `spaces/NS/NAME`, as repos are written elsewhere. */
  repo?: RepoRef;
  user?: string;
  since?: Date;
  beforeId?: number;
  /** Entries newer than this id (the page before), still newest first. */
  afterId?: number;
  limit?: number;
}

export const MAX_AUDIT_PAGE = 1000;

/** Entries newest first, at most `limit` (default 100, at most 1000). */
export async function auditEntries(db: Db, filter: AuditFilter): Promise<AuditRow[]> {
  const limit = filter.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) throw badRequest(`limit must be a whole number from 1 to ${MAX_AUDIT_PAGE}`);
  if (filter.since && Number.isNaN(filter.since.getTime())) throw badRequest('since must be a date, e.g. 2026-11-30 or 2026-11-30T08:00:00Z');
  return listAudit(db, {
    repo: filter.repo && auditRepoName(filter.repo),
    user: filter.user,
    since: filter.since?.toISOString(),
    beforeId: filter.beforeId,
    afterId: filter.afterId,
    limit,
  });
}

/**
 * The repo a filter names: `NS/NAME` of `type` (default model), or `datasets/NS/NAME`,
 * `spaces/NS/NAME`, `models/NS/NAME` as entries show it.
 */
export function auditRepoRef(text: string, type?: string): RepoRef {
  const m = /^(models|datasets|spaces)\/([^/]+\/[^/]+)$/.exec(text);
  if (m && type === undefined) return { type: parseRepoType(m[1].slice(0, -1)), ...parseRepoId(m[2]) };
  return { type: parseRepoType(type ?? 'model'), ...parseRepoId(text) };
}

/** An entry's details as `key=value` words; values of other characters than letters, digits and `_.:/@+-` are JSON strings. */
export function detailsText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([key, value]) => `${key}=${typeof value === 'string' && /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
}
