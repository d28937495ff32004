// TCP listeners on the configured interfaces and ports; port 0 picks a free port (tests).
import { createServer, type Server as NetServer, type Socket, type AddressInfo } from 'node:net';
import { ServerError } from '../core/errors.js';

export interface Listening { readonly address: string; readonly port: number; close(): Promise<void> }

/** Listen on every interface × port; fails with one clear line naming what could not bind. */
export async function listenAll(
  what: string,
  interfaces: readonly string[],
  ports: readonly number[],
  onConnection: (socket: Socket) => void,
): Promise<Listening[]> {
  const out: Listening[] = [];
  try {
    for (const address of interfaces) {
      for (const port of ports) out.push(await listenOne(what, address, port, onConnection));
    }
  } catch (err) {
    await Promise.all(out.map((l) => l.close()));
    throw err;
  }
  return out;
}

function listenOne(what: string, address: string, port: number, onConnection: (socket: Socket) => void): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const srv: NetServer = createServer({ noDelay: true }, onConnection);
    srv.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ServerError('listen', `${what}: cannot listen on ${address}:${port} (${err.code ?? err.message})`));
    });
    srv.listen({ host: address, port, backlog: 1024 }, () => {
      const info = srv.address() as AddressInfo;
      resolve({
        address: info.address,
        port: info.port,
        close: () => new Promise<void>((res) => srv.close(() => res())),
      });
    });
  });
}
