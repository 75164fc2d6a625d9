import { OID } from './protocol.js';

// Git LFS pointer files (git-lfs docs/spec.md): "version <url>\noid sha256:<64 hex>\nsize <n>\n",
// possibly with ext-N-name lines, always under 1024 bytes. git-lfs also reads two old version URLs.
// Parsed here for everyone (the push hook, trees, resolve, commits) and written here too.

export interface Pointer {
  oid: string;
  size: number;
}

/** The version git-lfs writes, then the two old ones it still reads. */
const POINTER_VERSIONS = ['https://git-lfs.github.com/spec/v1', 'https://hawser.github.com/spec/v1', 'http://git-media.io/v/2'];
/** No pointer is larger: a blob over this size is never read to look for one. */
export const MAX_POINTER_SIZE = 1023;
/** Nor smaller. */
export const MIN_POINTER_SIZE = Math.min(...POINTER_VERSIONS.map((v) => `version ${v}\noid sha256:${'0'.repeat(64)}\nsize 0\n`.length));

/** The object a pointer file names, or null when `content` is not a pointer file. */
export function parsePointer(content: Buffer | string): Pointer | null {
  if (content.length > MAX_POINTER_SIZE || content.length < MIN_POINTER_SIZE) return null;
  const text = typeof content === 'string' ? content : content.toString('utf8');
  if (!text.startsWith('version ') || !text.endsWith('\n')) return null;
  const [first, ...rest] = text.slice(0, -1).split('\n');
  if (!POINTER_VERSIONS.includes(first.slice('version '.length))) return null;
  let oid: string | undefined;
  let size: number | undefined;
  for (const line of rest) {
    const space = line.indexOf(' ');
    if (space <= 0) return null;
    const key = line.slice(0, space);
    const value = line.slice(space + 1);
    if (key === 'oid' && value.startsWith('sha256:') && OID.test(value.slice(7))) oid = value.slice(7);
    else if (key === 'size' && /^\d{1,16}$/.test(value)) size = Number(value);
    else if (!/^ext-\d-\w+$/.test(key)) return null;
  }
  return oid !== undefined && size !== undefined && Number.isSafeInteger(size) ? { oid, size } : null;
}

/** The pointer file naming `oid` (sha256, hex) of `size` bytes, as git-lfs writes it. */
export function pointerText(oid: string, size: number): string {
  return `version ${POINTER_VERSIONS[0]}\noid sha256:${oid}\nsize ${size}\n`;
}
