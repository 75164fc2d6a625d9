// Repos from the command line (issue 11 item 3): `hubgate repo list [NS] [--type]`, `repo delete`,
// `repo set --private|--public`, `repo rename` (a rename, or a move to another namespace): the
// repo keeps its history, LFS files and settings at its new address; the old one redirects there until a repo takes the name.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hubgate, startHubgate } from './helpers/hubgate.js';
import { lfsClient, randomObject } from './helpers/lfs-client.js';

describe('repo administration', () => {
  let hub: Hubgate;
  let token: string;
  const cli = async (...args: string[]) => {
    const r = await hub.cli(args);
    if (r.code !== 0) throw new Error(`hubgate ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** The REPO column of `repo list ARGS`, with the type. */
  const listed = async (...args: string[]) =>
    (await cli('repo', 'list', ...args))
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split('\t').slice(0, 2).join(' '));
  const audit = (action: string) => {
    const db = new Database(path.join(hub.dataDir, 'hubgate.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('select actor, repo, details from audit_log where action = ? order by id').all(action) as { actor: string | null; repo: string; details: string }[];
    } finally {
      db.close();
    }
  };
  const clone = (repo: string, auth?: string) => hub.git(['clone', '--quiet', hub.remote(repo, auth), 'c']);

  beforeAll(async () => {
    hub = await startHubgate();
    token = await hub.userWithToken('alice');
    await hub.userWithToken('bob');
    await cli('org', 'create', 'lab');
    await cli('org', 'add', 'lab', 'alice', '--role', 'admin');
    await cli('repo', 'create', 'alice/bert');
    await cli('repo', 'create', 'alice/gpt', '--private');
    await cli('repo', 'create', 'alice/corpus', '--type', 'dataset');
    await cli('repo', 'create', 'lab/demo', '--type', 'space');
    await cli('repo', 'create', 'bob/taken');
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
  });

  it('lists repos, all or by namespace and type', async () => {
    expect(await listed()).toEqual(['dataset alice/corpus', 'model alice/bert', 'model alice/gpt', 'model bob/taken', 'space lab/demo']);
    expect(await listed('alice')).toEqual(['dataset alice/corpus', 'model alice/bert', 'model alice/gpt']);
    expect(await listed('alice', '--type', 'model')).toEqual(['model alice/bert', 'model alice/gpt']);
    expect(await listed('--type', 'space')).toEqual(['space lab/demo']);
    expect(await cli('repo', 'list', 'alice')).toMatch(/^model\talice\/gpt\tprivate\tno\t/m);
    const unknown = await hub.cli(['repo', 'list', 'nosuch']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no user or organization named "nosuch"');
    expect((await hub.cli(['repo', 'list', '--type', 'widget'])).code).toBe(2);
  });

  it('private and public: anonymous clones and API reads are refused while private', async () => {
    await hub.pushFiles('alice/bert', token, { 'README.md': '# bert\n' });
    expect((await clone('alice/bert')).code).toBe(0);
    expect(await cli('repo', 'set', 'alice/bert', '--private')).toContain('alice/bert is now private');
    const refused = await clone('alice/bert');
    expect(refused.code).not.toBe(0);
    expect((await fetch(`${hub.url}/api/models/alice/bert`)).status).toBe(401);
    expect((await fetch(`${hub.url}/api/models/alice/bert`, { headers: { Authorization: `Bearer ${await hub.userWithToken('bob')}` } })).status).toBe(404);
    expect((await fetch(`${hub.url}/alice/bert`)).status).toBe(404);
    expect((await clone('alice/bert', token)).code).toBe(0);
    expect(await cli('repo', 'set', 'alice/bert', '--public')).toContain('alice/bert is now public');
    expect((await clone('alice/bert')).code).toBe(0);
    expect(audit('repo.visibility').map((e) => JSON.parse(e.details).new)).toEqual(['private', 'public']);
    expect((await hub.cli(['repo', 'set', 'alice/bert'])).code).toBe(2);
    expect((await hub.cli(['repo', 'set', 'alice/bert', '--private', '--public'])).code).toBe(2);
  });

  it('rename: the repo, its history and its LFS files move to the new address; the old one redirects until taken', async () => {
    const obj = randomObject(2048);
    const lfs = lfsClient(hub, token, 'alice/gpt');
    await lfs.upload(obj);
    expect((await lfs.commitLfsFile(obj, 'model.bin')).status).toBe(200);
    const head = await hub.pushFiles('alice/gpt', token, { 'README.md': '# gpt\n' });
    // The server reads the repo (a warm cat-file reader of its directory) before the CLI moves it.
    const before = await fetch(`${hub.url}/api/models/alice/gpt`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await before.json()).sha).toBe(head);

    expect(await cli('repo', 'rename', 'alice/gpt', 'alice/gpt2')).toContain('alice/gpt is now alice/gpt2');
    expect(fs.existsSync(hub.repoDir('alice/gpt'))).toBe(false);
    expect(fs.existsSync(hub.repoDir('alice/gpt2'))).toBe(true);

    const moved = await clone('alice/gpt2', token);
    expect(moved.code, moved.stderr).toBe(0);
    const info = await fetch(`${hub.url}/api/models/alice/gpt2`, { headers: { Authorization: `Bearer ${token}` } });
    expect(info.status).toBe(200);
    expect((await info.json()).sha).toBe(head);
    // Still private, and its LFS object still downloads, by batch and by resolve.
    expect((await fetch(`${hub.url}/api/models/alice/gpt2`)).status).toBe(401);
    expect(await lfsClient(hub, token, 'alice/gpt2').downloadableIntact([obj])).toEqual([obj.oid]);
    const resolved = await fetch(`${hub.url}/alice/gpt2/resolve/main/model.bin`, { headers: { Authorization: `Bearer ${token}` } });
    expect(resolved.status).toBe(200);
    expect(Buffer.from(await resolved.arrayBuffer()).equals(obj.bytes)).toBe(true);
    // The old address redirects to the new one (to those who may see the repo: 401 anonymous, as
    // for any private repo), until a new repo takes the name.
    const old = await fetch(`${hub.url}/api/models/alice/gpt`, { redirect: 'manual', headers: { Authorization: `Bearer ${token}` } });
    expect([old.status, old.headers.get('location')]).toEqual([307, '/api/models/alice/gpt2']);
    expect((await fetch(`${hub.url}/api/models/alice/gpt`, { redirect: 'manual' })).status).toBe(401);
    expect((await clone('alice/gpt', token)).code).toBe(0);
    await cli('repo', 'create', 'alice/gpt');
    // Read from the new directory at that path, not by the reader of the one that moved away.
    const fresh = await fetch(`${hub.url}/api/models/alice/gpt`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await fresh.json()).sha).not.toBe(head);
    const tree = await fetch(`${hub.url}/api/models/alice/gpt/tree/main`, { headers: { Authorization: `Bearer ${token}` } });
    expect(((await tree.json()) as { path: string }[]).map((e) => e.path)).toEqual(['.gitattributes']);
    expect(audit('repo.move').at(-1)).toMatchObject({ actor: null, repo: 'models/alice/gpt2' });
    expect(JSON.parse(audit('repo.move').at(-1)!.details)).toEqual({ from: 'models/alice/gpt', to: 'models/alice/gpt2' });
  });

  it('a move to another namespace (a transfer) keeps the type; a taken name or a missing namespace is refused', async () => {
    expect(await cli('repo', 'rename', 'alice/corpus', 'lab/corpus', '--type', 'dataset')).toContain('lab/corpus');
    expect(await listed('lab')).toEqual(['dataset lab/corpus', 'space lab/demo']);
    expect((await clone('datasets/lab/corpus')).code).toBe(0);

    const taken = await hub.cli(['repo', 'rename', 'alice/bert', 'bob/taken']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('bob/taken already exists');
    const nowhere = await hub.cli(['repo', 'rename', 'alice/bert', 'nobody/bert']);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain('no user or organization named "nobody"');
    const missing = await hub.cli(['repo', 'rename', 'alice/nosuch', 'alice/other']);
    expect(missing.code).toBe(1);
    expect((await hub.cli(['repo', 'rename', 'alice/bert', 'alice/bad..name'])).code).toBe(2);
    // Nothing moved.
    expect(fs.existsSync(hub.repoDir('alice/bert'))).toBe(true);
    expect((await clone('alice/bert')).code).toBe(0);
  });

  it('delete: the repo is gone from every surface and the list', async () => {
    await cli('repo', 'delete', 'lab/demo', '--type', 'space');
    expect(await listed('--type', 'space')).toEqual([]);
    expect((await fetch(`${hub.url}/api/spaces/lab/demo`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(404);
    expect(fs.existsSync(hub.repoDir('spaces/lab/demo'))).toBe(false);
    const again = await hub.cli(['repo', 'delete', 'lab/demo', '--type', 'space']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no space repo');
    expect(audit('repo.delete').at(-1)).toMatchObject({ actor: null, repo: 'spaces/lab/demo' });
  });
});
