// A minimal XMPP wire for e2e tests that need byte-level control: write raw bytes (malformed
// XML included), upgrade to TLS on demand, and collect everything the server sends, both as
// text and as parsed top-level elements. The server's replies are parsed with sax in strict
// mode, never with Clove's own parser: the tests do not grade their own homework, and anything
// the server sends that is not well-formed shows up in `parseErrors`.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { StringDecoder } from 'node:string_decoder';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import sax from 'sax';

/** A parsed element as the server sent it, with its namespace resolved. */
export class El {
  readonly children: (El | string)[] = [];
  constructor(
    readonly name: string,
    readonly attrs: Record<string, string>,
    /** The element's namespace URI, resolved from its (or its ancestors') declarations. */
    readonly ns: string | undefined,
    readonly parent: El | undefined,
  ) {}

  /** Local name without prefix. */
  get local(): string {
    const i = this.name.indexOf(':');
    return i < 0 ? this.name : this.name.slice(i + 1);
  }

  /** Namespace URI bound to a prefix ('' = default) here. */
  lookup(prefix: string): string | undefined {
    const key = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
    for (let e: El | undefined = this; e; e = e.parent) if (key in e.attrs) return e.attrs[key];
    return undefined;
  }

  /** First child element with this local name (and namespace URI, if given). */
  getChild(local: string, ns?: string): El | undefined {
    return this.getChildren(local, ns)[0];
  }

  getChildren(local?: string, ns?: string): El[] {
    return this.children.filter((c): c is El => typeof c !== 'string' && (local === undefined || c.local === local) && (ns === undefined || c.ns === ns));
  }

  /** Concatenated direct text. */
  getText(): string {
    return this.children.filter((c): c is string => typeof c === 'string').join('');
  }

  getChildText(local: string, ns?: string): string | undefined {
    return this.getChild(local, ns)?.getText();
  }

  /** Serialised again (for messages and snapshots; attribute order as received). */
  toString(): string {
    const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const attrs = Object.entries(this.attrs).map(([k, v]) => ` ${k}="${esc(v)}"`).join('');
    if (this.children.length === 0) return `<${this.name}${attrs}/>`;
    return `<${this.name}${attrs}>${this.children.map((c) => (typeof c === 'string' ? esc(c) : c.toString())).join('')}</${this.name}>`;
  }
}

export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

const DEFAULT_TIMEOUT = 5000;

/** The stream header a plain client sends. */
export function header(to = 'localhost', extra = ''): string {
  return `<?xml version='1.0'?><stream:stream to='${to}' xmlns='jabber:client' xmlns:stream='${NS_STREAMS}' version='1.0'${extra}>`;
}

/** Escape a string for use inside single-quoted XML attributes or text. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

export class Wire {
  /** Everything received, decoded as UTF-8, across the TLS upgrade. */
  text = '';
  /** Every stream header received (attributes of each `<stream:stream>` open tag). */
  readonly headers: Record<string, string>[] = [];
  /** Every top-level element received (children of `<stream:stream>`), in order. */
  readonly elements: El[] = [];
  /** True once the server's `</stream:stream>` arrived. */
  streamEnded = false;
  /** True once the socket is fully closed. */
  isClosed = false;
  /** True once the server half-closed (FIN received). */
  gotEnd = false;
  /** Bytes handed to the socket by write(). */
  bytesWritten = 0;
  /** Resolves when the socket is closed (never rejects). */
  readonly closed: Promise<void>;
  /** Parser errors on the server's output (a test may assert this stays empty). */
  readonly parseErrors: string[] = [];

  private socket: Socket | TLSSocket;
  private decoder = new StringDecoder('utf8');
  private parser!: sax.SAXParser;
  private stack: El[] = [];
  private waiters = new Set<() => void>();
  private resolveClosed!: () => void;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.newParser();
    this.listen(socket);
    socket.on('end', () => {
      this.gotEnd = true;
      this.wake();
    });
    socket.on('close', () => {
      this.isClosed = true;
      this.resolveClosed();
      this.wake();
    });
  }

  /** Open a TCP connection to 127.0.0.1:port. */
  static connect(port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new Wire(s));
      });
      s.once('error', reject);
    });
  }

  private listen(s: Socket): void {
    s.on('data', this.onData);
    s.on('error', () => undefined); // EPIPE/ECONNRESET show up as `closed`; tests check that
  }

  private newParser(): void {
    const p = sax.parser(true, { xmlns: false, position: false });
    p.onopentag = (tag) => {
      const attrs = tag.attributes as Record<string, string>;
      const name = tag.name;
      const i = name.indexOf(':');
      const prefix = i < 0 ? '' : name.slice(0, i);
      if (name === 'stream:stream') {
        // A (re)started stream: a new root, whatever came before.
        this.headers.push({ ...attrs });
        const root = new El(name, { ...attrs }, attrs[`xmlns:${prefix}`], undefined);
        this.stack = [root];
        return;
      }
      const parent = this.stack[this.stack.length - 1];
      const key = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
      const ns = key in attrs ? attrs[key] : parent?.lookup(prefix);
      const el = new El(name, { ...attrs }, ns, parent);
      if (parent && this.stack.length > 1) parent.children.push(el);
      this.stack.push(el);
    };
    p.onclosetag = (name) => {
      if (name === 'stream:stream' && this.stack.length <= 1) {
        this.streamEnded = true;
        this.stack = [];
        return;
      }
      const el = this.stack.pop();
      if (!el || el.name !== name) {
        this.parseErrors.push(`unexpected </${name}>`);
        return;
      }
      if (this.stack.length <= 1) this.elements.push(el);
    };
    const onText = (t: string): void => {
      const top = this.stack[this.stack.length - 1];
      if (top && this.stack.length > 1) {
        const last = top.children.length - 1;
        if (last >= 0 && typeof top.children[last] === 'string') top.children[last] += t;
        else top.children.push(t);
      } else if (t.trim() !== '') this.parseErrors.push(`text outside a stanza: ${t}`);
    };
    p.ontext = onText;
    p.oncdata = onText;
    p.onerror = (e) => {
      this.parseErrors.push(e.message);
      p.error = null as unknown as Error; // keep going: a test decides whether this matters
    };
    this.parser = p;
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

  /** Write raw data; resolves when the socket took it (rejects when the socket is gone). */
  write(data: string | Buffer): Promise<void> {
    const n = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(new Error('socket closed'));
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
      this.bytesWritten += n;
    });
  }

  /** Write without waiting (fire and forget; errors surface as `closed`). */
  push(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data, () => undefined);
  }

  /**
   * Wait until `check` returns something other than undefined/false (re-run on every input
   * and on close). Rejects after `timeout` ms with `what` and the tail of the received text.
   */
  waitFor<T>(check: () => T | undefined | false | null, what = 'condition', timeout = DEFAULT_TIMEOUT): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        let v: T | undefined | false | null;
        try {
          v = check();
        } catch (e) {
          done();
          reject(e);
          return true;
        }
        if (v !== undefined && v !== false && v !== null) {
          done();
          resolve(v);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; received so far (tail): ${this.text.slice(-1500)}`));
      }, timeout);
      const waiter = (): void => void attempt();
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      attempt();
    });
  }

  /** Index of the next element a `next()` call would look at. */
  cursor = 0;

  /** The next top-level element (after the cursor) that matches; advances the cursor past it. */
  async next(match: (el: El) => boolean = () => true, what = 'an element', timeout = DEFAULT_TIMEOUT): Promise<El> {
    const found = await this.waitFor(() => {
      for (let i = this.cursor; i < this.elements.length; i++) {
        if (match(this.elements[i]!)) return { el: this.elements[i]!, i };
      }
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}; received: ${this.text.slice(-1500)}`);
      return undefined;
    }, what, timeout);
    this.cursor = found.i + 1;
    return found.el;
  }

  /** The next top-level element, whatever it is (strict order). */
  async nextAny(what = 'the next element', timeout = DEFAULT_TIMEOUT): Promise<El> {
    const el = await this.waitFor(() => {
      if (this.cursor < this.elements.length) return this.elements[this.cursor];
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}; received: ${this.text.slice(-1500)}`);
      return undefined;
    }, what, timeout);
    this.cursor++;
    return el;
  }

  /** Wait for a stream header number `n` (1-based count of headers received). */
  streamHeader(n: number, timeout = DEFAULT_TIMEOUT): Promise<Record<string, string>> {
    return this.waitFor(() => this.headers[n - 1], `stream header #${n}`, timeout);
  }

  /** Wait for the server's `<stream:error/>`; returns the condition's element name. */
  async streamError(timeout = DEFAULT_TIMEOUT): Promise<{ condition: string; el: El }> {
    const el = await this.waitFor(() => this.elements.find((e) => e.name === 'stream:error'), 'a stream error', timeout);
    const cond = el.children.find((c): c is El => typeof c !== 'string' && c.ns === NS_STREAM_ERRORS && c.name !== 'text');
    return { condition: cond?.name ?? '(none)', el };
  }

  /** Wait for `</stream:stream>` and the socket closing (the full RFC 6120 §4.4 ending). */
  async streamClosed(timeout = DEFAULT_TIMEOUT): Promise<void> {
    await this.waitFor(() => this.streamEnded, '</stream:stream>', timeout);
    // The server half-closes after its </stream:stream>; we end ours, and the socket closes.
    await this.waitFor(() => this.gotEnd || this.isClosed, 'the server to close its side', timeout);
    this.socket.end();
    await this.waitFor(() => this.isClosed, 'the socket to close', timeout);
  }

  /** STARTTLS step 2: after `<proceed/>`, wrap the socket in TLS (self-signed certs accepted). */
  startTls(servername = 'localhost'): Promise<void> {
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
      tls.on('end', () => {
        this.gotEnd = true;
        this.wake();
      });
      tls.on('close', () => {
        this.isClosed = true;
        this.resolveClosed();
        this.wake();
      });
    });
  }

  /** Send an iq and wait for its result or error (matched by id). */
  async iq(xml: string, id: string, timeout = DEFAULT_TIMEOUT): Promise<El> {
    await this.write(xml);
    return this.next((e) => e.name === 'iq' && e.attrs.id === id && (e.attrs.type === 'result' || e.attrs.type === 'error'), `reply to iq ${id}`, timeout);
  }

  /** Half-close our side (we are done sending). */
  end(data?: string): void {
    if (data === undefined) this.socket.end();
    else this.socket.end(data);
  }

  /** Drop the connection at once. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Stop/start reading from the socket (to let replies pile up unread). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

/** The condition element inside a stanza's `<error/>`, e.g. 'service-unavailable'. */
export function stanzaErrorCondition(stanza: El): string | undefined {
  const err = stanza.getChild('error');
  const cond = err?.children.find((c): c is El => typeof c !== 'string' && c.ns === NS_STANZAS && c.name !== 'text');
  return cond?.name;
}

/** Names of the mechanisms in a `<stream:features/>`. */
export function mechanismsOf(features: El): string[] {
  return features.getChild('mechanisms', NS_SASL)?.getChildren('mechanism').map((m) => m.getText()) ?? [];
}

export interface LoginOptions {
  user: string;
  password: string;
  domain?: string;
  resource?: string;
  /** 'PLAIN' (default, fast) or 'SCRAM-SHA-1'. */
  mechanism?: 'PLAIN' | 'SCRAM-SHA-1';
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

/**
 * Connect, STARTTLS, authenticate, restart, bind: a logged-in wire, its full JID in `jid`.
 * Asserts nothing beyond what it needs; throws with the server's output when a step fails.
 */
export async function login(port: number, opts: LoginOptions): Promise<Wire & { jid: string }> {
  const w = await loginUnbound(port, opts);
  const id = `bind-${randomBytes(4).toString('hex')}`;
  const res = opts.resource ? `<resource>${xmlEscape(opts.resource)}</resource>` : '';
  const bound = await w.iq(`<iq type='set' id='${id}'><bind xmlns='${NS_BIND}'>${res}</bind></iq>`, id);
  const jid = bound.getChild('bind', NS_BIND)?.getChildText('jid');
  if (bound.attrs.type !== 'result' || !jid) throw new Error(`bind failed: ${bound.toString()}`);
  return Object.assign(w, { jid });
}

/** Connect, STARTTLS, authenticate and restart, without binding (for <bind/> or <resume/> tests). */
export async function loginUnbound(port: number, opts: LoginOptions): Promise<Wire> {
  const domain = opts.domain ?? 'localhost';
  const w = await Wire.connect(port);
  await w.write(header(domain));
  await w.next((e) => e.name === 'stream:features', 'features');
  await w.write(`<starttls xmlns='${NS_TLS}'/>`);
  const proceed = await w.next((e) => e.ns === NS_TLS, 'proceed');
  if (proceed.name !== 'proceed') throw new Error(`STARTTLS refused: ${w.text}`);
  await w.startTls(domain);
  await w.write(header(domain));
  await w.next((e) => e.name === 'stream:features', 'features after TLS');
  if ((opts.mechanism ?? 'PLAIN') === 'PLAIN') {
    await w.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64(`\0${opts.user}\0${opts.password}`)}</auth>`);
  } else {
    const scram = new ScramSha1Client(opts.user, opts.password);
    await w.write(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${b64(scram.first())}</auth>`);
    const ch = await w.next((e) => e.ns === NS_SASL, 'challenge');
    if (ch.name !== 'challenge') throw new Error(`SCRAM refused: ${w.text}`);
    await w.write(`<response xmlns='${NS_SASL}'>${b64(scram.final(unb64(ch.getText())))}</response>`);
  }
  const outcome = await w.next((e) => e.ns === NS_SASL, 'SASL outcome');
  if (outcome.name !== 'success') throw new Error(`authentication failed: ${outcome.toString()}`);
  await w.write(header(domain));
  await w.next((e) => e.name === 'stream:features', 'features after SASL');
  return w;
}

let pingSeq = 0;

/** Ping the server (no `to`) and return the reply; the caller checks `type`. */
export async function ping(w: Wire, timeout = DEFAULT_TIMEOUT): Promise<El> {
  const id = `ping-${++pingSeq}`;
  return w.iq(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`, id, timeout);
}
