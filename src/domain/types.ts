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

export interface Repo {
  id: number;
  type: RepoType;
  namespace: string;
  name: string;
  private: boolean;
  gated: GatedMode;
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
