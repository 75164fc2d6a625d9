// Reading users' SSH public keys (src/domain/ssh-public-key.ts) against keys made by ssh-keygen:
// what is accepted (with the size and fingerprint ssh-keygen itself reports), and what is refused
// with a message saying what to do.
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HubgateError } from '../src/domain/errors.ts';
import { fingerprintOf, parsePublicKey } from '../src/domain/ssh-public-key.ts';
import { run } from './helpers/hubgate.js';
import { type GeneratedKey, generateKey } from './helpers/ssh-keys.js';

/** The message of the 400 parsePublicKey throws for `text`. */
function refusal(text: string): string {
  try {
    parsePublicKey(text);
  } catch (err) {
    expect(err).toBeInstanceOf(HubgateError);
    expect((err as HubgateError).status).toBe(400);
    return (err as HubgateError).message;
  }
  throw new Error(`accepted: ${text.slice(0, 80)}`);
}

const ACCEPTED: [string, 'ed25519' | 'ecdsa' | 'rsa', number | undefined, string][] = [
  ['ed25519', 'ed25519', undefined, 'ssh-ed25519'],
  ['ecdsa 256', 'ecdsa', 256, 'ecdsa-sha2-nistp256'],
  ['ecdsa 384', 'ecdsa', 384, 'ecdsa-sha2-nistp384'],
  ['ecdsa 521', 'ecdsa', 521, 'ecdsa-sha2-nistp521'],
  ['rsa 2048', 'rsa', 2048, 'ssh-rsa'],
  ['rsa 4096', 'rsa', 4096, 'ssh-rsa'],
];

describe('accepted keys', () => {
  const keys = new Map<string, GeneratedKey>();
  beforeAll(async () => {
    for (const [label, type, bits] of ACCEPTED) keys.set(label, await generateKey(type, bits));
  });

  it.each(ACCEPTED)('%s: algorithm, size, comment and fingerprint as ssh-keygen -lf gives them', (label, _type, _bits, algorithm) => {
    const key = keys.get(label)!;
    const parsed = parsePublicKey(key.pub);
    expect(parsed.algorithm).toBe(algorithm);
    expect(parsed.fingerprint).toBe(key.fingerprint);
    expect(parsed.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(parsed.bits).toBe(key.bits);
    expect(parsed.comment).toBe(key.pub.trim().split(' ').slice(2).join(' '));
    expect(parsed.blob.toString('base64')).toBe(key.pub.split(' ')[1]);
    expect(fingerprintOf(parsed.blob)).toBe(key.fingerprint);
  });

  it('a key without a comment, with CRLF or surrounding blank lines, is the same key', () => {
    const key = keys.get('ed25519')!;
    const [type, data] = key.pub.trim().split(' ');
    for (const text of [`${type} ${data}`, `${type} ${data}\r\n`, `\n\n${type}  ${data}  some  comment \n\n`]) {
      expect(parsePublicKey(text).fingerprint).toBe(key.fingerprint);
    }
    expect(parsePublicKey(`${type} ${data}`).comment).toBe('');
  });
});

describe('refused keys', () => {
  let ed: GeneratedKey;
  let ecdsa: GeneratedKey;
  beforeAll(async () => {
    ed = await generateKey('ed25519');
    ecdsa = await generateKey('ecdsa', 256);
  });

  it('RSA below 2048 bits, saying how many bits it has', async () => {
    const small = await generateKey('rsa', 1024);
    expect(refusal(small.pub)).toMatch(/RSA key has 1024 bits.*at least 2048/);
  });

  it('DSA, if this ssh-keygen still makes DSA keys; the type alone is refused either way', async () => {
    const made = await generateKey('dsa').catch(() => undefined);
    if (made) expect(refusal(made.pub)).toMatch(/DSA keys are not accepted.*ssh-keygen -t ed25519/);
    expect(refusal(`ssh-dss ${ed.pub.split(' ')[1]}`)).toMatch(/DSA keys are not accepted/);
  });

  it('a private key pasted by mistake, saying it is private', () => {
    const message = refusal(fs.readFileSync(ed.file, 'utf8'));
    expect(message).toMatch(/PRIVATE key: never paste or share it/);
    expect(message).toMatch(/\.pub/);
    expect(refusal(`-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n`)).toMatch(/PRIVATE key/);
  });

  it('a certificate', async () => {
    const ca = await generateKey('ed25519', undefined, 'ca');
    const signed = await run('ssh-keygen', ['-q', '-s', ca.file, '-I', 'id', '-n', 'git', `${ed.file}.pub`]);
    expect(signed.code, signed.stderr).toBe(0);
    expect(refusal(fs.readFileSync(`${ed.file}-cert.pub`, 'utf8'))).toMatch(/SSH certificate, not a key/);
  });

  it('two keys, on one line or on two', () => {
    expect(refusal(`${ed.pub.trim()} ${ecdsa.pub.trim()}`)).toMatch(/more than one key/);
    expect(refusal(`${ed.pub}${ecdsa.pub}`)).toMatch(/2 lines: add one key at a time/);
    const line = ecdsa.pub.trim();
    expect(refusal(`${line.slice(0, 60)}\n${line.slice(60)}\n`)).toMatch(/the key is broken over 2 lines: paste it as the one line/);
  });

  it('garbage, empty text, other key types, options before the key, and the SSH2 format', () => {
    expect(refusal('hello world')).toMatch(/keys of type hello are not accepted|not an OpenSSH public key/);
    expect(refusal('not-a-key')).toMatch(/not an OpenSSH public key/);
    expect(refusal('   \n')).toMatch(/the key is empty/);
    expect(refusal(`sk-ssh-ed25519@openssh.com ${ed.pub.split(' ')[1]}`)).toMatch(/keys of type sk-ssh-ed25519@openssh.com are not accepted: use ssh-ed25519/);
    expect(refusal(`no-pty,command="x" ${ed.pub}`)).toMatch(/must start with its type/);
    expect(refusal(`---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----\n`)).toMatch(/ssh-keygen -i -f KEYFILE/);
    expect(refusal(`ssh-ed25519 ${'A'.repeat(9000)}`)).toMatch(/too long/);
  });

  it('damaged keys: bad base64, a type that does not match the blob, a truncated blob, a point off the curve', () => {
    const [type, data] = ed.pub.trim().split(' ');
    expect(refusal(`${type} ${data}!`)).toMatch(/ssh-ed25519 key is damaged/);
    expect(refusal(`ssh-rsa ${data}`)).toMatch(/ssh-rsa key is damaged/);
    const blob = Buffer.from(data, 'base64');
    expect(refusal(`${type} ${blob.subarray(0, blob.length - 3).toString('base64')}`)).toMatch(/damaged/);
    expect(refusal(`${type} ${Buffer.concat([blob, Buffer.from([0, 0, 0, 0])]).toString('base64')}`)).toMatch(/damaged/);
    const point = Buffer.from(ecdsa.pub.split(' ')[1], 'base64');
    point[point.length - 1] ^= 1; // Y changed: no longer on P-256
    expect(refusal(`ecdsa-sha2-nistp256 ${point.toString('base64')}`)).toMatch(/ecdsa-sha2-nistp256 key is damaged/);
  });
});
