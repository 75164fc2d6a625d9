import type { RequestHandler } from 'express';
import { repoRefs } from '../../services/history.js';
import { authorizedRepo } from '../authorize.js';
import type { AppContext } from '../context.js';

// GET /api/{models|datasets|spaces}/{ns}/{name}/refs[?include_prs=1]: the repo's refs as
// list_repo_refs reads them: `{"branches", "tags", "converts", "pullRequests"}`, each a list of
// `{name, ref, targetCommit}`. All four keys are always there (the Python client indexes them);
// pull request refs (refs/pr/*) are listed only with include_prs. An annotated tag's
// targetCommit is the commit it tags, not the tag object.

/** A boolean query parameter as requests (True), httpx (true) or a person (1) spells it. */
function flag(value: unknown): boolean {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  return last === 'true' || last === 'True' || last === '1';
}

/** GET .../refs, behind the route's guard. */
export function refsHandler(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { row } = authorizedRepo(res);
    res.json(await repoRefs(ctx.cfg.dataDir, row, flag(req.query.include_prs)));
  };
}
