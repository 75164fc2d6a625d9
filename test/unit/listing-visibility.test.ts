// Listings decide visibility in SQL (src/db/listing.ts visibleTo); every other route asks
// decide(view) through resolveAccess. This compares the two over a generated matrix of callers
// (anonymous; owners, org members of each role and strangers, each with a read and a write
// token) and repos (user- and org-owned, public and private, ungated and gated, of each type,
// plus rows still being created), so the two rules can never drift apart. Also: search, tags,
// sort orders and pages never let a repo through that the caller may not view. On SQLite and
// on PostgreSQL (a database of the test run's cluster), whose queries differ for search and ids.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveAccess } from '../../src/access/resolve.ts';
import { createAccount, setMembershipKeepingAdmin } from '../../src/db/accounts.ts';
import { type Db, openDb } from '../../src/db/index.ts';
import { type ListQuery, type ListSort, listRepoPage, saveRepoCard } from '../../src/db/listing.ts';
import { moveRepoRow, removeRepoRow } from '../../src/db/repos.ts';
import type { RepoType } from '../../src/domain/names.ts';
import type { MemberRole } from '../../src/domain/types.ts';
import type { Caller } from '../../src/identity/identify.ts';
import { listReposPage } from '../../src/services/listing.ts';
import { createTestDatabase, DATABASES } from '../helpers/hubgate.ts';

const TYPES: RepoType[] = ['model', 'dataset', 'space'];
const SORTS: ListSort[] = ['lastModified', 'createdAt', 'id', 'downloads', 'likes'];

let dir: string;
let db: Db;
const callers: { label: string; caller: Caller }[] = [];
const repos: { id: number; type: RepoType; namespace: string; name: string; tag: string }[] = [];

describe.each(DATABASES)('on %s', (kind) => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hubgate-listing-'));
    db = await openDb({ dataDir: dir, databaseUrl: kind === 'postgres' ? await createTestDatabase() : undefined });
    callers.splice(0, callers.length, { label: 'anonymous', caller: { kind: 'anonymous' } });
    repos.length = 0;
    const users = [];
    for (const name of ['ann', 'bob', 'cid', 'dee', 'eve']) users.push(await createAccount(db, { name, kind: 'user' }));
    const orgs = [await createAccount(db, { name: 'acme', kind: 'org' }), await createAccount(db, { name: 'zeta', kind: 'org' })];
    // ann admins acme; bob reads in acme, writes in zeta; cid writes in acme; dee admins zeta; eve belongs nowhere.
    const roles: [number, number, MemberRole][] = [[0, 0, 'admin'], [0, 1, 'read'], [1, 1, 'write'], [0, 2, 'write'], [1, 3, 'admin']];
    for (const [org, user, role] of roles) await setMembershipKeepingAdmin(db, orgs[org].id, users[user].id, role);
    for (const u of users) {
      for (const tokenRole of ['read', 'write'] as const) {
        callers.push({ label: `${u.name}/${tokenRole}`, caller: { kind: 'user', user: { id: u.id, name: u.name, fullname: '', email: null, isAdmin: false }, tokenRole, token: null } });
      }
    }
    let n = 0;
    for (const owner of [...users.slice(0, 2), ...orgs]) {
      for (const type of TYPES) {
        for (const priv of [0, 1]) {
          for (const gated of [null, 'auto', 'manual'] as const) {
            for (const ready of [1, 1, 0]) {
              const name = `r${n++}-${priv ? 'priv' : 'pub'}${gated ? `-${gated}` : ''}`;
              const created = new Date(Date.UTC(2024, 0, 1, 0, 0, n % 7)).toISOString();
              const row = await db
                .insertInto('repos')
                .values({ type, owner_id: owner.id, name, private: priv, gated, created_at: created, ready, downloads: (n * 37) % 11 })
                .returning('id')
                .executeTakeFirstOrThrow();
              const tag = n % 2 ? 'license:mit' : 'demo';
              await saveRepoCard(db, row.id, { sha: null, lastModified: new Date(Date.UTC(2024, 1, 1, 0, n % 5)).toISOString(), pipelineTag: null, libraryName: null, tags: [tag], cardData: null });
              if (ready) repos.push({ id: row.id, type, namespace: owner.name, name, tag });
            }
          }
        }
      }
    }
  });

  afterAll(async () => {
    await db?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The ids decide(view) allows the caller, per resolveAccess (the route guard's fact gathering). */
  async function expectedIds(caller: Caller, type: RepoType): Promise<number[]> {
    const ids: number[] = [];
    for (const r of repos.filter((x) => x.type === type)) {
      const { decision } = await resolveAccess(db, caller, { type: r.type, namespace: r.namespace, name: r.name }, 'view');
      if (decision.allow) ids.push(r.id);
    }
    return ids.sort((a, b) => a - b);
  }

  function viewerOf(caller: Caller) {
    return caller.kind === 'user' ? { userId: caller.user.id } : null;
  }

  /** Every page of a listing, following the cursors. */
  async function allPages(q: Omit<ListQuery, 'after'>): Promise<number[]> {
    const ids: number[] = [];
    let after: ListQuery['after'];
    for (let page = 0; page < 1000; page++) {
      const { repos: got, next } = await listReposPage(db, { ...q, ...(after ? { after } : {}) });
      ids.push(...got.map((r) => r.id));
      if (!next) return ids;
      after = next;
    }
    throw new Error('listing did not end');
  }

  describe('listing visibility is decide(view)', () => {
    it('lists exactly what decide(view) allows, for every caller and type', async () => {
      let compared = 0;
      for (const { label, caller } of callers) {
        for (const type of TYPES) {
          const expected = await expectedIds(caller, type);
          const got = (await listRepoPage(db, { type, viewer: viewerOf(caller), search: [], tags: [], sort: 'id', descending: false, limit: 10_000 })).map((r) => r.id).sort((a, b) => a - b);
          expect(got, `${label} ${type}`).toEqual(expected);
          compared += repos.filter((r) => r.type === type).length;
        }
      }
      expect(compared).toBeGreaterThan(1000);
    });

    it('never lets anything else through in any sort order, direction, page size, search or tag filter', async () => {
      for (const { label, caller } of callers.filter((_, i) => i % 3 === 0)) {
        const expected = new Set(await expectedIds(caller, 'model'));
        for (const sort of SORTS) {
          for (const descending of [true, false]) {
            for (const limit of [1, 4, 7]) {
              const ids = await allPages({ type: 'model', viewer: viewerOf(caller), search: [], tags: [], sort, descending, limit });
              expect(new Set(ids).size, `${label} ${sort} ${descending} ${limit}: no repeats`).toBe(ids.length);
              expect([...ids].sort((a, b) => a - b), `${label} ${sort} ${descending} ${limit}`).toEqual([...expected].sort((a, b) => a - b));
            }
          }
        }
        const searched = await allPages({ type: 'model', viewer: viewerOf(caller), search: ['PRIV'], tags: ['LICENSE:MIT'], sort: 'downloads', descending: true, limit: 3 });
        const wanted = repos.filter((r) => expected.has(r.id) && r.name.includes('priv') && r.tag === 'license:mit').map((r) => r.id);
        expect([...searched].sort((a, b) => a - b), label).toEqual(wanted.sort((a, b) => a - b));
      }
    });

    it('pages in sort order', async () => {
      const caller = callers[1].caller;
      const rows = [];
      let after: ListQuery['after'];
      for (;;) {
        const { repos: got, next } = await listReposPage(db, { type: 'dataset', viewer: viewerOf(caller), search: [], tags: [], sort: 'downloads', descending: true, limit: 5, ...(after ? { after } : {}) });
        rows.push(...got);
        if (!next) break;
        after = next;
      }
      for (let i = 1; i < rows.length; i++) {
        const [a, b] = [rows[i - 1], rows[i]];
        expect(a.downloads > b.downloads || (a.downloads === b.downloads && a.id > b.id)).toBe(true);
      }
    });

    it('finds a moved repo by its new id only, and a deleted one no more (the search index follows the rows)', async () => {
      const r = repos.find((x) => x.type === 'space' && x.namespace === 'ann' && x.name.includes('pub'))!;
      const owner = await db.selectFrom('accounts').select('id').where('name', '=', 'zeta').executeTakeFirstOrThrow();
      expect(await moveRepoRow(db, r.id, { from: { type: r.type, namespace: r.namespace, name: r.name }, to: { type: r.type, namespace: 'zeta', name: 'Renamed-Quokka', ownerId: owner.id } }, async () => {})).toBe(true);
      const find = async (term: string) => (await listRepoPage(db, { type: 'space', viewer: null, search: [term], tags: [], sort: 'id', descending: false, limit: 10 })).map((x) => `${x.namespace}/${x.name}`);
      expect(await find('zeta/renamed-quokka')).toEqual(['zeta/Renamed-Quokka']);
      expect(await find(`ann/${r.name}`)).toEqual([]);
      expect(await find('quokka')).toEqual(['zeta/Renamed-Quokka']);
      await db.updateTable('accounts').set({ name: 'zeta2' }).where('id', '=', owner.id).execute();
      expect(await find('zeta2/renamed')).toEqual(['zeta2/Renamed-Quokka']);
      expect(await removeRepoRow(db, r.id)).toBe(true);
      expect(await find('quokka')).toEqual([]);
      if (kind === 'sqlite') expect((await db.selectFrom('repo_search').select('rowid').where('rowid', '=', r.id).execute()).length).toBe(0);
    });
  });
});
