// The windowed chat-message load both message phases run (phases.mjs: c2s pairs on one server;
// s2s-phase.mjs: senders on A, receivers on B). A link is { sender, receiver, to, outstanding,
// seq }: the sender sends `<message type='chat'>` to `to` (the receiver's full JID), keeping at
// most `window` sent-but-not-yet-received messages outstanding; a new batch goes out, in one
// socket write, as soon as the receiver gets some. Message ids are
// `${idPrefix}${send time}${idSep}${seq}` (send time: performance.now() with 3 decimals), so the
// receiving side measures latency on the same process clock. The callers classify what arrives
// and report it through `arrived` and `received`.

import { setTimeout as sleep } from 'node:timers/promises';
import { latencySummary } from './stats.mjs';

export const BODY = 'Hello! This is a benchmark message of a fairly typical chat length.';

/**
 * `clampDuplicates`: a link whose receiver got more than was outstanding counts the excess in
 * `duplicates` and goes on from 0 (else `outstanding` may go below 0).
 */
export function messageLoad(links, { window, idPrefix, idSep, clampDuplicates = false }) {
  let running = false;
  let measuring = false;
  let delivered = 0;
  let deliveredTotal = 0;
  let sentTotal = 0;
  let duplicates = 0;
  const latencies = [];

  const pump = (l) => {
    const k = window - l.outstanding;
    if (!running || k <= 0 || l.sender.closed) return;
    const ts = performance.now().toFixed(3);
    let s = '';
    for (let j = 0; j < k; j++) {
      s += `<message to='${l.to}' type='chat' id='${idPrefix}${ts}${idSep}${l.seq++}'><body>${BODY}</body></message>`;
    }
    l.outstanding += k;
    sentTotal += k;
    l.sender.write(s);
  };

  return {
    get duplicates() {
      return duplicates;
    },

    /** One load message (id starting with `idPrefix`) arrived at `now`: its latency, while measuring. */
    arrived(id, now) {
      if (measuring) latencies.push(now - Number(id.slice(idPrefix.length, id.lastIndexOf(idSep))));
    },

    /** `l`'s receiver got `got` load messages (in one read): count them and refill `l`. */
    received(l, got) {
      if (got > 0) {
        deliveredTotal += got;
        if (measuring) delivered += got;
        l.outstanding -= got;
        if (clampDuplicates && l.outstanding < 0) {
          duplicates -= l.outstanding;
          l.outstanding = 0;
        }
        pump(l);
      }
    },

    /**
     * Starts sending on every link, waits `warmupSeconds`, measures for `seconds` (CPU with
     * `startMeter()`, which returns the function that reads it), stops sending and waits up to
     * `drainSeconds` for links still `open(l)` to get everything outstanding.
     */
    async run({ warmupSeconds, seconds, drainSeconds, startMeter, open }) {
      running = true;
      for (const l of links) pump(l);
      await sleep(warmupSeconds * 1000);
      const meter = startMeter();
      const t0 = performance.now();
      measuring = true;
      await sleep(seconds * 1000);
      measuring = false;
      const wall = (performance.now() - t0) / 1000;
      const cpu = meter();
      running = false;
      const drainUntil = performance.now() + drainSeconds * 1000;
      while (performance.now() < drainUntil && links.some((l) => l.outstanding > 0 && open(l))) await sleep(50);
      const undelivered = links.reduce((a, l) => a + l.outstanding, 0);
      return {
        wall,
        cpu,
        counts: {
          delivered,
          perSecond: delivered / wall,
          latencyMs: latencySummary(latencies),
          sentTotal,
          deliveredTotal,
          undelivered,
        },
      };
    },
  };
}
