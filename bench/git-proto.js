// A minimal protocol-v0 smart-HTTP fetch client for measurement (a): GET info/refs, want every
// head and tag, POST git-upload-pack, and read the (side-band-64k) response to the end.
import http from 'node:http';
import { nowMs } from './util.js';

export function pkt(line) {
  const b = Buffer.from(line);
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, '0')), b]);
}

/** Splits a complete buffer of pkt-lines into strings (null for flush-pkt). */
export function parsePktLines(buf) {
  const out = [];
  let i = 0;
  while (i + 4 <= buf.length) {
    const len = parseInt(buf.subarray(i, i + 4).toString('ascii'), 16);
    if (Number.isNaN(len)) throw new Error(`bad pkt-line length at ${i}: ${JSON.stringify(buf.subarray(i, i + 4).toString())}`);
    if (len === 0) {
      out.push(null);
      i += 4;
      continue;
    }
    out.push(buf.subarray(i + 4, i + len).toString('utf8'));
    i += len;
  }
  return out;
}

function request(url, { method = 'GET', headers = {}, body } = {}) {
  const u = new URL(url);
  const auth = u.username ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}` : undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        agent: false,
        headers: { 'User-Agent': 'git/2.39.5 (hubgate-bench)', ...(auth ? { Authorization: auth } : {}), ...(body ? { 'Content-Length': body.length } : {}), ...headers },
      },
      resolve,
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function readAll(res) {
  const chunks = [];
  for await (const c of res) chunks.push(c);
  return Buffer.concat(chunks);
}

/** GET info/refs (v0) and return [{oid, ref}] without peeled entries. */
export async function advertisedRefs(repoUrl) {
  const res = await request(`${repoUrl}/info/refs?service=git-upload-pack`);
  const body = await readAll(res);
  if (res.statusCode !== 200) throw new Error(`GET info/refs: HTTP ${res.statusCode}: ${body.toString().slice(0, 300)}`);
  const lines = parsePktLines(body);
  const refs = [];
  let first = true;
  for (const line of lines) {
    if (line === null || line.startsWith('# service=')) continue;
    let l = line.replace(/\n$/, '');
    if (first) {
      l = l.split('\0')[0];
      first = false;
    }
    const [oid, ref] = l.split(' ');
    if (!ref || ref.endsWith('^{}') || ref === 'capabilities^{}') continue;
    refs.push({ oid, ref });
  }
  return refs;
}

/** The upload-pack request body wanting every head and tag: wants, flush, done. */
export function wantAllBody(refs) {
  const oids = [...new Set(refs.filter((r) => r.ref.startsWith('refs/heads/') || r.ref.startsWith('refs/tags/')).map((r) => r.oid))];
  if (!oids.length) throw new Error('no heads or tags advertised');
  const parts = oids.map((oid, i) => pkt(i === 0 ? `want ${oid} side-band-64k ofs-delta agent=hubgate-bench\n` : `want ${oid}\n`));
  parts.push(Buffer.from('0000'), pkt('done\n'));
  return { body: Buffer.concat(parts), wants: oids.length };
}

/**
 * Parses a side-band-64k upload-pack response as it streams, without copying it: counts total
 * and pack bytes, checks the pack signature and the final flush-pkt, fails on band 3.
 */
class ResponseChecker {
  constructor() {
    this.total = 0;
    this.packBytes = 0;
    this.hdr = ''; // pkt-line length digits collected so far
    this.left = 0; // payload bytes left in the current pkt-line
    this.head = null; // first bytes of the current payload (band + up to 4 bytes), or null once seen
    this.headNeed = 0;
    this.sawPackHeader = false;
    this.flushAfterPack = false;
    this.error = null;
    this.errText = '';
  }
  push(chunk) {
    this.total += chunk.length;
    let i = 0;
    const n = chunk.length;
    while (i < n && !this.error) {
      if (this.left === 0) {
        const take = Math.min(4 - this.hdr.length, n - i);
        this.hdr += chunk.toString('latin1', i, i + take);
        i += take;
        if (this.hdr.length < 4) break;
        const len = parseInt(this.hdr, 16);
        this.hdr = '';
        if (Number.isNaN(len) || (len > 0 && len < 4)) {
          this.error = `bad pkt-line length at byte ${this.total - n + i - 4}`;
          break;
        }
        if (len === 0) {
          if (this.sawPackHeader) this.flushAfterPack = true;
          continue;
        }
        this.left = len - 4;
        this.payloadLen = len - 4;
        this.head = '';
        this.headNeed = Math.min(5, this.left);
        this.curBand = -1;
        continue;
      }
      const take = Math.min(this.left, n - i);
      if (this.head !== null) {
        const h = Math.min(this.headNeed - this.head.length, take);
        this.head += chunk.toString('latin1', i, i + h);
        if (this.head.length >= this.headNeed) {
          const band = this.head.charCodeAt(0);
          this.curBand = band;
          if (band === 1) {
            this.packBytes += this.payloadLen - 1;
            if (!this.sawPackHeader && this.head.slice(1, 5) === 'PACK') this.sawPackHeader = true;
          }
          this.head = null;
        }
      }
      if (this.curBand === 3) this.errText += chunk.toString('utf8', i, i + take);
      i += take;
      this.left -= take;
      if (this.left === 0) {
        if (this.curBand === 3) this.error = `server error: ${this.errText.slice(1).trim()}`;
      }
    }
  }
  verdict() {
    if (this.error) return this.error;
    if (!this.sawPackHeader) return 'no PACK in the response';
    if (!this.flushAfterPack) return 'response ended without the final flush-pkt';
    if (this.left || this.hdr) return 'response ended inside a pkt-line';
    return null;
  }
}

/** POSTs the body to git-upload-pack and reads the response to the end. Returns { ms, bytes, packBytes }. */
export async function timedUploadPack(repoUrl, body) {
  const t0 = nowMs();
  const res = await request(`${repoUrl}/git-upload-pack`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/x-git-upload-pack-request', Accept: 'application/x-git-upload-pack-result' },
  });
  if (res.statusCode !== 200) {
    const b = await readAll(res);
    throw new Error(`POST git-upload-pack: HTTP ${res.statusCode}: ${b.toString().slice(0, 300)}`);
  }
  const check = new ResponseChecker();
  for await (const chunk of res) check.push(chunk);
  const ms = nowMs() - t0;
  const bad = check.verdict();
  if (bad) throw new Error(`POST git-upload-pack: ${bad} (${check.total} bytes read)`);
  return { ms, bytes: check.total, packBytes: check.packBytes };
}
