import { HubgateError } from './errors.js';

// Names are checked here before they reach SQL or a path on disk.

export const REPO_TYPES = ['model', 'dataset', 'space'] as const;
export type RepoType = (typeof REPO_TYPES)[number];

/** URL prefix of each repo type, as on the Hub: none for models. */
export const TYPE_PREFIX: Record<RepoType, string> = { model: '', dataset: 'datasets/', space: 'spaces/' };
/** The plural used by the Hub API (`/api/models/...`) and by hubgate's repo directories. */
export const TYPE_PLURAL: Record<RepoType, string> = { model: 'models', dataset: 'datasets', space: 'spaces' };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

/** Namespaces that would collide with hubgate's own routes. */
const RESERVED_NAMESPACES = new Set(['api', 'datasets', 'spaces', 'models', 'login', 'logout', 'settings', 'healthz', 'readyz', 'metrics', 'static', 'new', 'organizations', 'admin']);

/** A repo, namespace or revision name that cannot be used: an invalid request. */
export class NameError extends HubgateError {
  constructor(message: string) {
    super('invalid', message);
  }
}

/** Returns a message saying what is wrong with a repo or namespace name, or null when it is valid. */
export function nameProblem(kind: string, name: string): string | null {
  if (!NAME.test(name)) {
    return `invalid ${kind} "${printable(name)}": use 1 to 96 letters, digits, '.', '_' or '-', starting with a letter or digit`;
  }
  if (name.includes('..')) return `invalid ${kind} "${name}": '..' is not allowed`;
  if (name.toLowerCase().endsWith('.git')) return `invalid ${kind} "${name}": a name cannot end in .git`;
  return null;
}

export function checkName(kind: string, name: string): string {
  const problem = nameProblem(kind, name);
  if (problem) throw new NameError(problem);
  return name;
}

export function checkNamespace(name: string): string {
  checkName('namespace', name);
  if (RESERVED_NAMESPACES.has(name.toLowerCase())) throw new NameError(`"${name}" is reserved; choose another name`);
  return name;
}

export function parseRepoType(value: string): RepoType {
  if ((REPO_TYPES as readonly string[]).includes(value)) return value as RepoType;
  throw new NameError(`unknown repo type "${printable(value)}": use model, dataset or space`);
}

/** Splits "ns/name" as typed on the command line. */
export function parseRepoId(id: string): { namespace: string; name: string } {
  const parts = id.split('/');
  if (parts.length !== 2) throw new NameError(`invalid repo id "${printable(id)}": use NAMESPACE/NAME`);
  return { namespace: checkNamespace(parts[0]), name: checkName('repo name', parts[1]) };
}

/** `s` cut to 100 characters, with anything but printable ASCII shown as '?': safe to put in a message. */
export function printable(s: string): string {
  const shown = s.length > 100 ? `${s.slice(0, 100)}…` : s;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}

export interface RepoRef {
  type: RepoType;
  namespace: string;
  name: string;
}

/** The repo id as the Hub writes it in URLs: `datasets/ns/name`, or `ns/name` for models. */
export function repoIdOf(ref: RepoRef): string {
  return `${TYPE_PREFIX[ref.type]}${ref.namespace}/${ref.name}`;
}
