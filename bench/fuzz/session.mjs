// A fuzzing client session: logs in with the bench's client (STARTTLS, SASL PLAIN, bind,
// session), then reads the server's output with Clove's strict StreamParser (so malformed
// output from the server is caught too), answers iqs sent to it as a polite client would,
// and matches answers to the iqs it sent: each must get exactly one.

import { login } from '../lib/xmpp.mjs';
import { StreamParser } from './clove-run.mjs';

const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

export class FuzzSession {
  constructor(target, user, password) {
    this.target = target;
    this.user = user;
    this.password = password;
    this.jid = null;
    this.pending = new Map(); // id → the iq's XML (for the report)
    this.stats = { received: 0, answers: 0, duplicateAnswers: 0, answeredResults: 0, duplicates: [], streamErrors: {}, badOutput: [], logins: 0, lost: 0 };
    this.waiters = new Map(); // id → resolve, for pings
    this.answered = new Set(); // ids answered once
    this.requests = new Map(); // id → { from, stream: login count } of iq get/set received
    this.quiet = new Set(); // ids of iq result/error sent: answering them is a protocol error
    this.conn = null;
  }

  /** Logs in (again); iqs still pending on an earlier stream are counted as lost with it. */
  async connect() {
    this.stats.lost += this.pending.size;
    this.pending.clear();
    this.closed = false;
    if (process.env.FUZZ_DEBUG) console.error(`${this.user} logging in`);
    const c = await login({ ...this.target, user: this.user, password: this.password, timeoutMs: 30000 });
    if (process.env.FUZZ_DEBUG) console.error(`${this.user} logged in`);
    this.stats.logins++;
    this.conn = c;
    this.jid = c.jid;
    const sock = c.sock;
    sock.removeAllListeners('data');
    sock.removeAllListeners('close');
    const parser = new StreamParser(
      {
        streamStart() {},
        stanza: (el) => this.#stanza(el),
        streamEnd: () => this.#closed('stream closed by the server'),
        error: (condition, text) => {
          this.stats.badOutput.push(`${condition}: ${text}`);
          this.#closed('malformed output');
        },
      },
      { maxStanzaBytes: 1 << 24 },
    );
    parser.write(HEADER);
    if (c.buf) parser.write(c.buf);
    sock.on('data', (d) => parser.write(d));
    sock.on('close', () => this.#closed('socket closed'));
    this.write("<presence><priority>1</priority></presence>");
  }

  #closed(why) {
    if (this.closed) return;
    this.closed = why;
    for (const w of this.waiters.values()) w(null);
    this.waiters.clear();
  }

  #stanza(el) {
    this.stats.received++;
    if (process.env.FUZZ_DEBUG) console.error(`${this.user} <- ${String(el).slice(0, 300)}`);
    if (el.name === 'stream:error') {
      const cond = el.children.find((c) => typeof c !== 'string' && c.name !== 'text');
      const k = cond ? cond.name : '?';
      this.stats.streamErrors[k] = (this.stats.streamErrors[k] ?? 0) + 1;
      return;
    }
    if (el.name !== 'iq') return;
    const { type, id, from } = el.attrs;
    if (type === 'get' || type === 'set') {
      if (id) this.requests.set(id, { from, stream: this.stats.logins });
      if (this.requests.size > 10000) this.requests.delete(this.requests.keys().next().value);
      if (!id) return; // nothing to correlate an answer with
      // A polite client: roster pushes get a result, anything else service-unavailable.
      const push = !from || from === this.jid.split('/')[0];
      this.write(push
        ? `<iq type='result' id='${escAttr(id ?? '')}'/>`
        : `<iq type='error' id='${escAttr(id ?? '')}' to='${escAttr(from)}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
      return;
    }
    if (!id) return;
    const w = this.waiters.get(id);
    if (w) {
      this.waiters.delete(id);
      w(el);
      return;
    }
    if (this.pending.delete(id)) this.stats.answers++;
    else if (this.answered.has(id)) {
      this.stats.duplicateAnswers++;
      this.stats.duplicates.push(`${id}: ${String(el).slice(0, 400)}`);
    }
    else if (this.quiet.has(id) && from !== this.jid) this.stats.answeredResults++;
    this.answered.add(id);
  }

  write(s) {
    if (!this.closed) this.conn.sock.write(s);
  }

  /**
   * Sends stanzas; `iqs` are the ids of iq get/set among them that must be answered, `quiet`
   * those of iq result/error, which must not be.
   */
  send(xmlText, iqs, quiet) {
    if (this.closed) return;
    for (const [id, xml] of iqs) this.pending.set(id, xml);
    for (const id of quiet) this.quiet.add(id);
    this.write(xmlText);
  }

  /** A ping to the server; resolves with the milliseconds it took, or null (closed/timeout). */
  ping(id, timeoutMs) {
    if (this.closed) return Promise.resolve(null);
    const t0 = Date.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        resolve(null);
      }, timeoutMs);
      this.waiters.set(id, (el) => {
        clearTimeout(timer);
        resolve(el ? Date.now() - t0 : null);
      });
      this.write(`<iq type='get' id='${id}' to='${this.target.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    });
  }

  close() {
    if (!this.closed) this.closed = 'closed';
    this.conn?.close();
  }
}

function escAttr(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
