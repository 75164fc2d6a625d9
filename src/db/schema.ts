import type { ColumnType, Generated } from 'kysely';

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
  /** When the user was disabled (`hubgate user disable`); null for active users and orgs. */
  disabled_at: ColumnType<string | null, string | null | undefined, string | null>;
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
  /** Where new pending access requests are announced; null: the owner's email, or an org's first five admins. */
  notify_email: ColumnType<string | null, string | null | undefined>;
  notify_frequency: ColumnType<'instant' | 'daily', 'instant' | 'daily' | undefined>;
  created_at: string;
  /** 0 while the repo is being created: its directory is not in place yet. */
  ready: ColumnType<number, number | undefined, number>;
  /** `ns/name` as stored, kept by triggers (0009_listing): what listings search and sort by id. */
  full_id: ColumnType<string, never, never>;
  /** The date of the default branch's head commit (its creation until then). */
  last_modified: ColumnType<string, string | undefined, string>;
  /** Downloads of files (resolve GETs, LFS batch downloads), added in batches. */
  downloads: ColumnType<number, number | undefined, number>;
}

/** A repo's card as listings show it, read from the default branch at `sha` (null: no commit). */
export interface RepoCardsTable {
  repo_id: number;
  sha: string | null;
  pipeline_tag: string | null;
  library_name: string | null;
  /** JSON array of the card's tags as the Hub spells them (`license:mit`, `transformers`, ...). */
  tags: string;
  /** JSON object: the README front matter; null without one. */
  card_data: string | null;
  computed_at: string;
}

export interface RepoTagsTable {
  tag: string;
  repo_id: number;
}

/** The FTS5 trigram index of `repos.full_id` (rowid = repos.id), kept by triggers. */
export interface RepoSearchTable {
  rowid: number;
  full_id: string;
  repo_search: string;
}

export interface LfsObjectsTable {
  oid: string;
  size: number;
  created_at: string;
  /** When its last link went (set by a trigger); null while linked, or never linked since it was recorded. */
  unlinked_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** The claim of a garbage collection removing its bytes, and until when it holds (null: none). */
  deleting: ColumnType<string | null, string | null | undefined, string | null>;
  deleting_until: ColumnType<string | null, string | null | undefined, string | null>;
  /** 1: its bytes are in the LFS store; 0: only in Xet xorbs (uploaded through Xet), read through its reconstruction. */
  in_store: ColumnType<number, number | undefined, number>;
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
  claim: string | null;
  claimed_until: string | null;
  hashed_at: string | null;
}

export interface AccessRequestsTable {
  repo_id: number;
  user_id: number;
  status: 'pending' | 'accepted' | 'rejected';
  /** JSON object of the form's answers; '{}' for users granted access who never asked. */
  fields: string;
  rejection_reason: string | null;
  /** When the user first asked (or was granted access). */
  created_at: string;
  updated_at: string;
  /** 1 while a pending request waits for the daily digest. */
  digest_due: number;
}

export interface SessionsTable {
  /** SHA-256 of the cookie's secret; the secret itself is never stored. */
  id_sha256: string;
  user_id: number;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

export interface JobsTable {
  name: string;
  /** When the last run started. */
  last_run_at: string;
  /** Who runs the job now, and until when, unless renewed; both null between runs. */
  claim: string | null;
  claimed_until: string | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: string;
  /** The user who acted (by name); null for the server itself or the command line. */
  actor: string | null;
  action: string;
  /** `type/ns/name` of the repo acted on, if any (e.g. `models/alice/bert`). */
  repo: string | null;
  /** The user, org or token acted on, if any. */
  target: string | null;
  /** JSON object with the particulars (ref, old and new commit, role, ...); never a secret. */
  details: string;
}

/** An old name of a moved repo, which redirects to it until a repo takes that name again. */
export interface RepoRedirectsTable {
  type: 'model' | 'dataset' | 'space';
  /** The old namespace's name (kept as text: the account may be gone or renamed since). */
  namespace: string;
  name: string;
  repo_id: number;
  created_at: string;
}

/** A user's SSH public key (git over SSH). */
export interface SshKeysTable {
  id: Generated<number>;
  user_id: number;
  title: string;
  /** The key type as SSH names it, e.g. 'ssh-ed25519'. */
  algorithm: string;
  /** The key blob, base64 as in the .pub file. */
  public_key: string;
  /** 'SHA256:' and the unpadded base64 of the blob's SHA-256; unique across users. */
  fingerprint: string;
  created_at: string;
  last_used_at: string | null;
}

/** A secret shared by every node (src/db/secrets.ts), base64. */
export interface SecretsTable {
  name: string;
  value: string;
  created_at: string;
}

/** A serving process, renewed while it runs (src/db/nodes.ts). */
export interface NodesTable {
  id: string;
  hostname: string;
  pid: number;
  started_at: string;
  seen_at: string;
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
  access_requests: AccessRequestsTable;
  sessions: SessionsTable;
  jobs: JobsTable;
  audit_log: AuditLogTable;
  repo_cards: RepoCardsTable;
  repo_tags: RepoTagsTable;
  repo_search: RepoSearchTable;
  repo_redirects: RepoRedirectsTable;
  ssh_keys: SshKeysTable;
  secrets: SecretsTable;
  nodes: NodesTable;
  xet_xorbs: XetXorbsTable;
  xet_dedup_chunks: XetDedupChunksTable;
  xet_files: XetFilesTable;
  xet_file_terms: XetFileTermsTable;
  xet_repo_files: XetRepoFilesTable;
  xet_repo_xorbs: XetRepoXorbsTable;
  xet_conversions: XetConversionsTable;
}

export interface XetXorbsTable {
  /** The xorb's hash string (hashToString). */
  hash: string;
  /** Bytes of its stored chunk section. */
  stored_size: number;
  /** Sum of its chunks' unpacked lengths. */
  size: number;
  chunk_count: number;
  /** Per chunk: hash (32 bytes), unpacked size (u32 LE), end in the stored bytes (u32 LE). */
  chunks: Uint8Array;
  created_at: string;
  /** Last uploaded, named in a dedup answer or used by a shard (null: created_at); garbage collection's grace runs from it. */
  used_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** The claim of a garbage collection removing its bytes, and until when it holds (null: none). */
  deleting: ColumnType<string | null, string | null | undefined, string | null>;
  deleting_until: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface XetDedupChunksTable {
  chunk_hash: string;
  xorb_hash: string;
  chunk_index: number;
}

export interface XetFilesTable {
  file_hash: string;
  size: number;
  /** The sha256 (hex) the shard claimed; trusted once sha256_verified_at is set. */
  sha256: string;
  sha256_verified_at: string | null;
  created_at: string;
}

export interface XetFileTermsTable {
  file_hash: string;
  term_index: number;
  xorb_hash: string;
  chunk_start: number;
  chunk_end: number;
  size: number;
}

export interface XetRepoFilesTable {
  repo_id: number;
  file_hash: string;
  created_at: string;
}

export interface XetRepoXorbsTable {
  repo_id: number;
  xorb_hash: string;
  created_at: string;
}

export interface XetConversionsTable {
  /** The LFS object (sha256) to store as a Xet file. */
  oid: string;
  size: number;
  state: 'queued' | 'failed';
  /** When it was (last) queued: a link made while it was being converted queues it again. */
  queued_at: string;
  /** Who converts it now, since when and until when unless renewed; null while nobody does. */
  claim: string | null;
  claimed_at: string | null;
  claimed_until: string | null;
  attempts: number;
  /** Why it failed (state 'failed', or the last attempt's fault). */
  error: string | null;
}
