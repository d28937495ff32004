// Pieces for scripted s2s peers in e2e tests: a listener standing in for a remote server (its
// certificate made once, every socket tracked and closed with it), and the opening of an
// inbound s2s stream (header, STARTTLS, header again) up to the features after TLS.
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { TEST_CERT_DIR } from './server.js';
import { Wire, NS_STREAMS, NS_TLS } from './wire.js';
import { certPaths, loadOrCreateCert } from '../../src/net/certs.js';

export const NS_DB = 'jabber:server:dialback';

/** A TCP server on 127.0.0.1 port 0 for a fake remote domain; `onSocket` scripts each connection. */
export class PeerListener {
  port = 0;
  /** Connections accepted so far. */
  connections = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(readonly domain: string, readonly tls: { key: string; cert: string }, onSocket: (raw: Socket) => void) {
    this.server = net.createServer((s) => {
      this.connections++;
      this.track(s);
      onSocket(s);
    });
  }

  /** Listen for `domain` (its self-signed certificate in the shared test directory). */
  static async start(domain: string, onSocket: (raw: Socket, peer: PeerListener) => void): Promise<PeerListener> {
    const cert = await loadOrCreateCert(domain, certPaths(domain, undefined, TEST_CERT_DIR), { explicit: false });
    const p: PeerListener = new PeerListener(domain, cert, (s) => onSocket(s, p));
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
    p.port = (p.server.address() as AddressInfo).port;
    return p;
  }

  /** Close this socket (a TLS layer over an accepted one, say) together with the listener. */
  track(s: Socket): void {
    this.sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => this.sockets.delete(s));
  }

  /** Stop listening and destroy every socket. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** After our `<proceed/>`: TLS (server side, this domain's certificate) over `raw`, `onData` moved onto it. */
  upgrade(raw: Socket, onData: (d: Buffer) => void): TLSSocket {
    raw.removeListener('data', onData);
    const t = new TLSSocket(raw, { isServer: true, key: this.tls.key, cert: this.tls.cert });
    this.track(t);
    t.on('data', onData);
    return t;
  }
}

/** A fake remote server on a PeerListener; a subclass scripts what it does with each connection. */
export abstract class ScriptedPeer {
  protected listener!: PeerListener;

  /** Listen as `domain`; the subclass's static `start` calls it once. */
  protected async listen(domain: string): Promise<this> {
    this.listener = await PeerListener.start(domain, (s) => this.accept(s));
    return this;
  }

  get domain(): string {
    return this.listener.domain;
  }

  get port(): number {
    return this.listener.port;
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.listener.connections;
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  protected abstract accept(raw: Socket): void;
}

/** Open an inbound s2s stream on `w` claiming `from`, through STARTTLS, up to the features after TLS. */
export async function openS2S(w: Wire, from: string, to: string): Promise<void> {
  const head = `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS_STREAMS}' xmlns:db='${NS_DB}' from='${from}' to='${to}' version='1.0'>`;
  await w.write(head);
  await w.next((e) => e.name === 'stream:features', 'features');
  await w.write(`<starttls xmlns='${NS_TLS}'/>`);
  await w.next((e) => e.name === 'proceed', 'proceed');
  await w.upgradeTls(to);
  await w.write(head);
  await w.next((e) => e.name === 'stream:features', 'features after TLS');
}
