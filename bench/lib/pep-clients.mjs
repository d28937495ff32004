// The PEP fan-out bench's clients on the raw-socket Conn (./xmpp.mjs): contacts that announce
// +notify caps, answer the server's disco#info and count notifications per item id; and the
// publisher, which publishes and waits for acknowledgements and for delivery to everyone.

import { setTimeout as sleep } from 'node:timers/promises';
import { bump } from './stats.mjs';
import { attr, login } from './xmpp.mjs';
import { capsPresence, discoInfoReply, PEP_NODE } from './pep-setup.mjs';

const ITEM_ID = /<item\b[^>]*?\bid=(['"])(.*?)\1/;
const QUERY_NODE = /<query\b[^>]*?\bnode=(['"])(.*?)\1/;

/**
 * Which contact got which item, and when. `expect(id, need, lat)` starts waiting for an item:
 * it resolves with { got, ms } when `need` distinct contacts have it or at `timeoutMs`; with
 * `lat` (an array), each recipient's delay in ms is pushed to it.
 */
export class Tracker {
  constructor(n) {
    this.n = n;
    this.waiting = new Map();
  }

  expect(id, need, timeoutMs, lat) {
    return new Promise((resolve) => {
      const w = { t0: performance.now(), need, got: 0, seen: new Uint8Array(this.n), lat, resolve: null, timer: null };
      const done = () => {
        clearTimeout(w.timer);
        this.waiting.delete(id);
        resolve({ got: w.got, ms: performance.now() - w.t0 });
      };
      w.resolve = done;
      w.timer = setTimeout(done, timeoutMs);
      this.waiting.set(id, w);
    });
  }

  /** Restart the clock of item `id` (when the publish is actually written). */
  start(id) {
    const w = this.waiting.get(id);
    if (w) w.t0 = performance.now();
  }

  note(id, who) {
    const w = this.waiting.get(id);
    if (!w || w.seen[who]) return;
    w.seen[who] = 1;
    w.got++;
    w.lat?.push(performance.now() - w.t0);
    if (w.got >= w.need) w.resolve();
  }
}

/**
 * Logs `users` in (`concurrency` at a time), each sending presence with caps `ver` once its
 * handler is in place. Returns the contacts, a Tracker of their notifications, failures by
 * cause, and discoQueries() (disco#info requests answered so far).
 */
export async function onlineContacts(target, users, { concurrency, ver, conns }) {
  const tracker = new Tracker(users.length);
  const contacts = [];
  const failures = {};
  let discoQueries = 0;
  let next = 0;
  const attach = (c, who) => {
    c.onClose = () => {};
    c.onItems = (items) => {
      for (const it of items) {
        if (it.kind !== 'el') continue;
        if (it.name === 'message') {
          const m = ITEM_ID.exec(it.xml);
          if (m) tracker.note(m[2], who);
        } else if (it.name === 'iq') {
          const type = attr(it.xml, 'type');
          if (type !== 'get' && type !== 'set') continue;
          const id = attr(it.xml, 'id');
          const from = attr(it.xml, 'from') ?? target.domain;
          if (type === 'get' && it.xml.includes('http://jabber.org/protocol/disco#info')) {
            discoQueries++;
            c.write(discoInfoReply(id, from, QUERY_NODE.exec(it.xml)?.[2]));
          } else {
            c.write(`<iq type='error' id='${id}' to='${from}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
          }
        }
      }
    };
  };
  const worker = async () => {
    while (next < users.length) {
      const who = next++;
      try {
        const c = await login({ ...target, ...users[who] });
        conns.push(c);
        attach(c, who);
        c.write(capsPresence(ver));
        contacts.push(c);
      } catch (err) {
        bump(failures, err.code ?? 'error');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, worker));
  return { contacts, tracker, failures, discoQueries: () => discoQueries };
}

/** The publishing client: its own presence, publishes, their acknowledgements. */
export class Publisher {
  constructor(conn, domain) {
    this.conn = conn;
    this.domain = domain;
    this.acks = new Map();
    this.n = 0;
    /** Contacts whose available presence reached the publisher: proves the rosters are mutual. */
    this.present = new Set();
  }

  /** Plain available presence (no caps: the publisher is not interested in its own node). */
  async available() {
    this.conn.write('<presence/>');
    await this.conn.iq(`<iq type='get' id='avail' to='${this.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`, 'avail');
    this.conn.onClose = () => {};
    this.conn.onItems = (items) => {
      for (const it of items) {
        if (it.kind === 'el' && it.name === 'presence' && attr(it.xml, 'type') === undefined) this.present.add(attr(it.xml, 'from')?.split('/')[0]);
        if (it.kind !== 'el' || it.name !== 'iq') continue;
        const a = this.acks.get(attr(it.xml, 'id'));
        if (a) a(it.xml);
      }
    };
  }

  /** Publishes item `id`; resolves with the reply (undefined after `timeoutMs`) and its delay. */
  publish(id, timeoutMs) {
    const iqId = `p${++this.n}`;
    const t0 = performance.now();
    const reply = new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.acks.delete(iqId);
        resolve({ xml: undefined, ms: performance.now() - t0 });
      }, timeoutMs);
      this.acks.set(iqId, (xml) => {
        clearTimeout(timer);
        this.acks.delete(iqId);
        resolve({ xml, ms: performance.now() - t0 });
      });
    });
    this.conn.write(
      `<iq type='set' id='${iqId}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${PEP_NODE}'>` +
        `<item id='${id}'><tick xmlns='${PEP_NODE}' at='${Date.now()}'>fan-out bench item ${id}: a short status-sized payload</tick></item></publish></pubsub></iq>`,
    );
    return reply;
  }

  /** Publish once; { ok } or { ok: false, reason } when refused or unanswered. */
  async publishAck(id, timeoutMs) {
    const { xml } = await this.publish(id, timeoutMs);
    if (xml === undefined) return { ok: false, reason: `publish not answered within ${timeoutMs / 1000} s` };
    if (attr(xml, 'type') === 'result') return { ok: true };
    const cond = /<([a-z-]+)[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]/.exec(xml)?.[1] ?? 'unknown error';
    return { ok: false, reason: `publish answered with error <${cond}/>` };
  }

  /** Publishes `id` and waits until `need` contacts have it: { got, ms, ackMs }. */
  async publishDelivered(tracker, id, need, timeoutMs, lat) {
    const delivered = tracker.expect(id, need, timeoutMs, lat);
    tracker.start(id);
    const ack = this.publish(id, timeoutMs);
    const d = await delivered;
    return { ...d, ackMs: (await ack).ms };
  }

  /** Keeps `window` publishes in flight for `ms`: completed publishes per second and incomplete ones. */
  async sustained(tracker, need, window, ms, timeoutMs) {
    const end = performance.now() + ms;
    const t0 = performance.now();
    let done = 0;
    let incomplete = 0;
    let k = 0;
    const lane = async () => {
      while (performance.now() < end) {
        const d = await this.publishDelivered(tracker, `s${k++}`, need, timeoutMs);
        if (d.got >= need) done++;
        else incomplete++;
      }
    };
    await Promise.all(Array.from({ length: window }, lane));
    const seconds = (performance.now() - t0) / 1000;
    await sleep(0);
    return { perSecond: done / seconds, done, incomplete, seconds, window };
  }
}
