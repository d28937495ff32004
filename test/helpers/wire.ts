// The raw XMPP client of the tests (XML in, XML out), from byte-level control to logged-in
// sessions: plain `net` + `tls` sockets, STARTTLS, SASL PLAIN or SCRAM-SHA-1, resource binding,
// then XML strings in and parsed elements out. Raw bytes (malformed XML included) can be written
// at any point. What the server sends is parsed with sax in strict mode, never with Clove's own
// parser: the tests do not grade their own homework, and anything the server sends that is not
// well-formed shows up in `parseErrors` (and fails the stanza waits at once).
//
// Usage:
//   const c = await Wire.login({ port: srv.port, username: 'alice', password: 'pw', resource: 'home' });
//   c.jid;                                        // 'alice@localhost/home'
//   c.send(`<presence/>`);                        // any XML text
//   const p = await c.waitFor(match('presence', { from: 'bob@localhost/work' }));
//   const r = await c.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);  // id added if missing
//   await c.expectNothing(match('presence'), 300); // fails if a matching stanza arrives
//   await c.close();
// Byte level:
//   const w = await Wire.connect(port);           // TCP only
//   await w.write(header('localhost'));           // resolves when the socket took it
//   const f = await w.nextAny('features');        // strict order
//   await w.until(() => w.gotEnd, 'the server to hang up');
//
// Every element received lands in `inbox` (oldest first) until a wait consumes it, so a stanza
// that arrives before you start waiting is never missed. waitFor() takes the first match and
// leaves the rest in place; next() takes the first match and drops what came before it;
// nextAny() takes the oldest. `received` keeps everything, `text` every character.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { StringDecoder } from 'node:string_decoder';
import { createHash, createHmac, pbkdf2Sync, randomBytes, type X509Certificate } from 'node:crypto';
import sax from 'sax';

/** A parsed element as the server sent it, with its namespace resolved. */
export class El {
  readonly children: (El | string)[] = [];
  constructor(
    readonly name: string,
    readonly attrs: Record<string, string>,
    /** The element's namespace URI, resolved from its (or its ancestors') declarations. */
    readonly xmlns: string | undefined,
  ) {}

  /** Local name without prefix. */
  get local(): string {
    const i = this.name.indexOf(':');
    return i < 0 ? this.name : this.name.slice(i + 1);
  }

  /** First child element with this local name (and namespace URI, if given). */
  getChild(local: string, ns?: string): El | undefined {
    return this.getChildren(local, ns)[0];
  }

  /** Child elements, optionally only those with this local name (and namespace URI). */
  getChildren(local?: string, ns?: string): El[] {
    return this.children.filter((c): c is El => typeof c !== 'string' && (local === undefined || c.local === local) && (ns === undefined || c.xmlns === ns));
  }

  /** Every child element. */
  elements(): El[] {
    return this.getChildren();
  }

  /** Concatenated direct text. */
  text(): string {
    return this.children.filter((c): c is string => typeof c === 'string').join('');
  }

  /** Text of the first child with this name (and namespace), or undefined. */
  getChildText(local: string, ns?: string): string | undefined {
    return this.getChild(local, ns)?.text();
  }

  /** Serialised again (for messages and snapshots; attribute order as received). */
  toString(): string {
    const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const attrs = Object.entries(this.attrs).map(([k, v]) => ` ${k}="${esc(v)}"`).join('');
    if (this.children.length === 0) return `<${this.name}${attrs}/>`;
    return `<${this.name}${attrs}>${this.children.map((c) => (typeof c === 'string' ? esc(c) : c.toString())).join('')}</${this.name}>`;
  }
}

export const NS_CLIENT = 'jabber:client';
export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

const DEFAULT_TIMEOUT = 5000;

/** The stream header a plain client sends. */
export function header(to = 'localhost', extra = ''): string {
  return `<?xml version='1.0'?><stream:stream to='${to}' xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAMS}' version='1.0'${extra}>`;
}

/** Escape a string for use inside single-quoted XML attributes or text. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

/** What match() looks at: any element with a name and attributes (El here; Clove's own Element where a unit test watches stanzas inside the server). */
export interface Named {
  readonly name: string;
  readonly attrs: Record<string, string>;
}

/** A test on a received element; `description` (set by match()) makes timeouts readable. */
export type Predicate<T extends Named = El> = ((el: T) => boolean) & { description?: string };

/**
 * A predicate on the element's name and attributes: a string must be equal, `null` means the
 * attribute must be absent. `test` adds any further check.
 *   match('presence', { from: 'bob@localhost', type: 'subscribe' })
 *   match('iq', { type: 'set' }, (el) => el.getChild('query', 'jabber:iq:roster') !== undefined)
 */
export function match<T extends Named = El>(name: string, attrs: Record<string, string | null> = {}, test?: (el: T) => boolean): Predicate<T> {
  const p: Predicate<T> = (el) => {
    if (el.name !== name) return false;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null ? el.attrs[k] !== undefined : el.attrs[k] !== v) return false;
    }
    return test ? test(el) : true;
  };
  p.description = `<${name}${Object.entries(attrs).map(([k, v]) => (v === null ? ` !${k}` : ` ${k}='${v}'`)).join('')}/>${test ? ' + test' : ''}`;
  return p;
}

/**
 * Reads an XMPP stream with sax (strict): each `<stream:stream>` header, each top-level element,
 * the stream's end and every well-formedness error. Fake peers use it to read what Clove sends.
 */
export class SaxStream {
  private readonly parser = sax.parser(true, { xmlns: false, position: false });
  private stack: El[] = [];

  constructor(on: { header(attrs: Record<string, string>): void; element(el: El): void; end(): void; error(message: string): void }) {
    const p = this.parser;
    p.onopentag = (tag) => {
      const attrs = { ...(tag.attributes as Record<string, string>) };
      const name = tag.name;
      const i = name.indexOf(':');
      const prefix = i < 0 ? '' : name.slice(0, i);
      if (name === 'stream:stream') {
        // A (re)started stream: a new root, whatever came before.
        on.header({ ...attrs });
        this.stack = [new El(name, attrs, attrs[`xmlns:${prefix}`])];
        return;
      }
      const parent = this.stack[this.stack.length - 1];
      const el = new El(name, attrs, this.namespaceOf(prefix, attrs));
      if (parent && this.stack.length > 1) parent.children.push(el);
      this.stack.push(el);
    };
    p.onclosetag = (name) => {
      if (name === 'stream:stream' && this.stack.length <= 1) {
        this.stack = [];
        on.end();
        return;
      }
      const el = this.stack.pop();
      if (!el || el.name !== name) {
        on.error(`unexpected </${name}>`);
        return;
      }
      if (this.stack.length <= 1) on.element(el);
    };
    const onText = (t: string): void => {
      const top = this.stack[this.stack.length - 1];
      if (top && this.stack.length > 1) {
        const last = top.children.length - 1;
        if (last >= 0 && typeof top.children[last] === 'string') top.children[last] += t;
        else top.children.push(t);
      } else if (t.trim() !== '') on.error(`text outside a stanza: ${t}`);
    };
    p.ontext = onText;
    p.oncdata = onText;
    p.onerror = (e) => {
      on.error(e.message);
      p.error = null as unknown as Error; // keep going: the caller decides whether this matters
    };
  }

  /** The namespace URI bound to `prefix` ('' = default) on an element with `attrs` inside the open ones. */
  private namespaceOf(prefix: string, attrs: Record<string, string>): string | undefined {
    const key = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
    if (key in attrs) return attrs[key];
    for (let i = this.stack.length - 1; i >= 0; i--) if (key in this.stack[i]!.attrs) return this.stack[i]!.attrs[key];
    return undefined;
  }

  /** Feed decoded text. */
  write(s: string): void {
    this.parser.write(s);
  }
}

/** Parse one XML element (as a child of a jabber:client stream) with sax. Throws on bad XML. */
export function parseXml(xml: string): El {
  const out: El[] = [];
  const errors: string[] = [];
  const s = new SaxStream({ header: () => {}, element: (el) => out.push(el), end: () => {}, error: (m) => errors.push(m) });
  s.write(`<stream:stream xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAMS}'>${xml}`);
  if (errors.length) throw new Error(`parseXml: ${errors.join('; ')} in ${xml}`);
  if (out.length !== 1) throw new Error(`parseXml: expected one complete element, got ${out.length} in ${xml}`);
  return out[0]!;
}

export interface ConnectOptions {
  port: number;
  /** Address to connect to; default 127.0.0.1. */
  address?: string;
  /** The stream's `to` (the XMPP domain); default 'localhost'. */
  domain?: string;
  /** Default timeout of waits, in ms; default 5000. */
  timeoutMs?: number;
}

export interface LoginOptions extends ConnectOptions {
  username: string;
  password: string;
  /** Resource to bind; the server picks one when absent. */
  resource?: string;
  /** 'PLAIN' (default, fast) or 'SCRAM-SHA-1'. */
  mechanism?: 'PLAIN' | 'SCRAM-SHA-1';
  /** false: stop after SASL and the stream restart, unbound (for <bind/> or <resume/> tests). */
  bind?: boolean;
}

export class Wire {
  /** Everything received, decoded as UTF-8, across the TLS upgrade. */
  text = '';
  /** Every stream header received (attributes of each `<stream:stream>` open tag). */
  readonly headers: Record<string, string>[] = [];
  /** Every top-level element received (children of `<stream:stream>`) on every stream, in order. */
  readonly received: El[] = [];
  /** Received elements no wait has consumed yet, oldest first. */
  readonly inbox: El[] = [];
  /** The latest `<stream:features/>` a negotiation step waited for. */
  features: El | undefined;
  /** The bound full JID ('' before bind). */
  jid = '';
  /** True once the server's `</stream:stream>` arrived. */
  streamEnded = false;
  /** True once the socket is fully closed. */
  isClosed = false;
  /** True once the server half-closed (FIN received). */
  gotEnd = false;
  /** Bytes handed to the socket by write(). */
  bytesWritten = 0;
  /** Resolves when the socket is closed (never rejects). */
  readonly whenClosed: Promise<void>;
  /** Parser errors on the server's output (a test may assert this stays empty). */
  readonly parseErrors: string[] = [];

  readonly domain: string;
  private readonly timeoutMs: number;
  private socket: Socket | TLSSocket;
  private decoder = new StringDecoder('utf8');
  private readonly parser: SaxStream;
  private waiters = new Set<() => void>();
  private resolveClosed!: () => void;
  private seq = 0;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  private constructor(socket: Socket, opts: Omit<ConnectOptions, 'port'> = {}) {
    this.socket = socket;
    this.domain = opts.domain ?? 'localhost';
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT;
    this.whenClosed = new Promise((r) => (this.resolveClosed = r));
    this.parser = new SaxStream({
      header: (attrs) => this.headers.push(attrs),
      element: (el) => {
        this.received.push(el);
        this.inbox.push(el);
      },
      end: () => (this.streamEnded = true),
      error: (m) => this.parseErrors.push(m),
    });
    this.listen(socket);
  }

  /** Open a TCP connection (nothing sent yet). */
  static connect(port: number | ConnectOptions): Promise<Wire> {
    const opts = typeof port === 'number' ? { port } : port;
    return new Promise((resolve, reject) => {
      const s = netConnect({ host: opts.address ?? '127.0.0.1', port: opts.port });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new Wire(s, opts));
      });
      s.once('error', reject);
    });
  }

  /** Connect and exchange stream headers (stops at the first features). */
  static async open(opts: ConnectOptions): Promise<Wire> {
    const w = await Wire.connect(opts);
    await w.openStream();
    return w;
  }

  /** Connect, STARTTLS, authenticate and bind (unless `bind: false`): a ready session. */
  static async login(opts: LoginOptions): Promise<Wire> {
    const w = await Wire.open(opts);
    try {
      await w.startTls();
      await w.authenticate(opts.username, opts.password, opts.mechanism);
      if (opts.bind !== false) await w.bind(opts.resource);
    } catch (err) {
      w.destroy();
      throw err;
    }
    return w;
  }

  // ---- negotiation steps (public so tests can stop half-way) ----

  /** Send a stream header and wait for the server's features. */
  async openStream(): Promise<El> {
    this.send(header(this.domain));
    this.features = await this.waitFor(match('stream:features'));
    return this.features;
  }

  /** STARTTLS from the request to the features after TLS (the test certificate is not verified). */
  async startTls(): Promise<void> {
    this.send(`<starttls xmlns='${NS_TLS}'/>`);
    const answer = await this.waitFor((el) => el.xmlns === NS_TLS);
    if (answer.name !== 'proceed') throw new Error(`STARTTLS refused: ${answer.toString()}`);
    await this.upgradeTls();
    await this.openStream();
  }

  /** STARTTLS step 2: after `<proceed/>`, wrap the socket in TLS (self-signed certs accepted). */
  upgradeTls(servername = this.domain): Promise<void> {
    const raw = this.socket as Socket;
    raw.off('data', this.onData);
    this.decoder = new StringDecoder('utf8');
    return new Promise((resolve, reject) => {
      const tls = tlsConnect({ socket: raw, servername, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
      tls.once('secureConnect', () => {
        tls.off('error', reject);
        resolve();
      });
      tls.once('error', reject);
      this.socket = tls;
      this.listen(tls);
    });
  }

  /** SHA-256 fingerprint of the certificate the server showed in STARTTLS (undefined before TLS). */
  peerFingerprint(): string | undefined {
    return this.peerCertificate()?.fingerprint256;
  }

  /** The certificate the server showed in STARTTLS (undefined before TLS). */
  peerCertificate(): X509Certificate | undefined {
    return 'getPeerX509Certificate' in this.socket ? this.socket.getPeerX509Certificate() : undefined;
  }

  /** SASL (PLAIN or SCRAM-SHA-1) and the stream restart; throws with the server's failure when it refuses. */
  async authenticate(username: string, password: string, mechanism: 'PLAIN' | 'SCRAM-SHA-1' = 'PLAIN'): Promise<void> {
    const sasl = (el: El): boolean => el.xmlns === NS_SASL;
    if (mechanism === 'PLAIN') {
      this.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64(`\0${username}\0${password}`)}</auth>`);
    } else {
      const scram = new ScramSha1Client(username, password);
      this.send(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${b64(scram.first())}</auth>`);
      const ch = await this.waitFor(sasl);
      if (ch.name !== 'challenge') throw new Error(`authentication failed: ${ch.toString()}`);
      this.send(`<response xmlns='${NS_SASL}'>${b64(scram.final(unb64(ch.text())))}</response>`);
    }
    const answer = await this.waitFor((el) => sasl(el) && (el.name === 'success' || el.name === 'failure'));
    if (answer.name !== 'success') throw new Error(`authentication failed: ${answer.toString()}`);
    await this.openStream();
  }

  /** Bind a resource; returns (and remembers) the full JID. */
  async bind(resource?: string): Promise<string> {
    const r = resource === undefined ? '' : `<resource>${xmlEscape(resource)}</resource>`;
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

  /** True once the socket is gone, the server ended its stream or sent XML that is not well-formed. */
  get closed(): boolean {
    return this.isClosed || this.streamEnded || this.parseErrors.length > 0;
  }

  // ---- sending ----

  /** Send XML text (or an element) as it is; throws when the connection is closed. */
  send(xml: string | El): void {
    if (this.closed || this.socket.destroyed) throw new Error('send() on a closed connection');
    this.socket.write(typeof xml === 'string' ? xml : xml.toString());
  }

  /** Write raw data; resolves when the socket took it (rejects when the socket is gone). */
  write(data: string | Buffer): Promise<void> {
    const n = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(new Error('socket closed'));
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
      this.bytesWritten += n;
    });
  }

  /** Write without waiting and without failing (floods: errors surface as `isClosed`). */
  push(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data, () => undefined);
  }

  /**
   * Send an iq and wait for its result or error (matched by id; an id is added when the iq has
   * none). Resolves with the reply whatever its type: check `attrs.type`.
   */
  async iq(xml: string, timeoutMs?: number): Promise<El> {
    const el = parseXml(xml);
    if (el.name !== 'iq') throw new Error(`iq() needs an <iq/>, got <${el.name}/>`);
    let id = el.attrs.id;
    if (id === undefined) {
      id = `raw-${++this.seq}-${randomBytes(3).toString('hex')}`;
      xml = xml.replace(/<iq\b/, `<iq id='${id}'`);
    }
    const reply = this.waitFor(match('iq', { id }, (r) => r.attrs.type === 'result' || r.attrs.type === 'error'), timeoutMs);
    this.send(xml);
    return reply;
  }

  // ---- receiving ----

  /**
   * Wait until `check` returns something other than undefined/false/null (re-run on every input
   * and on close; a throw rejects). Rejects after `timeout` ms with `what` and the tail of the
   * received text.
   */
  until<T>(check: () => T | undefined | false | null, what = 'condition', timeout = this.timeoutMs): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): void => {
        let v: T | undefined | false | null;
        try {
          v = check();
        } catch (e) {
          done();
          reject(e);
          return;
        }
        if (v !== undefined && v !== false && v !== null) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeout} ms waiting for ${what} on ${this.jid || 'an unbound stream'}; inbox:\n  ${this.inbox.map(String).join('\n  ') || '(empty)'}\nreceived so far (tail): ${this.text.slice(-1500)}`));
      }, timeout);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(attempt);
      };
      this.waiters.add(attempt);
      attempt();
    });
  }

  /**
   * The first element (already received or still to come) that matches; it is removed from the
   * inbox, the others stay. Rejects after `timeoutMs`, or as soon as the connection closes.
   */
  waitFor(predicate: Predicate, timeoutMs = this.timeoutMs): Promise<El> {
    const what = describe(predicate);
    return this.until(() => {
      const i = this.inbox.findIndex(predicate);
      if (i >= 0) return this.inbox.splice(i, 1)[0];
      if (this.closed) throw new Error(`waitFor ${what}: ${this.closeReason()}`);
      return undefined;
    }, what, timeoutMs);
  }

  /** The first matching element in the inbox (or still to come); it and everything before it leave the inbox. */
  next(predicate: (el: El) => boolean = () => true, what = 'an element', timeout = this.timeoutMs): Promise<El> {
    return this.until(() => {
      const i = this.inbox.findIndex(predicate);
      if (i >= 0) return this.inbox.splice(0, i + 1)[i];
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}; received: ${this.text.slice(-1500)}`);
      return undefined;
    }, what, timeout);
  }

  /** The oldest element in the inbox, whatever it is (strict order). */
  nextAny(what = 'the next element', timeout = this.timeoutMs): Promise<El> {
    return this.next(() => true, what, timeout);
  }

  /** Every matching element that arrives within `ms` (already-received ones included), consumed. */
  async collect(predicate: Predicate, ms: number): Promise<El[]> {
    await delay(ms);
    const out: El[] = [];
    for (let i = 0; i < this.inbox.length;) {
      if (predicate(this.inbox[i]!)) out.push(...this.inbox.splice(i, 1));
      else i++;
    }
    return out;
  }

  /** Wait `ms` and fail if a matching element was (or had already been) received. */
  async expectNothing(predicate: Predicate, ms = 250): Promise<void> {
    const got = await this.collect(predicate, ms);
    if (got.length) throw new Error(`expected no ${describe(predicate)} on ${this.jid}, got:\n  ${got.map(String).join('\n  ')}`);
  }

  /** Forget everything received so far that no one waited for. */
  clear(): void {
    this.inbox.length = 0;
  }

  /** Wait for a stream header number `n` (1-based count of headers received). */
  streamHeader(n: number, timeout = this.timeoutMs): Promise<Record<string, string>> {
    return this.until(() => this.headers[n - 1], `stream header #${n}`, timeout);
  }

  /** Wait for the server's `<stream:error/>`; returns the condition's element name. */
  async streamError(timeout = this.timeoutMs): Promise<{ condition: string; el: El }> {
    const el = await this.until(() => this.received.find((e) => e.name === 'stream:error'), 'a stream error', timeout);
    const cond = el.getChildren().find((c) => c.xmlns === NS_STREAM_ERRORS && c.name !== 'text');
    return { condition: cond?.name ?? '(none)', el };
  }

  /** Wait for `</stream:stream>` and the socket closing (the full RFC 6120 §4.4 ending). */
  async streamClosed(timeout = this.timeoutMs): Promise<void> {
    await this.until(() => this.streamEnded, '</stream:stream>', timeout);
    // The server half-closes after its </stream:stream>; we end ours, and the socket closes.
    await this.until(() => this.gotEnd || this.isClosed, 'the server to close its side', timeout);
    this.socket.end();
    await this.until(() => this.isClosed, 'the socket to close', timeout);
  }

  // ---- closing ----

  /** Close the stream politely and wait for the socket to go (at most 2 s). */
  async close(): Promise<void> {
    if (!this.closed) this.push('</stream:stream>');
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    this.socket.end();
    await this.whenClosed;
    clearTimeout(timer);
  }

  /** Half-close our side (we are done sending). */
  end(data?: string): void {
    if (data === undefined) this.socket.end();
    else this.socket.end(data);
  }

  /** Drop the TCP connection without closing the stream (a crashed or unplugged client). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Stop reading from the socket (to let replies pile up unread). */
  pause(): void {
    this.socket.pause();
  }

  /** Read from the socket again after pause(). */
  resume(): void {
    this.socket.resume();
  }

  // ---- internals ----

  private listen(s: Socket): void {
    s.on('data', this.onData);
    s.on('error', () => undefined); // EPIPE/ECONNRESET show up as `isClosed`; tests check that
    s.on('end', () => {
      this.gotEnd = true;
      this.wake();
    });
    s.on('close', () => {
      this.isClosed = true;
      this.resolveClosed();
      this.wake();
    });
  }

  private receive(chunk: Buffer): void {
    const s = this.decoder.write(chunk);
    this.text += s;
    this.parser.write(s);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private closeReason(): string {
    const why = this.parseErrors.length ? `the server sent bad XML (${this.parseErrors.join('; ')})` : this.streamEnded ? 'the server ended its stream' : 'the connection closed';
    const err = this.received.find((e) => e.name === 'stream:error');
    return err ? `${why} (stream error: ${err.toString()})` : why;
  }
}

function describe<T extends Named>(p: Predicate<T>): string {
  return p.description ?? 'a stanza matching the predicate';
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The condition element inside a stanza's `<error/>`, e.g. 'service-unavailable'. */
export function stanzaErrorCondition(stanza: El): string | undefined {
  const err = stanza.getChild('error');
  const cond = err?.children.find((c): c is El => typeof c !== 'string' && c.xmlns === NS_STANZAS && c.name !== 'text');
  return cond?.name;
}

/** Names of the mechanisms in a `<stream:features/>`. */
export function mechanismsOf(features: El): string[] {
  return features.getChild('mechanisms', NS_SASL)?.getChildren('mechanism').map((m) => m.text()) ?? [];
}

/** The client side of SCRAM-SHA-1 (RFC 5802), with node:crypto only. */
export class ScramSha1Client {
  readonly nonce = randomBytes(18).toString('base64').replace(/,/g, '_');
  readonly firstBare: string;
  private serverSignature: Buffer | undefined;

  constructor(username: string, private readonly password: string) {
    this.firstBare = `n=${username.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${this.nonce}`;
  }

  /** client-first-message (gs2 header "n,," then the bare message). */
  first(): string {
    return `n,,${this.firstBare}`;
  }

  /** client-final-message for the server-first-message. */
  final(serverFirst: string): string {
    const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)] as [string, string]));
    const r = attrs.get('r') ?? '';
    if (!r.startsWith(this.nonce) || r.length <= this.nonce.length) throw new Error(`bad server nonce in ${serverFirst}`);
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    if (!(iterations >= 4096)) throw new Error(`iteration count ${attrs.get('i')} below RFC 5802's 4096`);
    const salted = pbkdf2Sync(this.password, salt, iterations, 20, 'sha1');
    const hmac = (k: Buffer, d: string): Buffer => createHmac('sha1', k).update(d).digest();
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha1').update(clientKey).digest();
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${r}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const sig = hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Whether the server-final-message proves the server knows the password. */
  verify(serverFinal: string): boolean {
    return this.serverSignature !== undefined && serverFinal === `v=${this.serverSignature.toString('base64')}`;
  }
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/** Ping the server (no `to`) and return the reply; the caller checks `type`. */
export function ping(w: Wire, timeout?: number): Promise<El> {
  return w.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`, timeout);
}
