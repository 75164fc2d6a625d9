import { pino, type Logger } from 'pino';

// Credentials never reach the log: Authorization and cookies are redacted, and request
// URLs are logged without their query string (signed URLs carry tokens there).
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
];

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
