// The login floor: a Node.js TLS server that answers the bench's login dialogue (bench/lib/xmpp.mjs,
// login(): stream header, STARTTLS, SASL PLAIN or SCRAM-SHA-1, bind, session) with the least work
// a server can do there, to measure what any XMPP server built on Node 20's node:tls and
// node:crypto can reach on this machine. It does what no server can skip:
// - accept on 127.0.0.1 (noDelay, backlog 1,024, as Clove);
// - the TLS handshake with the same certificate and TLS settings as Clove;
// - the same replies, one write each, after the same round trips;
// - SASL's cryptography: PLAIN runs PBKDF2 on libuv's pool, SCRAM checks the client proof and
//   signs the server's, with the stored keys.
// It skips what a real server does: no XML parser (each reply is found by the end of the text it
// answers), no storage (credentials are read once at start), no sessions or routing, no limits
// and no logging. Bound clients get a result for every <iq>, nothing else; idle connections
// stay open. Not a server: a yardstick for bench/run.mjs (`--server floor`), started by its
// entry in bench/lib/servers.mjs.
//
//   node bench/lib/floor-server.mjs --port N --cert FILE --key FILE --creds FILE --domain D

import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';

const pbkdf2 = promisify(crypto.pbkdf2);
const { values: opt } = parseArgs({
  options: {
    port: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    creds: { type: 'string' },
    domain: { type: 'string', default: 'localhost' },
  },
});

/** username → { salt (text, as Prosody stores it), iterations, storedKey, serverKey (Buffers) } */
const creds = new Map(
  JSON.parse(fs.readFileSync(opt.creds, 'utf8')).map((c) => [
    c.user,
    { salt: c.salt, iterations: c.iterations, storedKey: Buffer.from(c.storedKey, 'hex'), serverKey: Buffer.from(c.serverKey, 'hex') },
  ]),
);
// As src/main.ts makes Clove's context.
const context = tls.createSecureContext({ key: fs.readFileSync(opt.key), cert: fs.readFileSync(opt.cert), minVersion: 'TLSv1.2' });

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const header = () =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='${crypto
    .randomBytes(12)
    .toString('base64url')}' from='${opt.domain}' version='1.0' xml:lang='en'>`;
const FEATURES_TLS = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
const FEATURES_SASL = `<stream:features><mechanisms xmlns='${NS_SASL}'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>`;
const FEATURES_BIND =
  "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>";
const FAILURE = `<failure xmlns='${NS_SASL}'><not-authorized/></failure>`;

const attr = (text, name) => new RegExp(`\\s${name}=['"]([^'"]*)['"]`).exec(text)?.[1];
const between = (text) => text.slice(text.indexOf('>') + 1, text.lastIndexOf('</'));
const hmac = (key, data) => crypto.createHmac('sha1', key).update(data).digest();

/** One client connection: what it waits for next, and the text read since. */
class Conn {
  constructor(socket) {
    this.io = socket;
    this.buf = '';
    this.step = 'header';
    this.busy = false;
    this.user = '';
    this.scram = null;
    this.onData = (chunk) => {
      this.buf += chunk.toString('utf8');
      this.advance();
    };
    socket.on('data', this.onData);
    socket.on('error', () => socket.destroy());
  }

  /** Text up to and including `marker`, taken off the buffer; undefined until it is all in. */
  take(marker, from = 0) {
    const at = this.buf.indexOf(marker, from);
    if (at < 0) return undefined;
    const text = this.buf.slice(0, at + marker.length);
    this.buf = this.buf.slice(at + marker.length);
    return text;
  }

  advance() {
    while (!this.busy && !this.io.destroyed) {
      if (this.buf.includes('</stream:stream>')) {
        this.io.end('</stream:stream>');
        return;
      }
      if (!this.stepOnce()) return;
    }
  }

  /** Handles one thing the client sent, if it is all in; false when more must come first. */
  stepOnce() {
    switch (this.step) {
      case 'header':
      case 'header-tls':
      case 'header-bound': {
        const start = this.buf.indexOf('<stream:stream');
        if (start < 0 || this.take('>', start) === undefined) return false;
        const features = this.step === 'header' ? FEATURES_TLS : this.step === 'header-tls' ? FEATURES_SASL : FEATURES_BIND;
        this.io.write(header() + features);
        this.step = this.step === 'header' ? 'starttls' : this.step === 'header-tls' ? 'auth' : 'bound';
        return true;
      }
      case 'starttls':
        if (this.take('/>') === undefined) return false;
        this.io.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        this.startTls();
        return false;
      case 'auth': {
        const text = this.take('</auth>');
        if (text === undefined) return false;
        const payload = Buffer.from(between(text), 'base64').toString('utf8');
        if (attr(text, 'mechanism') === 'PLAIN') this.plain(payload);
        else this.scramFirst(payload);
        return true;
      }
      case 'response': {
        const text = this.take('</response>');
        if (text === undefined) return false;
        this.scramFinal(Buffer.from(between(text), 'base64').toString('utf8'));
        return true;
      }
      case 'bound':
        return this.stanza();
      default:
        return false;
    }
  }

  /** After <proceed/>: the client's first TLS bytes, put back, then TLS on the socket's handle (as Clove). */
  startTls() {
    const raw = this.io;
    raw.off('data', this.onData);
    this.buf = '';
    this.step = 'header-tls';
    raw.once('data', (hello) => {
      raw.pause();
      raw.unshift(hello);
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context, requestCert: false, rejectUnauthorized: false });
      this.io = secure;
      secure.on('data', this.onData);
      secure.on('error', () => secure.destroy());
    });
  }

  /** SASL PLAIN: PBKDF2 on the pool with the stored salt and count, then the stored key compared. */
  plain(payload) {
    const [, user, password] = payload.split('\0');
    const c = creds.get(user);
    if (!c) return this.fail();
    this.busy = true;
    pbkdf2(Buffer.from(password ?? '', 'utf8'), Buffer.from(c.salt, 'utf8'), c.iterations, 20, 'sha1').then((salted) => {
      this.busy = false;
      const stored = crypto.createHash('sha1').update(hmac(salted, 'Client Key')).digest();
      if (!crypto.timingSafeEqual(stored, c.storedKey)) return this.fail();
      this.user = user;
      this.succeed('');
    }, () => this.io.destroy());
  }

  scramFirst(payload) {
    const bare = payload.slice(payload.indexOf(',', payload.indexOf(',') + 1) + 1);
    const fields = Object.fromEntries(bare.split(',').map((kv) => [kv[0], kv.slice(2)]));
    const c = creds.get(fields.n);
    if (!c || !fields.r) return this.fail();
    const nonce = fields.r + crypto.randomBytes(18).toString('base64');
    const serverFirst = `r=${nonce},s=${Buffer.from(c.salt, 'utf8').toString('base64')},i=${c.iterations}`;
    this.scram = { c, user: fields.n, nonce, bare, serverFirst };
    this.step = 'response';
    this.io.write(`<challenge xmlns='${NS_SASL}'>${Buffer.from(serverFirst).toString('base64')}</challenge>`);
  }

  /** The client proof checked against the stored key; the server signature from the server key. */
  scramFinal(clientFinal) {
    const s = this.scram;
    this.scram = null;
    const p = clientFinal.lastIndexOf(',p=');
    const withoutProof = clientFinal.slice(0, p);
    if (p < 0 || !withoutProof.includes(`r=${s.nonce}`)) return this.fail();
    const authMessage = `${s.bare},${s.serverFirst},${withoutProof}`;
    const signature = hmac(s.c.storedKey, authMessage);
    const proof = Buffer.from(clientFinal.slice(p + 3), 'base64');
    if (proof.length !== signature.length) return this.fail();
    for (let i = 0; i < proof.length; i++) proof[i] ^= signature[i];
    if (!crypto.timingSafeEqual(crypto.createHash('sha1').update(proof).digest(), s.c.storedKey)) return this.fail();
    this.user = s.user;
    this.succeed(Buffer.from(`v=${hmac(s.c.serverKey, authMessage).toString('base64')}`).toString('base64'));
  }

  succeed(payload) {
    this.step = 'header-bound';
    this.io.write(`<success xmlns='${NS_SASL}'>${payload}</success>`);
    this.advance();
  }

  fail() {
    this.step = 'auth';
    this.io.write(FAILURE);
  }

  /** A bound client's <iq/> gets a result (the bind one its JID); <presence/> and the rest are dropped. */
  stanza() {
    const lt = this.buf.indexOf('<');
    if (lt < 0) return false;
    const gt = this.buf.indexOf('>', lt);
    if (gt < 0) return false;
    const name = /^<([^\s/>]+)/.exec(this.buf.slice(lt, gt + 1))?.[1] ?? '';
    const selfClosing = this.buf[gt - 1] === '/';
    const text = selfClosing ? this.take('>', lt) : this.take(`</${name}>`, gt);
    if (text === undefined) return false;
    if (name !== 'iq') return true;
    const id = attr(text, 'id') ?? '';
    const jid = text.includes('urn:ietf:params:xml:ns:xmpp-bind') ? `<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>${this.user}@${opt.domain}/${crypto.randomBytes(6).toString('hex')}</jid></bind>` : '';
    this.io.write(jid ? `<iq type='result' id='${id}'>${jid}</iq>` : `<iq type='result' id='${id}'/>`);
    return true;
  }
}

const server = net.createServer({ noDelay: true }, (socket) => new Conn(socket));
server.listen({ host: '127.0.0.1', port: Number(opt.port), backlog: 1024 }, () => console.log(`floor: listening on 127.0.0.1:${server.address().port}`));
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
