import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../config.js';

// How notification messages leave hubgate: SMTP when HUBGATE_SMTP_URL is set, otherwise one
// JSON line per message in DATA/outbox.jsonl, for operators (and tests) to read.

/** One plain-text message to one recipient. */
export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  /** Where messages go, for the log: never contains credentials. */
  readonly describe: string;
  /** Resolves once the message was handed over (accepted by the SMTP server, or written to the outbox). */
  send(mail: Mail): Promise<void>;
  close(): void;
}

export const OUTBOX_FILE = 'outbox.jsonl';

/** The sender address: HUBGATE_SMTP_FROM, or hubgate@ this machine's name. */
export function senderOf(cfg: Config): string {
  return cfg.smtpFrom ?? `hubgate@${os.hostname() || 'localhost'}`;
}

export function createMailer(cfg: Config): Mailer {
  return cfg.smtpUrl ? smtpMailer(cfg.smtpUrl, senderOf(cfg)) : outboxMailer(path.join(cfg.dataDir, OUTBOX_FILE));
}

function smtpMailer(url: string, from: string): Mailer {
  // Short timeouts: a mail server that is down or slow must not keep sends piling up.
  const transport = nodemailer.createTransport({ url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });
  const { protocol, hostname, port } = new URL(url);
  return {
    describe: `${protocol}//${hostname}${port ? `:${port}` : ''}`,
    async send(mail) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
    },
    close: () => transport.close(),
  };
}

function outboxMailer(file: string): Mailer {
  // Appends one after the other, so lines never interleave.
  let tail: Promise<unknown> = Promise.resolve();
  return {
    describe: file,
    send(mail) {
      const line = `${JSON.stringify({ to: mail.to, subject: mail.subject, text: mail.text, at: new Date().toISOString() })}\n`;
      const written = tail.then(() => fs.appendFile(file, line, { mode: 0o600 }));
      tail = written.catch(() => {});
      return written;
    },
    close() {},
  };
}
