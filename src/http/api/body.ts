import express from 'express';
import type { z } from 'zod';
import { badRequest } from '../../domain/errors.js';
import { declaredLengthAtMost } from '../request-body.js';

const JSON_LIMIT = 1024 * 1024;
/** JSON bodies of the Hub API: at most 1 MB, whatever Content-Type the client sent. */
export const jsonBody = declaredLengthAtMost(JSON_LIMIT, express.json({ type: () => true, limit: JSON_LIMIT, strict: true }), 'send less JSON in one request');

/** Validates a parsed body; a 400 naming the first problem otherwise. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw badRequest(`invalid ${what}: ${issue.path.join('.') || 'body'}: ${issue.message}`);
}
