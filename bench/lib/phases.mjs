// The measured phases. Each takes a running server (`target`: host, port, domain, pid) and
// returns plain numbers; each is bounded in time and closes every connection it opened.

import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds, machineBusySeconds, rssKiB } from './proc.mjs';
import { messageLoad } from './msg-load.mjs';
import { bump, latencySummary } from './stats.mjs';
import { attr, becomeAvailable, login } from './xmpp.mjs';

/**
 * CPU use over a stretch of wall time, in percent of one core: the server, this generator, and
 * everything else on the machine (`otherCpuPct`: other processes and kernel work not charged to
 * either; more than a few percent means the numbers are disturbed).
 */
export function cpuMeter(pid) {
  const wall0 = performance.now();
  const srv0 = cpuSeconds(pid);
  const gen0 = process.cpuUsage();
  const all0 = machineBusySeconds();
  return () => {
    const wall = (performance.now() - wall0) / 1000;
    const gen = process.cpuUsage(gen0);
    const srv = cpuSeconds(pid) - srv0;
    const genS = (gen.user + gen.system) / 1e6;
    const all = machineBusySeconds() - all0;
    return {
      serverCpuPct: (srv / wall) * 100,
      generatorCpuPct: (genS / wall) * 100,
      otherCpuPct: Math.max(0, ((all - srv - genS) / wall) * 100),
    };
  };
}

/**
 * Loopback source addresses 127.0.0.1 … 127.0.0.<n> (n ≤ 254): each gives ~28,000 ephemeral ports
 * towards one server port, so 50,000 sessions need at least two. Linux answers on all of
 * 127.0.0.0/8 without configuration.
 */
export function loopbackSources(n) {
  return Array.from({ length: Math.min(254, Math.max(1, n)) }, (_, i) => `127.0.0.${i + 1}`);
}

/**
 * Runs `total` logins, `concurrency` at a time, cycling through `users`. With `keep`, sessions
 * stay open (after `available`: initial presence + ping round trip) and are returned.
 * `ratePerSecond`: start at most that many logins per second (paced evenly); none by default.
 * `conns`: the array kept sessions are pushed to as they log in (a caller may watch it grow).
 */
export async function loginMany(
  target,
  users,
  { total, concurrency, keep = false, available = false, deadline, offset = 0, mech = 'PLAIN', scramCache, ratePerSecond, conns = [], sources },
) {
  const failures = {};
  const latencies = [];
  let next = 0;
  let completed = 0;
  let tlsInfo = null;
  let lastError = null;
  let nextStart = performance.now();
  const gap = ratePerSecond > 0 ? 1000 / ratePerSecond : 0;
  const worker = async () => {
    while (next < total && performance.now() < deadline) {
      const i = next++;
      if (gap > 0) {
        const at = Math.max(performance.now(), nextStart);
        nextStart = at + gap;
        const wait = at - performance.now();
        if (wait > 0) await sleep(wait);
      }
      const u = users[(offset + i) % users.length];
      const t0 = performance.now();
      try {
        const localAddress = sources ? sources[i % sources.length] : undefined;
        const c = await login({ ...target, user: u.user, password: u.password, mech, scramCache, localAddress });
        if (available) await becomeAvailable(c, target.domain);
        latencies.push(performance.now() - t0);
        completed++;
        tlsInfo ??= c.tlsInfo;
        if (keep) conns.push(c);
        else c.close();
      } catch (err) {
        bump(failures, err.code ?? 'error');
        lastError = err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { completed, failures, latencies, conns, tlsInfo, lastError, timedOut: next < total };
}

function closeAll(conns) {
  for (const c of conns) c.close();
}

/** Untimed logins so lazy start-up work (and a JIT) is behind us before anything is measured. */
export async function warmup(target, users, { count, concurrency, mech = 'PLAIN', scramCache }) {
  const r = await loginMany(target, users, {
    total: count,
    concurrency,
    mech,
    scramCache,
    deadline: performance.now() + 60000,
  });
  return { completed: r.completed, failures: r.failures, tlsInfo: r.tlsInfo, lastError: r.lastError };
}

/** Phase 1: completed logins per second, `concurrency` clients at a time. */
export async function loginPhase(target, users, { total, concurrency, maxSeconds, mech = 'PLAIN', scramCache }) {
  const meter = cpuMeter(target.pid);
  const t0 = performance.now();
  const r = await loginMany(target, users, { total, concurrency, mech, scramCache, deadline: t0 + maxSeconds * 1000 });
  const seconds = (performance.now() - t0) / 1000;
  return {
    mech,
    users: users.length,
    total,
    concurrency,
    completed: r.completed,
    failed: Object.values(r.failures).reduce((a, b) => a + b, 0),
    failures: r.failures,
    lastError: r.lastError,
    timedOut: r.timedOut,
    seconds,
    perSecond: r.completed / seconds,
    latencyMs: latencySummary(r.latencies),
    ...meter(),
  };
}

/**
 * Phase 3: server RSS growth per idle, authenticated TLS session; with `presence` (the default)
 * each sends initial presence first, as clients do.
 */
export async function memoryPhase(target, users, { sessions, concurrency, settleMs, maxSeconds, presence = true }) {
  await sleep(settleMs);
  const before = rssKiB(target.pid);
  const r = await loginMany(target, users, {
    total: sessions,
    concurrency,
    keep: true,
    available: presence,
    deadline: performance.now() + maxSeconds * 1000,
  });
  try {
    await sleep(settleMs);
    const after = rssKiB(target.pid);
    const open = r.conns.filter((c) => !c.closed).length;
    return {
      sessions,
      presence,
      opened: r.completed,
      stillOpen: open,
      failures: r.failures,
      lastError: r.lastError,
      rssBeforeKiB: before,
      rssAfterKiB: after,
      kibPerSession: open > 0 ? (after - before) / open : NaN,
    };
  } finally {
    closeAll(r.conns);
  }
}

/**
 * Phase 2: clients in pairs send each other chat messages to the partner's full JID, at most
 * `window` unacknowledged (not yet received) per sender. Counts deliveries and send→receive
 * latency during `seconds` after `warmupSeconds`.
 */
export async function messagePhase(target, users, { clients, concurrency, window, warmupSeconds, seconds, drainSeconds }) {
  const n = clients - (clients % 2);
  const r = await loginMany(target, users, {
    total: n,
    concurrency,
    keep: true,
    available: true,
    deadline: performance.now() + 120000,
  });
  const conns = r.conns;
  if (conns.length < 2) {
    closeAll(conns);
    return { clients: n, loggedIn: conns.length, failures: r.failures, lastError: r.lastError, perSecond: NaN };
  }
  const pairs = Math.floor(conns.length / 2);
  let streamErrors = 0;
  let dropped = 0;
  let bounced = 0;
  // Client i sends to its partner i ^ 1 (0↔1, 2↔3, …) over link i, and receives over link i ^ 1.
  const links = [];
  for (let i = 0; i < pairs * 2; i++) {
    links.push({ sender: conns[i], receiver: conns[i ^ 1], to: conns[i ^ 1].jid, outstanding: 0, seq: 0 });
  }
  const load = messageLoad(links, { window, idPrefix: 't', idSep: '-' });

  for (const [k, l] of links.entries()) {
    const incoming = links[k ^ 1];
    l.sender.onClose = () => {
      dropped++;
    };
    l.sender.onItems = (items) => {
      const now = performance.now();
      let got = 0;
      for (let i = 0; i < items.length; i++) {
        const it = items[i];
        if (it.name === 'message') {
          const id = attr(it.xml, 'id');
          if (id === undefined || id.charCodeAt(0) !== 116 /* t */) continue;
          if (attr(it.xml, 'type') === 'error') {
            // A bounce of one of our own messages: never delivered, never refilled.
            bounced++;
            continue;
          }
          got++;
          load.arrived(id, now);
        } else if (it.name === 'stream:error' || it.kind === 'close') {
          streamErrors++;
        }
      }
      load.received(incoming, got);
    };
  }

  const { wall, cpu, counts } = await load.run({
    warmupSeconds,
    seconds,
    drainSeconds,
    startMeter: () => cpuMeter(target.pid),
    open: (l) => !l.sender.closed,
  });
  closeAll(conns);
  return {
    clients: n,
    loggedIn: conns.length,
    failures: r.failures,
    lastError: r.lastError,
    window,
    seconds: wall,
    ...counts,
    streamErrors,
    bounced,
    connectionsDropped: dropped,
    ...cpu,
  };
}
