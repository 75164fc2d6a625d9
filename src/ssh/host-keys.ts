import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';

// The SSH server's host keys: ed25519, and RSA (3072 bits) for older clients. Made on first start
// in DATA/ssh/ (the private keys mode 0600, with OpenSSH .pub files beside them, which operators
// pin in known_hosts) and kept after, so clients see the same host across restarts and restores.
// Written with node:crypto in OpenSSH's own private key format: the runtime image has no ssh-keygen.

export interface HostKey {
  /** The private key file's text (OpenSSH format), as ssh2 reads it. */
  privateKey: string;
  /** The public key line (`ssh-ed25519 AAAA... hubgate`). */
  publicLine: string;
  file: string;
}

const KINDS = ['ed25519', 'rsa'] as const;

/**
 * The host keys in `dataDir`/ssh, made when missing. Several processes on one data directory may
 * start at once: a new key is linked into place only if none is there yet (the first wins), and
 * the .pub file is written from the key that won, so the two always match.
 */
export function loadHostKeys(dataDir: string): HostKey[] {
  const dir = path.join(dataDir, 'ssh');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return KINDS.map((kind) => {
    const file = path.join(dir, `ssh_host_${kind}_key`);
    if (!fs.existsSync(file)) writeKey(file, kind);
    const privateKey = fs.readFileSync(file, 'utf8');
    const parsed = ssh2.utils.parseKey(privateKey);
    if (parsed instanceof Error || Array.isArray(parsed)) throw new Error(`${file} is not a host key hubgate can read: ${parsed instanceof Error ? parsed.message : 'several keys'}; move it away to have a new one made`);
    const publicLine = `${parsed.type} ${parsed.getPublicSSH().toString('base64')} hubgate`;
    const pubFile = `${file}.pub`;
    if (!fs.existsSync(pubFile) || fs.readFileSync(pubFile, 'utf8').trim() !== publicLine) writeAtomically(pubFile, `${publicLine}\n`, 0o644);
    return { privateKey, publicLine, file };
  });
}

function writeKey(file: string, kind: (typeof KINDS)[number]): void {
  const { publicBlob, privateFields, type } = kind === 'ed25519' ? ed25519() : rsa();
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, openSshPrivateKey(type, publicBlob, privateFields, 'hubgate'), { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process made it first
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function writeAtomically(file: string, text: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const sshString = (data: Buffer | string) => {
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([u32(b.length), b]);
};
/** An SSH mpint from an unsigned big-endian number: no leading zeros, a zero byte before a set top bit. */
const mpint = (raw: Buffer) => {
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  const trimmed = raw.subarray(i);
  return sshString(trimmed[0] & 0x80 ? Buffer.concat([Buffer.alloc(1), trimmed]) : trimmed);
};
const b64u = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');

function ed25519(): { type: string; publicBlob: Buffer; privateFields: Buffer } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const pub = b64u(publicKey.export({ format: 'jwk' }).x);
  const seed = b64u(privateKey.export({ format: 'jwk' }).d);
  const type = 'ssh-ed25519';
  return {
    type,
    publicBlob: Buffer.concat([sshString(type), sshString(pub)]),
    privateFields: Buffer.concat([sshString(pub), sshString(Buffer.concat([seed, pub]))]),
  };
}

function rsa(): { type: string; publicBlob: Buffer; privateFields: Buffer } {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 3072 });
  const jwk = privateKey.export({ format: 'jwk' });
  const [n, e, d, p, q, qi] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.qi].map(b64u);
  const type = 'ssh-rsa';
  return {
    type,
    publicBlob: Buffer.concat([sshString(type), mpint(e), mpint(n)]),
    // OpenSSH's order: n, e, d, iqmp, p, q.
    privateFields: Buffer.concat([mpint(n), mpint(e), mpint(d), mpint(qi), mpint(p), mpint(q)]),
  };
}

/** An unencrypted "openssh-key-v1" private key file (PROTOCOL.key in OpenSSH's sources). */
function openSshPrivateKey(type: string, publicBlob: Buffer, privateFields: Buffer, comment: string): string {
  const check = crypto.randomBytes(4);
  let priv = Buffer.concat([check, check, sshString(type), privateFields, sshString(comment)]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    u32(1),
    sshString(publicBlob),
    sshString(priv),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g)!.join('\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
