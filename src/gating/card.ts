import type { RepoRef } from '../domain/names.js';
import { objectInfo, readBlob, resolveCommit } from '../git/content.js';
import { gitEnv } from '../git/env.js';
import { repoDir } from '../git/repo-dirs.js';
import { FrontMatterError, parseFrontMatter, splitFrontMatter } from './front-matter.js';
import { type GateForm, GateFormError, gateFormFromMetadata } from './form.js';

// The repo card: README.md at the default branch, read with native git and parsed once per
// commit. A card the gate form cannot be built from keeps the gate closed (form null,
// formError says why, for the author).

export interface RepoCard {
  commit: string | null;
  metadata: Record<string, unknown> | null;
  body: string;
  form: GateForm | null;
  formError: string | null;
}

/** Larger cards are not parsed: their metadata is ignored and the gate stays closed. */
export const MAX_CARD_BYTES = 1024 * 1024;
const CACHE_ENTRIES = 256;
/** The READMEs behind cached cards add up to at most this many bytes. */
const CACHE_BYTES = 32 * 1024 * 1024;

interface Cached {
  card: Promise<RepoCard>;
  /** README.md size, counted once the card is read. */
  weight: number;
}
// A Map iterates in insertion order: re-inserting on a hit makes the first key the least recently used.
const cache = new Map<string, Cached>();
let cachedBytes = 0;

/**
 * The card of the repo's default branch, or at `atCommit` (a commit id); repeated reads of one
 * commit cost one cat-file lookup.
 */
export async function readCard(dataDir: string, repo: RepoRef, atCommit?: string): Promise<RepoCard> {
  const ref = { type: repo.type, namespace: repo.namespace, name: repo.name };
  const dir = repoDir(dataDir, ref);
  const env = gitEnv(dataDir);
  const commit = atCommit ?? (await resolveCommit(dir, env, 'HEAD'));
  if (!commit) return cardOf(null, null, ref);
  const key = `${dir}\n${commit}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit.card;
  }
  const loading = loadCard(dir, env, commit, ref);
  const entry: Cached = { card: loading.then((l) => l.card), weight: 0 };
  entry.card.catch(() => {}); // the failure reaches this caller through `loading`; later callers get it through `card`
  remember(key, entry);
  try {
    const { card, size } = await loading;
    if (cache.get(key) === entry && entry.weight === 0) {
      entry.weight = 1 + size;
      cachedBytes += entry.weight;
      evict();
    }
    return card;
  } catch (err) {
    if (cache.get(key) === entry) cache.delete(key); // a failed read is not remembered
    throw err;
  }
}

async function loadCard(dir: string, env: NodeJS.ProcessEnv, commit: string, ref: RepoRef): Promise<{ card: RepoCard; size: number }> {
  const spec = `${commit}:README.md`;
  const info = await objectInfo(dir, env, spec);
  if (!info || info.type !== 'blob') return { card: cardOf(commit, null, ref), size: 0 };
  if (info.size > MAX_CARD_BYTES) {
    const card = freeze({
      commit, metadata: null, body: '', form: null,
      formError: `README.md is larger than ${MAX_CARD_BYTES / 1024 / 1024} MB (${info.size} bytes), so its metadata and request form are not read: keep the card under 1 MB`,
    });
    return { card, size: 0 };
  }
  const blob = await readBlob(dir, env, spec, MAX_CARD_BYTES);
  return { card: cardOf(commit, blob ? blob.toString('utf8') : null, ref), size: info.size };
}

/** Parses card text (null: no README) into metadata, body and gate form. */
export function cardOf(commit: string | null, text: string | null, ref: Pick<RepoRef, 'type'>): RepoCard {
  if (text === null) return freeze({ commit, metadata: null, body: '', form: gateFormFromMetadata(null, ref.type), formError: null });
  let parsed: { metadata: Record<string, unknown> | null; body: string };
  try {
    parsed = parseFrontMatter(text);
  } catch (err) {
    if (!(err instanceof FrontMatterError)) throw err;
    const body = splitFrontMatter(text)?.body ?? text;
    return freeze({ commit, metadata: null, body, form: null, formError: err.message });
  }
  try {
    return freeze({ commit, ...parsed, form: gateFormFromMetadata(parsed.metadata, ref.type), formError: null });
  } catch (err) {
    if (!(err instanceof GateFormError)) throw err;
    return freeze({ commit, ...parsed, form: null, formError: `README.md front matter: ${err.message}` });
  }
}

/** Cards are shared by every reader of the cache: frozen so no caller can change another's. */
function freeze(card: RepoCard): RepoCard {
  if (card.form) {
    for (const field of card.form.fields) {
      field.options?.forEach(Object.freeze);
      if (field.options) Object.freeze(field.options);
      Object.freeze(field);
    }
    Object.freeze(card.form.fields);
    Object.freeze(card.form);
  }
  return Object.freeze(card);
}

function remember(key: string, entry: Cached): void {
  cache.set(key, entry);
  evict();
}

function evict(): void {
  for (const [key, entry] of cache) {
    if (cache.size <= CACHE_ENTRIES && cachedBytes <= CACHE_BYTES) break;
    cache.delete(key);
    cachedBytes -= entry.weight;
  }
}

/** Forgets every cached card (tests; or after a repo is deleted, so its directory can be reused). */
export function clearCardCache(): void {
  cache.clear();
  cachedBytes = 0;
}
