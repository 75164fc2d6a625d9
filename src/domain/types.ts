import type { RepoType } from './names.js';

export type TokenRole = 'read' | 'write';
export type MemberRole = 'read' | 'write' | 'admin';
export type GatedMode = false | 'auto' | 'manual';

export interface User {
  id: number;
  name: string;
  fullname: string;
  email: string | null;
  isAdmin: boolean;
}

export type AccessStatus = 'pending' | 'accepted' | 'rejected';
export type NotifyFrequency = 'instant' | 'daily';

/** A user's request for access to a gated repo, with the user's public details. */
export interface AccessRequest {
  repoId: number;
  user: { id: number; name: string; fullname: string; email: string | null };
  status: AccessStatus;
  fields: Record<string, string | boolean>;
  rejectionReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Repo {
  id: number;
  type: RepoType;
  namespace: string;
  name: string;
  private: boolean;
  gated: GatedMode;
  /** Where new pending requests are announced (null: the owner, or an org's first five admins). */
  notifyEmail: string | null;
  notifyFrequency: NotifyFrequency;
  createdAt: string;
}

export interface TokenInfo {
  id: number;
  userId: number;
  name: string;
  role: TokenRole;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}
