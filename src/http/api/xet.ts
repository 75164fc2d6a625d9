import type { RequestHandler } from 'express';
import { apiError } from './respond.js';

// GET /api/{models|datasets|spaces}/{ns}/{name}/xet-write-token/{rev} and .../xet-read-token/{rev}:
// the Hub hands out Xet storage tokens there. huggingface_hub 1.20 and later, with hf_xet installed
// (its default), ask for a write token before any upload and never fall back to Git LFS; hubgate
// speaks Git LFS only, so these routes answer, after the route's guard (access errors first), a
// 501 that says how to turn Xet off. 501, not 400: hf_xet takes 501 as final (no retries), and
// huggingface_hub's hf_raise_for_status puts X-Error-Message into the exception's text, as
// @huggingface/hub puts the body's `error`. Nothing hubgate sends ever announces Xet (no xetHash,
// no X-Xet-* header, `xetEnabled: false` in repo info), so clients that look first use LFS.

export const XET_UNSUPPORTED =
  'hubgate does not support Xet storage; it stores large files with Git LFS. Set HF_HUB_DISABLE_XET=1 for huggingface_hub ' +
  '(or uninstall hf_xet); with @huggingface/hub pass useXet: false';

/** The answer of both Xet token routes, behind their guard. */
export const xetTokenHandler: RequestHandler = (_req, res) => apiError(res, 501, XET_UNSUPPORTED);
