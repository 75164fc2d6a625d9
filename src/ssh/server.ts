import net from 'node:net';
import ssh2, { type AuthContext, type Connection } from 'ssh2';
import type { SshContext } from './context.js';
import { runExec } from './exec.js';
import { loadHostKeys } from './host-keys.js';
import { safeGitProtocol } from '../git/service-env.js';

// hubgate's SSH server: git over SSH for users' keys (services/ssh-keys.ts). Public-key
// authentication only, modern algorithms only (those node:crypto runs natively: ssh2's pure-JS
// chacha20 and its optional native module are left out), no banner, sessions that run exactly
// one exec of a git or git-lfs command (commands.ts); shells, ptys, subsystems and port
// forwarding are refused (ssh2 refuses every request nobody listens for).

const { Server, utils } = ssh2;

/** How long a connection may take to authenticate. */
const AUTH_TIMEOUT_MS = 20_000;
/** A socket with no byte either way for this long is closed (longer than ssh2's 15 s keepalive interval). */
const SILENT_SOCKET_MS = 30_000;
/** Failed authentication attempts before the connection is closed. */
const MAX_AUTH_FAILURES = 6;

const ALGORITHMS = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'ecdh-sha2-nistp256', 'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521', 'diffie-hellman-group16-sha512', 'diffie-hellman-group14-sha256'],
  cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr'],
  serverHostKey: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'],
  compress: ['none'],
} as const;

export interface SshServer {
  /** The TCP server (listened on by the composition root). */
  tcp: net.Server;
  /** Stops accepting and ends open connections. */
  close(): void;
}

export function createSshServer(ctx: SshContext): SshServer {
  const hostKeys = loadHostKeys(ctx.cfg.dataDir).map((k) => k.privateKey);
  const ssh = new Server({ hostKeys, algorithms: ALGORITHMS as unknown as ssh2.Algorithms, ident: 'hubgate' }, (client, info) => onClient(ctx, client, info.ip));
  ssh.on('error', (err: Error) => ctx.log.warn({ err: err.message }, 'ssh server error'));
  const sockets = new Set<net.Socket>();
  const perIp = new Map<string, number>();
  // Connections are counted here, before any SSH work: one address cannot hold every slot.
  const tcp = net.createServer((socket) => {
    const ip = socket.remoteAddress ?? '';
    const n = perIp.get(ip) ?? 0;
    const { sshMaxConnectionsPerIp: maxPerIp, sshMaxConnections: max } = ctx.cfg;
    if ((maxPerIp > 0 && n >= maxPerIp) || (max > 0 && sockets.size >= max)) {
      ctx.log.warn({ ip, open: n }, 'ssh connection refused: too many open connections');
      return void socket.destroy();
    }
    perIp.set(ip, n + 1);
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left > 0) perIp.set(ip, left);
      else perIp.delete(ip);
    });
    // A socket silent for this long is gone or was never a client: before the handshake nothing
    // else times it out, and after it ssh2's keepalives (every 15 s) keep a live one talking.
    socket.setTimeout(SILENT_SOCKET_MS, () => socket.destroy());
    socket.on('error', () => {});
    ssh.injectSocket(socket);
  });
  return {
    tcp,
    close() {
      tcp.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

function onClient(ctx: SshContext, client: Connection, ip: string): void {
  let keyId: number | undefined;
  let failures = 0;
  const authTimer = setTimeout(() => client.end(), AUTH_TIMEOUT_MS);
  // A connection whose sessions move no data for HUBGATE_SSH_IDLE_TIMEOUT_MS is closed, whatever
  // it waits for. Counted from git's data and new sessions, not from bytes on the socket: ssh2's
  // keepalives (every 15 s, which find dead clients) are answered by idle clients too.
  let lastActivity = Date.now();
  const touch = () => { lastActivity = Date.now(); };
  const idleMs = ctx.cfg.sshIdleTimeoutMs;
  const idleTimer = setInterval(() => {
    if (Date.now() - lastActivity >= idleMs) {
      ctx.log.info({ ip, idleMs }, 'ssh connection closed: idle');
      client.end();
    }
  }, Math.min(Math.max(Math.floor(idleMs / 4), 250), 30_000));
  client.on('error', (err) => ctx.log.debug({ ip, err: err.message }, 'ssh connection error'));
  client.on('close', () => {
    clearTimeout(authTimer);
    clearInterval(idleTimer);
  });
  client.on('authentication', (auth) => {
    void authenticate(ctx, auth).then(
      (id) => {
        if (id !== undefined && auth.method === 'publickey' && auth.signature) keyId = id;
        if (id !== undefined) return auth.accept();
        if (++failures >= MAX_AUTH_FAILURES) return client.end();
        auth.reject(['publickey']);
      },
      (err) => {
        ctx.log.error({ err, ip }, 'ssh authentication failed');
        auth.reject(['publickey']);
      },
    );
  });
  client.on('ready', () => {
    clearTimeout(authTimer);
    if (keyId === undefined) return client.end();
    const id = keyId;
    client.on('session', (accept) => {
      touch();
      const session = accept();
      let gitProtocol: string | undefined;
      // Only GIT_PROTOCOL, and only a safe value; every other variable is refused.
      session.on('env', (acceptEnv, rejectEnv, info) => {
        const safe = info.key === 'GIT_PROTOCOL' ? safeGitProtocol(info.val) : undefined;
        if (safe) gitProtocol = safe;
        (safe ? acceptEnv : rejectEnv)?.();
      });
      session.once('exec', (acceptExec, _reject, info) => {
        const channel = acceptExec();
        // A client gone mid-write is not the server's error: the command sees the channel close.
        channel.on('error', () => {});
        channel.stderr.on('error', () => {});
        void runExec(ctx, channel, id, info.command, gitProtocol, touch).then(
          (status) => ctx.log.info({ ip, keyId: id, command: info.command.slice(0, 200), status }, 'ssh command'),
          (err) => {
            ctx.log.error({ err, ip, command: info.command.slice(0, 200) }, 'ssh command failed');
            try {
              channel.stderr.write('the server could not run this command: try again shortly\n');
              channel.exit(1);
              channel.end();
            } catch {
              /* the channel is gone */
            }
          },
        );
      });
    });
  });
}

/** The key's id when this attempt is a public key hubgate knows, with a valid signature if one is given; undefined otherwise. */
async function authenticate(ctx: SshContext, auth: AuthContext): Promise<number | undefined> {
  if (auth.method !== 'publickey') return undefined;
  const found = await ctx.keys.userOfKey(auth.key.data);
  if (!found) return undefined;
  // Without a signature the client only asks whether the key would do; with one, it must verify.
  if (!auth.signature) return found.keyId;
  const key = utils.parseKey(auth.key.data);
  if (key instanceof Error || Array.isArray(key)) return undefined;
  return key.verify(auth.blob!, auth.signature, auth.hashAlgo) === true ? found.keyId : undefined;
}
