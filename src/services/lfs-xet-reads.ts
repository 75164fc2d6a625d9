import type { XetObjectsPort } from '../../lfs/ports.js';
import type { ObjectStore } from '../../lfs/store/types.js';
import { ChunkStreamReader } from '../../xet/chunk-stream.js';
import { hashFromString, hashToString } from '../../xet/hash.js';
import { planReconstruction } from '../../xet/reconstruction.js';
import type { Db } from '../db/index.js';
import { xetOnlyLinked } from '../db/lfs.js';
import { type FileWithTerms, repoFile, repoFileOfSha256 } from '../db/xet.js';

// LFS reads of objects uploaded through Xet (lfs/ports.ts XetObjectsPort): their bytes are only in
// xorbs, so git-lfs, resolve and every non-Xet client get them as a stream of the file's
// reconstruction through hubgate, whatever the store. The file must be registered for the repo
// and its sha256 checked (at its shard upload) to be served under that oid. Each run of chunks
// is read from the store in one sequential read and decoded as it arrives: memory holds a block
// of the read (1 MiB from fs) and its decoded chunks, and the response's backpressure paces the reads.

/** A run of consecutive chunks [start, end) of one xorb. */
interface Run {
  xorb: string;
  start: number;
  end: number;
}

/** The runs to read for bytes [start, end] (inclusive) of the file, and how many bytes of the first run come before `start`. */
function runsFor(file: FileWithTerms, start: number, end: number): { skip: number; runs: Run[] } | null {
  const terms = file.terms.map((t) => ({ xorb: hashFromString(t.xorb)!, start: t.start, end: t.end, size: t.size }));
  const plan = planReconstruction(terms, (x) => ({ chunks: file.xorbs.get(hashToString(x))!.chunks }), { start, end: end + 1 });
  if (!plan) return null;
  const runs: Run[] = [];
  for (const t of plan.terms) {
    const xorb = hashToString(t.xorb);
    const last = runs.at(-1);
    // Terms that continue one another in a xorb (a file's new chunks, in order) are read at once.
    if (last && last.xorb === xorb && last.end === t.start) last.end = t.end;
    else runs.push({ xorb, start: t.start, end: t.end });
  }
  return { skip: plan.offsetIntoFirstRange, runs };
}

export function xetObjects(db: Db, store: ObjectStore): XetObjectsPort {
  /**
   * Bytes [start, end] of the file, as the chunks decoded from each block read from the store:
   * one batch per block, so a batch can go to the socket in one write (writev) with no copy.
   */
  async function* batchesOf(file: FileWithTerms, start: number, end: number): AsyncGenerator<Uint8Array[]> {
    const planned = runsFor(file, start, end);
    if (!planned) return;
    let skip = planned.skip;
    let left = end - start + 1;
    for (const run of planned.runs) {
      const chunks = file.xorbs.get(run.xorb)!.chunks;
      const body = await store.readXorb(run.xorb, chunks[run.start].offset, chunks[run.end - 1].end - 1);
      const reader = new ChunkStreamReader();
      try {
        for await (const block of body) {
          const batch: Uint8Array[] = [];
          for (let data of reader.push(block as Uint8Array)) {
            if (skip > 0) {
              if (data.length <= skip) {
                skip -= data.length;
                continue;
              }
              data = data.subarray(skip);
              skip = 0;
            }
            if (data.length > left) data = data.subarray(0, left);
            left -= data.length;
            batch.push(data);
            if (left === 0) break;
          }
          if (batch.length > 0) yield batch;
          if (left === 0) return;
        }
        reader.finish();
      } finally {
        body.destroy();
      }
    }
    if (left > 0) throw new Error(`the xorbs of Xet file ${file.hash} gave ${end - start + 1 - left} of the ${end - start + 1} bytes asked for`);
  }

  return {
    xetOnly: (repoId, oids) => xetOnlyLinked(db, repoId, oids),

    async open(repoId, oid) {
      const found = await repoFileOfSha256(db, repoId, oid);
      const file = found && (await repoFile(db, repoId, found.hash, { verifiedOnly: true }));
      if (!file) return undefined;
      return {
        size: file.size,
        read: (start, end) => batchesOf(file, start, end),
      };
    },
  };
}
