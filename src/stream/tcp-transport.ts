// XMPP over TCP (RFC 6120): a byte stream, upgradable to TLS in place (STARTTLS, §5).
// References: RFC 6120 §4 (streams), §5 (STARTTLS); RFC 6125 (certificate names).
import type { Socket } from 'node:net';
import { TLSSocket, checkServerIdentity, connect as tlsConnect, type SecureContext } from 'node:tls';
import { compactListenerTable } from '../net/listener-table.js';
import { socketView } from '../net/socket-view.js';
import { NS } from '../xml/ns.js';
import { STREAM_END, type StreamHeader, type Transport, type TransportSink } from './transport.js';

export type TlsUpgrade = { isServer: true; secureContext: SecureContext; requestCert?: boolean } | { isServer: false; servername?: string };
type ServerUpgrade = Extract<TlsUpgrade, { isServer: true }>;

export class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;
  readonly canStartTls = true;
  secure = false;
  private sink: TransportSink | undefined;
  /** A server-side STARTTLS waiting for the client's first TLS bytes (see startTls()). */
  private hello: { opts: ServerUpgrade; onSecure: () => void } | undefined;
  /** Called once the TLS handshake is done (see secured()). */
  private handshaken: (() => void) | undefined;

  constructor(private socket: Socket) {}

  // The socket's listeners are shared by every transport and find theirs through `owners`: four
  // closures per connection cost each idle session ~0.2 KB.
  private static readonly owners = new WeakMap<Socket, TcpTransport>();
  private static onData(this: Socket, chunk: Buffer): void {
    TcpTransport.owners.get(this)?.sink?.bytes(chunk);
  }
  private static onDrain(this: Socket): void {
    TcpTransport.owners.get(this)?.sink?.drain();
  }
  private static onError(this: Socket, err: Error): void {
    TcpTransport.owners.get(this)?.sink?.error(err);
  }
  /**
   * A listener kept for the socket's life, not a once-listener: removing one deletes a key of the
   * TLS socket's listener table, which V8 then turns into a dictionary (~0.45 KB per session).
   */
  private static onSecure(this: Socket): void {
    const t = TcpTransport.owners.get(this);
    const done = t?.handshaken;
    if (!t || !done) return;
    t.handshaken = undefined;
    t.secure = true;
    done();
  }
  private static onClose(this: Socket): void {
    TcpTransport.owners.get(this)?.sink?.closed();
  }
  /**
   * The client's first bytes after `<proceed/>`: put back into the paused socket, and the socket
   * wrapped at once (node:tls reads them out first, on the next tick, before any further read).
   */
  private static onHello(this: Socket, chunk: Buffer): void {
    const t = TcpTransport.owners.get(this);
    const hello = t?.hello;
    if (!t || !hello || t.socket !== this) return;
    t.hello = undefined;
    this.pause();
    this.unshift(chunk);
    t.unlisten(this);
    t.secured(new TLSSocket(this, { isServer: true, secureContext: hello.opts.secureContext, requestCert: hello.opts.requestCert ?? false, rejectUnauthorized: false }), hello.onSecure);
    // node:tls waits for the socket's 'connect' (a once-listener, ~0.2 KB kept per connection);
    // an accepted socket is connected already and never emits it.
    this.removeAllListeners('connect');
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
    this.listen(this.socket);
  }

  private listen(sock: Socket): void {
    TcpTransport.owners.set(sock, this);
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
    // Nothing may cross in the clear between <proceed/> and TLS (the client reads TLS only).
    if (this.socket.destroyed || this.hello) return true;
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

  /**
   * Replace the socket with a TLS socket over it (server or client side); `onSecure` after the handshake.
   *
   * Server side, TLS runs on the socket's own handle, with no JavaScript stream in between (the
   * fewest objects per connection, ~1.5 KB of heap less than a stream view), but only once the
   * client's first TLS bytes are in: put back into the socket, node:tls hands them to OpenSSL
   * first, and the connection's TLS input buffer is made their size (~1 KiB). Wrapped before any
   * byte has come, the handle's first read would make it 64 KiB, kept for the connection's life.
   * The client side has no such bytes to wait for (it speaks first), so it runs over a view of
   * the socket (src/net/socket-view.ts).
   */
  startTls(opts: TlsUpgrade, onSecure: () => void): void {
    const raw = this.socket;
    if (opts.isServer) {
      this.hello = { opts, onSecure };
      raw.off('data', TcpTransport.onData);
      raw.once('data', TcpTransport.onHello);
      return;
    }
    this.unlisten(raw);
    // .i2p peers have self-signed certificates no CA can sign (docs/architecture.md); dialback
    // authenticates them instead. tls.connect (not the constructor) starts the handshake.
    this.secured(tlsConnect({ socket: socketView(raw), rejectUnauthorized: false, ...(opts.servername ? { servername: opts.servername } : {}) }), onSecure);
  }

  private secured(tls: TLSSocket, onSecure: () => void): void {
    this.socket = tls;
    this.listen(tls);
    this.handshaken = onSecure;
    tls.on('secure', TcpTransport.onSecure);
    compactListenerTable(tls);
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
