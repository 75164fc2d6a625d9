import { type ColumnDefinitionBuilder, type Expression, type Kysely, type Migration, type MigrationProvider, PostgresAdapter, sql } from 'kysely';

// Forward-only migrations, applied in key order at start. Later issues add theirs after these.
// Written once for SQLite and PostgreSQL; they differ only where the types do (what SQLite ran
// is unchanged by the PostgreSQL branches):
// - generated ids: SQLite's `integer primary key autoincrement`, PostgreSQL's identity column
//   (by default, so a copy of a database may keep its ids);
// - names unique and looked up case-insensitively: SQLite's `collate nocase`, PostgreSQL's
//   `citext` (the same queries compare without case in both);
// - sizes and counters: SQLite's integer is 64-bit, PostgreSQL's needs `bigint`;
// - triggers: SQLite's statement bodies, PostgreSQL's PL/pgSQL functions;
// - the substring search of repo ids: SQLite's FTS5 trigram table, PostgreSQL's pg_trgm index.
// Timestamps stay ISO 8601 text and flags integer 0/1 in both.

const onPostgres = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

/** A generated integer primary key. */
const generatedId = (pg: boolean) => (c: ColumnDefinitionBuilder) => (pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement());
/** A name compared without case (the column type, and what SQLite appends to it). */
const nocaseText = (pg: boolean): Expression<unknown> | 'text' => (pg ? sql`citext` : 'text');
const nocase = (pg: boolean) => (c: ColumnDefinitionBuilder) => (pg ? c : c.modifyEnd(sql`collate nocase`));
/** A 64-bit integer (byte sizes, counters). */
const int64 = (pg: boolean) => (pg ? 'bigint' : 'integer');
/** The current time as ISO 8601 text with milliseconds, as `new Date().toISOString()` writes it. */
const nowIso = (pg: boolean) => (pg ? sql`to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')` : sql`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`);
const migrations: Record<string, Migration> = {
  '0001_identity_and_repos': {
    async up(db: Kysely<any>) {
      const pg = onPostgres(db);
      // citext is a trusted extension: the database's owner may create it.
      if (pg) await sql`create extension if not exists citext`.execute(db);
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'integer', generatedId(pg))
        .addColumn('name', nocaseText(pg), (c) => nocase(pg)(c.notNull()).unique())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('user', 'org')`))
        .addColumn('fullname', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('email', 'text')
        .addColumn('password_hash', 'text')
        .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('memberships')
        .addColumn('org_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('read', 'write', 'admin')`))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('memberships_pk', ['org_id', 'user_id'])
        .execute();
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'integer', generatedId(pg))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('read', 'write')`))
        .addColumn('secret_sha256', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('repos')
        .addColumn('id', 'integer', generatedId(pg))
        .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('model', 'dataset', 'space')`))
        .addColumn('owner_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('name', nocaseText(pg), (c) => nocase(pg)(c.notNull()))
        .addColumn('private', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('gated', 'text', (c) => c.check(sql`gated in ('auto', 'manual')`))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('repos_type_owner_name', ['type', 'owner_id', 'name'])
        .execute();
    },
  },
  '0002_lfs': {
    async up(db: Kysely<any>) {
      const pg = onPostgres(db);
      // Objects are stored once, by oid; a repo may download only the objects linked to it.
      await db.schema
        .createTable('lfs_objects')
        .addColumn('oid', 'text', (c) => c.primaryKey())
        .addColumn('size', int64(pg), (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('lfs_links')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
        .addColumn('oid', 'text', (c) => c.notNull().references('lfs_objects.oid'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lfs_links_pk', ['repo_id', 'oid'])
        .execute();
      await db.schema
        .createTable('lfs_locks')
        .addColumn('id', 'integer', generatedId(pg))
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('ref', 'text')
        .addColumn('locked_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('lfs_locks_repo_path', ['repo_id', 'path'])
        .execute();
      // Uploads in progress (multipart, and S3 basic uploads staged until verify).
      await db.schema
        .createTable('lfs_uploads')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
        .addColumn('oid', 'text', (c) => c.notNull())
        .addColumn('size', int64(pg), (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('basic', 'multipart')`))
        .addColumn('store_upload_id', 'text')
        .addColumn('chunk_size', int64(pg))
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('open', 'hashing', 'done', 'failed')`))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('lfs_uploads_expires').on('lfs_uploads').columns(['state', 'expires_at']).execute();
    },
  },
  '0003_gating_and_sessions': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('repos').addColumn('notify_email', 'text').execute();
      await db.schema
        .alterTable('repos')
        .addColumn('notify_frequency', 'text', (c) => c.notNull().defaultTo('daily').check(sql`notify_frequency in ('instant', 'daily')`))
        .execute();
      // One request per (repo, user): gating is per user, never per org.
      await db.schema
        .createTable('access_requests')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'accepted', 'rejected')`))
        .addColumn('fields', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('rejection_reason', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('digest_due', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('access_requests_pk', ['repo_id', 'user_id'])
        .execute();
      await db.schema.createIndex('access_requests_list').on('access_requests').columns(['repo_id', 'status', 'created_at']).execute();
      await db.schema.createIndex('access_requests_digest').on('access_requests').column('digest_due').execute();
      await db.schema
        .createTable('sessions')
        .addColumn('id_sha256', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('csrf_token', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0004_lfs_upload_claims': {
    async up(db: Kysely<any>) {
      // Who hashes a completed multipart upload, and until when: a lease that the hasher renews
      // while it works. A claim past its time (its process died) may be taken by any process.
      await db.schema.alterTable('lfs_uploads').addColumn('claim', 'text').execute();
      await db.schema.alterTable('lfs_uploads').addColumn('claimed_until', 'text').execute();
      // When the bytes were found to match the oid: a hasher taking over after that only commits.
      await db.schema.alterTable('lfs_uploads').addColumn('hashed_at', 'text').execute();
    },
  },
  '0005_repo_ready': {
    async up(db: Kysely<any>) {
      // 0 while a repo is being created (its row claims the name, its directory is not in place
      // yet): such a row is invisible, and one a crash left behind is removed at the next start.
      await db.schema.alterTable('repos').addColumn('ready', 'integer', (c) => c.notNull().defaultTo(1)).execute();
    },
  },
  '0006_jobs': {
    async up(db: Kysely<any>) {
      // Periodic work that exactly one process runs each time (the daily digest): when it last ran,
      // and who runs it now until when (a lease its holder renews; one past its time may be taken).
      await db.schema
        .createTable('jobs')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('last_run_at', 'text', (c) => c.notNull())
        .addColumn('claim', 'text')
        .addColumn('claimed_until', 'text')
        .execute();
    },
  },
  '0007_audit_log': {
    async up(db: Kysely<any>) {
      // Who did what, append-only: names are kept as text so an entry outlives the user, org or
      // repo it names (ids would dangle after a delete). `details` is JSON with no secrets.
      await db.schema
        .createTable('audit_log')
        .addColumn('id', 'integer', generatedId(onPostgres(db)))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('repo', 'text')
        .addColumn('target', 'text')
        .addColumn('details', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
      await db.schema.createIndex('audit_log_actor').on('audit_log').columns(['actor', 'id']).execute();
      await db.schema.createIndex('audit_log_repo').on('audit_log').columns(['repo', 'id']).execute();
    },
  },
  '0008_users_disabled': {
    async up(db: Kysely<any>) {
      // A disabled user keeps their rows (repos, memberships, tokens) but is nobody to hubgate:
      // no token, session or download link of theirs identifies them while this is set.
      await db.schema.alterTable('accounts').addColumn('disabled_at', 'text').execute();
    },
  },
  '0009_lfs_gc': {
    async up(db: Kysely<any>) {
      // When an object lost its last link (its grace period for garbage collection starts then),
      // kept by a trigger so every way a link goes (a repo deleted, cascading) records it.
      await db.schema.alterTable('lfs_objects').addColumn('unlinked_at', 'text').execute();
      // A collection in progress: who is removing the object's bytes, and until when (a lease).
      await db.schema.alterTable('lfs_objects').addColumn('deleting', 'text').execute();
      await db.schema.alterTable('lfs_objects').addColumn('deleting_until', 'text').execute();
      const pg = onPostgres(db);
      if (pg) {
        await sql`CREATE FUNCTION lfs_links_unlinked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
          UPDATE lfs_objects SET unlinked_at = ${nowIso(pg)}
          WHERE oid = OLD.oid AND NOT EXISTS (SELECT 1 FROM lfs_links WHERE oid = OLD.oid);
          RETURN NULL;
        END $$`.execute(db);
        await sql`CREATE TRIGGER lfs_links_unlinked AFTER DELETE ON lfs_links FOR EACH ROW EXECUTE FUNCTION lfs_links_unlinked()`.execute(db);
      } else {
        // The text as SQLite has always stored it (its schema keeps the statement).
        await sql`CREATE TRIGGER lfs_links_unlinked AFTER DELETE ON lfs_links BEGIN
        UPDATE lfs_objects SET unlinked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        WHERE oid = OLD.oid AND NOT EXISTS (SELECT 1 FROM lfs_links WHERE oid = OLD.oid);
      END`.execute(db);
      }
      // Objects unlinked before this migration: their grace period starts now, not at their upload.
      await sql`UPDATE lfs_objects SET unlinked_at = ${nowIso(pg)}
        WHERE NOT EXISTS (SELECT 1 FROM lfs_links WHERE lfs_links.oid = lfs_objects.oid)`.execute(db);
    },
  },
  '0010_repo_redirects': {
    async up(db: Kysely<any>) {
      // The old names of moved repos, each pointing at the repo (by id, so a chain of moves
      // resolves to the current name); removed when a repo takes the name, and with the repo.
      const pg = onPostgres(db);
      await db.schema
        .createTable('repo_redirects')
        .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('model', 'dataset', 'space')`))
        .addColumn('namespace', nocaseText(pg), (c) => nocase(pg)(c.notNull()))
        .addColumn('name', nocaseText(pg), (c) => nocase(pg)(c.notNull()))
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('repo_redirects_pk', ['type', 'namespace', 'name'])
        .execute();
      await db.schema.createIndex('repo_redirects_repo').on('repo_redirects').column('repo_id').execute();
    },
  },
  '0011_listing': {
    async up(db: Kysely<any>) {
      // What listings and search read without opening git (GET /api/models etc.): per repo its id
      // as spelled (`ns/name`, kept by triggers whatever renames or moves it), the date of the
      // default branch's head, a download counter; per repo its card's listing fields, keyed by
      // the commit they were read from; the card's tags; and a trigram index of ids for substring search.
      const pg = onPostgres(db);
      await db.schema.alterTable('repos').addColumn('full_id', nocaseText(pg), nocase(pg)).execute();
      await db.schema.alterTable('repos').addColumn('last_modified', 'text').execute();
      await db.schema.alterTable('repos').addColumn('downloads', int64(pg), (c) => c.notNull().defaultTo(0)).execute();
      await sql`update repos set full_id = (select name from accounts where accounts.id = repos.owner_id) || '/' || repos.name, last_modified = created_at`.execute(db);
      for (const [name, column] of [['created', 'created_at'], ['modified', 'last_modified'], ['downloads', 'downloads'], ['id', 'full_id']]) {
        await db.schema.createIndex(`repos_list_${name}`).on('repos').columns(['type', column, 'id']).execute();
      }
      await db.schema
        .createTable('repo_cards')
        .addColumn('repo_id', 'integer', (c) => c.primaryKey().references('repos.id').onDelete('cascade'))
        .addColumn('sha', 'text')
        .addColumn('pipeline_tag', 'text')
        .addColumn('library_name', 'text')
        .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('card_data', 'text')
        .addColumn('computed_at', 'text', (c) => c.notNull())
        .execute();
      let tags = db.schema
        .createTable('repo_tags')
        .addColumn('tag', nocaseText(pg), (c) => nocase(pg)(c.notNull()))
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('repo_tags_pk', ['tag', 'repo_id']);
      if (!pg) tags = tags.modifyEnd(sql`without rowid`);
      await tags.execute();
      await db.schema.createIndex('repo_tags_repo').on('repo_tags').column('repo_id').execute();
      if (pg) {
        // Substring search of ids: `lower(full_id) LIKE '%term%'` on a trigram index (pg_trgm, a trusted extension).
        await sql`create extension if not exists pg_trgm`.execute(db);
        await sql`create index repos_search on repos using gin (lower(full_id::text) gin_trgm_ops)`.execute(db);
        // full_id (and a new repo's last_modified) set on the row before it is written.
        await sql`create function repos_listing() returns trigger language plpgsql as $$ begin
          new.full_id := (select name from accounts where accounts.id = new.owner_id) || '/' || new.name;
          if tg_op = 'INSERT' then new.last_modified := coalesce(new.last_modified, new.created_at); end if;
          return new;
        end $$`.execute(db);
        await sql`create trigger repos_listing before insert or update of owner_id, name on repos for each row execute function repos_listing()`.execute(db);
        await sql`create function accounts_listing_rename() returns trigger language plpgsql as $$ begin
          update repos set full_id = new.name || '/' || repos.name where owner_id = new.id;
          return null;
        end $$`.execute(db);
        await sql`create trigger accounts_listing_rename after update of name on accounts for each row execute function accounts_listing_rename()`.execute(db);
        return;
      }
      await sql`create virtual table repo_search using fts5(full_id, tokenize = 'trigram')`.execute(db);
      await sql`insert into repo_search (rowid, full_id) select id, full_id from repos`.execute(db);
      const fullId = (alias: string) => sql.raw(`(select name from accounts where accounts.id = ${alias}.owner_id) || '/' || ${alias}.name`);
      await sql`create trigger repos_listing_insert after insert on repos begin
        update repos set full_id = ${fullId('new')}, last_modified = coalesce(new.last_modified, new.created_at) where id = new.id;
        insert into repo_search (rowid, full_id) values (new.id, ${fullId('new')});
      end`.execute(db);
      await sql`create trigger repos_listing_rename after update of owner_id, name on repos begin
        update repos set full_id = ${fullId('new')} where id = new.id;
        delete from repo_search where rowid = new.id;
        insert into repo_search (rowid, full_id) values (new.id, ${fullId('new')});
      end`.execute(db);
      await sql`create trigger repos_listing_delete after delete on repos begin
        delete from repo_search where rowid = old.id;
      end`.execute(db);
      await sql`create trigger accounts_listing_rename after update of name on accounts begin
        update repos set full_id = new.name || '/' || repos.name where owner_id = new.id;
        delete from repo_search where rowid in (select id from repos where owner_id = new.id);
        insert into repo_search (rowid, full_id) select id, full_id from repos where owner_id = new.id;
      end`.execute(db);
    },
  },
  '0012_ssh_keys': {
    async up(db: Kysely<any>) {
      // Users' SSH public keys for git over SSH. A key belongs to one user: its fingerprint (of
      // the blob) is unique across all users, and it is how a key offered at sign-in is found.
      await db.schema
        .createTable('ssh_keys')
        .addColumn('id', 'integer', generatedId(onPostgres(db)))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .execute();
      await db.schema.createIndex('ssh_keys_user').on('ssh_keys').columns(['user_id', 'id']).execute();
    },
  },
  '0013_shared_secrets': {
    async up(db: Kysely<any>) {
      // Secrets every node must hold alike (the key that signs transfer URLs and LFS-over-SSH
      // tokens), made once by whichever node comes first and read by all: never a file one node
      // generated. `value` is base64 text, the same in every database.
      await db.schema
        .createTable('secrets')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0014_node_presence': {
    async up(db: Kysely<any>) {
      // The serving processes on the database, on whatever machine, each renewing its row while it
      // runs: a process starting knows whether others may be at work on the shared data directory,
      // whose files it must then not take for a crash's leftovers.
      await db.schema
        .createTable('nodes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('hostname', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('seen_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0020_xet': {
    async up(db: Kysely<any>) {
      const pg = onPostgres(db);
      const bytes = pg ? 'bytea' : 'blob';
      // Xet storage (docs/xet.md). Xorbs are stored once, by hash, in the object store; `chunks`
      // holds per chunk its hash (32 bytes), unpacked size and end in the stored bytes (u32 LE
      // each): one row read gives both the shard check's chunk list and reconstruction's offsets.
      await db.schema
        .createTable('xet_xorbs')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('stored_size', int64(pg), (c) => c.notNull())
        .addColumn('size', int64(pg), (c) => c.notNull())
        .addColumn('chunk_count', 'integer', (c) => c.notNull())
        .addColumn('chunks', bytes, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      // Only the chunks a client may ask the dedup route about (the spec's eligible hashes).
      await db.schema
        .createTable('xet_dedup_chunks')
        .addColumn('chunk_hash', 'text', (c) => c.notNull())
        .addColumn('xorb_hash', 'text', (c) => c.notNull().references('xet_xorbs.hash').onDelete('cascade'))
        .addColumn('chunk_index', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('xet_dedup_chunks_pk', ['chunk_hash', 'xorb_hash'])
        .execute();
      await db.schema.createIndex('xet_dedup_chunks_xorb').on('xet_dedup_chunks').column('xorb_hash').execute();
      // A file's sha256 is not unique: two clients chunking the same bytes differently give two file hashes.
      await db.schema
        .createTable('xet_files')
        .addColumn('file_hash', 'text', (c) => c.primaryKey())
        .addColumn('size', int64(pg), (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('sha256_verified_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('xet_files_sha256').on('xet_files').column('sha256').execute();
      await db.schema
        .createTable('xet_file_terms')
        .addColumn('file_hash', 'text', (c) => c.notNull().references('xet_files.file_hash').onDelete('cascade'))
        .addColumn('term_index', 'integer', (c) => c.notNull())
        .addColumn('xorb_hash', 'text', (c) => c.notNull().references('xet_xorbs.hash'))
        .addColumn('chunk_start', 'integer', (c) => c.notNull())
        .addColumn('chunk_end', 'integer', (c) => c.notNull())
        .addColumn('size', int64(pg), (c) => c.notNull())
        .addPrimaryKeyConstraint('xet_file_terms_pk', ['file_hash', 'term_index'])
        .execute();
      await db.schema.createIndex('xet_file_terms_xorb').on('xet_file_terms').column('xorb_hash').execute();
      // Which repo may reconstruct which file, and which xorbs a repo uploaded or proved it holds (dedup visibility).
      await db.schema
        .createTable('xet_repo_files')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
        .addColumn('file_hash', 'text', (c) => c.notNull().references('xet_files.file_hash').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('xet_repo_files_pk', ['repo_id', 'file_hash'])
        .execute();
      await db.schema
        .createTable('xet_repo_xorbs')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
        .addColumn('xorb_hash', 'text', (c) => c.notNull().references('xet_xorbs.hash').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('xet_repo_xorbs_pk', ['repo_id', 'xorb_hash'])
        .execute();
      await db.schema.createIndex('xet_repo_xorbs_xorb').on('xet_repo_xorbs').column('xorb_hash').execute();
    },
  },
  '0021_xet_convert': {
    async up(db: Kysely<any>) {
      const pg = onPostgres(db);
      // LFS objects waiting to be stored as Xet files too (src/services/xet-convert.ts): one row per
      // oid while it is queued or after it failed for good; a converter process claims a row
      // under a lease (claim, claimed_until) it renews while it works.
      await db.schema
        .createTable('xet_conversions')
        .addColumn('oid', 'text', (c) => c.primaryKey())
        .addColumn('size', int64(pg), (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('queued', 'failed')`))
        .addColumn('queued_at', 'text', (c) => c.notNull())
        .addColumn('claim', 'text')
        .addColumn('claimed_at', 'text')
        .addColumn('claimed_until', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('xet_conversions_queue').on('xet_conversions').columns(['state', 'queued_at']).execute();
    },
  },
  '0022_xet_gc': {
    async up(db: Kysely<any>) {
      // Garbage collection of xorbs (src/services/xet-gc.ts): when a xorb was last uploaded, named
      // in a dedup answer or used by a shard (its grace period runs from then), and the claim of
      // a collection removing its bytes, as for LFS objects (lfs_objects.deleting).
      await db.schema.alterTable('xet_xorbs').addColumn('used_at', 'text').execute();
      await db.schema.alterTable('xet_xorbs').addColumn('deleting', 'text').execute();
      await db.schema.alterTable('xet_xorbs').addColumn('deleting_until', 'text').execute();
    },
  },
  '0023_lfs_objects_in_store': {
    async up(db: Kysely<any>) {
      // Whether the object's bytes are in the LFS store (1) or only in Xet xorbs (0: uploaded
      // through Xet; LFS reads stream its reconstruction). Every object before this has its bytes.
      await db.schema.alterTable('lfs_objects').addColumn('in_store', 'integer', (c) => c.notNull().defaultTo(1)).execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
