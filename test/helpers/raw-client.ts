// A tiny raw XMPP client for protocol tests (XML in, XML out): plain `net` + `tls` sockets,
// STARTTLS, SASL PLAIN and resource binding, then XML strings in and parsed stanzas out.
// Incoming data is parsed with Clove's own StreamParser (src/xml/parser.ts).
//
// Usage:
//   const c = await RawClient.login({ port: srv.port, username: 'alice', password: 'pw', resource: 'home' });
//   c.jid;                                        // 'alice@localhost/home'
//   c.send(`<presence/>`);                        // any XML text (or an Element)
//   const p = await c.waitFor(match('presence', { from: 'bob@localhost/work' }));
//   const r = await c.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);  // id added if missing
//   await c.expectNothing(match('presence'), 300); // fails if a matching stanza arrives
//   await c.close();
//
// Every stanza received lands in `inbox` (oldest first) until a waitFor() consumes it, so a
// stanza that arrives before you start waiting is never missed. waitFor() takes the first
// match and leaves the rest in place. `received` keeps everything, for debugging.
// Waits fail with a message listing what did arrive; they fail at once if the stream closes.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { randomBytes, type X509Certificate } from 'node:crypto';
import { StreamParser } from '../../src/xml/parser.js';
import type { Element } from '../../src/xml/element.js';

const NS_CLIENT = 'jabber:client';
const NS_STREAMS = 'http://etherx.jabber.org/streams';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

/** A test on a received stanza; `description` (set by match()) makes timeouts readable. */
export type Predicate = ((el: Element) => boolean) & { description?: string };

/**
 * A predicate on the stanza's name and attributes: a string must be equal, `null` means the
 * attribute must be absent. `test` adds any further check.
 *   match('presence', { from: 'bob@localhost', type: 'subscribe' })
 *   match('iq', { type: 'set' }, (el) => el.getChild('query', 'jabber:iq:roster') !== undefined)
 */
export function match(name: string, attrs: Record<string, string | null> = {}, test?: (el: Element) => boolean): Predicate {
  const p: Predicate = (el) => {
    if (el.name !== name) return false;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null ? el.attrs[k] !== undefined : el.attrs[k] !== v) return false;
    }
    return test ? test(el) : true;
  };
  p.description = `<${name}${Object.entries(attrs).map(([k, v]) => (v === null ? ` !${k}` : ` ${k}='${v}'`)).join('')}/>${test ? ' + test' : ''}`;
  return p;
}

/** Parse one XML element from a string (as a child of a jabber:client stream). Throws on bad XML. */
export function parseXml(xml: string): Element {
  const out: Element[] = [];
  let failure: string | undefined;
  const parser = new StreamParser({
    streamStart: () => {},
    stanza: (el) => { out.push(el); },
    streamEnd: () => {},
    error: (condition, text) => { failure = `${condition}: ${text}`; },
  });
  parser.write(`<stream:stream xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAMS}'>${xml}`);
  if (failure !== undefined) throw new Error(`parseXml: ${failure} in ${xml}`);
  if (out.length !== 1) throw new Error(`parseXml: expected one complete element, got ${out.length} in ${xml}`);
  return out[0] as Element;
}

export interface ConnectOptions {
  port: number;
  /** Address to connect to; default 127.0.0.1. */
  address?: string;
  /** The stream's `to` (the XMPP domain); default 'localhost'. */
  domain?: string;
  /** Default timeout of waits, in ms; default 3000. */
  timeoutMs?: number;
}

export interface LoginOptions extends ConnectOptions {
  username: string;
  password: string;
  /** Resource to bind; the server picks one when absent. */
  resource?: string;
}

interface Waiter {
  predicate: Predicate;
  resolve(el: Element): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class RawClient {
  /** Received stanzas not yet consumed by waitFor(), oldest first. */
  readonly inbox: Element[] = [];
  /** Every stanza received on every stream of this connection, in order. */
  readonly received: Element[] = [];
  /** The latest `<stream:features/>`. */
  features: Element | undefined;
  /** The server's latest stream header attributes. */
  streamAttrs: Record<string, string> | undefined;
  /** The bound full JID ('' before bind). */
  jid = '';
  /** The `<stream:error/>` the server sent, if any. */
  streamError: Element | undefined;
  /** True once the socket is gone or the server ended its stream. */
  closed = false;

  readonly domain: string;
  private socket: Socket;
  private readonly parser: StreamParser;
  private waiters: Waiter[] = [];
  private readonly timeoutMs: number;
  private seq = 0;
  private readonly gone: Promise<void>;
  private socketClosed!: () => void;

  private constructor(socket: Socket, opts: ConnectOptions) {
    this.socket = socket;
    this.domain = opts.domain ?? 'localhost';
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.parser = new StreamParser({
      streamStart: (_name, attrs) => { this.streamAttrs = attrs; },
      stanza: (el) => this.deliver(el),
      streamEnd: () => this.shut('the server ended its stream'),
      error: (condition, text) => this.shut(`the server sent bad XML (${condition}: ${text})`),
    });
    this.gone = new Promise((resolve) => { this.socketClosed = resolve; });
    this.attach(socket);
  }

  /** Open a TCP connection and exchange stream headers (stops at the first features). */
  static async connect(opts: ConnectOptions): Promise<RawClient> {
    const socket = netConnect({ host: opts.address ?? '127.0.0.1', port: opts.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new RawClient(socket, opts);
    await c.openStream();
    return c;
  }

  /** Connect, STARTTLS, authenticate with PLAIN and bind: a ready, bound session. */
  static async login(opts: LoginOptions): Promise<RawClient> {
    const c = await RawClient.connect(opts);
    try {
      await c.startTls();
      await c.authenticate(opts.username, opts.password);
      await c.bind(opts.resource);
    } catch (err) {
      c.destroy();
      throw err;
    }
    return c;
  }

  // ---- negotiation steps (public so tests can stop half-way) ----

  /** Send a stream header and wait for the server's features. */
  async openStream(): Promise<Element> {
    this.send(`<?xml version='1.0'?><stream:stream to='${this.domain}' xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAMS}' version='1.0'>`);
    this.features = await this.waitFor(match('stream:features'));
    return this.features;
  }

  /** Upgrade the connection with STARTTLS (the test certificate is self-signed: not verified). */
  async startTls(): Promise<void> {
    this.send(`<starttls xmlns='${NS_TLS}'/>`);
    const answer = await this.waitFor((el) => el.xmlns === NS_TLS);
    if (answer.name !== 'proceed') throw new Error(`STARTTLS refused: ${answer.toString()}`);
    const raw = this.socket;
    this.detach(raw);
    const secure = tlsConnect({ socket: raw, servername: this.domain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    this.parser.reset();
    await this.openStream();
  }

  /** SHA-256 fingerprint of the certificate the server showed in STARTTLS (undefined before TLS). */
  peerFingerprint(): string | undefined {
    return this.peerCertificate()?.fingerprint256;
  }

  /** The certificate the server showed in STARTTLS (undefined before TLS). */
  peerCertificate(): X509Certificate | undefined {
    return 'getPeerX509Certificate' in this.socket ? (this.socket as TLSSocket).getPeerX509Certificate() : undefined;
  }

  /** SASL PLAIN; throws with the server's failure when it refuses. */
  async authenticate(username: string, password: string): Promise<void> {
    const payload = Buffer.from(`\0${username}\0${password}`, 'utf8').toString('base64');
    this.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${payload}</auth>`);
    const answer = await this.waitFor((el) => el.xmlns === NS_SASL && (el.name === 'success' || el.name === 'failure'));
    if (answer.name !== 'success') throw new Error(`authentication failed: ${answer.toString()}`);
    this.parser.reset();
    await this.openStream();
  }

  /** Bind a resource; returns (and remembers) the full JID. */
  async bind(resource?: string): Promise<string> {
    const r = resource === undefined ? '' : `<resource>${escapeXml(resource)}</resource>`;
    const reply = await this.iq(`<iq type='set'><bind xmlns='${NS_BIND}'>${r}</bind></iq>`);
    const jid = reply.getChild('bind', NS_BIND)?.getChildText('jid');
    if (reply.attrs.type !== 'result' || !jid) throw new Error(`bind failed: ${reply.toString()}`);
    this.jid = jid;
    return jid;
  }

  /** The bound JID without its resource. */
  get bare(): string {
    const i = this.jid.indexOf('/');
    return i < 0 ? this.jid : this.jid.slice(0, i);
  }

  // ---- stanzas ----

  /** Send XML text (or an element) as it is. */
  send(xml: string | Element): void {
    if (this.closed) throw new Error('send() on a closed connection');
    this.socket.write(typeof xml === 'string' ? xml : xml.toString());
  }

  /**
   * Send an iq and wait for its result or error (matched by id; an id is added when the iq has
   * none). Resolves with the reply whatever its type: check `attrs.type`.
   */
  async iq(xml: string | Element, timeoutMs?: number): Promise<Element> {
    const el = typeof xml === 'string' ? parseXml(xml) : xml;
    if (el.name !== 'iq') throw new Error(`iq() needs an <iq/>, got <${el.name}/>`);
    el.attrs.id ??= `raw-${++this.seq}-${randomBytes(3).toString('hex')}`;
    const id = el.attrs.id;
    const reply = this.waitFor(match('iq', {}, (r) => r.attrs.id === id && (r.attrs.type === 'result' || r.attrs.type === 'error')), timeoutMs);
    this.send(el);
    return reply;
  }

  /**
   * The first stanza (already received or still to come) that matches; it is removed from the
   * inbox. Rejects after `timeoutMs`, or as soon as the stream closes.
   */
  waitFor(predicate: Predicate, timeoutMs = this.timeoutMs): Promise<Element> {
    const i = this.inbox.findIndex(predicate);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as Element);
    if (this.closed) return Promise.reject(new Error(`waitFor ${describe(predicate)}: the connection is closed${this.errorText()}`));
    return new Promise<Element>((resolve, reject) => {
      const w: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new Error(`waitFor ${describe(predicate)} timed out after ${timeoutMs} ms on ${this.jid || 'an unbound stream'}; inbox:\n  ${this.inbox.map(String).join('\n  ') || '(empty)'}`));
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  /** Every matching stanza that arrives within `ms` (already-received ones included), consumed. */
  async collect(predicate: Predicate, ms: number): Promise<Element[]> {
    await delay(ms);
    const out: Element[] = [];
    for (let i = 0; i < this.inbox.length;) {
      if (predicate(this.inbox[i] as Element)) out.push(...this.inbox.splice(i, 1));
      else i++;
    }
    return out;
  }

  /** Wait `ms` and fail if a matching stanza was (or had already been) received. */
  async expectNothing(predicate: Predicate, ms = 250): Promise<void> {
    const got = await this.collect(predicate, ms);
    if (got.length) throw new Error(`expected no ${describe(predicate)} on ${this.jid}, got:\n  ${got.map(String).join('\n  ')}`);
  }

  /** Forget everything received so far that no one waited for. */
  clear(): void {
    this.inbox.length = 0;
  }

  // ---- closing ----

  /** Close the stream politely and wait for the socket to go (at most 2 s). */
  async close(): Promise<void> {
    if (!this.closed) {
      try {
        this.socket.write('</stream:stream>');
      } catch {
        // the socket is already gone
      }
    }
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    this.socket.end();
    await this.gone;
    clearTimeout(timer);
  }

  /** Drop the TCP connection without closing the stream (a crashed or unplugged client). */
  destroy(): void {
    this.socket.destroy();
  }

  // ---- internals ----

  private readonly onData = (chunk: Buffer): void => this.parser.write(chunk);
  private readonly onClose = (): void => {
    this.shut('the connection closed');
    this.socketClosed();
  };
  private readonly onError = (): void => {}; // 'close' follows and reports it

  private attach(s: Socket): void {
    s.on('data', this.onData);
    s.on('close', this.onClose);
    s.on('error', this.onError);
  }

  private detach(s: Socket): void {
    s.off('data', this.onData);
    s.off('close', this.onClose);
  }

  private deliver(el: Element): void {
    this.received.push(el);
    if (el.name === 'stream:error') this.streamError = el;
    const i = this.waiters.findIndex((w) => w.predicate(el));
    if (i < 0) {
      this.inbox.push(el);
      return;
    }
    const w = this.waiters.splice(i, 1)[0] as Waiter;
    clearTimeout(w.timer);
    w.resolve(el);
  }

  private shut(why: string): void {
    if (this.closed) return;
    this.closed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`waitFor ${describe(w.predicate)}: ${why}${this.errorText()}`));
    }
  }

  private errorText(): string {
    return this.streamError ? ` (stream error: ${this.streamError.toString()})` : '';
  }
}

function describe(p: Predicate): string {
  return p.description ?? 'a stanza matching the predicate';
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Escape text for use inside XML content or attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
