// The client-to-server stream: an explicit state machine over one transport. The same machine
// (SASL, bind, XEP-0198, routing) serves TCP, WebSocket and BOSH clients; only the framing
// differs, and that is the transport's (src/stream/transport.ts). STARTTLS exists on TCP only.
// References: RFC 6120 §4 (streams), §5 (STARTTLS), §6 (SASL), §7 (bind); RFC 3921 §3 (session).
import { randomId } from '../random-id.js';
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { XmlStream } from './xml-stream.js';
import type { Transport } from './transport.js';
import { StreamError } from '../core/errors.js';
import type { C2SSession, C2SState } from '../core/session.js';
import { SessionData } from '../core/session-data.js';
import type { Jid } from '../jid/jid.js';
import type { Host } from '../core/host.js';
import type { Logger } from '../core/log.js';
import { negotiateSasl, offeredMechanisms, type SaslState } from './sasl.js';
import { bindResource } from './bind.js';
import type { AuthGuard } from '../sasl/guard.js';
import type { StreamTally } from './tally.js';

export interface C2SOptions {
  hosts: ReadonlyMap<string, Host>;
  log: Logger;
  /** TLS context for a host, or undefined when the host has no certificate. */
  tls(host: string): SecureContext | undefined;
  requireEncryption(host: string): boolean;
  stanzaSizeLimit: number;
  /** Seconds a connection may take to bind a resource. */
  authTimeout: number;
  /** Paces password guesses and delays failures; none in tests that build connections by hand. */
  auth?: AuthGuard;
  /** Counts SASL failures for the operator's metrics (src/ops); stanzas are counted by countInto(). */
  tally?: StreamTally;
  /** Told when a connection authenticates (connection caps count unauthenticated ones). */
  onAuthenticated?(conn: C2SConnection): void;
}

export class C2SConnection extends XmlStream implements C2SSession {
  readonly kind = 'c2s' as const;
  host = '';
  state: C2SState = 'expect-stream';
  username = '';
  jid: Jid | undefined;
  presence: Element | undefined;
  priority = 0;
  rosterInterested = false;
  readonly data: Map<string, unknown> = new SessionData();
  hostObj: Host | undefined;
  sasl: SaslState | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private onClose: ((s: C2SConnection) => void) | undefined;

  /** A TCP socket, or a WebSocket or BOSH transport (src/stream/web/). */
  constructor(io: Socket | Transport, readonly opts: C2SOptions, onClose?: (s: C2SConnection) => void) {
    super(io, opts.log, opts.stanzaSizeLimit, 'c2s');
    this.onClose = onClose;
    this.authTimer = setTimeout(() => {
      if (this.state !== 'bound') this.close(new StreamError('connection-timeout', 'authentication took too long'));
    }, opts.authTimeout * 1000);
    this.authTimer.unref();
  }

  /** Before SASL succeeds a client gets one element handled at a time, none read ahead. */
  protected override get inputTrusted(): boolean {
    return this.state === 'authenticated' || this.state === 'bound';
  }

  /**
   * The client stopped reading: a session that can resume (XEP-0198) loses its socket as if the
   * network had dropped it and hibernates, its unacknowledged stanzas kept for the resumption
   * (bounded by the smacks module); any other gets `resource-constraint`.
   */
  protected override outputOverflow(): void {
    if (this.state === 'bound' && this.hostObj?.events.has('session-resumable') && this.hostObj.events.fire('session-resumable', { session: this }) === true) {
      this.log.info('the client does not read its stream; dropping the connection, the session hibernates');
      return this.dropSocket();
    }
    super.outputOverflow();
  }

  // ---- stream header ----

  protected onStreamStart(name: string, attrs: Record<string, string>): void {
    const restart = this.host !== '';
    const to = attrs.to?.toLowerCase();
    // A Component host has no accounts: clients cannot log in to it (host-unknown, as Prosody).
    const found = to !== undefined ? this.opts.hosts.get(to) : undefined;
    const host = found?.kind === 'Component' ? undefined : found;
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

  /** How the client is connected: 'tcp', 'websocket' or 'bosh'. */
  get transportKind(): Transport['kind'] {
    return this.transport.kind;
  }

  protected header(): string {
    return this.transport.header({ xmlns: NS.CLIENT, id: randomId(12), ...(this.host ? { from: this.host } : {}) });
  }

  private sendFeatures(): void {
    const features = x('stream:features');
    if (this.state === 'negotiating') {
      const tlsOk = this.transport.canStartTls && !this.secure && this.opts.tls(this.host) !== undefined;
      const required = this.opts.requireEncryption(this.host);
      if (tlsOk) {
        const st = features.c('starttls', { xmlns: NS.TLS });
        if (required) st.c('required');
      }
      if (this.secure || !required) {
        const mechs = offeredMechanisms(this.secure, this.hostObj);
        if (mechs.length) features.append(x('mechanisms', { xmlns: NS.SASL }, ...mechs.map((m) => x('mechanism', null, m))));
      }
    } else if (this.state === 'authenticated') {
      features.append(x('bind', { xmlns: NS.BIND }), x('session', { xmlns: NS.SESSION }, x('optional')));
    }
    if (this.hostObj) void this.hostObj.events.fire('stream-features', { session: this, features });
    this.send(features);
  }

  // ---- input ----

  protected handle(el: Element): void | Promise<void> {
    const ns = el.attrs.xmlns;
    switch (this.state) {
      case 'negotiating':
        if (el.name === 'starttls' && ns === NS.TLS) return this.startTls();
        if (ns === NS.SASL) return negotiateSasl(this, el);
        return this.unauthenticated(el);
      case 'authenticated':
        if (el.name === 'iq' && (ns === undefined || ns === NS.CLIENT) && el.getChild('bind', NS.BIND)) return bindResource(this, el);
        if (ns === NS.SM) return this.preBindStreamManagement(el);
        return this.unauthenticated(el);
      case 'bound':
        if (el.name === 'message' || el.name === 'presence' || el.name === 'iq') {
          if (ns !== undefined && ns !== NS.CLIENT) throw new StreamError('invalid-namespace', `stanzas must be in ${NS.CLIENT}`);
          const bus = (this.hostObj as Host).events;
          const r = (this.hostObj as Host).router.fromClient(this, el);
          // XEP-0198 counts handled stanzas; an <r/> is handled only once every stanza before it
          // has settled (pipelined messages included), so counting here, before an async route
          // finishes, still answers it after this one is done.
          if (bus.has('c2s-stanza-handled')) bus.fire('c2s-stanza-handled', { session: this });
          return r;
        }
        // Stream management is the smacks module's when it is loaded (src/modules/smacks.ts).
        if (ns === NS.SM && !this.hostObj?.events.has(`c2s-nonza/${NS.SM}:${el.local}`)) return this.streamManagement(el);
        return this.nonza(el);
      default:
        return undefined;
    }
  }

  /**
   * A bound client's chat or normal message may start while the messages before it wait for
   * their archive to be durable (src/core/turn.ts; docs/architecture.md, "Handling order").
   * Everything else waits for every stanza in flight, as before.
   */
  protected override pipelinable(el: Element): boolean {
    if (this.state !== 'bound' || el.name !== 'message') return false;
    const ns = el.attrs.xmlns;
    const type = el.attrs.type;
    return (ns === undefined || ns === NS.CLIENT) && (type === undefined || type === 'chat' || type === 'normal');
  }

  /** Other nonzas of a bound client go to the module hooking 'c2s-nonza/<xmlns>:<name>' (XEP-0352). */
  private nonza(el: Element): void | Promise<void> {
    const r = (this.hostObj as Host).events.fire(`c2s-nonza/${el.xmlns ?? ''}:${el.local}`, { session: this, element: el });
    const check = (v: unknown): void => {
      if (v === undefined) throw new StreamError('unsupported-stanza-type', `<${el.name}/> is not a stanza Clove understands here`);
    };
    return r instanceof Promise ? r.then(check) : check(r);
  }

  /** Stanzas to a bound client pass 'c2s-outgoing' first: a module may hold one back (XEP-0352). */
  override send(stanza: Element | string): void {
    const bus = this.hostObj?.events;
    if (typeof stanza !== 'string' && this.state === 'bound' && bus?.has('c2s-outgoing') && bus.fire('c2s-outgoing', { session: this, stanza }) !== undefined) return;
    super.send(stanza);
  }

  replay(stanzas: readonly Element[]): void {
    let chars = 0;
    for (const s of stanzas) chars += s.toString().length;
    this.allowOutput(chars);
    for (const s of stanzas) this.send(s);
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

  /** Without the smacks module, XEP-0198 is refused cleanly so clients carry on without it. */
  private streamManagement(el: Element): void {
    if (el.name === 'enable' || el.name === 'resume') {
      this.send(x('failed', { xmlns: NS.SM }, x('feature-not-implemented', { xmlns: NS.STANZA_ERRORS })));
    }
    // <r/> and <a/> without an enabled session are ignored (XEP-0198 §4 makes them meaningless).
  }

  /**
   * XEP-0198 before bind: `<resume/>` goes to the smacks module, which may make this connection
   * take over a hibernating session (through `bindAs`); `<enable/>` must wait for bind (§3).
   */
  private preBindStreamManagement(el: Element): void | Promise<void> {
    const bus = this.hostObj?.events;
    if (el.name === 'resume' && bus?.has('c2s-resume')) {
      const r = bus.fire('c2s-resume', { session: this, element: el, bindAs: (jid) => this.bound(jid) });
      return r instanceof Promise ? r.then(() => undefined) : undefined;
    }
    if (el.name === 'enable') {
      this.send(x('failed', { xmlns: NS.SM }, x('unexpected-request', { xmlns: NS.STANZA_ERRORS })));
      return;
    }
    return this.streamManagement(el);
  }

  // ---- STARTTLS ----

  private startTls(): void {
    const ctx = this.secure || !this.transport.canStartTls ? undefined : this.opts.tls(this.host);
    if (!ctx) {
      this.writeNow(`<failure xmlns='${NS.TLS}'/>`);
      return this.close();
    }
    this.writeNow(`<proceed xmlns='${NS.TLS}'/>`);
    this.state = 'tls-handshake';
    this.upgradeTls({ isServer: true, secureContext: ctx }, () => {
      this.state = 'negotiating';
    });
  }

  // ---- called by SASL and bind ----

  /** SASL succeeded: the client restarts the stream. */
  authenticated(username: string): void {
    this.username = username;
    this.state = 'authenticated';
    this.sasl = undefined; // an authenticated stream never negotiates SASL again
    this.opts.onAuthenticated?.(this);
    this.restart();
    void this.hostObj?.events.fire('session-authenticated', { session: this });
  }

  /** Resource bound: the session is routable. */
  bound(jid: Jid): void {
    this.jid = jid;
    this.state = 'bound';
    this.stopAuthTimer();
  }

  /** The Timeout is dropped too: a bound session would keep it (~150 bytes) for its whole life. */
  private stopAuthTimer(): void {
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = undefined;
  }

  // ---- closing ----

  /** Also ends a hibernating session (XEP-0198: socket gone, still bound): at once, as if it had just closed. */
  override close(error?: StreamError): void {
    if (!this.closed || this.state !== 'bound') return super.close(error);
    this.state = 'closed';
    const host = this.hostObj;
    if (host?.sessions.remove(this)) void host.events.fire('session-closed', { session: this, reason: error?.condition ?? 'closed' });
  }

  protected onClosed(reason: string): void {
    const wasBound = this.state === 'bound';
    this.stopAuthTimer();
    this.onClose?.(this);
    this.onClose = undefined;
    const host = this.hostObj;
    // XEP-0198: a bound session whose socket was lost (no </stream:stream>, no stream error) may
    // hibernate: it stays bound and routable without a socket, its state stays 'bound', and the
    // smacks module queues what is sent to it until it is resumed or times out (and ends it).
    const jid = this.jid;
    if (wasBound && host && jid && this.endedBy === 'lost' && host.sessions.get(jid.domain, jid.local, jid.resource) === this
      && host.events.has('session-interrupted')) {
      const kept = host.events.fire('session-interrupted', { session: this, reason });
      if (kept !== undefined && !(kept instanceof Promise)) return;
    }
    this.state = 'closed';
    if (wasBound && host) {
      if (host.sessions.remove(this)) void host.events.fire('session-closed', { session: this, reason });
    }
  }
}
