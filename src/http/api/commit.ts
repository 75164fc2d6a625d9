import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { badRequest, HubgateError } from '../../domain/errors.js';
import { printable, repoIdOf } from '../../domain/names.js';
import { textProblem } from '../../domain/text.js';
import { resolveCommit } from '../../git/content.js';
import { gitEnv } from '../../git/env.js';
import { repoDir } from '../../git/repo-dirs.js';
import type { AppContext } from '../context.js';
import {
  branchProblem, checkPath, CommitDraft, type CommitHeader, MAX_OPERATIONS, type PendingUploads, planUploads,
} from '../../services/commits.js';
import { authorizedRepo } from '../authorize.js';
import { parseBody } from './body.js';
import { ndjsonLines } from './ndjson.js';
import { apiError } from './respond.js';
import { baseUrlOf } from '../urls.js';
import { revisionProblem } from '../../domain/revisions.js';

// POST /api/{models|datasets|spaces}/{ns}/{name}/preupload/{rev} and .../commit/{rev}: uploads
// by commit, as huggingface_hub and @huggingface/hub make them (hf-wire.md §2.4, §2.5).

/** The largest commit body: regular files travel in it base64-encoded (LFS files do not). */
export const MAX_COMMIT_BODY = 1024 ** 3;

const preuploadBody = z.object({
  files: z
    .array(z.object({ path: z.string(), size: z.number().int().min(0), sample: z.string().max(4096).default('') }).loose())
    .max(1000, 'send at most 1000 files per preupload request'),
  gitAttributes: z.string().optional(),
  gitIgnore: z.string().optional(),
}).loose();

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Commit messages reach `git log`, pages and the Hub clients: lines of printable text (CRLF becomes LF). */
const messageText = (what: string, max: number) =>
  z.string().transform((s, ctx) => {
    const text = s.replace(/\r\n/g, '\n');
    const problem = textProblem(what, text, { max, multiline: true, optional: true });
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
    return text;
  });

const header = z.object({
  summary: z.string().trim().min(1, 'the commit needs a summary (its title)').max(10_000).pipe(messageText('the summary', 10_000)),
  description: messageText('the description', 1_000_000).default(''),
  parentCommit: z.string().max(100).optional(),
}).loose();
const file = z.object({ path: z.unknown(), content: z.string(), encoding: z.enum(['base64', 'utf-8', 'utf8']).default('base64') }).loose();
const lfsFile = z.object({
  path: z.unknown(),
  algo: z.literal('sha256').default('sha256'),
  oid: z.string().regex(/^[0-9a-f]{64}$/, 'oid must be the 64 lowercase hex characters of the sha256'),
  size: z.number().int().min(0).optional(),
}).loose();
const deleted = z.object({ path: z.unknown() }).loose();
const line = z.object({ key: z.string(), value: z.unknown() });

/** The branch a `{rev}` names (`main` or `refs/heads/main`). */
function branchOf(rev: string): string {
  return rev.startsWith('refs/heads/') ? rev.slice('refs/heads/'.length) : rev;
}

function revisionNotFound(res: Response, rev: string, repoId: string): void {
  apiError(res, 404, `Invalid rev id: ${printable(rev)}: ${repoId} has no branch of that name: commit to an existing branch`, { code: 'RevisionNotFound' });
}

function parseValue<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw badRequest(`${what}: ${issue.path.join('.') || 'value'}: ${issue.message}`);
}

export interface CommitHandlers {
  preupload: RequestHandler;
  commit: RequestHandler;
}

/** The handlers of preupload and commit, behind the route table's guard('write'). */
export function commitHandlers(ctx: AppContext, uploads: PendingUploads): CommitHandlers {
  const preupload: RequestHandler = async (req, res) => {
    const repo = authorizedRepo(res).row;
    const body = parseBody(preuploadBody, req.body, 'preupload request');
    const files = body.files.map((f, i) => {
      if (!BASE64.test(f.sample)) throw badRequest(`invalid preupload request: files.${i}.sample: use the base64 of the file's first 512 bytes`);
      return { path: checkPath(f.path, `files.${i}`), size: f.size, sample: Buffer.from(f.sample, 'base64') };
    });
    const rev = String(req.params.rev);
    const problem = revisionProblem(rev);
    if (problem) throw badRequest(problem);
    const commit = await resolveCommit(repoDir(ctx.cfg.dataDir, repo), gitEnv(ctx.cfg.dataDir), rev);
    if (!commit) return revisionNotFound(res, rev, repoIdOf(repo));
    const plans = await planUploads(ctx.cfg, repo, commit, files, { gitAttributes: body.gitAttributes, gitIgnore: body.gitIgnore });
    res.json({ files: plans });
  };

  const commit: RequestHandler = async (req, res) => {
    const repo = authorizedRepo(res).row;
    const caller = res.locals.caller;
    if (caller.kind !== 'user') throw new HubgateError('unauthenticated', 'sign in with a write token to commit');
    if (req.query.create_pr !== undefined && !['0', 'false', ''].includes(String(req.query.create_pr).toLowerCase())) {
      throw badRequest('hubgate has no pull requests: commit to a branch (leave out create_pr)');
    }
    const type = (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type === 'application/json') {
      throw new HubgateError('unsupported-media-type', 'send the commit as NDJSON (Content-Type: application/x-ndjson): a header line, then one line per operation');
    }
    const declared = Number(req.get('content-length') ?? 0);
    if (declared > MAX_COMMIT_BODY) {
      res.set('Connection', 'close');
      throw new HubgateError('too-large', `the request body is larger than ${MAX_COMMIT_BODY} bytes: split the upload into several commits`);
    }
    const rev = String(req.params.rev);
    const branch = branchOf(rev);
    const dir = repoDir(ctx.cfg.dataDir, repo);
    if (branchProblem(branch) || !(await resolveCommit(dir, gitEnv(ctx.cfg.dataDir), `refs/heads/${branch}`))) {
      res.set('Connection', 'close');
      return revisionNotFound(res, rev, repoIdOf(repo));
    }

    const draft = new CommitDraft({ db: ctx.db, dataDir: ctx.cfg.dataDir, maxFileSize: ctx.cfg.maxFileSize, uploads }, repo);
    try {
      await draft.open();
      const head = await readOperations(req, draft, ctx.cfg.maxFileSize);
      const result = await draft.commit({
        branch,
        header: head,
        author: { name: caller.user.name, email: caller.user.email ?? `${caller.user.name}@hubgate` },
        user: caller.user.name,
        where: { repoId: repoIdOf(repo), baseUrl: baseUrlOf(ctx.cfg, req) },
      });
      ctx.maintenance.schedule(dir);
      req.log.info({ repo: repoIdOf(repo), branch, commit: result.oid }, 'commit through the API');
      if (result.auditError) req.log.error({ repo: repoIdOf(repo), branch, commit: result.oid, err: result.auditError }, 'the commit is not in the audit log');
      res.json({
        commitUrl: `${baseUrlOf(ctx.cfg, req)}/${repoIdOf(repo)}/commit/${result.oid}`,
        commitOid: result.oid,
        commitMessage: head.summary,
        hookOutput: result.hookOutput,
        success: true,
      });
    } catch (err) {
      if (req.destroyed && !req.complete) return; // the client went away mid-body: no one to answer
      if (!req.complete) res.set('Connection', 'close'); // the rest of the body is not read
      throw err; // rendered by the API's error renderer (respond.ts)
    } finally {
      await draft.dispose();
    }
  };

  return { preupload, commit };
}

/** Reads the NDJSON body into the draft, line by line; returns the header. */
async function readOperations(req: Request, draft: CommitDraft, maxFileSize: number): Promise<CommitHeader> {
  let head: CommitHeader | undefined;
  const limits = { maxLineBytes: Math.ceil(maxFileSize / 3) * 4 + 64 * 1024, maxBodyBytes: MAX_COMMIT_BODY };
  for await (const { number, value } of ndjsonLines(req, limits)) {
    const { key, value: v } = parseValue(line, value, `line ${number}: each line must be {"key": ..., "value": ...}`);
    const where = `line ${number} (${key})`;
    if (!head) {
      if (key !== 'header') throw badRequest(`line ${number}: the first line must be the header ({"key": "header", "value": {"summary": ...}}), not "${printable(key)}"`);
      head = parseValue(header, v, where);
      continue;
    }
    switch (key) {
      case 'file': {
        const f = parseValue(file, v, where);
        const p = checkPath(f.path, where);
        if (f.encoding === 'base64' && !BASE64.test(f.content)) throw badRequest(`${where}: "content" is not base64`);
        await draft.addFile(p, Buffer.from(f.content, f.encoding === 'base64' ? 'base64' : 'utf8'));
        break;
      }
      case 'lfsFile': {
        const f = parseValue(lfsFile, v, where);
        draft.addLfsFile(checkPath(f.path, where), f.oid, f.size, number);
        break;
      }
      case 'deletedFile':
        draft.deleteFile(checkPath(parseValue(deleted, v, where).path, where));
        break;
      case 'deletedFolder': {
        const p = parseValue(deleted, v, where).path;
        draft.deleteFolder(checkPath(typeof p === 'string' ? p.replace(/\/$/, '') : p, where));
        break;
      }
      case 'header':
        throw badRequest(`${where}: only the first line may be the header`);
      default:
        throw badRequest(
          `line ${number}: unknown key "${printable(key)}": hubgate takes header, file, lfsFile, deletedFile and deletedFolder` +
            (key === 'copyFile' || key === 'copyFiles' ? ' (copy a file by sending it again as file or lfsFile)' : ''),
        );
    }
  }
  if (!head) throw badRequest(`the body is empty: send a header line, then one line per operation (at most ${MAX_OPERATIONS})`);
  return head;
}
