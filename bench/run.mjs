#!/usr/bin/env node
// Clove vs Prosody load benchmark. A raw-socket XMPP load generator measures, per server in
// the same run: logins/s, messages/s with latency, and RSS per idle session. See bench/README.md.
//
//   node bench/run.mjs [--server both|prosody,clove,floor] [--quick] [--out FILE] [--no-pin] [--keep-tmp]
//                      [--logins N] [--login-concurrency N] [--msg-clients N] [--window N]
//                      [--duration S] [--idle N] [--no-presence] [--phases memory,logins,fresh,scram,messages]
//                      [--repeat N] [--wait-quiet S] [--warmup N] [--prosody-extra 'LUA LINE']
//
// --no-presence: idle sessions send no initial presence; --phases: run only these phases.
// --server floor: the login floor (bench/lib/floor-server.mjs), login phases only.

import fs from 'node:fs';
import path from 'node:path';
import { makeUsers, prosodyCredentials, prosodyDefaultIterations } from './lib/accounts.mjs';
import { makeSelfSigned } from './lib/certs.mjs';
import * as cli from './lib/cli.mjs';
import { GENERATOR_CPU, REPO, SERVER_CPU } from './lib/cli.mjs';
import { loginPhase, memoryPhase, messagePhase, warmup } from './lib/phases.mjs';
import { rssKiB, startServer, statusKiB, stopServer, tail, waitReady } from './lib/proc.mjs';
import { buildTable, textTable } from './lib/report.mjs';
import { writeResults } from './lib/results-md.mjs';
import { makeClove, makeFloor, prosody } from './lib/servers.mjs';
import { fmt } from './lib/stats.mjs';
import { login } from './lib/xmpp.mjs';

const DOMAIN = 'localhost';

const opt = cli.parseBenchArgs(import.meta.url, 8, {
  logins: { type: 'string' },
  'login-concurrency': { type: 'string' },
  'msg-clients': { type: 'string' },
  idle: { type: 'string' },
  'no-presence': { type: 'boolean', default: false },
  warmup: { type: 'string' },
  phases: { type: 'string' },
});
const PHASES = ['memory', 'logins', 'fresh', 'scram', 'messages'];
const phases = new Set((opt.phases ?? PHASES.join(',')).split(',').map((p) => p.trim()));
for (const p of phases) {
  if (!PHASES.includes(p)) {
    console.error(`bench: unknown phase '${p}' (phases: ${PHASES.join(', ')})`);
    process.exit(2);
  }
}

const int = (v, d) => cli.numberOption('bench', v, d, (n) => n > 0);

const Q = opt.quick;
const cfg = {
  // --warmup 0: measure a cold server, as an outside generator does (no untimed logins first).
  warmupLogins: cli.numberOption('bench', opt.warmup, Q ? 40 : 200, (n) => Number.isInteger(n) && n >= 0),
  warmupConcurrency: Q ? 20 : 50,
  logins: int(opt.logins, Q ? 300 : 2000),
  loginConcurrency: int(opt['login-concurrency'], Q ? 50 : 100),
  loginMaxSeconds: Q ? 30 : 120,
  // The outside generator's shape (issue 15): PLAIN logins on a server started just before,
  // with no sanity or warm-up login first.
  freshLogins: Q ? 100 : 200,
  freshConcurrency: 50,
  msgClients: int(opt['msg-clients'], Q ? 40 : 200),
  window: int(opt.window, 32),
  msgWarmupSeconds: Q ? 1 : 2,
  msgSeconds: int(opt.duration, Q ? 3 : 10),
  drainSeconds: 5,
  idleSessions: int(opt.idle, Q ? 200 : 2000),
  scramUsers: Q ? 50 : 200,
  repeat: int(opt.repeat, 1),
  // Memory is read this long after the last login, before and after the idle sessions: an idle
  // server, not the tail of a login burst (Clove gives the young generation back ~6 s after
  // allocation stops, gc_release_when_idle; Prosody's Lua collector runs as it allocates).
  settleMs: 10000,
  idleMaxSeconds: Q ? 60 : 180,
  presence: !opt['no-presence'],
  phases: [...phases],
};
const quietSeconds = cli.quietSecondsOption(opt);
// Logins cycle over the accounts, so --logins may exceed this; idle sessions get one account each.
const nAccounts = Math.max(cfg.idleSessions, cfg.msgClients, cfg.warmupLogins, cfg.scramUsers);

const wanted = cli.wantedServers('bench', opt.server, ['floor']);

const say = (s) => console.log(`[bench] ${s}`);
const disturbances = [];

/** Before a timed phase: give other processes on a shared machine a chance to finish. */
const quietBefore = cli.quietWaiter(quietSeconds, say);

/** Warns (and remembers for RESULTS.md) when other processes ate CPU during a phase. */
function checkQuiet(label, phase, m) {
  if (m && m.otherCpuPct > 15) {
    const msg = `${label} ${phase}: other processes used ${fmt(m.otherCpuPct)}% of a CPU meanwhile — numbers are disturbed`;
    disturbances.push(msg);
    say(`WARNING: ${msg}`);
  }
}

const { tmpRoot, removeTmp } = cli.benchTmpDir('bench', 'clove-bench-', opt['keep-tmp']);

/**
 * Turns shared by the servers of one run: each server's preparation and each of its timed runs
 * is one turn, and turns go round the servers in order (Prosody, Clove, Prosody, …), so a
 * minute of noise on the machine (its speed drifts by ±25% over minutes) hits both servers'
 * runs of a phase alike instead of one server's. A server that stops (done or failed) leaves
 * the round.
 */
function turnstile(n) {
  let current = 0;
  const done = new Array(n).fill(false);
  const waiting = new Map();
  const advance = () => {
    if (done.every(Boolean)) return;
    do current = (current + 1) % n;
    while (done[current]);
    waiting.get(current)?.();
  };
  return {
    async run(i, fn) {
      while (current !== i) await new Promise((resolve) => waiting.set(i, resolve));
      waiting.delete(i);
      try {
        return await fn();
      } finally {
        advance();
      }
    },
    finish(i) {
      done[i] = true;
      if (current === i) advance();
    },
  };
}

async function benchServer(server, shared, turn) {
  const { r, dir, port } = await cli.serverSlot(server, tmpRoot, say);
  if (r.skipped) return r;
  let prepared = null;
  let proc = null;

  // Every phase gets a freshly started server (same config, data and port), so no phase's
  // numbers depend on what an earlier phase left behind: a Lua or V8 heap grown by 2,000
  // sessions makes every later garbage collection slower.
  // `fresh`: no sanity login and no warm-up, the first login is measured (the outside
  // generator's shape).
  const withServer = async (phase, fn, { fresh = false } = {}) => {
    proc = startServer({
      argv: prepared.argv,
      cwd: prepared.cwd,
      cpu: shared.pin ? SERVER_CPU : null,
      logPath: prepared.stdoutPath,
      env: prepared.env,
    });
    try {
      await waitReady(proc, port, DOMAIN, prepared.startTimeoutMs);
      let pid = proc.pid;
      const pidfile = path.join(dir, 'server.pid');
      if (fs.existsSync(pidfile)) {
        const p = Number(fs.readFileSync(pidfile, 'utf8').trim());
        if (p && p !== pid && Number.isFinite(rssKiB(p))) {
          say(`${server.label}: pidfile says PID ${p}, measuring that process`);
          pid = p;
        }
      }
      const target = { host: '127.0.0.1', port, domain: DOMAIN, pid };
      r.rssAtStartKiB ??= rssKiB(pid);
      // The process's own memory (anonymous pages): VmRSS also counts the pages of the binary and
      // libraries read from disk, which every process running them shares (~35 MiB of node itself).
      r.rssAnonAtStartKiB ??= statusKiB(pid, 'RssAnon');
      if (fresh) {
        say(`${server.label} ${phase}: PID ${proc.pid} on 127.0.0.1:${port}${shared.pin ? ` (CPU ${SERVER_CPU})` : ''}, no warm-up`);
        return await fn(target);
      }
      // One login first: a wrong account format or config shows up here as one clear error.
      try {
        const c = await login({ ...target, ...shared.users[0] });
        c.close();
      } catch (err) {
        throw new Error(`sanity login as ${shared.users[0].user}@${DOMAIN} failed: ${err.message}`);
      }
      const w = await warmup(target, shared.users, { count: cfg.warmupLogins, concurrency: cfg.warmupConcurrency });
      r.tls ??= w.tlsInfo;
      say(
        `${server.label} ${phase}: PID ${proc.pid} on 127.0.0.1:${port}${shared.pin ? ` (CPU ${SERVER_CPU})` : ''}, ` +
          `warm-up ${w.completed}/${cfg.warmupLogins} logins (${w.tlsInfo?.protocol} ${w.tlsInfo?.cipher})`,
      );
      return await fn(target);
    } finally {
      await stopServer(proc);
      proc = null;
    }
  };

  // Timed phases run `cfg.repeat` times, each on a fresh server; the run with the median rate
  // is reported, with every run's rate in `runs`.
  const repeated = async (once) => {
    const runs = [];
    for (let i = 0; i < cfg.repeat; i++) {
      runs.push(await turn(once));
      if (cfg.repeat > 1) say(`${server.label}:   run ${i + 1}/${cfg.repeat}: ${fmt(runs[i].perSecond)}/s`);
    }
    const med = [...runs].sort((a, b) => a.perSecond - b.perSecond)[(runs.length - 1) >> 1];
    return { ...med, runs: runs.map((x) => x.perSecond) };
  };
  const worstLoop = (a, b) => (!a ? b : !b ? a : b.p99Ms > a.p99Ms ? b : a);

  /** The phases asked for that this server takes part in (the floor routes no messages). */
  const runs = (phase) => phases.has(phase) && (server.phases?.has(phase) ?? true);

  try {
    say(`${server.label}: preparing config and ${shared.users.length} accounts…`);
    prepared = await turn(() => cli.prepareServer(server, { dir, port, domain: DOMAIN, shared, prosodyExtra: opt['prosody-extra'] ?? [] }));
    r.accounts = prepared.accountsNote;
    say(`${server.label}: ${prepared.accountsNote}`);

    if (runs('memory')) r.memory = await turn(() => withServer('memory', async (target) => {
      say(`${server.label}: memory — ${cfg.idleSessions} idle sessions${cfg.presence ? '' : ' (no initial presence)'}…`);
      return memoryPhase(target, shared.users, {
        sessions: cfg.idleSessions,
        concurrency: cfg.loginConcurrency,
        settleMs: cfg.settleMs,
        maxSeconds: cfg.idleMaxSeconds,
        presence: cfg.presence,
      });
    }));
    if (r.memory) say(
      `${server.label}:   ${r.memory.stillOpen} sessions, RSS ${fmt(r.memory.rssBeforeKiB)} → ${fmt(r.memory.rssAfterKiB)} KiB` +
        ` = ${fmt(r.memory.kibPerSession, 1)} KiB/session`,
    );

    if (runs('logins')) r.logins = await repeated(() => withServer('logins', async (target) => {
      await quietBefore(`${server.label} logins`);
      say(`${server.label}: logins — ${cfg.logins} total, ${cfg.loginConcurrency} at a time…`);
      const stats = server.startStats?.(prepared);
      const res = await loginPhase(target, shared.users, {
        total: cfg.logins,
        concurrency: cfg.loginConcurrency,
        maxSeconds: cfg.loginMaxSeconds,
      });
      r.eventLoop = worstLoop(r.eventLoop, stats?.stop());
      return res;
    }));
    if (r.logins) say(
      `${server.label}:   ${r.logins.completed} ok, ${r.logins.failed} failed in ${fmt(r.logins.seconds, 2)} s = ` +
        `${fmt(r.logins.perSecond)} logins/s (server CPU ${fmt(r.logins.serverCpuPct)}%, generator ${fmt(r.logins.generatorCpuPct)}%)`,
    );
    if (r.logins) checkQuiet(server.label, 'logins', r.logins);
    if (r.eventLoop) {
      say(`${server.label}:   event-loop delay during logins: p99 ${fmt(r.eventLoop.p99Ms, 1)} ms (worst second), max ${fmt(r.eventLoop.maxMs, 1)} ms`);
    }

    if (runs('fresh')) r.loginsFresh = await repeated(() => withServer('logins-fresh', async (target) => {
      await quietBefore(`${server.label} fresh logins`);
      say(`${server.label}: logins on a fresh server — ${cfg.freshLogins} total, ${cfg.freshConcurrency} at a time…`);
      return loginPhase(target, shared.users, { total: cfg.freshLogins, concurrency: cfg.freshConcurrency, maxSeconds: cfg.loginMaxSeconds });
    }, { fresh: true }));
    if (r.loginsFresh) say(
      `${server.label}:   ${r.loginsFresh.completed} ok, ${r.loginsFresh.failed} failed in ${fmt(r.loginsFresh.seconds, 2)} s = ` +
        `${fmt(r.loginsFresh.perSecond)} logins/s on a fresh server`,
    );
    if (r.loginsFresh) checkQuiet(server.label, 'fresh logins', r.loginsFresh);

    // The same logins with SCRAM-SHA-1 (what Pidgin picks first): the server checks stored keys
    // instead of running PBKDF2. Over the first `scramUsers` accounts, whose salted passwords
    // the untimed pass below puts in the generator's cache (as real clients cache them).
    const scramUsers = shared.users.slice(0, cfg.scramUsers);
    const scramCache = new Map();
    if (runs('scram')) r.loginsScram = await repeated(() => withServer('logins-scram', async (target) => {
      await warmup(target, scramUsers, { count: scramUsers.length, concurrency: cfg.warmupConcurrency, mech: 'SCRAM-SHA-1', scramCache });
      await quietBefore(`${server.label} SCRAM logins`);
      say(`${server.label}: SCRAM-SHA-1 logins — ${cfg.logins} total over ${scramUsers.length} accounts, ${cfg.loginConcurrency} at a time…`);
      const stats = server.startStats?.(prepared);
      const res = await loginPhase(target, scramUsers, {
        total: cfg.logins,
        concurrency: cfg.loginConcurrency,
        maxSeconds: cfg.loginMaxSeconds,
        mech: 'SCRAM-SHA-1',
        scramCache,
      });
      r.eventLoopScram = worstLoop(r.eventLoopScram, stats?.stop());
      return res;
    }));
    if (r.loginsScram) say(
      `${server.label}:   ${r.loginsScram.completed} ok, ${r.loginsScram.failed} failed in ${fmt(r.loginsScram.seconds, 2)} s = ` +
        `${fmt(r.loginsScram.perSecond)} logins/s (server CPU ${fmt(r.loginsScram.serverCpuPct)}%, generator ${fmt(r.loginsScram.generatorCpuPct)}%)`,
    );
    if (r.loginsScram) checkQuiet(server.label, 'SCRAM logins', r.loginsScram);

    if (runs('messages')) r.messages = await repeated(() => withServer('messages', async (target) => {
      await quietBefore(`${server.label} messages`);
      say(`${server.label}: messages — ${cfg.msgClients} clients in pairs, window ${cfg.window}, ${cfg.msgSeconds} s…`);
      const stats = server.startStats?.(prepared);
      const res = await messagePhase(target, shared.users, {
        clients: cfg.msgClients,
        concurrency: cfg.loginConcurrency,
        window: cfg.window,
        warmupSeconds: cfg.msgWarmupSeconds,
        seconds: cfg.msgSeconds,
        drainSeconds: cfg.drainSeconds,
      });
      r.eventLoopMessages = worstLoop(r.eventLoopMessages, stats?.stop());
      return res;
    }));
    const m = r.messages;
    if (m) say(
      `${server.label}:   ${fmt(m.perSecond)} msg/s, p50 ${fmt(m.latencyMs?.p50, 2)} ms, p99 ${fmt(m.latencyMs?.p99, 2)} ms` +
        ` (server CPU ${fmt(m.serverCpuPct)}%, generator ${fmt(m.generatorCpuPct)}%, undelivered ${m.undelivered})`,
    );
    if (m) checkQuiet(server.label, 'messages', m);
    r.ok = true;
  } catch (err) {
    r.error = err.message;
    const logTail = [prepared?.logPath, prepared?.stdoutPath].filter(Boolean).map((p) => tail(p)).filter(Boolean).join('\n');
    r.logTail = logTail;
    say(`${server.label}: FAILED — ${err.message}`);
    if (logTail) console.log(logTail.replace(/^/gm, `[${server.name} log] `));
  } finally {
    if (proc) await stopServer(proc);
  }
  return r;
}

async function main() {
  const started = new Date();
  const mach = cli.machine(['prosody']);
  const pin = cli.shouldPin(opt, mach);
  say(`${cli.commandLine('bench')} — ${mach.nproc} CPUs, Node ${mach.node}, prosody ${mach.prosody}`);

  const busyAtStart = cli.warnBusyAtStart(say);

  const certDir = path.join(tmpRoot, 'certs');
  makeSelfSigned(certDir, DOMAIN);
  const users = makeUsers(nAccounts);
  const iterations = prosodyDefaultIterations();
  let prosodyCreds = [];
  if (wanted.includes('prosody') || wanted.includes('floor')) {
    // Before pinning: PBKDF2 for every account on all cores.
    const t0 = Date.now();
    prosodyCreds = await prosodyCredentials(users, iterations.iterations);
    say(`hashed ${users.length} Prosody credentials (${iterations.iterations} iterations) in ${Date.now() - t0} ms`);
  }
  cli.pinGenerator(pin, say, `generator pinned to CPU ${GENERATOR_CPU}; servers go on CPU ${SERVER_CPU}`);
  const shared = { certDir, users, prosodyCreds, iterations, pin, busyAtStart };

  const servers = { prosody, clove: makeClove(REPO), floor: makeFloor(REPO) };
  const results = [];
  const turns = turnstile(wanted.length);
  results.push(
    ...(await Promise.all(
      wanted.map((name, i) => benchServer(servers[name], shared, (fn) => turns.run(i, fn)).finally(() => turns.finish(i))),
    )),
  );

  cli.printAndWriteResults(opt, {
    table: textTable(buildTable(results)),
    results,
    file: 'RESULTS.md',
    write: (out) =>
      writeResults(out, {
        results,
        mach,
        shared,
        started,
        cfg,
        quick: Q,
        command: cli.commandLine('bench'),
        prosodyExtra: opt['prosody-extra'] ?? [],
        disturbances,
        cpus: { server: SERVER_CPU, generator: GENERATOR_CPU },
      }),
  });
  return results.some((r) => r.ok) ? 0 : 1;
}

cli.runMain('bench', main, removeTmp);
