// The MUC bench's clients on the raw-socket Conn (./xmpp.mjs): occupants that join one room and
// count the groupchat messages they receive by id (a Tracker, as the PEP bench), and senders that
// write messages to the room and wait until every occupant has each one.

import { setTimeout as sleep } from 'node:timers/promises';
import { bump } from './stats.mjs';
import { attr, login } from './xmpp.mjs';
import { Tracker } from './pep-clients.mjs';

const NS_MUC = 'http://jabber.org/protocol/muc';
const BODY_ID = /<body>mb:([^<]+)<\/body>/;

/** Join `room` as `nick` (no history); resolves with the self-presence (status 110). */
async function join(c, room, nick) {
  c.write(`<presence to='${room}/${nick}'><x xmlns='${NS_MUC}'><history maxstanzas='0'/></x></presence>`);
  for (;;) {
    const el = await c.element();
    if (el.name !== 'presence' || attr(el.xml, 'from') !== `${room}/${nick}`) continue;
    if (attr(el.xml, 'type') === 'error') throw Object.assign(new Error(`join refused: ${el.xml.slice(0, 300)}`), { code: 'join-refused' });
    if (el.xml.includes("code='110'") || el.xml.includes('code="110"')) return el.xml;
  }
}

/**
 * Logs `users` in and has each join `room` (the first one creates it and accepts the instant
 * configuration, so the room is unlocked before anyone else joins); then `concurrency` at a time.
 * Returns the occupants (Conns, index = tracker slot), the Tracker and failures by cause.
 */
export async function joinRoom(target, room, users, { concurrency, conns }) {
  const tracker = new Tracker(users.length);
  const occupants = [];
  const failures = {};
  const enter = async (who) => {
    const c = await login({ ...target, ...users[who] });
    conns.push(c);
    const self = await join(c, room, `n${who}`);
    if (who === 0 && (self.includes("code='201'") || self.includes('code="201"'))) {
      const reply = await c.iq(`<iq type='set' id='cfg' to='${room}'><query xmlns='${NS_MUC}#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`, 'cfg');
      if (attr(reply, 'type') !== 'result') throw new Error(`instant room refused: ${reply.slice(0, 300)}`);
    }
    c.onClose = () => {};
    c.onItems = (items) => {
      for (const it of items) {
        if (it.kind !== 'el' || it.name !== 'message') continue;
        const m = BODY_ID.exec(it.xml);
        if (m) tracker.note(m[1], who);
      }
    };
    occupants[who] = c;
  };
  await enter(0);
  let next = 1;
  const worker = async () => {
    while (next < users.length) {
      const who = next++;
      try {
        await enter(who);
      } catch (err) {
        bump(failures, err.code ?? 'error');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length - 1) }, worker));
  return { occupants, tracker, failures, joined: occupants.filter(Boolean).length };
}

/** Sends message `id` from `conn` to the room and waits until `need` occupants have it: { got, ms }. */
export function sendDelivered(conn, room, tracker, id, need, timeoutMs, lat) {
  const delivered = tracker.expect(id, need, timeoutMs, lat);
  tracker.start(id);
  conn.write(`<message type='groupchat' to='${room}'><body>mb:${id}</body></message>`);
  return delivered;
}

/** `window` messages in flight for `ms`, spread over `senders`: completed messages per second. */
export async function sustained(senders, room, tracker, need, window, ms, timeoutMs) {
  const end = performance.now() + ms;
  const t0 = performance.now();
  let done = 0;
  let incomplete = 0;
  let k = 0;
  const lane = async (i) => {
    const conn = senders[i % senders.length];
    while (performance.now() < end) {
      const d = await sendDelivered(conn, room, tracker, `s${k++}`, need, timeoutMs);
      if (d.got >= need) done++;
      else incomplete++;
    }
  };
  await Promise.all(Array.from({ length: window }, (_, i) => lane(i)));
  const seconds = (performance.now() - t0) / 1000;
  await sleep(0);
  return { perSecond: done / seconds, done, incomplete, seconds, window };
}
