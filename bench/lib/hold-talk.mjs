// Paced chat traffic for bench/hold.mjs: talkers in pairs (0↔1, 2↔3, …) send each other
// `<message type='chat'>` to the partner's full JID at a fixed rate each, whatever the server
// does (open loop, unlike msg-load.mjs, which keeps a window full and so saturates the server).
// Ids carry the send time on this process's clock, so the receiver measures latency.
// take() hands over the deliveries and latencies since the last take(): one row of the report.

import { BODY } from './msg-load.mjs';
import { latencySummary } from './stats.mjs';
import { attr } from './xmpp.mjs';

const TICK_MS = 100;
const ID_PREFIX = 'h';

/** Starts `ratePerTalker` messages/s from every talker in `conns` (an even count, logged in and available). */
export function startTalk(conns, ratePerTalker) {
  const n = conns.length - (conns.length % 2);
  let sent = 0;
  let delivered = 0;
  let bounced = 0;
  let latencies = [];
  const all = [];
  let since = performance.now();
  const links = [];
  for (let i = 0; i < n; i++) links.push({ sender: conns[i], to: conns[i ^ 1].jid, seq: 0, credit: 0 });

  for (let i = 0; i < n; i++) {
    conns[i].onItems = (items) => {
      const now = performance.now();
      for (const it of items) {
        if (it.name !== 'message') continue;
        const id = attr(it.xml, 'id');
        if (id === undefined || !id.startsWith(ID_PREFIX)) continue;
        if (attr(it.xml, 'type') === 'error') {
          bounced++;
          continue;
        }
        delivered++;
        const ms = now - Number(id.slice(ID_PREFIX.length, id.indexOf('-')));
        latencies.push(ms);
        all.push(ms);
      }
    };
  }

  // Credit grows with the time elapsed, not per tick, so a late timer (a busy generator) sends
  // what it owes and the offered rate stays `ratePerTalker`.
  let lastTick = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const owed = (ratePerTalker * (now - lastTick)) / 1000;
    lastTick = now;
    const ts = now.toFixed(3);
    for (const l of links) {
      if (l.sender.closed) continue;
      l.credit += owed;
      let s = '';
      for (; l.credit >= 1; l.credit--) {
        s += `<message to='${l.to}' type='chat' id='${ID_PREFIX}${ts}-${l.seq++}'><body>${BODY}</body></message>`;
        sent++;
      }
      if (s) l.sender.write(s);
    }
  }, TICK_MS);

  return {
    talkers: n,
    /** Deliveries since the last take(): { seconds, delivered, perSecond, latencyMs }. */
    take() {
      const now = performance.now();
      const seconds = (now - since) / 1000;
      const row = { seconds, delivered: latencies.length, perSecond: latencies.length / seconds, latencyMs: latencySummary(latencies) };
      latencies = [];
      since = now;
      return row;
    },
    /** Stops sending. */
    stop() {
      clearInterval(timer);
    },
    /** Totals so far (undelivered = sent − delivered − bounced) and the latency over every delivery. */
    totals() {
      return { sent, delivered, bounced, undelivered: sent - delivered - bounced, latencyMs: latencySummary(all) };
    },
    /** Hands the talkers back to step mode (conn.next()/iq()) for the final ping. */
    release() {
      for (let i = 0; i < n; i++) conns[i].onItems = null;
    },
  };
}
