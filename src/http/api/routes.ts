import { type RequestHandler, Router } from 'express';
import { orgGuard, repoGuard, siteAdmin } from '../authorize.js';
import type { AppContext } from '../context.js';
import { redirectMoved } from '../moved.js';
import type { PendingUploads } from '../../services/commits.js';
import { ACCESS_STATUSES, accessRequestHandlers } from './access-requests.js';
import { adminDenial, adminUserHandlers } from './admin-users.js';
import { ASK_ACCESS, askAccessHandler, askAccessRepo, signedInToAsk } from './ask-access.js';
import { jsonBody } from './body.js';
import { listReposHandler } from './list-repos.js';
import { branchTagHandlers } from './branches-tags.js';
import { commitHandlers } from './commit.js';
import { commitsHandler, commitsRequest } from './commits.js';
import { apiOrg, orgHandlers } from './orgs.js';
import { infoAction, infoRevision, knownRepoType, pathsInfoFormBody, pathsInfoRequest, repoInfoHandlers, treeRequest } from './repo-info.js';
import { repoHandlers } from './repos.js';
import { refsHandler } from './refs.js';
import { apiDenial, apiRepoRef } from './respond.js';
import { settingsHandler } from './settings.js';
import { signedIn, sshKeyHandlers } from './ssh-keys.js';
import { validateYaml, validateYamlFormBody, validateYamlJsonBody } from './validate-yaml.js';
import { whoamiHandler } from './whoami.js';
import type { XetService } from '../../services/xet.js';
import { xetTokenHandler } from './xet.js';

// Every route of the Hub-compatible API (hf-wire.md), with what authorises it and its handler.
// Routes about a repo name it as /api/{models|datasets|spaces}/{ns}/{name}: `repo` parses it
// (400 for invalid names), then the route's guard asks the policy once (API JSON denials with
// X-Error-Code). Errors thrown by handlers are rendered by respond.ts's apiFaults. Paths match as
// Express does by default (case-insensitively, a trailing slash allowed); a wrong method or an
// unknown path falls through to the app's JSON 404.

const REPO = '/api/:plural/:ns/:name';

/** `uploads`: LFS uploads to confirm at commit time (lfs/transfers.ts, from the composition root). */
/** `xet`: the Xet storage service (its token routes answer 501 without it or with HUBGATE_XET=off). */
export function hubApi(ctx: AppContext, uploads: PendingUploads, xet?: XetService): Router {
  // A moved repo's old name in the path: 307 to the same route under the new name, as the Hub answers.
  const guard = repoGuard(ctx, apiDenial, redirectMoved(307));
  // Routes naming the repo in their body: an old name there is a missing repo.
  const bodyGuard = repoGuard(ctx, apiDenial);
  const commit = commitHandlers(ctx, uploads);
  const requests = accessRequestHandlers(ctx);
  const repos = repoHandlers(ctx);
  const info = repoInfoHandlers(ctx);
  const orgGuarded = orgGuard(ctx, apiDenial);
  const orgs = orgHandlers(ctx);
  const admin = siteAdmin(adminDenial);
  const users = adminUserHandlers(ctx);
  const refs = branchTagHandlers(ctx);
  const sshKeys = sshKeyHandlers(ctx);

  const router = Router();
  //   method    path                                   before the guard                                                                             authorised by               handler
  router.post(   `${REPO}/preupload/:rev`,              jsonBody, named('api-preupload'), repo,                                                      guard('write'),             commit.preupload);
  router.post(   `${REPO}/commit/:rev`,                 named('api-commit'), repo,                                                                   guard('write'),             commit.commit);
  router.post(   `${REPO}/branch/*branch`,             jsonBody, named('api-branch'), repo,                                                         guard('write'),             refs.createBranch);
  router.delete( `${REPO}/branch/*branch`,             named('api-branch'), repo,                                                                   guard('write'),             refs.deleteBranch);
  router.post(   `${REPO}/tag/*rev`,                   jsonBody, named('api-tag'), repo,                                                            guard('write'),             refs.createTag);
  router.delete( `${REPO}/tag/*tag`,                   named('api-tag'), repo,                                                                      guard('write'),             refs.deleteTag);
  router.put(    `${REPO}/settings`,                    jsonBody, named('api-settings'), repo,                                                       guard('write'),             settingsHandler(ctx));
  router.get(    `${REPO}/user-access-request/:status`, accessStatus, named('api-access-requests'), repo,                                            guard('write'),             requests.list);
  router.post(   `${REPO}/user-access-request/handle`,  jsonBody, named('api-access-requests'), repo,                                                guard('write'),             requests.handle);
  router.post(   `${REPO}/user-access-request/grant`,   jsonBody, named('api-access-requests'), repo,                                                guard('write'),             requests.grant);
  // Not under /api: /{prefix}{ns}/{name}/ask-access with a JSON body (the page's form is the pages router's).
  router.post(   ASK_ACCESS,                            askAccessRepo, signedInToAsk,                                                                guard('view'), jsonBody,    askAccessHandler(ctx));
  router.post(   '/api/validate-yaml',                  validateYamlFormBody, validateYamlJsonBody, named('api-validate-yaml'),                      /* anyone */                validateYaml);
  router.get(    '/api/whoami-v2',                      named('api-whoami'),                                                                         /* signed in, else 401 */   whoamiHandler(ctx));
  router.get(    '/api/settings/ssh-keys',              named('api-ssh-keys'),                                                                       signedIn('read'),           sshKeys.list);
  router.post(   '/api/settings/ssh-keys',              jsonBody, named('api-ssh-keys'),                                                             signedIn('write'),          sshKeys.add);
  router.delete( '/api/settings/ssh-keys/:id',          named('api-ssh-keys'),                                                                       signedIn('write'),          sshKeys.remove);
  router.post(   '/api/repos/create',                   jsonBody, named('api-repos-create'),                                                         /* policy: create in ns */  repos.create);
  router.delete( '/api/repos/delete',                   jsonBody, named('api-repos-delete'), repos.deleteTarget,                                     bodyGuard('admin'),         repos.delete);
  // The policy also decides about the target namespace (create there), in the handler as for create.
  router.post(   '/api/repos/move',                     jsonBody, named('api-repos-move'), repos.moveSource,                                         bodyGuard('admin'),         repos.move);
  router.get(    '/api/organizations/:org/members',     named('api-org-members'), apiOrg,                                                            orgGuarded('view'),         orgs.members);
  router.post(   '/api/organizations/:org/members',     jsonBody, named('api-org-members'), apiOrg,                                                  orgGuarded('admin'),        orgs.add);
  router.put(    '/api/organizations/:org/members/:user', jsonBody, named('api-org-members'), apiOrg,                                                orgGuarded('admin'),        orgs.setRole);
  router.delete( '/api/organizations/:org/members/:user', named('api-org-members'), apiOrg,                                                          orgGuarded('admin'),        orgs.remove);
  router.get(    '/api/models',                         named('api-list-repos'),                                                     /* anyone: what decide(view) allows */ listReposHandler(ctx, 'model'));
  router.get(    '/api/datasets',                       named('api-list-repos'),                                                     /* anyone: what decide(view) allows */ listReposHandler(ctx, 'dataset'));
  router.get(    '/api/spaces',                         named('api-list-repos'),                                                     /* anyone: what decide(view) allows */ listReposHandler(ctx, 'space'));
  router.get(    REPO,                                  knownRepoType, named('api-repo-info'), repo,                                                 guard(infoAction),          info.info);
  router.get(    `${REPO}/revision/*rev`,               infoRevision, knownRepoType, named('api-repo-info'), repo,                                   guard(infoAction),          info.info);
  router.get(    `${REPO}/tree/:rev`,                   knownRepoType, named('api-tree'), treeRequest, repo,                                         guard('read'),              info.tree);
  router.get(    `${REPO}/tree/:rev/*path`,             knownRepoType, named('api-tree'), treeRequest, repo,                                         guard('read'),              info.tree);
  router.post(   `${REPO}/paths-info/:rev`,             pathsInfoFormBody, jsonBody, knownRepoType, named('api-paths-info'), pathsInfoRequest, repo, guard('read'),              info.pathsInfo);
  router.get(    `${REPO}/commits/*rev`,              knownRepoType, named('api-commits'), commitsRequest, repo,                                   guard('read'),              commitsHandler(ctx));
  router.get(    `${REPO}/refs`,                        knownRepoType, named('api-refs'), repo,                                                      guard('read'),              refsHandler(ctx));
  router.get(    `${REPO}/xet-read-token{/*rev}`,      knownRepoType, named('api-xet-token'), repo,                                                 guard('read'),              xetTokenHandler(ctx, xet, 'read'));
  router.get(    `${REPO}/xet-write-token{/*rev}`,     knownRepoType, named('api-xet-token'), repo,                                                 guard('write'),             xetTokenHandler(ctx, xet, 'write'));
  router.get(    '/api/admin/users',                    named('api-admin-users'),                                                                    admin,                      users.list);
  router.post(   '/api/admin/users/:name/disable',      named('api-admin-users'),                                                                    admin,                      users.disable);
  router.post(   '/api/admin/users/:name/enable',       named('api-admin-users'),                                                                    admin,                      users.enable);
  router.delete( '/api/admin/users/:name',              jsonBody, named('api-admin-users'),                                                          admin,                      users.remove);
  router.patch(  '/api/admin/users/:name',              jsonBody, named('api-admin-users'),                                                          admin,                      users.update);
  return router;
}

/** The repo an /api/{plural}/{ns}/{name}/... path names, as the caller spelled it, for the guard; NameError (400) when invalid. */
const repo: RequestHandler = (req, res, next) => {
  res.locals.repoRef = apiRepoRef(req.params);
  next();
};

/** The route's label in the request metrics. */
function named(route: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.route = route;
    next();
  };
}

/** user-access-request/{pending|accepted|rejected}; other words there are no route. */
const accessStatus: RequestHandler = (req, _res, next) => (ACCESS_STATUSES.includes(String(req.params.status)) ? next() : next('route'));
