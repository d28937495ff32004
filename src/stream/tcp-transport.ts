// XMPP over TCP (RFC 6120): a byte stream, upgradable to TLS in place (STARTTLS, §5).
// References: RFC 6120 §4 (streams), §5 (STARTTLS); RFC 6125 (certificate names).
import type { Socket } from 'node:net';
import { TLSSocket, checkServerIdentity, connect as tlsConnect, type SecureContext } from 'node:tls';
import { socketDuplex } from '../net/socket-duplex.js';
import { NS } from '../xml/ns.js';
import { STREAM_END, type StreamHeader, type Transport, type TransportSink } from './transport.js';

export type TlsUpgrade = { isServer: true; secureContext: SecureContext; requestCert?: boolean } | { isServer: false; servername?: string };

export class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;
  readonly canStartTls = true;
  secure = false;
  private sink: TransportSink | undefined;

  constructor(private socket: Socket) {}

  // The socket's listeners are shared by every transport and find theirs through `sinks`: four
  // closures per connection cost each idle session ~0.2 KB.
  private static readonly sinks = new WeakMap<Socket, TransportSink>();
  private static onData(this: Socket, chunk: Buffer): void {
    TcpTransport.sinks.get(this)?.bytes(chunk);
  }
  private static onDrain(this: Socket): void {
    TcpTransport.sinks.get(this)?.drain();
  }
  private static onError(this: Socket, err: Error): void {
    TcpTransport.sinks.get(this)?.error(err);
  }
  private static onClose(this: Socket): void {
    TcpTransport.sinks.get(this)?.closed();
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
    this.listen(this.socket);
  }

  private listen(sock: Socket): void {
    TcpTransport.sinks.set(sock, this.sink as TransportSink);
    sock.on('data', TcpTransport.onData);
    sock.on('drain', TcpTransport.onDrain);
    sock.on('error', TcpTransport.onError);
    sock.on('close', TcpTransport.onClose);
  }

  /** The raw socket under TLS: only its errors still reach the stream. */
  private unlisten(sock: Socket): void {
    sock.off('data', TcpTransport.onData);
    sock.off('drain', TcpTransport.onDrain);
    sock.off('close', TcpTransport.onClose);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** The stream's parser restarts itself; the bytes go on. */
  restart(): void {}

  header(h: StreamHeader): string {
    const from = h.from ? ` from='${h.from}'` : '';
    return `<?xml version='1.0'?><stream:stream xmlns='${h.xmlns}' xmlns:stream='${NS.STREAMS}' id='${h.id}'${from} version='1.0' xml:lang='en'>`;
  }

  write(pieces: readonly string[]): boolean {
    if (this.socket.destroyed) return true;
    let data = '';
    for (const p of pieces) data += p === STREAM_END ? '</stream:stream>' : p;
    return this.socket.write(data);
  }

  get pending(): number {
    return this.socket.writableLength;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Replace the socket with a TLS socket over it (server or client side); `onSecure` after the handshake. */
  startTls(opts: TlsUpgrade, onSecure: () => void): void {
    const raw = this.socket;
    this.unlisten(raw);
    const tls = opts.isServer
      ? new TLSSocket(socketDuplex(raw), { isServer: true, secureContext: opts.secureContext, requestCert: opts.requestCert ?? false, rejectUnauthorized: false })
      // .i2p peers have self-signed certificates no CA can sign (docs/architecture.md); dialback
      // authenticates them instead. tls.connect (not the constructor) starts the handshake.
      : tlsConnect({ socket: socketDuplex(raw), rejectUnauthorized: false, ...(opts.servername ? { servername: opts.servername } : {}) });
    this.socket = tls;
    this.listen(tls);
    tls.once('secure', () => {
      this.secure = true;
      onSecure();
    });
  }

  /** Why the peer's certificate does not prove `domain` (CA chain and name), or undefined when it does. */
  certificateProblem(domain: string): string | undefined {
    const tls = this.socket;
    if (!(tls instanceof TLSSocket)) return 'the stream is not encrypted';
    const cert = tls.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return 'the peer presented no certificate';
    if (!tls.authorized) return `its certificate is not trusted (${String(tls.authorizationError)})`;
    const mismatch = checkServerIdentity(domain, cert);
    return mismatch ? `its certificate is not valid for ${domain}` : undefined;
  }
}
