import { z } from 'zod';

// Git LFS batch API shapes (git-lfs docs/api/batch.md) and what hubgate accepts.

export const LFS_MEDIA_TYPE = 'application/vnd.git-lfs+json';
export const OID = /^[0-9a-f]{64}$/;
/** The most objects one batch may name; git-lfs sends 100, huggingface_hub 256. */
export const MAX_BATCH_OBJECTS = 1000;

const ref = z.object({ name: z.string().max(1024).optional() }).nullish();

export const batchRequest = z.object({
  operation: z.enum(['download', 'upload']),
  // Unknown transfer names are ignored, never an error (git-lfs sends e.g. "lfs-standalone-file").
  transfers: z.array(z.string().max(100)).max(50).optional(),
  ref,
  // Objects are checked one by one so one bad object gets its own error.
  objects: z.array(z.object({ oid: z.unknown().optional(), size: z.unknown().optional() }).loose()),
  hash_algo: z.string().max(50).optional(),
});
export type BatchRequest = z.infer<typeof batchRequest>;

export interface Action {
  href: string;
  header?: Record<string, string>;
  expires_in: number;
}

export interface ObjectResult {
  oid: string;
  size: number;
  authenticated?: boolean;
  actions?: { download?: Action; upload?: Action; verify?: Action };
  error?: { code: number; message: string };
}

export interface BatchResponse {
  transfer: 'basic' | 'multipart' | 'xet';
  objects: ObjectResult[];
  hash_algo: 'sha256';
}

export const verifyRequest = z.object({ oid: z.string().regex(OID, 'oid must be 64 lowercase hex characters'), size: z.number().int().min(0) }).loose();

export const multipartCompletion = z.object({
  oid: z.string().regex(OID, 'oid must be 64 lowercase hex characters'),
  parts: z
    .array(z.object({ partNumber: z.number().int().min(1).max(10_000), etag: z.string().min(1).max(200) }))
    .min(1)
    .max(10_000),
});

export function isLfsContentType(value: string | undefined): boolean {
  const type = (value ?? '').split(';')[0].trim().toLowerCase();
  return type === LFS_MEDIA_TYPE || type === 'application/json';
}
