import { createHash, createPublicKey } from 'node:crypto';
import { badRequest } from './errors.js';

// An OpenSSH public key line as users paste it ("type base64 [comment]", the .pub file), read
// strictly: the blob's own type must match the line's, every field must be there and nothing
// after them, and the key must load as a real key (an ECDSA point on its curve). Only the kinds
// git over SSH accepts: Ed25519, ECDSA (P-256/384/521) and RSA of at least 2048 bits.

export interface ParsedKey {
  /** The key type as SSH names it, e.g. 'ssh-ed25519'. */
  algorithm: string;
  /** The key in SSH wire format: what the base64 field holds, and what a client offers. */
  blob: Buffer;
  /** 'SHA256:' and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** The key's size: 256 for Ed25519, the curve's for ECDSA, the modulus's for RSA. */
  bits: number;
  /** The text after the key on its line ('' without one), e.g. `alice@laptop`. */
  comment: string;
}

export const MIN_RSA_BITS = 2048;
/** As OpenSSH: larger RSA keys only cost time at every sign-in. */
export const MAX_RSA_BITS = 16384;
/** A line longer than this is no key that is accepted (a 16384-bit RSA key is about 2,800 characters). */
export const MAX_KEY_TEXT = 8192;

const ACCEPTED = 'ssh-ed25519 (recommended: `ssh-keygen -t ed25519`), ecdsa-sha2-nistp256/384/521 or ssh-rsa of at least 2048 bits';
const CURVES: Record<string, { crv: string; bits: number; coord: number }> = {
  'ecdsa-sha2-nistp256': { crv: 'P-256', bits: 256, coord: 32 },
  'ecdsa-sha2-nistp384': { crv: 'P-384', bits: 384, coord: 48 },
  'ecdsa-sha2-nistp521': { crv: 'P-521', bits: 521, coord: 66 },
};

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Reads the length-prefixed fields of the SSH wire format; undefined past the end. */
class WireReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  field(): Buffer | undefined {
    if (this.pos + 4 > this.buf.length) return undefined;
    const len = this.buf.readUInt32BE(this.pos);
    if (this.pos + 4 + len > this.buf.length) return undefined;
    const out = this.buf.subarray(this.pos + 4, this.pos + 4 + len);
    this.pos += 4 + len;
    return out;
  }
  get done(): boolean {
    return this.pos === this.buf.length;
  }
}

const malformed = (algorithm: string) =>
  badRequest(`the ${algorithm} key is damaged (its data does not read as such a key): copy the whole line of the .pub file again`);

/** A positive SSH mpint without its sign byte; undefined for a negative or empty one. */
function unsigned(mpint: Buffer | undefined): Buffer | undefined {
  if (!mpint || mpint.length === 0 || mpint[0] & 0x80) return undefined;
  let start = 0;
  while (start < mpint.length - 1 && mpint[start] === 0) start++;
  return mpint.subarray(start);
}

const bitLength = (n: Buffer): number => (n.length - 1) * 8 + (32 - Math.clz32(n[0]));
const b64url = (b: Buffer): string => b.toString('base64url');

/** Loads the key with node's crypto, which checks what the wire format cannot (a point on its curve). */
function loads(jwk: Record<string, string>): boolean {
  try {
    createPublicKey({ key: jwk, format: 'jwk' });
    return true;
  } catch {
    return false;
  }
}

/** The key's size in bits after checking its fields, or an error saying what is wrong. */
function checkBlob(algorithm: string, blob: Buffer): number {
  const r = new WireReader(blob);
  if (r.field()?.toString('latin1') !== algorithm) throw malformed(algorithm);
  if (algorithm === 'ssh-ed25519') {
    const key = r.field();
    if (key?.length !== 32 || !r.done || !loads({ kty: 'OKP', crv: 'Ed25519', x: b64url(key) })) throw malformed(algorithm);
    return 256;
  }
  if (algorithm === 'ssh-rsa') {
    const e = unsigned(r.field());
    const n = unsigned(r.field());
    if (!e || !n || !r.done || e.length > 8 || !(e[e.length - 1] & 1)) throw malformed(algorithm);
    const bits = bitLength(n);
    if (bits < MIN_RSA_BITS) throw badRequest(`the RSA key has ${bits} bits, too few to be safe: use at least ${MIN_RSA_BITS}, or better an Ed25519 key (\`ssh-keygen -t ed25519\`)`);
    if (bits > MAX_RSA_BITS) throw badRequest(`the RSA key has ${bits} bits: use at most ${MAX_RSA_BITS}, or better an Ed25519 key (\`ssh-keygen -t ed25519\`)`);
    if (!loads({ kty: 'RSA', n: b64url(n), e: b64url(e) })) throw malformed(algorithm);
    return bits;
  }
  const curve = CURVES[algorithm];
  const name = r.field()?.toString('latin1');
  const point = r.field();
  if (name !== algorithm.slice('ecdsa-sha2-'.length) || !point || !r.done) throw malformed(algorithm);
  // Uncompressed (0x04, X, Y), as OpenSSH writes it.
  if (point.length !== 1 + 2 * curve.coord || point[0] !== 4) throw malformed(algorithm);
  const x = point.subarray(1, 1 + curve.coord);
  const y = point.subarray(1 + curve.coord);
  if (!loads({ kty: 'EC', crv: curve.crv, x: b64url(x), y: b64url(y) })) throw malformed(algorithm);
  return curve.bits;
}

/** Why a text that is no public key line was refused, in words that say what to paste instead. */
function notAKeyLine(text: string): string | undefined {
  if (/PRIVATE KEY-----|^PuTTY-User-Key-File-/m.test(text)) {
    return 'this is a PRIVATE key: never paste or share it (if it was sent anywhere, make a new key); paste the PUBLIC key instead, the .pub file (e.g. ~/.ssh/id_ed25519.pub)';
  }
  if (/^---- BEGIN SSH2 PUBLIC KEY ----/.test(text)) {
    return 'this public key is in the SSH2 (RFC 4716) format: convert it with `ssh-keygen -i -f KEYFILE` and paste the one line it prints';
  }
  if (/-----BEGIN /.test(text)) {
    return 'this is a PEM file, not an OpenSSH public key: paste the one line of the .pub file (`ssh-keygen -y -f KEYFILE` prints it)';
  }
  return undefined;
}

/**
 * One OpenSSH public key line, checked: `type base64 [comment]`, a trailing newline allowed.
 * Throws HubgateError('invalid') saying what to do for anything else (a private key, several
 * keys, DSA, a certificate, a short RSA key, a damaged line).
 */
export function parsePublicKey(text: string): ParsedKey {
  if (typeof text !== 'string' || text.trim() === '') throw badRequest('the key is empty: paste your public key, the one line of e.g. ~/.ssh/id_ed25519.pub');
  const why = notAKeyLine(text.slice(0, 2 * MAX_KEY_TEXT));
  if (why) throw badRequest(why);
  if (text.length > MAX_KEY_TEXT) throw badRequest(`the key is too long (${text.length} characters): paste one public key line of at most ${MAX_KEY_TEXT} characters`);
  const lines = text.trim().split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length > 1) {
    // Several keys, or one key broken over lines by a terminal or an editor.
    const keyLines = lines.filter((l) => /^\S+ AAAA/.test(l.trim())).length;
    throw badRequest(
      keyLines > 1
        ? `the text holds ${lines.length} lines: add one key at a time, pasting one line of a .pub file`
        : `the key is broken over ${lines.length} lines: paste it as the one line of the .pub file (\`cat ~/.ssh/id_ed25519.pub\` prints it)`,
    );
  }
  const m = /^(\S+)\s+(\S+)(?:[ \t]+(.*))?$/.exec(lines[0].trim());
  if (!m) throw badRequest('this is not an OpenSSH public key: paste the whole line of the .pub file, "ssh-ed25519 AAAA... comment"');
  const [, algorithm, data, rest] = m;
  if (/-cert-v0[01]@openssh\.com$/.test(algorithm)) throw badRequest('this is an SSH certificate, not a key: paste the public key it certifies (the .pub file without -cert)');
  if (algorithm === 'ssh-dss') throw badRequest(`DSA keys are not accepted (they are weak, and OpenSSH has dropped them): make a new key with \`ssh-keygen -t ed25519\``);
  if (algorithm !== 'ssh-ed25519' && algorithm !== 'ssh-rsa' && !(algorithm in CURVES)) {
    const looksLikeType = /^[a-z0-9@.-]{3,60}$/.test(algorithm);
    throw badRequest(
      looksLikeType
        ? `keys of type ${algorithm} are not accepted: use ${ACCEPTED}`
        : 'this is not an OpenSSH public key: it must start with its type, e.g. "ssh-ed25519 AAAA..."; paste the line of the .pub file without options before it',
    );
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data) || data.length % 4 !== 0) throw malformed(algorithm);
  const blob = Buffer.from(data, 'base64');
  if (blob.toString('base64') !== data) throw malformed(algorithm);
  const comment = (rest ?? '').trim();
  if (/\s(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+) AAAA/.test(` ${comment}`)) {
    throw badRequest('the line holds more than one key: add one key at a time');
  }
  const bits = checkBlob(algorithm, blob);
  return { algorithm, blob, fingerprint: fingerprintOf(blob), bits, comment };
}
