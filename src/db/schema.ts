import type { Generated } from 'kysely';

// Row types as SQLite stores them. Only src/db/ sees these; callers get domain types.

export interface AccountsTable {
  id: Generated<number>;
  name: string;
  kind: 'user' | 'org';
  fullname: string;
  email: string | null;
  password_hash: string | null;
  is_admin: number;
  created_at: string;
}

export interface MembershipsTable {
  org_id: number;
  user_id: number;
  role: 'read' | 'write' | 'admin';
  created_at: string;
}

export interface TokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  role: 'read' | 'write';
  secret_sha256: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ReposTable {
  id: Generated<number>;
  type: 'model' | 'dataset' | 'space';
  owner_id: number;
  name: string;
  private: number;
  gated: 'auto' | 'manual' | null;
  created_at: string;
}

export interface LfsObjectsTable {
  oid: string;
  size: number;
  created_at: string;
}

export interface LfsLinksTable {
  repo_id: number;
  oid: string;
  created_at: string;
}

export interface LfsLocksTable {
  id: Generated<number>;
  repo_id: number;
  path: string;
  owner_id: number;
  ref: string | null;
  locked_at: string;
}

export interface LfsUploadsTable {
  id: string;
  repo_id: number;
  oid: string;
  size: number;
  kind: 'basic' | 'multipart';
  store_upload_id: string | null;
  chunk_size: number | null;
  state: 'open' | 'hashing' | 'done' | 'failed';
  created_at: string;
  expires_at: string;
}

export interface Database {
  accounts: AccountsTable;
  memberships: MembershipsTable;
  tokens: TokensTable;
  repos: ReposTable;
  lfs_objects: LfsObjectsTable;
  lfs_links: LfsLinksTable;
  lfs_locks: LfsLocksTable;
  lfs_uploads: LfsUploadsTable;
}
