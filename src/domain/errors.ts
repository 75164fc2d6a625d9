// The one error type that services throw for a request they refuse or cannot carry out. Its kind
// says what went wrong; each surface renders it in its own format (API JSON with X-Error-Code,
// LFS JSON, git text, a page), with the status below. Messages are meant for the user and say
// what to do.

export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'precondition-failed'
  | 'too-large'
  | 'unsupported-media-type'
  | 'too-many-requests'
  | 'unavailable'
  | 'insufficient-storage';

const STATUS_OF: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'precondition-failed': 412,
  'too-large': 413,
  'unsupported-media-type': 415,
  'too-many-requests': 429,
  unavailable: 503,
  'insufficient-storage': 507,
};

/** The Hub's X-Error-Code values, which the clients turn into their own exceptions; RouteNotFound (hubgate's own) they leave a plain HTTP error. */
export type HubErrorCode = 'RepoNotFound' | 'GatedRepo' | 'RevisionNotFound' | 'EntryNotFound' | 'RouteNotFound';

export class HubgateError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** The Hub's error code, when the clients map this error to an exception of theirs. */
    readonly code?: HubErrorCode,
  ) {
    super(message);
  }

  /** The HTTP status every surface answers it with. */
  get status(): number {
    return STATUS_OF[this.kind];
  }
}

export const badRequest = (message: string) => new HubgateError('invalid', message);
export const notFound = (message: string) => new HubgateError('not-found', message);
export const conflict = (message: string) => new HubgateError('conflict', message);
