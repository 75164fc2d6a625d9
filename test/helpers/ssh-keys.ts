import fs from 'node:fs';
import path from 'node:path';
import { run, tempDir } from './hubgate.js';

// Real keys made by ssh-keygen, for the SSH key store's tests: the key files and what
// `ssh-keygen -lf` says of them (bits and fingerprint), to compare hubgate's reading with.

export interface GeneratedKey {
  /** The private key file; its public key is `${file}.pub`. */
  file: string;
  /** The .pub file's text (one line and a newline). */
  pub: string;
  bits: number;
  fingerprint: string;
}

/** Generates a key with `ssh-keygen -t TYPE [-b BITS]` in a scratch directory (removed after the file's tests). */
export async function generateKey(type: 'ed25519' | 'ecdsa' | 'rsa' | 'dsa', bits?: number, comment = `${type}${bits ?? ''}@test`): Promise<GeneratedKey> {
  const file = path.join(tempDir('hubgate-sshkey-'), `id_${type}`);
  const made = await run('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', comment, '-f', file]);
  if (made.code !== 0) throw new Error(`ssh-keygen -t ${type} failed: ${made.stderr}`);
  const listed = await run('ssh-keygen', ['-lf', `${file}.pub`]);
  if (listed.code !== 0) throw new Error(`ssh-keygen -lf failed: ${listed.stderr}`);
  // "256 SHA256:abc... comment (ED25519)"
  const [size, fingerprint] = listed.stdout.trim().split(' ');
  return { file, pub: fs.readFileSync(`${file}.pub`, 'utf8'), bits: Number(size), fingerprint };
}
