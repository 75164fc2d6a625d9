import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import { STYLESHEET } from './style.js';
import { UPLOAD_SCRIPT } from './upload-script.js';

// The pages' static files (one stylesheet, one script), served from memory under URLs that
// carry a hash of their content: a new version is a new URL, so browsers may keep each for a year.

export interface StaticAsset {
  /** `/static/{name}.{hash}.{ext}` */
  url: string;
  type: string;
  body: string;
}

function asset(name: string, ext: string, type: string, body: string): StaticAsset {
  const hash = crypto.createHash('sha256').update(body).digest('hex').slice(0, 16);
  return { url: `/static/${name}.${hash}.${ext}`, type, body };
}

export const STYLESHEET_ASSET = asset('hubgate', 'css', 'text/css; charset=utf-8', STYLESHEET);
export const UPLOAD_SCRIPT_ASSET = asset('upload', 'js', 'text/javascript; charset=utf-8', UPLOAD_SCRIPT);

const BY_URL = new Map([STYLESHEET_ASSET, UPLOAD_SCRIPT_ASSET].map((a) => [a.url, a]));

/** GET /static/{file}: an asset by its exact (hashed) URL, cached for a year; anything else goes on (to the 404). */
export const staticAssets: RequestHandler = (req, res, next) => {
  const found = BY_URL.get(req.path);
  if (!found) return next();
  res.set({ 'Cache-Control': 'public, max-age=31536000, immutable', 'X-Content-Type-Options': 'nosniff' }).type(found.type).send(found.body);
};
