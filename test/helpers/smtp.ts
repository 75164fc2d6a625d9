// A real SMTP server on loopback (smtp-server) for the tests of what hubgate mails: it keeps
// every message with its envelope, so recipients are read as a mail server sees them.
import { SMTPServer } from 'smtp-server';
import { freePort } from './hubgate.js';

export interface Received {
  from: string;
  to: string[];
  subject: string;
  text: string;
  /** When the message was received (ms since the epoch). */
  at: number;
}

/** An SMTP server on loopback that keeps every message it is given; with `login`, only after that login. */
export async function startSmtp(login?: { user: string; pass: string }): Promise<{ port: number; mails: Received[]; close(): Promise<void> }> {
  const mails: Received[] = [];
  const server = new SMTPServer({
    authOptional: !login,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (login && auth.username === login.user && auth.password === login.pass) callback(null, { user: auth.username });
      else callback(new Error('invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          ...parseMessage(Buffer.concat(chunks).toString('utf8')),
          at: Date.now(),
        });
        callback();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, mails, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Subject and plain-text body of a single-part message (7bit, quoted-printable or base64). */
export function parseMessage(raw: string): { subject: string; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const headers = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ').split('\r\n');
  const header = (name: string) => headers.find((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.slice(name.length + 1).trim() ?? '';
  let body = raw.slice(split + 4);
  const encoding = header('Content-Transfer-Encoding').toLowerCase();
  if (encoding === 'quoted-printable') {
    body = Buffer.from(
      body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  } else if (encoding === 'base64') {
    body = Buffer.from(body, 'base64').toString('utf8');
  }
  return { subject: header('Subject'), text: body.replace(/\r\n/g, '\n') };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until at least `count` messages match, then a little longer so extra ones would show; returns the matches. */
export async function receive(mails: Received[], match: (m: Received) => boolean, count = 1, timeoutMs = 8000): Promise<Received[]> {
  const deadline = Date.now() + timeoutMs;
  while (mails.filter(match).length < count && Date.now() < deadline) await sleep(50);
  await sleep(400);
  return mails.filter(match);
}

