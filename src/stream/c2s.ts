// The client-to-server stream: an explicit state machine over one socket.
// References: RFC 6120 §4 (streams), §5 (STARTTLS), §6 (SASL), §7 (bind); RFC 3921 §3 (session).
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StreamParser } from '../xml/parser.js';
import { SocketDuplex } from '../net/socket-duplex.js';
import { StreamError } from '../core/errors.js';
import type { C2SSession, C2SState } from '../core/session.js';
import type { Jid } from '../jid/jid.js';
import type { Host } from '../core/host.js';
import type { Logger } from '../core/log.js';
import { negotiateSasl, offeredMechanisms, type SaslState } from './sasl.js';
import { bindResource } from './bind.js';

export interface C2SOptions {
  hosts: ReadonlyMap<string, Host>;
  log: Logger;
  /** TLS context for a host, or undefined when the host has no certificate. */
  tls(host: string): SecureContext | undefined;
  requireEncryption(host: string): boolean;
  stanzaSizeLimit: number;
  /** Seconds a connection may take to bind a resource. */
  authTimeout: number;
}

/** Input stanzas queued before the socket is paused (backpressure on flooding clients). */
const HIGH_WATER = 256;
/** Seconds to wait for the peer's `</stream:stream>` after ours before dropping the socket. */
const CLOSE_GRACE_MS = 5000;

export class C2SConnection implements C2SSession {
  readonly kind = 'c2s' as const;
  readonly id = randomBytes(9).toString('base64url');
  host = '';
  state: C2SState = 'expect-stream';
  secure = false;
  username = '';
  jid: Jid | undefined;
  presence: Element | undefined;
  priority = 0;
  rosterInterested = false;
  readonly data = new Map<string, unknown>();
  hostObj: Host | undefined;
  sasl: SaslState | undefined;
  private childLog: Logger | undefined;

  private socket: Socket;
  private readonly parser: StreamParser;
  private headerSent = false;
  private readonly inbox: Element[] = [];
  private draining = false;
  private pausedForInput = false;
  private pausedForOutput = false;
  private out: string[] = [];
  private flushScheduled = false;
  private authTimer: NodeJS.Timeout | undefined;
  private onClose: ((s: C2SConnection) => void) | undefined;

  constructor(socket: Socket, readonly opts: C2SOptions, onClose?: (s: C2SConnection) => void) {
    this.socket = socket;
    this.onClose = onClose;
    this.parser = new StreamParser(
      {
        streamStart: (name, attrs) => this.streamStart(name, attrs),
        stanza: (el) => this.enqueue(el),
        streamEnd: () => this.enqueueEnd(),
        error: (condition, text) => this.close(new StreamError(condition, text)),
      },
      { maxStanzaBytes: opts.stanzaSizeLimit },
    );
    this.attach(socket);
    this.authTimer = setTimeout(() => {
      if (this.state !== 'bound') this.close(new StreamError('connection-timeout', 'authentication took too long'));
    }, opts.authTimeout * 1000);
    this.authTimer.unref();
  }

  /** This connection's logger, made on first use: most sessions never log a line. */
  get log(): Logger {
    return (this.childLog ??= this.opts.log.child({ c2s: this.id }));
  }

  private readonly onData = (chunk: Buffer): void => this.parser.write(chunk);
  private readonly onDrain = (): void => {
    this.pausedForOutput = false;
    this.maybeResume();
  };
  private readonly onSocketError = (err: Error): void => {
    this.log.debug({ err: err.message }, 'socket error');
  };
  private readonly onSocketClose = (): void => this.closed('closed');

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
    if (this.state === 'closed') return;
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
      // The client is not reading: stop reading its input until it catches up.
      this.pausedForOutput = true;
      this.socket.pause();
    }
  };

  /** Write now, bypassing the per-tick batching (needed right before a TLS upgrade or close). */
  private writeNow(data: string): void {
    if (this.out.length) {
      data = this.out.join('') + data;
      this.out = [];
    }
    if (!this.socket.destroyed) this.socket.write(data);
  }

  // ---- stream header ----

  private streamStart(name: string, attrs: Record<string, string>): void {
    const restart = this.host !== '';
    const to = attrs.to?.toLowerCase();
    const host = to !== undefined ? this.opts.hosts.get(to) : undefined;
    if (!restart && host) {
      this.host = host.name;
      this.hostObj = host;
    }
    this.sendHeader();
    if (name !== 'stream:stream' || attrs['xmlns:stream'] !== NS.STREAMS) {
      return this.close(new StreamError('invalid-namespace', 'the root must be <stream:stream> in the streams namespace'));
    }
    if (attrs.xmlns !== NS.CLIENT) return this.close(new StreamError('invalid-namespace', `expected the ${NS.CLIENT} namespace`));
    if (!host || (restart && host.name !== this.host)) {
      return this.close(new StreamError('host-unknown', to === undefined ? 'the stream header needs a to address' : `this server does not serve ${to}`));
    }
    const version = attrs.version;
    if (version === undefined || !/^1\.\d+$/.test(version)) {
      return this.close(new StreamError('unsupported-version', 'Clove speaks XMPP 1.0 streams only'));
    }
    if (this.state === 'expect-stream') this.state = 'negotiating';
    this.sendFeatures();
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    const from = this.host ? ` from='${this.host}'` : '';
    this.send(`<?xml version='1.0'?><stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAMS}' id='${randomBytes(12).toString('base64url')}'${from} version='1.0' xml:lang='en'>`);
  }

  private sendFeatures(): void {
    const features = x('stream:features');
    if (this.state === 'negotiating') {
      const tlsOk = !this.secure && this.opts.tls(this.host) !== undefined;
      const required = this.opts.requireEncryption(this.host);
      if (tlsOk) {
        const st = features.c('starttls', { xmlns: NS.TLS });
        if (required) st.c('required');
      }
      if (this.secure || !required) {
        const mechs = offeredMechanisms(this.secure);
        if (mechs.length) features.append(x('mechanisms', { xmlns: NS.SASL }, ...mechs.map((m) => x('mechanism', null, m))));
      }
    } else if (this.state === 'authenticated') {
      features.append(x('bind', { xmlns: NS.BIND }), x('session', { xmlns: NS.SESSION }, x('optional')));
    }
    if (this.hostObj) void this.hostObj.events.fire('stream-features', { session: this, features });
    this.send(features);
  }

  // ---- input, one stanza at a time ----

  private enqueue(el: Element): void {
    this.inbox.push(el);
    if (this.inbox.length >= HIGH_WATER && !this.pausedForInput) {
      this.pausedForInput = true;
      this.socket.pause();
    }
    if (!this.draining) void this.drain();
  }

  private enqueueEnd(): void {
    this.inbox.push(END);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.inbox.length && this.state !== 'closed') {
        const el = this.inbox.shift() as Element;
        if (el === END) {
          this.close();
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
    if (!this.pausedForInput && !this.pausedForOutput && this.state !== 'closed') this.socket.resume();
  }

  private handle(el: Element): void | Promise<void> {
    const ns = el.attrs.xmlns;
    switch (this.state) {
      case 'negotiating':
        if (el.name === 'starttls' && ns === NS.TLS) return this.startTls();
        if (ns === NS.SASL) return negotiateSasl(this, el);
        return this.unauthenticated(el);
      case 'authenticated':
        if (el.name === 'iq' && (ns === undefined || ns === NS.CLIENT) && el.getChild('bind', NS.BIND)) return bindResource(this, el);
        return this.unauthenticated(el);
      case 'bound':
        if (el.name === 'message' || el.name === 'presence' || el.name === 'iq') {
          if (ns !== undefined && ns !== NS.CLIENT) throw new StreamError('invalid-namespace', `stanzas must be in ${NS.CLIENT}`);
          return (this.hostObj as Host).router.fromClient(this, el);
        }
        if (ns === NS.SM) return this.streamManagement(el);
        throw new StreamError('unsupported-stanza-type', `<${el.name}/> is not a stanza Clove understands here`);
      default:
        return undefined;
    }
  }

  /** Stanzas before authentication: a module may take them (XEP-0077), otherwise refused. */
  private unauthenticated(el: Element): void | Promise<void> {
    const host = this.hostObj;
    if (el.name === 'iq' && host?.events.has('unauthenticated-stanza')) {
      const r = host.events.fire('unauthenticated-stanza', { session: this, stanza: el });
      const check = (v: unknown): void => {
        if (v === undefined) throw new StreamError('not-authorized', 'authenticate first');
      };
      if (r instanceof Promise) return r.then(check);
      return check(r);
    }
    if (['message', 'presence', 'iq'].includes(el.name)) throw new StreamError('not-authorized', 'authenticate first');
    throw new StreamError('unsupported-stanza-type', `<${el.name}/> is not expected before authentication`);
  }

  /** XEP-0198 is not implemented yet: refuse `<enable/>` cleanly so clients carry on without it. */
  private streamManagement(el: Element): void {
    if (el.name === 'enable') {
      this.send(x('failed', { xmlns: NS.SM }, x('feature-not-implemented', { xmlns: NS.STANZA_ERRORS })));
    }
    // <r/> and <a/> without an enabled session are ignored (XEP-0198 §4 makes them meaningless).
  }

  // ---- STARTTLS ----

  private startTls(): void {
    const ctx = this.secure ? undefined : this.opts.tls(this.host);
    if (!ctx) {
      this.writeNow(`<failure xmlns='${NS.TLS}'/>`);
      return this.close();
    }
    this.writeNow(`<proceed xmlns='${NS.TLS}'/>`);
    this.state = 'tls-handshake';
    const raw = this.socket;
    this.detach(raw);
    const tls = new TLSSocket(new SocketDuplex(raw), { isServer: true, secureContext: ctx });
    this.socket = tls;
    this.attach(tls);
    tls.once('secure', () => {
      this.secure = true;
      this.state = 'negotiating';
      this.headerSent = false;
    });
    this.parser.reset();
  }

  // ---- called by SASL and bind ----

  /** SASL succeeded: the client restarts the stream. */
  authenticated(username: string): void {
    this.username = username;
    this.state = 'authenticated';
    this.headerSent = false;
    this.parser.reset();
    void this.hostObj?.events.fire('session-authenticated', { session: this });
  }

  /** Resource bound: the session is routable. */
  bound(jid: Jid): void {
    this.jid = jid;
    this.state = 'bound';
    if (this.authTimer) clearTimeout(this.authTimer);
  }

  // ---- closing ----

  /** End the stream: stream error (if any), `</stream:stream>`, then the socket. */
  close(error?: StreamError): void {
    if (this.state === 'closed') return;
    if (error) {
      if (!this.headerSent) this.sendHeader();
      this.log.debug({ condition: error.condition }, 'stream error');
    }
    const tail = (error ? error.toElement().toString() : '') + '</stream:stream>';
    const wasHeader = this.headerSent;
    this.writeNow(wasHeader ? tail : '');
    this.closed(error?.condition ?? 'closed');
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private closed(reason: string): void {
    if (this.state === 'closed') {
      return;
    }
    const wasBound = this.state === 'bound';
    this.state = 'closed';
    this.inbox.length = 0;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.onClose?.(this);
    this.onClose = undefined;
    if (wasBound && this.hostObj) {
      const host = this.hostObj;
      if (host.sessions.remove(this)) void host.events.fire('session-closed', { session: this, reason });
    }
  }
}

/** Marker for the end of the client's stream in the input queue. */
const END = new Element('</stream:stream>');
