import fs from 'node:fs/promises';
import path from 'node:path';

// Objects written for a change that may still be refused (an API commit, a preupload's
// .gitattributes) go to a temporary object directory inside the repo's objects/, as
// receive-pack does for a push: git writes there (GIT_OBJECT_DIRECTORY) and reads the repo's
// own objects through GIT_ALTERNATE_OBJECT_DIRECTORIES. Accepted: migrate() moves them into the
// repo before any ref moves (as git's tmp-objdir migration does). Refused: dispose() drops them,
// and the repo holds nothing new. Leftovers of a crash are removed by src/ops/leftovers.ts
// (the name carries the pid of the process that made it).

/** The name prefix of temporary object directories, git's (`tmp_objdir-incoming-*`) and hubgate's. */
export const QUARANTINE_PREFIX = 'tmp_objdir-';

export class Quarantine {
  private constructor(
    /** The temporary object directory. */
    readonly dir: string,
    private readonly objects: string,
    private readonly alternates: string[],
  ) {}

  /** A new quarantine in `repoDir`; `inside` another one sees that one's objects too. */
  static async create(repoDir: string, purpose: string, inside?: Quarantine): Promise<Quarantine> {
    const objects = path.join(repoDir, 'objects');
    const dir = await fs.mkdtemp(path.join(objects, `${QUARANTINE_PREFIX}${purpose}-${process.pid}-`));
    return new Quarantine(dir, objects, [...(inside ? [inside.dir] : []), objects]);
  }

  /**
   * `base` with git writing objects into the quarantine. GIT_QUARANTINE_PATH is what receive-pack
   * gives its hooks: git refuses ref updates under it, and hooks can tell they run in one.
   */
  env(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    // Entries are separated by ':'; one holding ':' or '"' is quoted C-style, as git reads it.
    const alternates = this.alternates.map((p) => (/[:"]/.test(p) ? JSON.stringify(p) : p)).join(':');
    return { ...base, GIT_OBJECT_DIRECTORY: this.dir, GIT_ALTERNATE_OBJECT_DIRECTORIES: alternates, GIT_QUARANTINE_PATH: this.dir };
  }

  /**
   * Moves every object into the repo's objects/ (hard link, then unlink; an object the repo
   * already has stays as it is). Packs before their indexes, so no index names a missing pack.
   */
  async migrate(): Promise<void> {
    await this.moveTree(this.dir, this.objects);
  }

  private async moveTree(from: string, to: string): Promise<void> {
    const entries = await fs.readdir(from, { withFileTypes: true });
    const rank = (name: string) => (name.endsWith('.idx') ? 2 : name.endsWith('.pack') ? 0 : 1);
    entries.sort((a, b) => rank(a.name) - rank(b.name));
    for (const entry of entries) {
      const src = path.join(from, entry.name);
      const dst = path.join(to, entry.name);
      if (entry.isDirectory()) {
        await fs.mkdir(dst, { recursive: true });
        await this.moveTree(src, dst);
      } else if (!entry.name.startsWith('tmp_')) {
        // git's own temporary files (tmp_obj_*, tmp_pack_*) are not objects.
        await linkInto(src, dst);
        await fs.unlink(src);
      }
    }
  }

  /** Removes the quarantine and whatever is still in it. */
  async dispose(): Promise<void> {
    await fs.rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * Hard-links `src` to `dst`; an object the repo already has (EEXIST) stays as it is. A repack in
 * another process (git prune-packed) may remove an empty fan-out directory between our mkdir and
 * the link: the directory is made again and the link retried, as git does for its own objects.
 */
async function linkInto(src: string, dst: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fs.link(src, dst);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      const sourceThere = await fs.access(src).then(() => true, () => false);
      if (code !== 'ENOENT' || !sourceThere || attempt === 5) throw err;
      await fs.mkdir(path.dirname(dst), { recursive: true });
    }
  }
}
