#!/usr/bin/env node
// Holding many sessions: N authenticated TLS sessions (one account each) stay open for a while
// as a few of them chat; every interval the server's RSS (VmRSS/VmHWM), event-loop delay and a
// ping round trip on idle sessions are recorded; at the end every session must still answer a
// ping. Clove first, then Prosody for reference. See bench/README.md ("Holding sessions").
//
//   node bench/hold.mjs [--server clove|prosody|both] [--quick] [--out FILE] [--no-pin] [--keep-tmp]
//                       [--sessions N] [--duration S] [--talkers N] [--msg-rate N] [--interval S]
//                       [--login-rate N] [--login-concurrency N] [--ping-sample N] [--sources N]
//
// The 50,000-session scale run (docs/limits.md, "Many sessions on one machine"):
//   node bench/hold.mjs --server clove --sessions 50000 --duration 600 --talkers 500 --login-rate 300
// --sources N spreads the connections over loopback source addresses 127.0.0.1 … 127.0.0.N (one
// address has ~28,000 ephemeral ports towards the server's port); by default one per 20,000.

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeUsers } from './lib/accounts.mjs';
import { benchSetup } from './lib/bench-setup.mjs';
import * as cli from './lib/cli.mjs';
import { BENCH_DIR, REPO, SERVER_CPU } from './lib/cli.mjs';
import { writeHoldResults } from './lib/hold-report.mjs';
import { startTalk } from './lib/hold-talk.mjs';
import { cpuMeter, loginMany, loopbackSources } from './lib/phases.mjs';
import { mainThreadSched, rssKiB, startServer, statusKiB, waitReady } from './lib/proc.mjs';
import { makeClove, prosody } from './lib/servers.mjs';
import { fmt, latencySummary } from './lib/stats.mjs';

const DOMAIN = 'localhost';

const opt = cli.parseBenchArgs(import.meta.url, 9, {
  sessions: { type: 'string' },
  talkers: { type: 'string' },
  'msg-rate': { type: 'string' },
  interval: { type: 'string' },
  'login-rate': { type: 'string' },
  'login-concurrency': { type: 'string' },
  'ping-sample': { type: 'string' },
  sources: { type: 'string' },
});
const int = (v, d) => cli.numberOption('hold', v, d, (n) => n > 0);
const Q = opt.quick;
const cfg = {
  sessions: int(opt.sessions, Q ? 300 : 10000),
  durationSeconds: int(opt.duration, Q ? 20 : 600),
  talkers: int(opt.talkers, Q ? 10 : 50),
  msgRate: int(opt['msg-rate'], 20),
  intervalSeconds: int(opt.interval, Q ? 5 : 30),
  loginRate: int(opt['login-rate'], 150),
  loginConcurrency: int(opt['login-concurrency'], 50),
  pingSample: int(opt['ping-sample'], 50),

  settleMs: 2000,
  drainSeconds: 5,
};
if (cfg.talkers > cfg.sessions) cfg.talkers = cfg.sessions;
cfg.sources = int(opt.sources, Math.ceil(cfg.sessions / 20000));
// Clove refuses client connections past c2s_max_connections (20,000 by default): room for all.
cfg.cloveExtra = cfg.sessions + 1000 > 20000 ? [`c2s_max_connections = ${cfg.sessions + 1000}`] : [];

const say = (s) => console.log(`[hold] ${s}`);
const out = opt.out ?? (Q ? null : path.join(BENCH_DIR, 'RESULTS-hold.md'));

/**
 * The generator holds one socket per session: with a soft fd limit too low, start again under
 * `sh -c 'ulimit -n …'` (up to the hard limit). Returns true when this process is done.
 */
function raiseFdLimit() {
  const need = cfg.sessions + 500;
  const soft = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  if (!(soft < need)) return false;
  if (process.env.CLOVE_HOLD_REEXEC) {
    console.error(`hold: the fd limit is ${soft}; ${cfg.sessions} sessions need about ${need} (raise the hard limit: ulimit -Hn)`);
    process.exit(2);
  }
  say(`fd limit ${soft} < ${need}: restarting under ulimit -n ${need}`);
  // Each held TLS client costs the generator ~40 KiB of heap and buffers: past ~20,000 sessions
  // V8's default heap limit is too small.
  const heap = cfg.sessions > 20000 ? [`--max-old-space-size=${Math.ceil(cfg.sessions / 10)}`] : [];
  const r = spawnSync('sh', ['-c', `ulimit -n ${need} && exec "$@"`, 'sh', process.execPath, ...heap, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, CLOVE_HOLD_REEXEC: '1' },
  });
  process.exit(r.status ?? 1);
}
raiseFdLimit();

const { tmpRoot, removeTmp } = cli.benchTmpDir('hold', 'clove-hold-', opt['keep-tmp']);

/** Pings `conns` (at most `concurrency` at once, each its own id); returns RTTs and failures. */
async function pingAll(conns, concurrency, tag) {
  const rtts = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < conns.length) {
      const i = next++;
      const c = conns[i];
      const id = `${tag}${i}`;
      const t0 = performance.now();
      try {
        if (c.closed) throw new Error('closed');
        await c.iq(`<iq type='get' id='${id}' to='${DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>`, id);
        rtts.push(performance.now() - t0);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, conns.length) }, worker));
  return { ok: rtts.length, failed, rttMs: latencySummary(rtts) };
}

/** Clove's own event-loop samples (one per second) folded into one row: worst p99, max, median p50. */
function loopRow(samples) {
  if (!samples || samples.length === 0) return undefined;
  const p50s = samples.map((s) => s.eventLoopDelayMs.p50).sort((a, b) => a - b);
  return {
    p50Ms: p50s[p50s.length >> 1],
    p99Ms: Math.max(...samples.map((s) => s.eventLoopDelayMs.p99)),
    maxMs: Math.max(...samples.map((s) => s.eventLoopDelayMs.max)),
    sessions: samples[samples.length - 1].sessions,
    heapUsedKiB: samples[samples.length - 1].heapUsedKiB,
  };
}

async function holdServer(server, shared) {
  const { r, dir, port } = await cli.serverSlot(server, tmpRoot, say, { rows: [] });
  if (r.skipped) return r;
  return cli.guardedRun(r, server, say, async (st) => {
    const conns = st.conns;
    say(`${server.label}: config and ${shared.users.length} accounts…`);
    const prepared = (st.prepared = await cli.prepareServer(server, { dir, port, domain: DOMAIN, shared, cloveExtra: cfg.cloveExtra }));
    r.accounts = prepared.accountsNote;
    say(`${server.label}: ${prepared.accountsNote}`);
    const proc = (st.proc = startServer({ argv: prepared.argv, cwd: prepared.cwd, cpu: shared.pin ? SERVER_CPU : null, logPath: prepared.stdoutPath, env: prepared.env }));
    await waitReady(proc, port, DOMAIN, prepared.startTimeoutMs);
    const pid = proc.pid;
    const target = { host: '127.0.0.1', port, domain: DOMAIN, pid };
    const stats = server.startStats?.(prepared);
    const t0 = performance.now();
    let sched0 = { ...mainThreadSched(pid), at: t0 };
    // Of the time since the last row, the share the server's main thread ran, and the share it
    // was ready to run but waited for a CPU taken by other processes.
    const schedRow = () => {
      const now = { ...mainThreadSched(pid), at: performance.now() };
      const wall = (now.at - sched0.at) / 1000;
      const x = { runPct: ((now.run - sched0.run) / wall) * 100, waitPct: ((now.wait - sched0.wait) / wall) * 100 };
      sched0 = now;
      return x;
    };
    const row = (phase, extra) => {
      const x = {
        t: (performance.now() - t0) / 1000,
        phase,
        sched: schedRow(),
        rssKiB: rssKiB(pid),
        hwmKiB: statusKiB(pid, 'VmHWM'),
        open: conns.filter((c) => !c.closed).length,
        loop: loopRow(stats?.drain()),
        ...extra,
      };
      r.rows.push(x);
      say(
        `${server.label} ${phase} t=${fmt(x.t)} s: ${x.open} open, RSS ${fmt(x.rssKiB / 1024, 1)} MiB (HWM ${fmt(x.hwmKiB / 1024, 1)})` +
          `, main thread ran ${fmt(x.sched.runPct)}% waited ${fmt(x.sched.waitPct)}%` +
          (x.loop ? `, loop p99 ${fmt(x.loop.p99Ms, 1)} ms max ${fmt(x.loop.maxMs, 1)} ms, server sessions ${x.loop.sessions}` : '') +
          (x.msgs ? `, ${fmt(x.msgs.perSecond)} msg/s p50 ${fmt(x.msgs.latencyMs.p50, 1)} p99 ${fmt(x.msgs.latencyMs.p99, 1)} ms` : '') +
          (x.ping ? `, ping p50 ${fmt(x.ping.rttMs.p50, 1)} max ${fmt(x.ping.rttMs.max, 1)} ms (${x.ping.failed} failed)` : ''),
      );
      return x;
    };
    await sleep(cfg.settleMs);
    r.rssIdleKiB = rssKiB(pid);
    row('start');

    // Log in at a steady rate (a login throttle must not refuse them); sample meanwhile.
    say(`${server.label}: ${cfg.sessions} logins, ${cfg.loginRate}/s, ${cfg.loginConcurrency} at a time…`);
    const loginTimer = setInterval(() => row('login'), cfg.intervalSeconds * 1000);
    const lt0 = performance.now();
    const li = await loginMany(target, shared.users, {
      conns, // rows taken meanwhile count the sessions open so far
      total: cfg.sessions,
      concurrency: cfg.loginConcurrency,
      keep: true,
      available: true,
      ratePerSecond: cfg.loginRate,
      sources: cfg.sources > 1 ? loopbackSources(cfg.sources) : undefined,
      // Generous: on a busy machine Prosody managed ~15 logins/s, a tenth of the asked rate.
      deadline: performance.now() + Math.max(1800, (20 * cfg.sessions) / cfg.loginRate) * 1000,
    });
    clearInterval(loginTimer);
    r.logins = {
      completed: li.completed,
      failures: li.failures,
      lastError: li.lastError,
      seconds: (performance.now() - lt0) / 1000,
      latencyMs: latencySummary(li.latencies),
    };
    say(`${server.label}: ${li.completed}/${cfg.sessions} logged in in ${fmt(r.logins.seconds, 1)} s; failures ${JSON.stringify(li.failures)}`);
    if (conns.length < cfg.talkers) throw new Error(`only ${conns.length} sessions logged in (${li.lastError})`);
    await sleep(cfg.settleMs);
    r.rssLoggedInKiB = rssKiB(pid);
    r.kibPerSession = (r.rssLoggedInKiB - r.rssIdleKiB) / conns.length;
    row('logged-in');

    // Hold: the first `talkers` sessions chat, the rest stay idle; ping a rotating sample of idle ones.
    const talkers = conns.slice(0, cfg.talkers);
    const idle = conns.slice(cfg.talkers);
    const talk = startTalk(talkers, cfg.msgRate);
    say(`${server.label}: holding ${conns.length} sessions for ${cfg.durationSeconds} s, ${talk.talkers} talking at ${cfg.msgRate} msg/s each…`);
    const meter = cpuMeter(pid);
    const holdEnd = performance.now() + cfg.durationSeconds * 1000;
    let rot = 0;
    let round = 0;
    const pingRtts = [];
    while (performance.now() < holdEnd) {
      await sleep(Math.min(cfg.intervalSeconds * 1000, holdEnd - performance.now()));
      const sample = [];
      for (let k = 0; k < Math.min(cfg.pingSample, idle.length); k++) sample.push(idle[(rot + k) % idle.length]);
      rot += sample.length;
      const ping = await pingAll(sample, sample.length, `s${round++}_`);
      if (Number.isFinite(ping.rttMs.p50)) pingRtts.push(ping.rttMs);
      row('hold', { msgs: talk.take(), ping });
    }
    r.cpu = meter();
    talk.stop();
    await sleep(cfg.drainSeconds * 1000);
    r.talk = { talkers: talk.talkers, ratePerTalker: cfg.msgRate, ...talk.totals(), seconds: cfg.durationSeconds };
    talk.release();

    // Every session, idle or talker, must still answer a ping.
    const fin = await pingAll(conns, 200, 'f');
    r.final = { sessions: conns.length, ...fin, open: conns.filter((c) => !c.closed).length };
    r.pingDuringHold = {
      p50Ms: latencySummary(pingRtts.map((p) => p.p50)).p50,
      p99Ms: Math.max(...pingRtts.map((p) => p.p99)),
      maxMs: Math.max(...pingRtts.map((p) => p.max)),
      samples: pingRtts.length,
    };
    row('end', { ping: fin });
    const holdRows = r.rows.filter((x) => x.phase === 'hold' && x.loop);
    if (holdRows.length > 0) {
      r.loopDuringHold = {
        p50Ms: latencySummary(holdRows.map((x) => x.loop.p50Ms)).p50,
        p99Ms: Math.max(...holdRows.map((x) => x.loop.p99Ms)),
        maxMs: Math.max(...holdRows.map((x) => x.loop.maxMs)),
      };
    }
    r.hwmKiB = statusKiB(pid, 'VmHWM');
    r.rssEndKiB = rssKiB(pid);
    say(`${server.label}: ${fin.ok}/${conns.length} sessions answered the final ping (${fin.failed} failed)`);
  });
}

async function main() {
  // Clove's figures first.
  const { started, mach, pin, busyAtStart, wanted, shared } = await benchSetup({ tag: 'hold', opt, tmpRoot, say, domain: DOMAIN, users: makeUsers(cfg.sessions), order: ['clove', 'prosody'] });
  const servers = { prosody, clove: makeClove(REPO) };
  const results = [];
  const write = () => {
    if (!out) return;
    writeHoldResults(out, { results, mach, started, cfg, busyAtStart, command: cli.commandLine(), pin });
    say(`results written to ${path.relative(process.cwd(), out) || out}`);
  };
  for (const name of wanted) {
    results.push(await holdServer(servers[name], shared));
    write(); // after each server, so a long run keeps what it has measured
  }
  return results.some((r) => r.ok && r.final?.failed === 0) ? 0 : 1;
}

cli.runMain('hold', main, removeTmp);
