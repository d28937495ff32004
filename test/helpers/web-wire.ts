// Raw XMPP clients over the web transports, for protocol-level tests: WebSocket (RFC 7395, with
// the `ws` library's client) and BOSH (XEP-0206, plain HTTP POSTs). As test/helpers/wire.ts does
// for TCP, what the server sends is parsed with sax (parseXml), never with Clove's own parser.
import { request as httpRequest, Agent } from 'node:http';
import WebSocket from 'ws';
import { El, NS_SASL, NS_BIND, parseXml, type Predicate } from './wire.js';

export const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
export const NS_HTTPBIND = 'http://jabber.org/protocol/httpbind';
export const NS_XBOSH = 'urn:xmpp:xbosh';

const describe = (p: Predicate): string => p.description ?? 'a matching element';

/** Received elements and waits on them (what Wire has, for framed transports). */
class Inbox {
  /** Every element received, in order. */
  readonly received: El[] = [];
  /** Those no wait has taken yet. */
  readonly inbox: El[] = [];
  private readonly waiters = new Set<() => void>();
  protected done: string | undefined;

  protected got(el: El): void {
    this.received.push(el);
    this.inbox.push(el);
    this.wake();
  }

  protected wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolve once `check` gives a value; reject after `timeout` ms. */
  until<T>(check: () => T | undefined | false, what: string, timeout = 8000): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): void => {
        let v: T | undefined | false;
        try { v = check(); } catch (e) { finish(); reject(e); return; }
        if (v !== undefined && v !== false) { finish(); resolve(v); }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; received:\n  ${this.received.map(String).join('\n  ')}`));
      }, timeout);
      const finish = (): void => { clearTimeout(timer); this.waiters.delete(attempt); };
      this.waiters.add(attempt);
      attempt();
    });
  }

  /** The first matching element received or to come (taken from the inbox). */
  waitFor(predicate: Predicate, timeout?: number): Promise<El> {
    return this.until(() => {
      const i = this.inbox.findIndex(predicate);
      if (i >= 0) return this.inbox.splice(i, 1)[0];
      if (this.done !== undefined) throw new Error(`waiting for ${describe(predicate)}: ${this.done}`);
      return undefined;
    }, describe(predicate), timeout);
  }
}

export interface WsOptions {
  port: number;
  path?: string;
  /** Sent as `Origin` (browsers always send one). */
  origin?: string;
  /** Subprotocols offered; default ['xmpp']. */
  protocols?: string[];
  /** `Host` header; default localhost. */
  host?: string;
}

/** An XMPP client over WebSocket: one element per text frame. */
export class WsWire extends Inbox {
  /** Every text frame received, as sent. */
  readonly frames: string[] = [];
  /** The close code and reason once the WebSocket closed. */
  closeCode: number | undefined;
  closeReason = '';
  jid = '';
  /** The features of the stream open now (undefined before <open/> and after a restart). */
  features: El | undefined;

  private constructor(readonly ws: WebSocket) {
    super();
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const text = data.toString('utf8');
      this.frames.push(isBinary ? `(binary ${text.length})` : text);
      this.got(parseXml(text));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.done = `the WebSocket closed (${code} ${this.closeReason})`;
      this.wake();
    });
    ws.on('error', () => undefined);
  }

  /** Open the WebSocket (rejects with the HTTP status when the upgrade is refused). */
  static connect(opts: WsOptions): Promise<WsWire> {
    const ws = new WebSocket(`ws://127.0.0.1:${opts.port}${opts.path ?? '/xmpp-websocket'}`, opts.protocols ?? ['xmpp'], {
      headers: { Host: opts.host ?? 'localhost' },
      ...(opts.origin ? { origin: opts.origin } : {}),
      perMessageDeflate: false,
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new WsWire(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(xml: string): void {
    this.ws.send(xml);
  }

  /** Send `<open/>` and wait for the server's `<open/>` and features. */
  async open(to = 'localhost'): Promise<El> {
    const opens = this.received.filter((e) => e.local === 'open').length;
    this.send(`<open xmlns='${NS_FRAMING}' to='${to}' version='1.0'/>`);
    await this.until(() => this.received.filter((e) => e.local === 'open').length > opens, 'the server <open/>');
    this.features = await this.waitFor(named('stream:features'));
    return this.features;
  }

  /** SASL PLAIN, restart, bind: a session, like Wire.login. */
  async login(user: string, password: string, resource?: string, to = 'localhost'): Promise<string> {
    if (!this.features) await this.open(to);
    this.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
    const r = await this.waitFor((e) => e.xmlns === NS_SASL);
    if (r.local !== 'success') throw new Error(`authentication failed: ${r.toString()}`);
    this.features = undefined;
    await this.open(to);
    this.send(`<iq type='set' id='bind' xmlns='jabber:client'><bind xmlns='${NS_BIND}'>${resource ? `<resource>${resource}</resource>` : ''}</bind></iq>`);
    const bound = await this.waitFor((e) => e.name === 'iq' && e.attrs.id === 'bind');
    this.jid = bound.getChild('bind', NS_BIND)?.getChildText('jid') ?? '';
    return this.jid;
  }

  /** Resolves when the WebSocket has closed. */
  closed(timeout = 8000): Promise<number> {
    return this.until(() => this.closeCode, 'the WebSocket to close', timeout);
  }

  /** Drop the connection without `<close/>` (as a lost network). */
  terminate(): void {
    this.ws.terminate();
  }

  async close(): Promise<void> {
    if (this.closeCode !== undefined) return;
    if (this.ws.readyState === WebSocket.OPEN) this.send(`<close xmlns='${NS_FRAMING}'/>`);
    await this.closed().catch(() => this.ws.terminate());
  }
}

/** An element by qualified name. */
export function named(name: string): Predicate {
  const p: Predicate = (e) => e.name === name;
  p.description = `<${name}/>`;
  return p;
}

export interface BoshAnswer { status: number; body: El | undefined; text: string; headers: Record<string, string | string[] | undefined> }

/** One POST of `text` to the BOSH endpoint. */
export function boshPost(port: number, text: string, opts: { path?: string; origin?: string; host?: string; agent?: Agent } = {}): Promise<BoshAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1', port, method: 'POST', path: opts.path ?? '/http-bind', agent: opts.agent ?? false, setHost: false,
      headers: { Host: opts.host ?? 'localhost', 'Content-Type': 'text/xml; charset=utf-8', ...(opts.origin ? { Origin: opts.origin } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const t = Buffer.concat(chunks).toString('utf8');
        let body: El | undefined;
        try { body = t.startsWith('<body') ? parseXml(t) : undefined; } catch { body = undefined; }
        resolve({ status: res.statusCode ?? 0, body, text: t, headers: res.headers });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(text);
  });
}

/**
 * An XMPP client over BOSH: `send` posts a body (the next rid) and files what the answer holds;
 * `poll` keeps one empty request held so the server can push (as Strophe does with hold=1).
 */
export class BoshWire extends Inbox {
  rid = 1000 + Math.floor(Math.random() * 1_000_000);
  sid = '';
  jid = '';
  /** The session creation answer's attributes. */
  session: Record<string, string> = {};
  /** Every answer's body, in the order they arrived. */
  readonly bodies: El[] = [];
  private polling = false;
  private inFlight = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });

  constructor(readonly port: number, readonly to = 'localhost', readonly origin?: string) {
    super();
  }

  private take(a: BoshAnswer): BoshAnswer {
    if (a.body) {
      this.bodies.push(a.body);
      for (const c of a.body.elements()) this.got(c);
      if (a.body.attrs.type === 'terminate') {
        this.done = `the session was terminated (${a.body.attrs.condition ?? 'no condition'})`;
        this.polling = false;
        this.wake();
      }
    }
    return a;
  }

  /** POST a body with the next rid; `attrs` go on the `<body/>` (sid added once known). */
  async post(payload = '', attrs: Record<string, string> = {}): Promise<BoshAnswer> {
    const all: Record<string, string> = { rid: String(this.rid++), xmlns: NS_HTTPBIND, ...(this.sid ? { sid: this.sid } : {}), ...attrs };
    const head = Object.entries(all).map(([k, v]) => `${k}='${v}'`).join(' ');
    this.inFlight++;
    try {
      return this.take(await boshPost(this.port, `<body ${head}>${payload}</body>`, { agent: this.agent, ...(this.origin ? { origin: this.origin } : {}) }));
    } finally {
      this.inFlight--;
    }
  }

  /** Create the session; resolves with the answer (features included). A short wait: a request with nothing to answer returns soon. */
  async create(wait = 2, hold = 1): Promise<BoshAnswer> {
    const a = await this.post('', { to: this.to, wait: String(wait), hold: String(hold), ver: '1.6', 'xml:lang': 'en', 'xmpp:version': '1.0', 'xmlns:xmpp': NS_XBOSH });
    this.sid = a.body?.attrs.sid ?? '';
    this.session = a.body?.attrs ?? {};
    return a;
  }

  /** Keep one empty request held while the session lasts (call stop() to end it). */
  poll(): void {
    if (this.polling) return;
    this.polling = true;
    const loop = async (): Promise<void> => {
      while (this.polling && this.done === undefined) {
        if (this.inFlight > 0) { await new Promise((r) => setTimeout(r, 20)); continue; }
        await this.post().catch(() => { this.polling = false; });
      }
    };
    void loop();
  }

  stop(): void {
    this.polling = false;
  }

  /** SASL PLAIN, restart, bind over BOSH (creating the session unless create() was called). */
  async login(user: string, password: string, resource?: string): Promise<string> {
    if (!this.sid) await this.create();
    await this.until(() => this.received.find((e) => e.name === 'stream:features'), 'the first features');
    await this.post(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
    const r = await this.waitFor((e) => e.xmlns === NS_SASL);
    if (r.local !== 'success') throw new Error(`authentication failed: ${r.toString()}`);
    await this.post('', { to: this.to, 'xml:lang': 'en', 'xmpp:restart': 'true', 'xmlns:xmpp': NS_XBOSH });
    await this.waitFor(named('stream:features'));
    await this.post(`<iq type='set' id='bind' xmlns='jabber:client'><bind xmlns='${NS_BIND}'>${resource ? `<resource>${resource}</resource>` : ''}</bind></iq>`);
    const bound = await this.waitFor((e) => e.name === 'iq' && e.attrs.id === 'bind');
    this.jid = bound.getChild('bind', NS_BIND)?.getChildText('jid') ?? '';
    return this.jid;
  }

  /** Terminate the session (its answer is the last). */
  async close(): Promise<void> {
    this.stop();
    if (this.done === undefined && this.sid) await this.post('', { type: 'terminate' }).catch(() => undefined);
    this.agent.destroy();
  }
}
