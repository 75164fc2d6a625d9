import express from 'express';
import type { z } from 'zod';
import { badRequest } from '../domain/errors.js';

/** JSON bodies of the Hub API: at most 1 MB, whatever Content-Type the client sent. */
export const jsonBody = express.json({ type: () => true, limit: '1mb', strict: true });

/** Validates a parsed body; a 400 naming the first problem otherwise. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw badRequest(`invalid ${what}: ${issue.path.join('.') || 'body'}: ${issue.message}`);
}
