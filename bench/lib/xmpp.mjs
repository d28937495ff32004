// A deliberately small XMPP client for load generation: stanzas are written as strings and
// replies are cut into top-level elements with indexOf, not parsed by an XML library, so the
// generator stays cheap next to the server under test. It only understands what well-behaved
// servers send on a c2s stream (no CDATA, no '>' inside attribute values, no element nested in
// another element of the same name), which is all this benchmark needs.
// References: RFC 6120 (streams, STARTTLS, SASL, bind), RFC 4616 (PLAIN), RFC 5802 (SCRAM),
// XEP-0199 (ping).

import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

export const NS_STREAM = 'http://etherx.jabber.org/streams';

/** Opening stream header for a client stream to `domain`. */
export function streamHeader(domain) {
  return (
    `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' ` +
    `xmlns='jabber:client' xmlns:stream='${NS_STREAM}'>`
  );
}

let sharedClientContext;
/**
 * One TLS client context for every connection of the generator: without it Node builds a new
 * context (CA store, cipher lists) per connection, which made the generator, not the server,
 * the limit of the SCRAM phase. Sessions are never resumed either way (no `session` option), so
 * every login is still a full handshake.
 */
function clientContext() {
  sharedClientContext ??= tls.createSecureContext({});
  return sharedClientContext;
}

/** A failed step of a client session; `code` groups failures in the report. */
export class ClientError extends Error {
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code);
    this.code = code;
  }
}

function noop() {}

function isNameEnd(c) {
  // space, tab, CR, LF, '/', '>'
  return c === 32 || c === 9 || c === 13 || c === 10 || c === 47 || c === 62;
}

/**
 * Cuts complete top-level items off the front of `buf` (starting at `pos`).
 * Returns { items, pos }: items are { kind: 'open'|'close'|'el', name, xml }.
 */
export function scan(buf, pos) {
  const items = [];
  const len = buf.length;
  for (;;) {
    while (pos < len && buf.charCodeAt(pos) <= 32) pos++;
    if (pos >= len) break;
    if (buf.charCodeAt(pos) !== 60 /* < */) {
      // Text at the top level (not whitespace) is not something servers send; skip to the next tag.
      const lt = buf.indexOf('<', pos);
      if (lt < 0) {
        pos = len;
        break;
      }
      pos = lt;
      continue;
    }
    const c1 = buf.charCodeAt(pos + 1);
    if (c1 === 63 /* ? */) {
      const end = buf.indexOf('?>', pos);
      if (end < 0) break;
      pos = end + 2;
      continue;
    }
    if (c1 === 47 /* / */) {
      const gt = buf.indexOf('>', pos);
      if (gt < 0) break;
      items.push({ kind: 'close', name: buf.slice(pos + 2, gt).trim(), xml: buf.slice(pos, gt + 1) });
      pos = gt + 1;
      continue;
    }
    let ne = pos + 1;
    while (ne < len && !isNameEnd(buf.charCodeAt(ne))) ne++;
    if (ne >= len) break;
    const name = buf.slice(pos + 1, ne);
    const gt = buf.indexOf('>', ne);
    if (gt < 0) break;
    if (name === 'stream:stream' || name === 'stream' || name.endsWith(':stream')) {
      items.push({ kind: 'open', name, xml: buf.slice(pos, gt + 1) });
      pos = gt + 1;
      continue;
    }
    if (buf.charCodeAt(gt - 1) === 47 /* / */) {
      items.push({ kind: 'el', name, xml: buf.slice(pos, gt + 1) });
      pos = gt + 1;
      continue;
    }
    const closeTag = `</${name}>`;
    const end = buf.indexOf(closeTag, gt + 1);
    if (end < 0) break;
    const stop = end + closeTag.length;
    items.push({ kind: 'el', name, xml: buf.slice(pos, stop) });
    pos = stop;
  }
  return { items, pos };
}

/** Value of attribute `name` in the start tag at the beginning of `xml`, or undefined. */
export function attr(xml, name) {
  const gt = xml.indexOf('>');
  const head = gt < 0 ? xml : xml.slice(0, gt);
  for (const q of ["'", '"']) {
    const key = ` ${name}=${q}`;
    const i = head.indexOf(key);
    if (i >= 0) {
      const start = i + key.length;
      const end = head.indexOf(q, start);
      return end < 0 ? undefined : head.slice(start, end);
    }
  }
  return undefined;
}

/** Text of the first <tag>…</tag> inside `xml`, or undefined. */
export function childText(xml, tag) {
  const open = xml.indexOf(`<${tag}>`);
  if (open < 0) return undefined;
  const start = open + tag.length + 2;
  const end = xml.indexOf(`</${tag}>`, start);
  return end < 0 ? undefined : xml.slice(start, end);
}

function streamErrorCondition(xml) {
  const m = /<([a-z-]+)[^>]*urn:ietf:params:xml:ns:xmpp-streams/.exec(xml);
  return m ? m[1] : 'unknown';
}

/**
 * One client connection. In "step" mode (logging in) items are queued for `next()`; once
 * `onItems` is set, each batch of complete items goes straight to it (the fast path used while
 * exchanging messages); `onClose(err)` then hears about the connection ending.
 */
export class Conn {
  constructor({ host, port, domain, timeoutMs, localAddress }) {
    this.host = host;
    this.localAddress = localAddress; // a loopback source address, for more than ~28,000 connections to one port
    this.port = port;
    this.domain = domain;
    this.timeoutMs = timeoutMs;
    this.sock = null;
    this.buf = '';
    this.queue = [];
    this.waiter = null;
    this.closed = false;
    this.closeReason = null;
    this.onItems = null;
    this.onClose = null;
    this.onData = (chunk) => this.#data(chunk);
    this.jid = null;
    this.tlsInfo = null;
  }

  /** Opens the TCP connection. */
  connect() {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: this.host, port: this.port, ...(this.localAddress ? { localAddress: this.localAddress } : {}) });
      sock.on('error', noop); // a late second error must never become an uncaught exception
      this.sock = sock;
      sock.setNoDelay(true);
      sock.setEncoding('utf8');
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new ClientError('connect-timeout'));
      }, this.timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.off('error', onErr);
        this.#attach(sock);
        resolve();
      });
      const onErr = (err) => {
        clearTimeout(timer);
        reject(new ClientError('connect-error', err.code || err.message));
      };
      sock.once('error', onErr);
    });
  }

  #attach(sock) {
    sock.on('data', this.onData);
    sock.on('error', (err) => this.#fail(new ClientError('socket-error', err.code || err.message)));
    sock.on('close', () => this.#fail(new ClientError('closed-by-server')));
  }

  #fail(err) {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = err;
    const w = this.waiter;
    this.waiter = null;
    if (w) w.reject(err);
    if (this.onClose) this.onClose(err);
  }

  #data(chunk) {
    const buf = this.buf.length === 0 ? chunk : this.buf + chunk;
    const { items, pos } = scan(buf, 0);
    this.buf = pos >= buf.length ? '' : buf.slice(pos);
    if (this.onItems) {
      if (items.length > 0) this.onItems(items);
      return;
    }
    for (const it of items) this.queue.push(it);
    this.#wake();
  }

  #wake() {
    if (this.waiter && this.queue.length > 0) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(this.queue.shift());
    }
  }

  /** Next top-level item from the server (stream open, element or stream close). */
  next() {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.closed) return Promise.reject(this.closeReason);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new ClientError('timeout', 'no reply from server'));
      }, this.timeoutMs);
      this.waiter = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Next element, failing on stream errors and stream close; skips stream opens. */
  async element() {
    for (;;) {
      const it = await this.next();
      if (it.kind === 'open') continue;
      if (it.kind === 'close') throw new ClientError('stream-closed');
      if (it.name === 'stream:error') throw new ClientError('stream-error', streamErrorCondition(it.xml));
      return it;
    }
  }

  /** Reads past the stream header up to and including the stream features. */
  async features() {
    const el = await this.element();
    if (!el.name.endsWith('features')) throw new ClientError('no-features', el.xml.slice(0, 200));
    return el.xml;
  }

  write(s) {
    if (!this.closed) this.sock.write(s);
  }

  /** Replaces the TCP socket with a TLS one over it (after <proceed/>). */
  startTls() {
    return new Promise((resolve, reject) => {
      const raw = this.sock;
      raw.removeAllListeners('data');
      raw.removeAllListeners('error');
      raw.removeAllListeners('close');
      raw.on('error', noop); // the TLS socket reports it
      this.buf = '';
      const sock = tls.connect({ socket: raw, servername: this.domain, rejectUnauthorized: false, secureContext: clientContext() });
      sock.on('error', noop);
      this.sock = sock;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new ClientError('tls-timeout'));
      }, this.timeoutMs);
      const onErr = (err) => {
        clearTimeout(timer);
        reject(new ClientError('tls-error', err.code || err.message));
      };
      sock.once('error', onErr);
      sock.once('secureConnect', () => {
        clearTimeout(timer);
        sock.off('error', onErr);
        sock.setEncoding('utf8');
        this.tlsInfo = { protocol: sock.getProtocol(), cipher: sock.getCipher()?.name };
        this.#attach(sock);
        resolve();
      });
    });
  }

  /** Sends a request iq and waits for the reply with the same id (other elements are skipped). */
  async iq(xml, id) {
    this.write(xml);
    for (;;) {
      const el = await this.element();
      if (el.name === 'iq' && attr(el.xml, 'id') === id) return el.xml;
    }
  }

  /** Closes the stream politely and the socket at once. */
  close() {
    if (!this.sock) return;
    this.closed = true;
    this.onItems = null;
    this.onClose = null;
    try {
      if (!this.sock.destroyed && this.sock.writable) this.sock.end('</stream:stream>');
    } catch {
      // already gone
    }
    this.sock.destroy();
  }
}

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

function saslFailure(el) {
  const cond = /<([a-z-]+)\s*\/>/.exec(el.xml);
  return new ClientError('sasl-failure', cond ? cond[1] : el.name);
}

function saslPayload(el) {
  const gt = el.xml.indexOf('>');
  const end = el.xml.lastIndexOf('</');
  return gt < 0 || end <= gt ? '' : Buffer.from(el.xml.slice(gt + 1, end), 'base64').toString('utf8');
}

/** SASL PLAIN (RFC 4616): the server checks the password, so it runs PBKDF2 on every login. */
async function authPlain(c, user, password) {
  const cred = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
  c.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${cred}</auth>`);
  const a = await c.element();
  if (a.name !== 'success') throw saslFailure(a);
}

/**
 * SASL SCRAM-SHA-1 (RFC 5802) without channel binding, as Pidgin does it. The server only
 * does a few HMACs with its stored keys. Like real clients, the salted password is cached per
 * (user, salt, iterations) in `cache`, so the generator pays PBKDF2 once per account, not per
 * login. Usernames here need no =2C/=3D escaping.
 */
async function authScramSha1(c, user, password, cache) {
  const nonce = crypto.randomBytes(18).toString('base64');
  const clientFirstBare = `n=${user},r=${nonce}`;
  c.write(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${Buffer.from('n,,' + clientFirstBare).toString('base64')}</auth>`);
  const ch = await c.element();
  if (ch.name !== 'challenge') throw saslFailure(ch);
  const serverFirst = saslPayload(ch);
  const f = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
  if (!f.r || !f.r.startsWith(nonce) || !f.s || !f.i) throw new ClientError('scram-bad-challenge', serverFirst);
  const key = `${user}\0${f.s}\0${f.i}`;
  let keys = cache?.get(key);
  if (!keys) {
    const salted = crypto.pbkdf2Sync(password, Buffer.from(f.s, 'base64'), Number(f.i), 20, 'sha1');
    const clientKey = crypto.createHmac('sha1', salted).update('Client Key').digest();
    keys = {
      clientKey,
      storedKey: crypto.createHash('sha1').update(clientKey).digest(),
      serverKey: crypto.createHmac('sha1', salted).update('Server Key').digest(),
    };
    cache?.set(key, keys);
  }
  const clientFinalNoProof = `c=biws,r=${f.r}`;
  const authMessage = `${clientFirstBare},${serverFirst},${clientFinalNoProof}`;
  const sig = crypto.createHmac('sha1', keys.storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(20);
  for (let i = 0; i < 20; i++) proof[i] = keys.clientKey[i] ^ sig[i];
  const clientFinal = `${clientFinalNoProof},p=${proof.toString('base64')}`;
  c.write(`<response xmlns='${NS_SASL}'>${Buffer.from(clientFinal).toString('base64')}</response>`);
  const a = await c.element();
  if (a.name !== 'success') throw saslFailure(a);
  const v = /(?:^|,)v=([^,]+)/.exec(saslPayload(a));
  const expected = crypto.createHmac('sha1', keys.serverKey).update(authMessage).digest('base64');
  if (!v || v[1] !== expected) throw new ClientError('scram-bad-server-signature');
}

/**
 * Logs a client in the way a typical desktop client does: stream header, STARTTLS, TLS,
 * restart, SASL (`mech`: 'PLAIN' or 'SCRAM-SHA-1'), restart, resource binding and the legacy
 * session iq (Pidgin always sends it). Resolves with the open Conn; `conn.jid` holds the bound
 * full JID.
 */
export async function login({ host, port, domain, user, password, mech = 'PLAIN', scramCache, timeoutMs = 15000, localAddress }) {
  const c = new Conn({ host, port, domain, timeoutMs, localAddress });
  try {
    await c.connect();
    c.write(streamHeader(domain));
    let feats = await c.features();
    if (!feats.includes('urn:ietf:params:xml:ns:xmpp-tls')) throw new ClientError('no-starttls');
    c.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    const p = await c.element();
    if (p.name !== 'proceed') throw new ClientError('starttls-refused', p.name);
    await c.startTls();
    c.write(streamHeader(domain));
    feats = await c.features();
    if (!feats.includes(`>${mech}<`) && !new RegExp(`>\\s*${mech}\\s*<`).test(feats)) {
      throw new ClientError(`no-${mech.toLowerCase()}`, feats.slice(0, 300));
    }
    if (mech === 'SCRAM-SHA-1') await authScramSha1(c, user, password, scramCache);
    else await authPlain(c, user, password);
    c.write(streamHeader(domain));
    feats = await c.features();
    if (!feats.includes('urn:ietf:params:xml:ns:xmpp-bind')) throw new ClientError('no-bind');
    const b = await c.iq(
      "<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
      'bind_1',
    );
    if (attr(b, 'type') !== 'result') throw new ClientError('bind-error', b.slice(0, 200));
    c.jid = childText(b, 'jid');
    if (!c.jid) throw new ClientError('bind-no-jid', b.slice(0, 200));
    const s = await c.iq(
      "<iq type='set' id='sess_1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
      'sess_1',
    );
    if (attr(s, 'type') !== 'result') throw new ClientError('session-error', s.slice(0, 200));
    return c;
  } catch (err) {
    c.close();
    throw err instanceof ClientError ? err : new ClientError('client-bug', err.stack);
  }
}

/** Sends initial presence and waits until the server has processed it (a ping round trip). */
export async function becomeAvailable(c, domain, n = 1) {
  c.write('<presence/>');
  const id = `ping_${n}`;
  await c.iq(`<iq type='get' id='${id}' to='${domain}'><ping xmlns='urn:xmpp:ping'/></iq>`, id);
}
