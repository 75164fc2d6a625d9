// Puts a cached source repo's objects and refs into a server's bare repo (hard links where
// possible), so every server in a bench serves the same packs.
import fs from 'node:fs';
import path from 'node:path';
import { finishRepo, repoStats } from './gen-repos.js';
import { rmrf, run } from './util.js';

/** Replaces dst's objects and refs with src's (hard links where possible), keeping dst's own config. */
export async function populate(dst, src, env, log = () => {}) {
  for (const p of ['objects', 'refs', 'packed-refs']) rmrf(path.join(dst, p));
  try {
    await run('cp', ['-al', path.join(src, 'objects'), path.join(dst, 'objects')], { quiet: true });
  } catch {
    rmrf(path.join(dst, 'objects'));
    await run('cp', ['-a', path.join(src, 'objects'), path.join(dst, 'objects')]);
  }
  // Alternates would point at paths relative to the source: drop them, repack below fetches nothing.
  if (fs.existsSync(path.join(dst, 'objects', 'info', 'alternates'))) throw new Error(`${src} uses alternates: give a self-contained repo (git repack -a -d)`);
  await run('cp', ['-a', path.join(src, 'refs'), path.join(dst, 'refs')]);
  if (fs.existsSync(path.join(src, 'packed-refs'))) fs.copyFileSync(path.join(src, 'packed-refs'), path.join(dst, 'packed-refs'));
  fs.copyFileSync(path.join(src, 'HEAD'), path.join(dst, 'HEAD'));
  const st = await repoStats(dst);
  if (!st.bitmap || st.packs !== 1 || st.looseObjects) {
    log(`bench:   ${path.basename(dst)}: ${st.packs} packs, ${st.looseObjects} loose objects, bitmap: ${st.bitmap}; repacking with a bitmap ...`);
    await finishRepo(dst);
  } else if (!fs.existsSync(path.join(dst, 'objects', 'info', 'commit-graph')) && !fs.existsSync(path.join(dst, 'objects', 'info', 'commit-graphs'))) {
    await run('git', ['-C', dst, 'commit-graph', 'write', '--reachable', '--no-progress']);
  }
  await run('git', ['-C', dst, 'fsck', '--connectivity-only', '--no-progress', '--no-dangling'], { env: env });
  return repoStats(dst);
}
