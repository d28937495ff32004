// The s2s message phase: N senders logged in on server A, each paired with a receiver logged in
// on server B. Every sender sends chat messages to its receiver's full JID, keeping at most
// `window` sent-but-not-yet-received messages outstanding (a new one goes out as soon as the
// receiver gets one), so every message crosses A's c2s → A's s2s-out → proxy → B's s2s-in →
// B's c2s. Bounded in time; closes every connection it opened.

import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds, machineBusySeconds } from './proc.mjs';
import { BODY, messageLoad } from './msg-load.mjs';
import { bump } from './stats.mjs';
import { attr, becomeAvailable, login } from './xmpp.mjs';

/**
 * CPU use over a stretch of wall time, in percent of one core, per named PID, for this
 * process ('generator') and for everything else on the machine ('other').
 */
export function cpuMeter(pids) {
  const wall0 = performance.now();
  const p0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const gen0 = process.cpuUsage();
  const all0 = machineBusySeconds();
  return () => {
    const wall = (performance.now() - wall0) / 1000;
    const out = {};
    let sum = 0;
    for (const [k, pid] of Object.entries(pids)) {
      const s = cpuSeconds(pid) - p0[k];
      sum += s;
      out[k] = (s / wall) * 100;
    }
    const gen = process.cpuUsage(gen0);
    const genS = (gen.user + gen.system) / 1e6;
    out.generator = (genS / wall) * 100;
    out.other = Math.max(0, ((machineBusySeconds() - all0 - sum - genS) / wall) * 100);
    return out;
  };
}

/** Logs `users` in on `target` (concurrency-limited), each made available; all or throw. */
async function loginAll(target, users, concurrency, deadline) {
  const conns = new Array(users.length);
  const failures = {};
  let lastError = '';
  let next = 0;
  const worker = async () => {
    while (next < users.length && performance.now() < deadline) {
      const i = next++;
      try {
        const c = await login({ ...target, ...users[i] });
        await becomeAvailable(c, target.domain);
        conns[i] = c;
      } catch (err) {
        bump(failures, err.code ?? 'error');
        lastError = err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, worker));
  const ok = conns.filter(Boolean);
  if (ok.length !== users.length) {
    for (const c of ok) c.close();
    throw new Error(
      `only ${ok.length}/${users.length} clients logged in on ${target.domain}: ${JSON.stringify(failures)} (last: ${lastError})`,
    );
  }
  return conns;
}

/**
 * Runs the phase. `a`/`b`: { host, port, domain }; `pids`: { name: pid } measured for CPU;
 * `tag`: a run-unique prefix for message ids (anything else arriving is ignored).
 */
export async function s2sMessagePhase(a, b, users, pids, o) {
  const { pairs, window, warmupSeconds, seconds, drainSeconds, concurrency, tag, firstTimeoutMs = 60000 } = o;
  const deadline = performance.now() + 120000;
  const senders = await loginAll(a, users.slice(0, pairs), concurrency, deadline);
  let receivers;
  try {
    receivers = await loginAll(b, users.slice(0, pairs), concurrency, deadline);
  } catch (err) {
    for (const c of senders) c.close();
    throw err;
  }
  const all = [...senders, ...receivers];
  const closeAll = () => {
    for (const c of all) c.close();
  };

  let bounced = 0;
  let streamErrors = 0;
  let dropped = 0;
  let firstArrived = null;
  const bounceConditions = {};
  const idPrefix = `${tag}.`;

  const links = senders.map((s, i) => ({ sender: s, receiver: receivers[i], to: receivers[i].jid, outstanding: 0, seq: 0 }));
  const load = messageLoad(links, { window, idPrefix, idSep: '.', clampDuplicates: true });

  for (const l of links) {
    const onClose = () => {
      dropped++;
    };
    l.sender.onClose = onClose;
    l.receiver.onClose = onClose;
    // Senders only hear error bounces of their own messages (never counted as deliveries).
    l.sender.onItems = (items) => {
      for (const it of items) {
        if (it.name === 'message' && attr(it.xml, 'type') === 'error' && (attr(it.xml, 'id') ?? '').startsWith(tag)) {
          bounced++;
          const m = /<([a-z-]+)[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas/.exec(it.xml);
          bump(bounceConditions, m ? m[1] : 'unknown');
        } else if (it.name === 'stream:error' || it.kind === 'close') {
          streamErrors++;
        }
      }
    };
    l.receiver.onItems = (items) => {
      const now = performance.now();
      let got = 0;
      for (const it of items) {
        if (it.name === 'message') {
          const id = attr(it.xml, 'id');
          if (id === undefined || !id.startsWith(tag)) continue;
          if (attr(it.xml, 'type') === 'error') continue;
          if (id === `${tag}.first`) {
            firstArrived ??= now;
            continue;
          }
          if (!id.startsWith(idPrefix)) continue;
          got++;
          load.arrived(id, now);
        } else if (it.name === 'stream:error' || it.kind === 'close') {
          streamErrors++;
        }
      }
      load.received(l, got);
    };
  }

  try {
    // One message first: it makes A open its s2s stream to B (through the proxy, STARTTLS,
    // dialback with B verifying back to A), which is not part of what is measured.
    const tFirst = performance.now();
    links[0].sender.write(`<message to='${links[0].to}' type='chat' id='${tag}.first'><body>${BODY}</body></message>`);
    while (firstArrived === null && performance.now() - tFirst < firstTimeoutMs && !links[0].sender.closed) await sleep(20);
    if (firstArrived === null) {
      throw new Error(
        `the first message from ${a.domain} to ${b.domain} did not arrive within ${firstTimeoutMs / 1000} s ` +
          `(bounces: ${JSON.stringify(bounceConditions)})`,
      );
    }
    const firstMs = firstArrived - tFirst;

    const { wall, cpu, counts } = await load.run({
      warmupSeconds,
      seconds,
      drainSeconds,
      startMeter: () => cpuMeter(pids),
      open: (l) => !l.receiver.closed,
    });
    return {
      pairs,
      window,
      seconds: wall,
      firstMessageMs: firstMs,
      ...counts,
      bounced,
      bounceConditions,
      duplicates: load.duplicates,
      streamErrors,
      connectionsDropped: dropped,
      cpu,
    };
  } finally {
    closeAll();
  }
}
