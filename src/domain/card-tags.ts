import type { RepoType } from './names.js';

// The tags a repo card's metadata (README front matter) gives a repo, spelled as the Hub spells
// them, for listings (`tags`, `filter=`): `license:mit`, the library (`transformers`), the task
// (`text-classification`), the card's own `tags`, languages, datasets and base models. Pure.

export interface CardListing {
  tags: string[];
  pipelineTag: string | null;
  libraryName: string | null;
}

/** At most this many tags are kept per repo (a card is written by anyone who can push). */
export const MAX_TAGS = 200;
const MAX_TAG_LENGTH = 200;

/** The strings of a value that is a string or a list of them (YAML allows both); numbers are taken as written. */
function strings(value: unknown): string[] {
  const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return items.flatMap((v) => (typeof v === 'string' ? [v.trim()] : typeof v === 'number' || typeof v === 'boolean' ? [String(v)] : [])).filter((v) => v !== '');
}

/** The first string of a value, if any. */
function one(value: unknown): string | null {
  return strings(value)[0] ?? null;
}

/**
 * A card's tags as the Hub derives them. Models: library, task, `tags`, languages (bare, as the
 * Hub shows them on models), `dataset:x`, `base_model:x`, `license:x`. Datasets: `tags`, and
 * `task_categories:x`, `task_ids:x`, `language:x`, `license:x`, `multilinguality:x`,
 * `size_categories:x`, `language_creators:x`, `annotations_creators:x`, `source_datasets:x`.
 * Spaces: the SDK, `tags`, `license:x`. Duplicates are dropped, order kept.
 */
export function cardListing(type: RepoType, metadata: Record<string, unknown> | null): CardListing {
  const m = metadata ?? {};
  const tags: string[] = [];
  const prefixed = (prefix: string, value: unknown) => strings(value).forEach((v) => tags.push(`${prefix}:${v}`));
  let pipelineTag: string | null = null;
  let libraryName: string | null = null;
  if (type === 'model') {
    libraryName = one(m.library_name);
    pipelineTag = one(m.pipeline_tag);
    if (libraryName) tags.push(libraryName);
    tags.push(...strings(m.tags));
    if (pipelineTag) tags.push(pipelineTag);
    tags.push(...strings(m.language));
    prefixed('dataset', m.datasets);
    prefixed('base_model', m.base_model);
    prefixed('license', m.license);
  } else if (type === 'dataset') {
    tags.push(...strings(m.tags));
    for (const key of ['task_categories', 'task_ids', 'language', 'license', 'multilinguality', 'size_categories', 'language_creators', 'annotations_creators', 'source_datasets']) {
      prefixed(key, m[key]);
    }
  } else {
    const sdk = one(m.sdk);
    if (sdk) tags.push(sdk);
    tags.push(...strings(m.tags));
    prefixed('license', m.license);
  }
  // Tags compare case-insensitively (`filter=license:MIT` finds `license:mit`): the first spelling of each is kept.
  const seen = new Set<string>();
  const unique = tags.filter((t) => t.length <= MAX_TAG_LENGTH && !seen.has(t.toLowerCase()) && seen.add(t.toLowerCase()));
  return { tags: unique.slice(0, MAX_TAGS), pipelineTag, libraryName };
}
