// The measured phases. Each takes a running server (`target`: host, port, domain, pid) and
// returns plain numbers; each is bounded in time and closes every connection it opened.

import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds, machineBusySeconds, rssKiB } from './proc.mjs';
import { bump, latencySummary } from './stats.mjs';
import { attr, becomeAvailable, login } from './xmpp.mjs';

/**
 * CPU use over a stretch of wall time, in percent of one core: the server, this generator, and
 * everything else on the machine (`otherCpuPct`: other processes and kernel work not charged to
 * either; more than a few percent means the numbers are disturbed).
 */
function cpuMeter(pid) {
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
 * Runs `total` logins, `concurrency` at a time, cycling through `users`. With `keep`, sessions
 * stay open (after `available`: initial presence + ping round trip) and are returned.
 */
async function loginMany(
  target,
  users,
  { total, concurrency, keep = false, available = false, deadline, offset = 0, mech = 'PLAIN', scramCache },
) {
  const failures = {};
  const latencies = [];
  const conns = [];
  let next = 0;
  let completed = 0;
  let tlsInfo = null;
  let lastError = null;
  const worker = async () => {
    while (next < total && performance.now() < deadline) {
      const i = next++;
      const u = users[(offset + i) % users.length];
      const t0 = performance.now();
      try {
        const c = await login({ ...target, user: u.user, password: u.password, mech, scramCache });
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

/** Phase 3: server RSS growth per idle, authenticated, available TLS session. */
export async function memoryPhase(target, users, { sessions, concurrency, settleMs, maxSeconds }) {
  await sleep(settleMs);
  const before = rssKiB(target.pid);
  const r = await loginMany(target, users, {
    total: sessions,
    concurrency,
    keep: true,
    available: true,
    deadline: performance.now() + maxSeconds * 1000,
  });
  try {
    await sleep(settleMs);
    const after = rssKiB(target.pid);
    const open = r.conns.filter((c) => !c.closed).length;
    return {
      sessions,
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

const BODY = 'Hello! This is a benchmark message of a fairly typical chat length.';

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
  let running = true;
  let measuring = false;
  let delivered = 0;
  let deliveredTotal = 0;
  let sentTotal = 0;
  let streamErrors = 0;
  let dropped = 0;
  let bounced = 0;
  const latencies = [];
  const peers = [];
  for (let i = 0; i < pairs * 2; i++) {
    peers.push({ conn: conns[i], partner: null, to: '', outstanding: 0, seq: 0 });
  }
  for (let i = 0; i < peers.length; i += 2) {
    peers[i].partner = peers[i + 1];
    peers[i + 1].partner = peers[i];
  }
  for (const p of peers) p.to = p.partner.conn.jid;

  const pump = (p) => {
    const k = window - p.outstanding;
    if (!running || k <= 0 || p.conn.closed) return;
    const ts = performance.now().toFixed(3);
    let s = '';
    for (let j = 0; j < k; j++) {
      s += `<message to='${p.to}' type='chat' id='t${ts}-${p.seq++}'><body>${BODY}</body></message>`;
    }
    p.outstanding += k;
    sentTotal += k;
    p.conn.write(s);
  };

  for (const p of peers) {
    const me = p;
    p.conn.onClose = () => {
      dropped++;
    };
    p.conn.onItems = (items) => {
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
          if (measuring) {
            latencies.push(now - Number(id.slice(1, id.indexOf('-'))));
          }
        } else if (it.name === 'stream:error' || it.kind === 'close') {
          streamErrors++;
        }
      }
      if (got > 0) {
        deliveredTotal += got;
        if (measuring) delivered += got;
        me.partner.outstanding -= got;
        pump(me.partner);
      }
    };
  }

  for (const p of peers) pump(p);
  await sleep(warmupSeconds * 1000);
  const meter = cpuMeter(target.pid);
  const t0 = performance.now();
  measuring = true;
  await sleep(seconds * 1000);
  measuring = false;
  const wall = (performance.now() - t0) / 1000;
  const cpu = meter();
  running = false;
  const drainUntil = performance.now() + drainSeconds * 1000;
  while (performance.now() < drainUntil && peers.some((p) => p.outstanding > 0 && !p.conn.closed)) await sleep(50);
  const undelivered = peers.reduce((a, p) => a + p.outstanding, 0);
  closeAll(conns);
  return {
    clients: n,
    loggedIn: conns.length,
    failures: r.failures,
    lastError: r.lastError,
    window,
    seconds: wall,
    delivered,
    perSecond: delivered / wall,
    latencyMs: latencySummary(latencies),
    sentTotal,
    deliveredTotal,
    undelivered,
    streamErrors,
    bounced,
    connectionsDropped: dropped,
    ...cpu,
  };
}
