import { oneLine } from '../domain/text.js';
import type { Denial } from './policy.js';

// The one mapper from a denial to what real clients understand (design §3).

export interface Answer {
  status: number;
  message: string;
  headers: Record<string, string>;
  /** The Hub's X-Error-Code, when the clients map this denial to an exception. */
  errorCode?: 'RepoNotFound' | 'GatedRepo';
  /** The exact X-Error-Message the clients compare, when it must differ from the (longer) message. */
  errorMessage?: string;
}

export const INVALID_CREDENTIALS = 'Invalid credentials in Authorization header';

export const BASIC_CHALLENGE = 'Basic realm="hubgate"';

/** `baseUrl` is where users reach hubgate: a gated denial points at the repo page, where access is asked for. */
export function answerFor(denial: Denial, repoId: string, baseUrl: string): Answer {
  const challenge = { 'WWW-Authenticate': BASIC_CHALLENGE };
  switch (denial.reason) {
    case 'invalid-credentials':
      return {
        status: 401,
        message: `${INVALID_CREDENTIALS}: use a hubgate access token as the password (web passwords do not work here)`,
        headers: challenge,
        // huggingface_hub tells a bad token from a missing repo by this exact header.
        errorMessage: INVALID_CREDENTIALS,
      };
    case 'needs-authentication':
      return {
        status: 401,
        message: denial.hidden
          ? `Repository not found or authentication required: sign in with a hubgate access token to reach ${repoId}`
          : `Authentication required: use a hubgate access token with the write role as the password to write to ${repoId}`,
        headers: challenge,
        errorCode: denial.hidden ? 'RepoNotFound' : undefined,
      };
    case 'not-found':
      return { status: 404, message: `Repository not found: ${repoId}`, headers: {}, errorCode: 'RepoNotFound' };
    case 'read-only-token':
      return {
        status: 403,
        message: `Your token has the read role and cannot ${denial.need} ${repoId}: create a token with the write role`,
        headers: {},
      };
    case 'forbidden':
      return { status: 403, message: `You do not have ${denial.need} access to ${repoId}`, headers: {} };
    case 'gated': {
      const message = {
        none: `Access to ${repoId} is restricted: it is a gated repository. Visit ${baseUrl}/${repoId} to ask for access.`,
        pending: `Access to ${repoId} is restricted: your request for access is awaiting a decision from the repository's authors.`,
        rejected: `Access to ${repoId} is restricted: your request for access was rejected by the repository's authors${denial.rejectionReason ? `: ${oneLine(denial.rejectionReason)}` : '.'}`,
      }[denial.status];
      return {
        status: denial.anonymous ? 401 : 403,
        message: denial.anonymous ? `${message} Sign in with a hubgate access token.` : message,
        headers: denial.anonymous ? challenge : {},
        errorCode: 'GatedRepo',
      };
    }
  }
}

/** The answer to a refusal about an organization (its members), as answerFor's about a repo. */
export function orgAnswerFor(denial: Denial, org: string): Answer {
  switch (denial.reason) {
    case 'needs-authentication':
      return { status: 401, message: `Organization not found or authentication required: sign in with a hubgate access token of a member of ${org}`, headers: { 'WWW-Authenticate': BASIC_CHALLENGE } };
    case 'not-found':
      return { status: 404, message: `Organization not found: ${org} (or you are not a member of it)`, headers: {} };
    case 'read-only-token':
      return { status: 403, message: `Your token has the read role and cannot manage ${org}: create a token with the write role`, headers: {} };
    case 'forbidden':
      return { status: 403, message: `Only admins of ${org} can manage its members: ask one of them`, headers: {} };
    default:
      return answerFor(denial, org, '');
  }
}
