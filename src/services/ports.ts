import type { RepoWithOwner } from '../db/repos.js';
import type { AccessRequest } from '../domain/types.js';

// What the services need from the outside world, declared here and implemented elsewhere
// (src/gating/notify.ts sends the e-mails), so services depend on no adapter.

/**
 * Tells people about access requests. Calls return at once: sending happens in the
 * background and never blocks or fails the request that caused it.
 */
export interface Notifier {
  /** A new pending request: the repo's notification email, or the owner / an org's first five admins. */
  requestCreated(repo: RepoWithOwner, request: AccessRequest): void;
  /** A request accepted or rejected (or access granted): the requester. */
  requestDecided(repo: RepoWithOwner, request: AccessRequest): void;
}
