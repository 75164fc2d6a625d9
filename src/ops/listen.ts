import type { Server } from 'node:net';

// Listening, with the reasons it fails told in terms of the settings that chose the address.

export class ListenError extends Error {}

/** Where the address came from: the settings (and flags) a user changes to fix it. */
export interface AddressSettings {
  host: string;
  port: string;
  /** How to change them, e.g. "HUBGATE_PORT or --port". */
  hostFix: string;
  portFix: string;
}

/** Listens on host:port; a busy port, a foreign address or a name that does not resolve is a ListenError naming the setting. */
export async function listen(server: Server, host: string, port: number, settings: AddressSettings): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const message = listenProblem((err as NodeJS.ErrnoException).code, host, port, settings);
    throw message ? new ListenError(message) : err;
  }
}

function listenProblem(code: string | undefined, host: string, port: number, s: AddressSettings): string | undefined {
  switch (code) {
    case 'EADDRINUSE':
      return `${s.port} ${port} is in use by another process: stop it or choose another port with ${s.portFix}`;
    case 'EACCES':
      return `${s.port} ${port} needs privileges this process lacks: choose a port above 1023 with ${s.portFix} (or put a reverse proxy in front)`;
    case 'EADDRNOTAVAIL':
      return `${s.host} ${host} is not an address of this machine: use one of its addresses (127.0.0.1, or 0.0.0.0 for all) with ${s.hostFix}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return `${s.host} ${host} does not resolve to an address: use an IP address or a name of this machine with ${s.hostFix}`;
    default:
      return undefined;
  }
}
