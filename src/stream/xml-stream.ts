// What every XMPP stream shares, c2s or s2s: one socket (upgradable to TLS), a strict parser,
// stanzas handled one at a time in order, output batched per tick, backpressure both ways,
// and closing with an optional stream error. Subclasses add their state machine.
// References: RFC 6120 §4 (streams), §5 (STARTTLS).
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, checkServerIdentity, connect as tlsConnect, type SecureContext } from 'node:tls';
import { Element } from '../xml/element.js';
import { StreamParser } from '../xml/parser.js';
import { SocketDuplex } from '../net/socket-duplex.js';
import { StreamError } from '../core/errors.js';
import type { Logger } from '../core/log.js';

/** Input stanzas queued before the socket is paused (backpressure on flooding peers). */
const HIGH_WATER = 256;
/** Milliseconds to wait for the peer's `</stream:stream>` after ours before dropping the socket. */
const CLOSE_GRACE_MS = 5000;

/** Marker for the end of the peer's stream in the input queue. */
const END = new Element('</stream:stream>');

export abstract class XmlStream {
  readonly id = randomBytes(9).toString('base64url');
  secure = false;
  protected socket: Socket;
  protected readonly parser: StreamParser;
  /** Our stream header has been written on the current (restarted) stream. */
  protected headerSent = false;
  private isClosed = false;
  /**
   * How the stream ended: 'peer' after the peer's `</stream:stream>`, 'lost' when the socket went
   * away under us without one (XEP-0198 hibernates resumable c2s sessions only then), 'local'
   * when we closed it. Undefined while open.
   */
  protected endedBy: 'peer' | 'lost' | 'local' | undefined;
  private readonly inbox: Element[] = [];
  private draining = false;
  private pausedForInput = false;
  private pausedForOutput = false;
  private out: string[] = [];
  private flushScheduled = false;
  private childLog: Logger | undefined;

  constructor(socket: Socket, private readonly baseLog: Logger, stanzaSizeLimit: number, private readonly logKey: string) {
    this.socket = socket;
    this.parser = new StreamParser(
      {
        streamStart: (name, attrs) => this.onStreamStart(name, attrs),
        stanza: (el) => this.enqueue(el),
        streamEnd: () => this.enqueue(END),
        error: (condition, text) => this.close(new StreamError(condition, text)),
      },
      { maxStanzaBytes: stanzaSizeLimit },
    );
    this.attach(socket);
  }

  /** The peer's stream header (after every restart). */
  protected abstract onStreamStart(name: string, attrs: Record<string, string>): void;
  /** One element from the peer, in order; may be async (the next waits for it). */
  protected abstract handle(el: Element): void | Promise<void>;
  /** Our stream header, written before any stream error if it was not sent yet. */
  protected abstract header(): string;
  /** Called once when the stream is over, whatever ended it. */
  protected abstract onClosed(reason: string): void;

  /** The peer sent `<stream:error/>`: log it and close our side. */
  protected peerStreamError(condition: string, text: string | undefined): void {
    this.log.info({ condition, text }, 'the peer closed its stream with an error');
    this.close();
  }

  /** This stream's logger, made on first use: most streams never log a line. */
  get log(): Logger {
    return (this.childLog ??= this.baseLog.child({ [this.logKey]: this.id }));
  }

  get closed(): boolean {
    return this.isClosed;
  }

  private readonly onData = (chunk: Buffer): void => this.parser.write(chunk);
  private readonly onDrain = (): void => {
    this.pausedForOutput = false;
    this.maybeResume();
  };
  private readonly onSocketError = (err: Error): void => {
    this.log.debug({ err: err.message }, 'socket error');
  };
  private readonly onSocketClose = (): void => {
    this.endedBy ??= 'lost';
    this.finish('closed');
  };

  private attach(sock: Socket): void {
    sock.on('data', this.onData);
    sock.on('drain', this.onDrain);
    sock.on('error', this.onSocketError);
    sock.on('close', this.onSocketClose);
  }

  private detach(sock: Socket): void {
    sock.off('data', this.onData);
    sock.off('drain', this.onDrain);
    sock.off('close', this.onSocketClose);
  }

  // ---- output ----

  /** Queue a stanza; output is written once per tick so bursts become one TLS record. */
  send(stanza: Element | string): void {
    if (this.isClosed) return;
    this.out.push(typeof stanza === 'string' ? stanza : stanza.toString());
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.socket.destroyed) return;
    const data = this.out.length === 1 ? (this.out[0] as string) : this.out.join('');
    this.out = [];
    if (!this.socket.write(data)) {
      // The peer is not reading: stop reading its input until it catches up.
      this.pausedForOutput = true;
      this.socket.pause();
    }
  };

  /** Write now, bypassing the per-tick batching (needed right before a TLS upgrade or close). */
  protected writeNow(data: string): void {
    if (this.out.length) {
      data = this.out.join('') + data;
      this.out = [];
    }
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Write our header once per stream (and restart). */
  protected sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.send(this.header());
  }

  // ---- input, one element at a time ----

  private enqueue(el: Element): void {
    this.inbox.push(el);
    if (this.inbox.length >= HIGH_WATER && !this.pausedForInput) {
      this.pausedForInput = true;
      this.socket.pause();
    }
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.inbox.length && !this.isClosed) {
        const el = this.inbox.shift() as Element;
        if (el === END) {
          this.endedBy ??= 'peer';
          this.close();
          break;
        }
        // A stream error ends the stream and is never answered with one (RFC 6120 §4.9.1.1).
        if (el.local === 'error' && el.name.endsWith(':error')) {
          this.peerStreamError(el.elements()[0]?.local ?? 'undefined-condition', el.getChildText('text'));
          break;
        }
        try {
          const r = this.handle(el);
          if (r) await r;
        } catch (err) {
          if (err instanceof StreamError) this.close(err);
          else {
            this.log.error({ err }, 'internal error while handling a stanza');
            this.close(new StreamError('internal-server-error'));
          }
        }
      }
    } finally {
      this.draining = false;
      if (this.pausedForInput && this.inbox.length < HIGH_WATER / 2) {
        this.pausedForInput = false;
        this.maybeResume();
      }
    }
  }

  private maybeResume(): void {
    if (!this.pausedForInput && !this.pausedForOutput && !this.isClosed) this.socket.resume();
  }

  // ---- TLS ----

  /** Replace the socket with a TLS socket over it (server or client side); the parser restarts. */
  protected upgradeTls(opts: { isServer: true; secureContext: SecureContext; requestCert?: boolean } | { isServer: false; servername?: string }, onSecure: () => void): void {
    const raw = this.socket;
    this.detach(raw);
    const tls = opts.isServer
      ? new TLSSocket(new SocketDuplex(raw), { isServer: true, secureContext: opts.secureContext, requestCert: opts.requestCert ?? false, rejectUnauthorized: false })
      // .i2p peers have self-signed certificates no CA can sign (design.md §2); dialback
      // authenticates them instead. tls.connect (not the constructor) starts the handshake.
      : tlsConnect({ socket: new SocketDuplex(raw), rejectUnauthorized: false, ...(opts.servername ? { servername: opts.servername } : {}) });
    this.socket = tls;
    this.attach(tls);
    tls.once('secure', () => {
      this.secure = true;
      this.headerSent = false;
      onSecure();
    });
    this.parser.reset();
  }

  /**
   * Why the peer's certificate does not prove `domain` (CA chain and name, RFC 6125), or
   * undefined when it does. Used for s2s_secure_auth; never for .i2p peers.
   */
  protected certificateProblem(domain: string): string | undefined {
    const tls = this.socket as TLSSocket;
    if (!(tls instanceof TLSSocket)) return 'the stream is not encrypted';
    const cert = tls.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return 'the peer presented no certificate';
    if (!tls.authorized) return `its certificate is not trusted (${String(tls.authorizationError)})`;
    const mismatch = checkServerIdentity(domain, cert);
    return mismatch ? `its certificate is not valid for ${domain}` : undefined;
  }

  /** Expect a new stream header from the peer (after SASL or TLS). */
  protected restart(): void {
    this.headerSent = false;
    this.parser.reset();
  }

  // ---- closing ----

  /** End the stream: stream error (if any), `</stream:stream>`, then the socket. */
  close(error?: StreamError): void {
    if (this.isClosed) return;
    this.endedBy ??= 'local';
    if (error) {
      if (!this.headerSent) this.sendHeader();
      this.log.debug({ condition: error.condition, text: error.text }, 'stream error');
    }
    const tail = (error ? error.toElement().toString() : '') + '</stream:stream>';
    this.writeNow(this.headerSent ? tail : '');
    this.finish(error?.condition ?? 'closed');
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private finish(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.inbox.length = 0;
    this.onClosed(reason);
  }
}
