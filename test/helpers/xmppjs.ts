// xmpp.js (@xmpp/client 0.14) as an independent client against a test server: connect with a
// chosen SASL mechanism, record what the server negotiated, await stanzas, stop cleanly.
import type { TLSSocket } from 'node:tls';
// @ts-expect-error: @xmpp/client 0.14 ships no type declarations; XmppjsEntity below says what is used.
import { client, xml } from '@xmpp/client';
import type { TestServer } from './server.js';

/** The parts of an ltx element the tests use (xmpp.js has no type declarations). */
export interface XmlElement {
  name: string;
  attrs: Record<string, string | undefined>;
  children: (XmlElement | string)[];
  getChild(name: string, xmlns?: string): XmlElement | undefined;
  getChildren(name: string, xmlns?: string): XmlElement[];
  getChildElements(): XmlElement[];
  getChildText(name: string, xmlns?: string): string | null;
  text(): string;
  is(name: string, xmlns?: string): boolean;
  getNS(): string | undefined;
  toString(): string;
}

/** Mechanisms xmpp.js 0.14 implements (it has no SCRAM-SHA-256). */
export type XmppjsMechanism = 'PLAIN' | 'SCRAM-SHA-1';

export interface XmppjsOptions {
  username: string;
  password: string;
  /** Resource to request; the server picks one when absent. */
  resource?: string;
  /** Authenticate with exactly this mechanism; xmpp.js chooses when absent. */
  mechanism?: XmppjsMechanism;
  /** Milliseconds for the whole login; default 10 000. */
  timeout?: number;
}

interface XmppjsEntity {
  jid: { toString(): string } | null;
  status: string;
  socket: { socket?: TLSSocket; secure?: boolean } | null;
  reconnect: { stop(): void };
  iqCaller: { request(el: XmlElement, timeout?: number): Promise<XmlElement> };
  iqCallee: { set(ns: string, name: string, handler: () => unknown): void };
  on(event: string, fn: (...args: never[]) => void): void;
  prependListener(event: string, fn: (...args: never[]) => void): void;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(el: XmlElement): Promise<void>;
  isSecure(): boolean;
}

export interface TlsInfo {
  protocol: string | null;
  /** SHA-256 fingerprint of the certificate the server presented (AB:CD:…). */
  fingerprint: string;
}

export interface XmppjsClient {
  readonly xmpp: XmppjsEntity;
  /** Full JID the server bound. */
  readonly jid: string;
  /** Every `<stream:features/>` received, in order. */
  readonly features: XmlElement[];
  /** Mechanisms offered in the features xmpp.js authenticated against. */
  readonly offered: string[];
  /** The mechanism used. */
  readonly mechanism: string;
  readonly tls: TlsInfo | undefined;
  /** Send a stanza. */
  send(el: XmlElement): Promise<void>;
  /** Wait for (and consume) the first received stanza matching `pred`, buffered ones included. */
  waitFor(pred: (el: XmlElement) => boolean, what: string, timeoutMs?: number): Promise<XmlElement>;
  /** Send an iq and return the reply, whether result or error. */
  iq(el: XmlElement, timeoutMs?: number): Promise<XmlElement>;
  /** Close the stream and the socket. */
  stop(): Promise<void>;
}

export { xml };

let counter = 0;

/** Thrown when login fails; `condition` is the SASL or stream condition. */
export class LoginError extends Error {
  constructor(readonly condition: string, message: string, readonly features: XmlElement[]) {
    super(message);
  }
}

/** Connect an xmpp.js client to the test server (127.0.0.1, the server's port) and wait until online. */
export async function connectXmppjs(ts: TestServer, opts: XmppjsOptions): Promise<XmppjsClient> {
  // The test certificate is self-signed and xmpp.js 0.14's STARTTLS passes no TLS options; the
  // test process (one per file under vitest's forks pool) accepts it, and the tests check that the
  // certificate presented is the server's own by fingerprint.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  const features: XmlElement[] = [];
  let offered: string[] = [];
  let used = '';
  const credentials = async (
    authenticate: (creds: { username: string; password: string }, mechanism: string) => Promise<void>,
    mechanisms: string[],
  ): Promise<void> => {
    // `mechanisms` is what both sides support, in xmpp.js's order of preference.
    offered = features.at(-1)?.getChild('mechanisms', 'urn:ietf:params:xml:ns:xmpp-sasl')?.getChildren('mechanism').map((m) => m.text()) ?? [];
    const mechanism = opts.mechanism ?? mechanisms[0];
    if (!mechanism || !mechanisms.includes(mechanism)) throw new LoginError('invalid-mechanism', `xmpp.js cannot use ${mechanism ?? 'any mechanism'} here (offered: ${offered.join(' ')})`, features);
    used = mechanism;
    await authenticate({ username: opts.username, password: opts.password }, mechanism);
  };
  const xmpp = client({
    service: `xmpp://127.0.0.1:${ts.port}`,
    domain: ts.domain,
    resource: opts.resource,
    credentials,
  }) as unknown as XmppjsEntity;
  xmpp.reconnect.stop();
  // Acknowledge roster pushes as a roster-aware client must (RFC 6121 §2.1.6); the tests read
  // them from the stanza stream.
  xmpp.iqCallee.set(NS_ROSTER, 'query', () => true);

  const inbox: XmlElement[] = [];
  const waiters = new Set<() => void>();
  const errors: Error[] = [];
  xmpp.on('error', (err: never) => {
    errors.push(err as Error);
  });
  // Ahead of xmpp.js's own listeners, so the SASL step below already sees these features.
  xmpp.prependListener('element', (el: never) => {
    const e = el as XmlElement;
    if (e.name === 'stream:features') features.push(e);
  });
  xmpp.on('stanza', (el: never) => {
    inbox.push(el as XmlElement);
    for (const w of [...waiters]) w();
  });

  const timeout = opts.timeout ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      xmpp.start(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new LoginError('timeout', `xmpp.js login as ${opts.username} did not finish in ${timeout} ms`, features)), timeout);
      }),
    ]);
  } catch (err) {
    await forceStop(xmpp);
    if (err instanceof LoginError) throw err;
    const e = err as Error & { condition?: string };
    throw new LoginError(e.condition ?? 'error', e.message, features);
  } finally {
    clearTimeout(timer);
  }

  const sock = xmpp.socket?.socket;
  const tls = sock && typeof sock.getProtocol === 'function'
    ? { protocol: sock.getProtocol(), fingerprint: sock.getPeerCertificate().fingerprint256 }
    : undefined;

  const take = (pred: (el: XmlElement) => boolean): XmlElement | undefined => {
    const i = inbox.findIndex(pred);
    return i < 0 ? undefined : inbox.splice(i, 1)[0];
  };

  const waitFor = (pred: (el: XmlElement) => boolean, what: string, timeoutMs = 5000): Promise<XmlElement> => {
    const found = take(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const el = take(pred);
        if (!el) return;
        waiters.delete(check);
        clearTimeout(t);
        resolve(el);
      };
      const t = setTimeout(() => {
        waiters.delete(check);
        const recent = inbox.slice(-5).map((s) => s.toString()).join('\n  ');
        reject(new Error(`xmpp.js ${opts.username}: no ${what} within ${timeoutMs} ms; unconsumed stanzas:\n  ${recent || '(none)'}`));
      }, timeoutMs);
      waiters.add(check);
    });
  };

  return {
    xmpp,
    jid: String(xmpp.jid),
    features,
    offered,
    mechanism: used,
    tls,
    send: (el) => xmpp.send(el),
    waitFor,
    async iq(el, timeoutMs = 5000) {
      el.attrs.id ??= `e2e-${++counter}`;
      const id = el.attrs.id;
      const reply = waitFor((s) => s.name === 'iq' && s.attrs.id === id && (s.attrs.type === 'result' || s.attrs.type === 'error'), `reply to iq ${id}`, timeoutMs);
      await xmpp.send(el);
      return reply;
    },
    stop: () => forceStop(xmpp),
  };
}

/** Stop a client whatever state it is in; never throws. */
async function forceStop(xmpp: XmppjsEntity): Promise<void> {
  if (xmpp.status === 'offline') return;
  try {
    await xmpp.stop();
  } catch {
    // The stream or socket was already gone; nothing to close.
  }
}

// ---- predicates shared by the e2e tests (both clients' stanzas are ltx elements) ----

export const NS_ROSTER = 'jabber:iq:roster';

/** The bare part of a JID string. */
export const bareOf = (jid: string): string => jid.split('/')[0] as string;

/** A presence from `from` (bare: any of its resources; full: exactly it) of the given type ('' = available). */
export function isPresence(el: XmlElement, from: string, type = ''): boolean {
  if (el.name !== 'presence') return false;
  const f = el.attrs.from ?? '';
  const fromOk = from.includes('/') ? f === from : bareOf(f) === from;
  return fromOk && (el.attrs.type ?? '') === type;
}

/** A roster push (RFC 6121 §2.1.6) carrying an item for `jid`. */
export function isRosterPush(el: XmlElement, jid: string): boolean {
  return el.name === 'iq' && el.attrs.type === 'set' && rosterItem(el, jid) !== undefined;
}

/** The roster `<item/>` for `jid` in a roster result or push. */
export function rosterItem(el: XmlElement, jid: string): XmlElement | undefined {
  return el.getChild('query', NS_ROSTER)?.getChildren('item').find((i) => i.attrs.jid === jid);
}

/** A message from `from` (bare or full, as in isPresence) with this body. */
export function isMessage(el: XmlElement, from: string, body: string): boolean {
  if (el.name !== 'message') return false;
  const f = el.attrs.from ?? '';
  return (from.includes('/') ? f === from : bareOf(f) === from) && el.getChildText('body') === body;
}
