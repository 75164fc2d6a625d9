import express, { type NextFunction, type Request, type RequestHandler, type Response, Router } from 'express';
import { orgGuard, repoGuard, siteAdmin } from '../authorize.js';
import { redirectMoved } from '../moved.js';
import type { AppContext } from '../context.js';
import { parseRepoPath } from '../repo-path.js';
import { declaredLengthAtMost } from '../request-body.js';
import { ADMIN_USERS_PAGE, adminUsersPage } from './admin-users.js';
import { AUDIT_PAGE, auditPage } from './admin-audit.js';
import { accountPage, membersMayView, profileName } from './account-page.js';
import { askAccessFromPage } from './ask-access.js';
import { filesDenial, filesPages, parseFilesTarget } from './files.js';
import { commitPage, commitRequest, historyPage, historyRequest } from './history-pages.js';
import { homePage } from './home.js';
import { loginPages } from './login.js';
import { NEW_REPO_PAGE, newRepoPage } from './new-repo.js';
import { orgSettingsPage, pageOrg } from './org-settings.js';
import { PROFILE_PAGE, profilePage } from './profile-page.js';
import { repoPage } from './repo-page.js';
import { repoSettingsPage } from './repo-settings.js';
import { searchPage } from './search-page.js';
import { errorPage, notFoundPage, pageErrors } from './respond.js';
import { sameSession, sessionCaller, signedIn } from './session.js';
import { stylesheet } from './style.js';
import { SSH_KEYS_PAGE, sshKeysPage } from './ssh-keys-page.js';
import { TOKENS_PAGE, tokensPage } from './tokens-page.js';
import type { ServerLfs } from '../../services/commits.js';
import { parsePlace, sessionForUpload } from './file-commit.js';
import { fileEditPages } from './file-edit.js';
import { fileUploadPage } from './file-upload.js';

// hubgate's server-rendered pages: sign in, repo pages with the gate form, repo settings, tokens.
// Mounted after git, LFS and the API, so a session cookie is only ever read here.
//
// Every page route, in the order they are tried. Authorised by: anyone; `signedIn` (a session
// user, else the sign-in page); `sameSession` (a form posted with the session's CSRF token);
// `admin` (a site admin's session, else the 404 page); `guard(action)` (the access policy on the
// repo the path names; a denial is the 404 page, so a hidden repo and a missing one look the same).

/** Form posts of every page; a declared length over the limit is refused before reading. */
const urlencodedBody = declaredLengthAtMost(64 * 1024, express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 200 }), 'send the form as the page does');
/** Multipart forms (file uploads) are read as streams by their own routes (src/http/multipart-form.ts), with their own limits. */
const formBody: RequestHandler = (req, res, next) => (req.is('multipart/form-data') ? next() : urlencodedBody(req, res, next));

/** `lfs`: stores the LFS files of uploads from the pages (lfs/transfers.ts, from the composition root). */
export function pages(ctx: AppContext, lfs?: ServerLfs): Router {
  // A moved repo's old name: 302 (not 301, which browsers keep: a new repo may take the name).
  const guard = repoGuard(ctx, (req, res) => notFoundPage(req, res), redirectMoved(302));
  // Pages of file contents (files, history, diffs): a gated repo's refusal says access is needed
  // and links to the card; any other is the 404 page.
  const fileGuard = repoGuard(ctx, filesDenial, redirectMoved(302));
  const files = filesPages(ctx);
  const login = loginPages(ctx);
  const tokens = tokensPage(ctx);
  const sshKeys = sshKeysPage(ctx);
  const settings = repoSettingsPage(ctx);
  const orgAdmin = orgGuard(ctx, (req, res) => notFoundPage(req, res))('admin');
  const orgSettings = orgSettingsPage(ctx);
  const profile = profilePage(ctx);
  const users = adminUsersPage(ctx);
  const admin = siteAdmin((req, res) => notFoundPage(req, res));
  const newRepo = newRepoPage(ctx);
  const noLfs: ServerLfs = { storeFromServer: async () => { throw new Error('no LFS store was given to the pages'); } };
  const edit = fileEditPages(ctx, lfs ?? noLfs);
  const uploads = fileUploadPage(ctx, lfs ?? noLfs);

  const router = Router();
  // The API's unknown routes keep the API's JSON 404; pages never answer under /api.
  router.use((req, _res, next) => next(req.path.startsWith('/api/') ? 'router' : undefined));

  //          method  path                                    metrics label                    authorised by                    handler
  router.get( '/static/hubgate.css',                          label('page-static'),            /* anyone */                     stylesheet);
  router.use(sessionCaller(ctx), formBody);
  router.get( '/',                                            label('page-home'),              /* anyone: what it lists, the listing service's visibility */ homePage(ctx));
  router.get( '/login',                                       label('page-login'),             /* anyone */                     login.form);
  router.post('/login',                                       label('page-login'),             /* anyone: its own CSRF cookie */ login.signIn);
  router.post('/logout',                                      label('page-login'),             sameSession,                     login.signOut);
  router.get( TOKENS_PAGE,                                    label('page-tokens'),            signedIn(TOKENS_PAGE),           tokens.show);
  router.post(TOKENS_PAGE,                                    label('page-tokens'),            sameSession,                     tokens.create);
  router.post(`${TOKENS_PAGE}/:id/revoke`,                    label('page-tokens'),            sameSession,                     tokens.revoke);
  router.post(`${TOKENS_PAGE}/:id/refresh`,                   label('page-tokens'),            sameSession,                     tokens.refresh);
  router.get( SSH_KEYS_PAGE,                                  label('page-ssh-keys'),          signedIn(SSH_KEYS_PAGE),         sshKeys.show);
  router.post(SSH_KEYS_PAGE,                                  label('page-ssh-keys'),          sameSession,                     sshKeys.add);
  router.post(`${SSH_KEYS_PAGE}/:id/remove`,                  label('page-ssh-keys'),          sameSession,                     sshKeys.remove);
  // Before the repo pages: /organizations/x/settings is not the settings of a model organizations/x.
  router.get( '/organizations/:org/settings',                 label('page-org-settings'),      pageOrg, orgAdmin,               orgSettings.show);
  router.post('/organizations/:org/settings/members',         label('page-org-settings'),      sameSession, pageOrg, orgAdmin,  orgSettings.add);
  router.post('/organizations/:org/settings/members/role',    label('page-org-settings'),      sameSession, pageOrg, orgAdmin,  orgSettings.setRole);
  router.post('/organizations/:org/settings/members/remove',  label('page-org-settings'),      sameSession, pageOrg, orgAdmin,  orgSettings.remove);
  router.get( PROFILE_PAGE,                                    label('page-profile'),           signedIn(PROFILE_PAGE),          profile.show);
  router.post(PROFILE_PAGE,                                    label('page-profile'),           sameSession,                     profile.save);
  router.post(`${PROFILE_PAGE}/password`,                      label('page-profile'),           sameSession,                     profile.password);
  router.get( ADMIN_USERS_PAGE,                                label('page-admin-users'),       admin,                           users.show);
  router.post(`${ADMIN_USERS_PAGE}/:name/disable`,             label('page-admin-users'),       admin, sameSession,              users.disable);
  router.post(`${ADMIN_USERS_PAGE}/:name/enable`,              label('page-admin-users'),       admin, sameSession,              users.enable);
  router.post(`${ADMIN_USERS_PAGE}/:name/delete`,              label('page-admin-users'),       admin, sameSession,              users.remove);
  router.get( AUDIT_PAGE,                                     label('page-admin-audit'),       admin,                           auditPage(ctx));
  router.get( NEW_REPO_PAGE,                                  label('page-new-repo'),          signedIn(NEW_REPO_PAGE),         newRepo.show);
  router.post(NEW_REPO_PAGE,                                  label('page-new-repo'),          sameSession, newRepo.mayCreate /* the policy: create in the owner */, newRepo.create);
  router.get( '/models',                                      label('page-search'),            /* anyone: the listing service's visibility */ searchPage(ctx, 'model'));
  router.get( '/datasets',                                    label('page-search'),            /* anyone: the listing service's visibility */ searchPage(ctx, 'dataset'));
  router.get( '/spaces',                                      label('page-search'),            /* anyone: the listing service's visibility */ searchPage(ctx, 'space'));
  // After every fixed page: a user's or organization's profile (reserved names go on to the 404).
  router.get( '/:name',                                       label('page-account'),           profileName, membersMayView(ctx) /* members only see members */, accountPage(ctx));

  // A repo's pages: at(suffix) is the path under each of a repo's three addresses, then the step
  // parsing the repo from it. Settings come first: /datasets/x/settings is the settings of the model datasets/x.
  router.use(notForOptions);
  router.get( ...at('/settings'),                             label('page-repo-settings'),     guard('write'),                  settings.show);
  router.post(...at('/settings'),                             label('page-repo-settings'),     sameSession, guard('write'),     settings.save);
  router.post(...at('/settings/requests'),                    label('page-repo-settings'),     sameSession, guard('write'),     settings.moveRequest);
  router.post(...at('/settings/grant'),                       label('page-repo-settings'),     sameSession, guard('write'),     settings.grant);
  router.post(...at('/settings/visibility'),                  label('page-repo-settings'),     sameSession, guard('admin'),     settings.visibility);
  router.post(...at('/settings/delete'),                      label('page-repo-settings'),     sameSession, guard('admin'),     settings.remove);
  router.get( ...at('/settings/access-report.json'),          label('page-access-report'),     guard('write'),                  settings.accessReport);
  // Adding and deleting files (straight to the branch): multipart forms prove their session by their first field, as they are read.
  router.get( ...atFile('new'),                               label('page-file-new'),          guard('write'),                  edit.showNew);
  router.post(...atFile('new'),                               label('page-file-new'),          sessionForUpload, guard('write'), edit.createFile);
  router.get( ...atFile('upload'),                            label('page-file-upload'),       guard('write'),                  uploads.show);
  router.post(...atFile('upload'),                            label('page-file-upload'),       sessionForUpload, guard('write'), uploads.upload);
  router.get( ...atFile('delete'),                            label('page-file-delete'),       guard('write'),                  edit.showDelete);
  router.post(...atFile('delete'),                            label('page-file-delete'),       sameSession, guard('write'),     edit.deleteFile);
  // JSON requests are the API's (answered before the pages); anything else that is not a form falls through to the 404.
  router.post(...at('/ask-access'),                           label('page-ask-access'),        formOnly, sameSession, guard('view'), askAccessFromPage(ctx));
  router.get( ...underFiles('/tree', false),                  label('page-repo-tree'),         fileGuard('read'),               files.tree);
  router.get( ...underFiles('/blob', true),                   label('page-repo-blob'),         fileGuard('read'),               files.blob);
  router.get( ...under('commits'),                            label('page-history'),           historyRequest, fileGuard('read'), historyPage(ctx));
  router.get( ...under('commit'),                             label('page-commit'),            commitRequest, fileGuard('read'), commitPage(ctx));
  router.get( ...at(''),                                      label('page-repo'),              guard('view'),                   repoPage(ctx));

  router.use(pageErrors);
  return router;
}

/** The route label for metrics. */
function label(route: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.route = route;
    next();
  };
}

/** A repo's addresses: models have no prefix. */
const REPO_ADDRESSES = ['/:ns/:name', '/datasets/:ns/:name', '/spaces/:ns/:name'];

/**
 * The route path `suffix` under every repo address, and the step that parses the repo from it
 * into res.locals.repoRef (a bad name is the 400 'Invalid address' page). The paths are exact
 * regular expressions rather than `:param` patterns: names are decoded and checked by
 * parseRepoPath alone (bad percent-encoding included), and matched case-sensitively, without a trailing slash.
 */
function at(suffix: string): [RegExp[], RequestHandler] {
  const escaped = suffix.replace(/[.]/g, '\\.');
  const paths = REPO_ADDRESSES.map((address) => new RegExp(`^${address.replace(/:ns|:name/g, '[^/]+')}${escaped}$`));
  const parse: RequestHandler = (req, res, next) => {
    // parseRepoPath wants something after the name: give it a lone '/' and accept only that.
    const parsed = parseRepoPath(`${req.path.slice(0, req.path.length - suffix.length)}/`, /^\/$/);
    if (!parsed) return next('route');
    if (!parsed.ok) return errorPage(req, res, 400, 'Invalid address', parsed.message);
    res.locals.repoRef = parsed.ref;
    next();
  };
  return [paths, parse];
}

/**
 * The route paths `/{section}/...` under every repo address, and the step that parses the repo
 * from them (as `at`) and keeps the part after `/{section}/`, still percent-encoded, in
 * res.locals.repoRest for the route's next step to decode and check.
 */
function under(section: string): [RegExp[], RequestHandler] {
  const paths = REPO_ADDRESSES.map((address) => new RegExp(`^${address.replace(/:ns|:name/g, '[^/]+')}/${section}/.+$`));
  const rest = new RegExp(`^/${section}/(.+)$`);
  const parse: RequestHandler = (req, res, next) => {
    const parsed = parseRepoPath(req.path, rest);
    if (!parsed) return next('route');
    if (!parsed.ok) return errorPage(req, res, 400, 'Invalid address', parsed.message);
    res.locals.repoRef = parsed.ref;
    res.locals.repoRest = rest.exec(parsed.rest)![1];
    next();
  };
  return [paths, parse];
}

/** Only form posts: the API's JSON route has had its turn, and other bodies are no page's. */
function formOnly(req: Request, _res: Response, next: NextFunction): void {
  next(req.is('application/x-www-form-urlencoded') ? undefined : 'route');
}

/**
 * The repo pages leave OPTIONS to the app's 404, as they always have; the routes above keep
 * Express's automatic answer (Allow: ...).
 */
function notForOptions(req: Request, _res: Response, next: NextFunction): void {
  next(req.method === 'OPTIONS' ? 'router' : undefined);
}

/**
 * Like at(), for the Files tab's `{kind}/{rev}[/{path}]` (a revision with '/' percent-encoded,
 * as in resolve URLs): the step also parses the revision and path into res.locals.filesTarget
 * (a bad one is the 400 'Invalid address' page).
 */
function underFiles(kind: '/tree' | '/blob', needsPath: boolean): [RegExp[], RequestHandler] {
  const paths = REPO_ADDRESSES.map((address) => new RegExp(`^${address.replace(/:ns|:name/g, '[^/]+')}${kind}(?:/.*)?$`));
  const rest = new RegExp(`^${kind}(?:/.*)?$`);
  const parse: RequestHandler = (req, res, next) => {
    const parsed = parseRepoPath(req.path, rest);
    if (!parsed) return next('route');
    if (!parsed.ok) return errorPage(req, res, 400, 'Invalid address', parsed.message);
    const target = parseFilesTarget(parsed.rest.slice(kind.length), needsPath);
    if (typeof target === 'string') return errorPage(req, res, 400, 'Invalid address', target);
    res.locals.repoRef = parsed.ref;
    res.locals.filesTarget = target;
    next();
  };
  return [paths, parse];
}

/**
 * The pages `/{repo}/{kind}/{branch}[/{path}]` under every repo address, and the step that parses
 * the repo (res.locals.repoRef) and the branch and path (res.locals.filePlace); a bad one is the 400 page.
 */
function atFile(kind: string): [RegExp[], RequestHandler] {
  const paths = REPO_ADDRESSES.map((address) => new RegExp(`^${address.replace(/:ns|:name/g, '[^/]+')}/${kind}/[^/]+(?:/.*)?$`));
  const rest = new RegExp(`^/${kind}/[^/]+(?:/.*)?$`);
  const parse: RequestHandler = (req, res, next) => {
    const parsed = parseRepoPath(req.path, rest);
    if (!parsed) return next('route');
    if (!parsed.ok) return errorPage(req, res, 400, 'Invalid address', parsed.message);
    const place = parsePlace(parsed.rest.slice(kind.length + 1));
    if ('problem' in place) return errorPage(req, res, 400, 'Invalid address', place.problem);
    res.locals.repoRef = parsed.ref;
    res.locals.filePlace = place;
    next();
  };
  return [paths, parse];
}
