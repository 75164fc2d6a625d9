// Files pushed with git-lfs read through Xet (docs/xet.md "Files uploaded through Git LFS"), against
// a real hubgate with real git and git-lfs: the server converts the pushed object in the
// background, then resolve announces it to Xet clients, @huggingface/hub's downloadFile takes the
// Xet path (its reconstruction and xorb ranges, seen in the request log and /metrics) and gets
// the same bytes, whole and in a range; tree and paths-info entries carry its xetHash (small git
// files none); an outsider gets no token and another repo's token no reconstruction; the same
// object pushed to a second repo is registered there without being converted again; objects
// pushed while Xet was off are queued at the next start; a conversion cut by a crash completes
// after the restart.
import crypto from 'node:crypto';
import { downloadFile, pathsInfo } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkBoundaries } from '../xet/chunker.js';
import { chunkHash, fileHash, hashToString } from '../xet/hash.js';
import { DATABASES, type Hubgate, logEntries, requestsLogged, startHubgate } from './helpers/hubgate.js';
import { type S3rverHandle, startS3rver } from './helpers/s3.js';

const MiB = 1024 ** 2;
const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A counter's value in /metrics. */
async function counter(hub: Hubgate, name: string): Promise<number> {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"=,]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** The spec's file hash of `data`: its content-defined chunks' hashes aggregated (what a Xet client computes). */
function expectedFileHash(data: Uint8Array): string {
  let at = 0;
  const chunks = chunkBoundaries(data).map((end) => {
    const c = data.subarray(at, end);
    at = end;
    return { hash: chunkHash(c), size: c.length };
  });
  return hashToString(fileHash(chunks));
}

/** Resolve's Xet headers for a file (null until it is readable through Xet). */
async function xetHashOf(hub: Hubgate, token: string, repo: string, file: string): Promise<string | null> {
  const r = await fetch(`${hub.url}/${repo}/resolve/main/${file}`, { method: 'HEAD', redirect: 'manual', headers: { Authorization: `Bearer ${token}` } });
  return r.headers.get('x-xet-hash');
}

/** Polls until the file is readable through Xet, up to `ms`. */
async function converted(hub: Hubgate, token: string, repo: string, file: string, ms = 120_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const hash = await xetHashOf(hub, token, repo, file);
    if (hash) return hash;
    if (Date.now() > deadline) throw new Error(`${repo}/${file} was not converted within ${ms} ms:\n${hub.log().split('\n').filter((l) => /xet|Xet/.test(l)).slice(-20).join('\n')}`);
    await sleep(250);
  }
}

describe.each(DATABASES)('git-lfs pushes read through Xet, on %s', (db) => {
  let hub: Hubgate;
  let alice: string;
  let carol: string;
  const weights = crypto.randomBytes(20 * MiB);

  beforeAll(async () => {
    hub = await startHubgate({ db });
    alice = await hub.userWithToken('alice');
    carol = await hub.userWithToken('carol');
    for (const repo of ['alice/pushed', 'alice/again', 'carol/m']) expect((await hub.cli(['repo', 'create', repo])).code).toBe(0);
    expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
  }, 60_000);
  afterAll(() => hub?.stop());

  const as = (token: string, repo: string) => ({ repo, hubUrl: hub.url, accessToken: token });

  it('a file pushed with git-lfs is converted; downloadFile takes the Xet path and gets the same bytes, whole and in a range', async () => {
    await hub.pushFiles('alice/pushed', alice, { 'weights.bin': weights, 'config.json': '{"a": 1}\n' });
    const hash = await converted(hub, alice, 'alice/pushed', 'weights.bin');
    // The spec's file hash of the bytes, as a Xet client would compute it.
    expect(hash).toBe(expectedFileHash(weights));
    expect(logEntries(hub).some((e) => e.msg === 'LFS object stored as a Xet file' && e.oid === sha256(weights))).toBe(true);

    const mark = (await requestsLogged(hub)).length;
    const fetched = await counter(hub, 'hubgate_http_requests_total{route="xet-fetch",method="GET",status="206"}');
    const blob = await downloadFile({ ...as(alice, 'alice/pushed'), path: 'weights.bin' });
    const back = Buffer.from(await blob!.arrayBuffer());
    expect(back.length).toBe(weights.length);
    expect(sha256(back)).toBe(sha256(weights));
    const reads = (await requestsLogged(hub)).slice(mark);
    expect(reads.some((r) => r.path.startsWith(`/cas/v2/reconstructions/${hash}`) && r.status === 200)).toBe(true);
    expect(await counter(hub, 'hubgate_http_requests_total{route="xet-fetch",method="GET",status="206"}')).toBeGreaterThan(fetched);
    // Not from the LFS object: no redirect to it, no LFS transfer route.
    expect(reads.some((r) => r.path.includes('/info/lfs/objects/'))).toBe(false);

    // A range through the reconstruction (the client asks for the bytes it needs).
    const whole = await downloadFile({ ...as(alice, 'alice/pushed'), path: 'weights.bin' });
    const from = 7 * MiB + 12_345;
    const slice = Buffer.from(await whole!.slice(from, from + 3 * MiB).arrayBuffer());
    expect(sha256(slice)).toBe(sha256(weights.subarray(from, from + 3 * MiB)));
    // The reconstruction route itself narrows to a Range.
    const token = (await (await fetch(`${hub.url}/api/models/alice/pushed/xet-read-token/main`, { headers: { Authorization: `Bearer ${alice}` } })).json()) as { accessToken: string; casUrl: string };
    const part = await fetch(`${token.casUrl}/v2/reconstructions/${hash}`, { headers: { Authorization: `Bearer ${token.accessToken}`, Range: `bytes=${15 * MiB}-${15 * MiB + 99}` } });
    expect(part.status).toBe(200);
    const plan = (await part.json()) as { offset_into_first_range: number; terms: { unpacked_length: number }[] };
    expect(plan.terms.length).toBe(1);
    expect(plan.offset_into_first_range).toBeGreaterThan(0);
    expect(plan.offset_into_first_range).toBeLessThan(128 * 1024);
    expect((await fetch(`${token.casUrl}/v2/reconstructions/${hash}`, { headers: { Authorization: `Bearer ${token.accessToken}`, Range: `bytes=${weights.length}-` } })).status).toBe(416);
  }, 300_000);

  it('tree and paths-info entries carry xetHash for the converted file, none for git files', async () => {
    const hash = await converted(hub, alice, 'alice/pushed', 'weights.bin');
    const tree = (await (await fetch(`${hub.url}/api/models/alice/pushed/tree/main`, { headers: { Authorization: `Bearer ${alice}` } })).json()) as Record<string, unknown>[];
    const byPath = new Map(tree.map((e) => [e.path, e]));
    expect(byPath.get('weights.bin')).toMatchObject({ type: 'file', size: weights.length, lfs: { oid: sha256(weights), size: weights.length }, xetHash: hash });
    expect(byPath.get('config.json')).toBeDefined();
    expect(byPath.get('config.json')).not.toHaveProperty('xetHash');
    expect(byPath.get('.gitattributes')).not.toHaveProperty('xetHash');
    const infos = await pathsInfo({ ...as(alice, 'alice/pushed'), paths: ['weights.bin', 'config.json'], revision: 'main' });
    expect(infos.find((i) => i.path === 'weights.bin')).toMatchObject({ xetHash: hash });
    expect(infos.find((i) => i.path === 'config.json')?.xetHash).toBeUndefined();
  });

  it('an outsider gets no read token of a private repo, and another repo\'s token no reconstruction', async () => {
    const hash = await converted(hub, alice, 'alice/pushed', 'weights.bin');
    expect((await hub.cli(['repo', 'set', 'alice/pushed', '--private'])).code).toBe(0);
    try {
      expect((await fetch(`${hub.url}/api/models/alice/pushed/xet-read-token/main`, { headers: { Authorization: `Bearer ${carol}` } })).status).toBe(404);
      expect((await fetch(`${hub.url}/api/models/alice/pushed/tree/main`, { headers: { Authorization: `Bearer ${carol}` } })).status).toBe(404);
      const token = (await (await fetch(`${hub.url}/api/models/carol/m/xet-read-token/main`, { headers: { Authorization: `Bearer ${carol}` } })).json()) as { accessToken: string; casUrl: string };
      expect((await fetch(`${token.casUrl}/v2/reconstructions/${hash}`, { headers: { Authorization: `Bearer ${token.accessToken}`, Range: 'bytes=0-99' } })).status).toBe(404);
    } finally {
      expect((await hub.cli(['repo', 'set', 'alice/pushed', '--public'])).code).toBe(0);
    }
  });

  it('the same object pushed to a second repo is registered there without another conversion', async () => {
    const first = await converted(hub, alice, 'alice/pushed', 'weights.bin');
    const conversions = () => logEntries(hub).filter((e) => e.msg === 'converting an LFS object to a Xet file').length;
    const before = conversions();
    await hub.pushFiles('alice/again', alice, { 'copy.bin': weights });
    expect(await converted(hub, alice, 'alice/again', 'copy.bin')).toBe(first);
    expect(conversions()).toBe(before);
    expect(logEntries(hub).some((e) => e.msg === 'LFS object linked to its Xet file' && e.oid === sha256(weights))).toBe(true);
    const back = await downloadFile({ ...as(alice, 'alice/again'), path: 'copy.bin' });
    expect(sha256(Buffer.from(await back!.arrayBuffer()))).toBe(sha256(weights));
  }, 300_000);

  it('a new version with 1 % changed, pushed with git-lfs, stores under 10 % of the file as new xorbs (dedup against the old version)', async () => {
    const old = await converted(hub, alice, 'alice/pushed', 'weights.bin');
    const changed = Buffer.from(weights);
    crypto.randomBytes(changed.length / 100).copy(changed, 10 * MiB);
    const stored = await counter(hub, 'hubgate_xet_xorb_bytes_stored_total');
    await hub.pushFiles('alice/pushed', alice, { 'weights.bin': changed });
    const deadline = Date.now() + 120_000;
    let hash: string | null = old;
    // No Xet headers for the new version until it is converted, then its own hash.
    while (hash === null || hash === old) {
      if (Date.now() > deadline) throw new Error('the new version was not converted');
      await sleep(250);
      hash = await xetHashOf(hub, alice, 'alice/pushed', 'weights.bin');
    }
    expect(hash).toBe(expectedFileHash(changed));
    const kept = (await counter(hub, 'hubgate_xet_xorb_bytes_stored_total')) - stored;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(changed.length / 10);
    const entry = logEntries(hub).find((e) => e.msg === 'LFS object stored as a Xet file' && e.oid === sha256(changed));
    expect(entry).toMatchObject({ storedBytes: kept, dedupedXorbs: 1 });
    const mark = (await requestsLogged(hub)).length;
    const back = await downloadFile({ ...as(alice, 'alice/pushed'), path: 'weights.bin' });
    expect(sha256(Buffer.from(await back!.arrayBuffer()))).toBe(sha256(changed));
    expect((await requestsLogged(hub)).slice(mark).some((r) => r.path.startsWith(`/cas/v2/reconstructions/${hash}`))).toBe(true);
  }, 300_000);
});

describe('objects pushed while Xet was off, and a conversion cut by a crash', () => {
  let hub: Hubgate;
  afterAll(() => hub?.stop());

  it('are queued at the next start; the crashed conversion completes after a restart', async () => {
    const data = crypto.randomBytes(24 * MiB);
    hub = await startHubgate({ env: { HUBGATE_XET: 'off' } });
    const alice = await hub.userWithToken('alice');
    expect((await hub.cli(['repo', 'create', 'alice/old'])).code).toBe(0);
    expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
    await hub.pushFiles('alice/old', alice, { 'old.bin': data });
    expect(await xetHashOf(hub, alice, 'alice/old', 'old.bin')).toBeNull();
    await hub.stop();
    expect((await hub.cli(['xet', 'status'])).stdout).toContain('0 LFS objects queued');

    // Xet on, conversions read slowly (4 MB/s: about 6 s for this file): the start queues the object.
    const dataDir = hub.dataDir;
    hub = await startHubgate({ dataDir, env: { HUBGATE_XET_CONVERT_RATE: '4000000' } });
    const deadline = Date.now() + 60_000;
    while (!logEntries(hub).some((e) => e.msg === 'converting an LFS object to a Xet file')) {
      if (Date.now() > deadline) throw new Error(`no conversion began:\n${hub.log().slice(-3000)}`);
      await sleep(100);
    }
    expect(logEntries(hub).some((e) => e.msg === 'LFS objects queued for Xet conversion' && e.queued === 1)).toBe(true);
    await sleep(1500);
    expect(logEntries(hub).some((e) => e.msg === 'LFS object stored as a Xet file')).toBe(false);
    const status = await hub.cli(['xet', 'status']);
    expect(status.stdout).toContain('1 LFS objects queued for conversion to Xet (1 being converted now)');
    hub.process.kill('SIGKILL');
    await new Promise((r) => (hub.process.exitCode === null ? hub.process.once('exit', r) : r(null)));
    expect((await hub.cli(['xet', 'status'])).stdout).toContain('1 LFS objects queued');

    // The restart takes it up at once (its holder is gone) and completes it.
    hub = await startHubgate({ dataDir });
    const token = await hub.userWithToken('alice');
    const hash = await converted(hub, token, 'alice/old', 'old.bin', 120_000);
    expect(hash).toBe(expectedFileHash(data));
    expect(logEntries(hub).some((e) => e.msg === 'Xet conversions interrupted by a stop are taken up again' && e.released === 1)).toBe(true);
    const mark = (await requestsLogged(hub)).length;
    const back = await downloadFile({ repo: 'alice/old', path: 'old.bin', hubUrl: hub.url, accessToken: token });
    expect(sha256(Buffer.from(await back!.arrayBuffer()))).toBe(sha256(data));
    expect((await requestsLogged(hub)).slice(mark).some((r) => r.path.startsWith(`/cas/v2/reconstructions/${hash}`))).toBe(true);
    // Nothing left to queue.
    expect((await hub.cli(['xet', 'convert'])).stdout).toContain('queued 0 LFS objects');
    expect((await hub.cli(['xet', 'status'])).stdout).toContain('0 LFS objects queued for conversion to Xet (0 being converted now), 0 failed');
  }, 300_000);

  it('an object over HUBGATE_XET_CONVERT_MAX_SIZE fails at once, stays readable plainly, and converts once queued again under a larger limit', async () => {
    const dataDir = hub.dataDir;
    await hub.stop();
    hub = await startHubgate({ dataDir, env: { HUBGATE_XET_CONVERT_MAX_SIZE: String(MiB) } });
    const token = await hub.userWithToken('alice');
    expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
    const big = crypto.randomBytes(2 * MiB);
    await hub.pushFiles('alice/old', token, { 'big.bin': big });
    const deadline = Date.now() + 60_000;
    let status = '';
    while (!(status = (await hub.cli(['xet', 'status'])).stdout).includes(', 1 failed')) {
      if (Date.now() > deadline) throw new Error(`the conversion did not fail: ${status}`);
      await sleep(250);
    }
    expect(status).toContain(`failed ${sha256(big)} ${big.length} it is ${big.length} bytes, over HUBGATE_XET_CONVERT_MAX_SIZE (${MiB})`);
    expect(await xetHashOf(hub, token, 'alice/old', 'big.bin')).toBeNull();
    const mark = (await requestsLogged(hub)).length;
    const plain = await downloadFile({ repo: 'alice/old', path: 'big.bin', hubUrl: hub.url, accessToken: token });
    expect(sha256(Buffer.from(await plain!.arrayBuffer()))).toBe(sha256(big));
    expect((await requestsLogged(hub)).slice(mark).some((r) => r.path.startsWith('/cas/'))).toBe(false);
    // The start-up sweep leaves failed objects alone; `xet convert --retry-failed` queues them again.
    await hub.stop();
    hub = await startHubgate({ dataDir });
    expect((await hub.cli(['xet', 'convert'])).stdout).toContain('queued 0 LFS objects');
    expect((await hub.cli(['xet', 'convert', '--retry-failed'])).stdout).toContain('queued 1 LFS objects');
    expect(await converted(hub, token, 'alice/old', 'big.bin', 60_000)).toBe(expectedFileHash(big));
  }, 300_000);
});

describe('with the s3 store', () => {
  let s3: S3rverHandle;
  let hub: Hubgate;
  beforeAll(async () => {
    s3 = await startS3rver();
    hub = await startHubgate({ env: s3.env });
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
    await s3?.stop();
  });

  it('a git-lfs push is read from the bucket, stored as xorbs there, and downloaded through presigned xorb ranges', async () => {
    const alice = await hub.userWithToken('alice');
    expect((await hub.cli(['repo', 'create', 'alice/s3'])).code).toBe(0);
    expect((await hub.git(['lfs', 'install', '--skip-repo'])).code).toBe(0);
    const data = crypto.randomBytes(6 * MiB);
    await hub.pushFiles('alice/s3', alice, { 'model.bin': data });
    const hash = await converted(hub, alice, 'alice/s3', 'model.bin');
    expect(hash).toBe(expectedFileHash(data));
    expect(s3.requests.some((r) => r.method === 'GET' && r.url.includes(`/objects/`) && r.url.includes(sha256(data)))).toBe(true);
    expect(s3.requests.some((r) => r.method === 'PUT' && r.url.includes('/xet/xorbs/'))).toBe(true);
    const before = s3.requests.length;
    const back = await downloadFile({ repo: 'alice/s3', path: 'model.bin', hubUrl: hub.url, accessToken: alice });
    expect(sha256(Buffer.from(await back!.arrayBuffer()))).toBe(sha256(data));
    expect(s3.requests.slice(before).some((r) => r.method === 'GET' && r.url.includes('/xet/xorbs/') && r.url.includes('X-Amz-Signature='))).toBe(true);
  }, 300_000);
});
