import express, { type RequestHandler } from 'express';
import { z } from 'zod';
import { REPO_TYPES } from '../../domain/names.js';
import { FrontMatterError, parseFrontMatter } from '../../gating/front-matter.js';
import { GateFormError, gateFormFromMetadata } from '../../gating/form.js';
import { declaredLengthAtMost } from '../request-body.js';
import { parseBody } from './body.js';
import { headerSafe } from './respond.js';

// POST /api/validate-yaml: huggingface_hub sends a README.md it is about to commit and refuses
// the commit on a 400 listing `errors[].message` (hf-wire.md §2.6). Anyone may ask, as on the Hub.

/** A 1 MB README grows when escaped into JSON. */
const BODY_LIMIT = 3 * 1024 * 1024;
// Older RepoCard.validate() posts the same keys form-encoded. The declared length is checked before either parser reads.
export const validateYamlFormBody = declaredLengthAtMost(
  BODY_LIMIT,
  express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 10 }),
  'send the README.md alone (at most 1 MB; its front matter at most 256 KB)',
);
export const validateYamlJsonBody = express.json({ type: (req) => !/^application\/x-www-form-urlencoded\b/i.test(String(req.headers['content-type'] ?? '')), limit: BODY_LIMIT, strict: true });

const validateBody = z.object({
  content: z.string(),
  repoType: z.enum(REPO_TYPES).optional(),
});

export interface CardIssue {
  message: string;
  path?: string[];
}

/** What the Hub would say about a card: errors refuse it, warnings are shown to the author. */
export function checkCard(content: string, repoType: (typeof REPO_TYPES)[number] = 'model'): { errors: CardIssue[]; warnings: CardIssue[] } {
  let metadata: Record<string, unknown> | null;
  try {
    metadata = parseFrontMatter(content).metadata;
  } catch (err) {
    if (err instanceof FrontMatterError) return { errors: [{ message: err.message }], warnings: [] };
    throw err;
  }
  if (metadata === null) {
    return { errors: [], warnings: [{ message: 'Empty or missing yaml metadata in repo card: start README.md with a "---" block of metadata' }] };
  }
  try {
    gateFormFromMetadata(metadata, repoType);
  } catch (err) {
    if (err instanceof GateFormError) return { errors: [{ message: err.message, path: err.path }], warnings: [] };
    throw err;
  }
  return { errors: [], warnings: [] };
}

/** POST /api/validate-yaml, after validateYamlFormBody and validateYamlJsonBody: anyone may ask. */
export const validateYaml: RequestHandler = (req, res) => {
  const body = parseBody(validateBody, req.body, 'validate-yaml body');
  const result = checkCard(body.content, body.repoType);
  if (result.errors.length) {
    const message = `Invalid metadata in README.md: ${result.errors.map((e) => e.message).join('; ')}`;
    res.status(400).set('X-Error-Message', headerSafe(message)).json({ ...result, error: message });
    return;
  }
  res.json(result);
};
