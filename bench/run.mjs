#!/usr/bin/env node
// Clove vs Prosody load benchmark. A raw-socket XMPP load generator measures, per server in
// the same run: logins/s, messages/s with latency, and RSS per idle session. See bench/README.md.
//
//   node bench/run.mjs [--server prosody|clove|both] [--quick] [--out FILE] [--no-pin] [--keep-tmp]
//                      [--logins N] [--login-concurrency N] [--msg-clients N] [--window N]
//                      [--duration S] [--idle N]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeUsers, prosodyCredentials, prosodyDefaultIterations } from './lib/accounts.mjs';
import { makeSelfSigned } from './lib/certs.mjs';
import { loginPhase, memoryPhase, messagePhase, warmup } from './lib/phases.mjs';
import {
  busyProcesses,
  freePort,
  haveTaskset,
  killAllStartedSync,
  pinSelf,
  rssKiB,
  startServer,
  stopServer,
  tail,
  waitReady,
} from './lib/proc.mjs';
import { buildTable, markdownTable, textTable } from './lib/report.mjs';
import { makeClove, prosody } from './lib/servers.mjs';
import { fmt } from './lib/stats.mjs';
import { login } from './lib/xmpp.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const DOMAIN = 'localhost';
const SERVER_CPU = 0;
const GENERATOR_CPU = 1;

const { values: opt } = parseArgs({
  options: {
    server: { type: 'string', default: 'both' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    'keep-tmp': { type: 'boolean', default: false },
    logins: { type: 'string' },
    'login-concurrency': { type: 'string' },
    'msg-clients': { type: 'string' },
    window: { type: 'string' },
    duration: { type: 'string' },
    idle: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opt.help) {
  console.log(fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 8).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

const int = (v, d) => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`bench: bad number ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
};

const Q = opt.quick;
const cfg = {
  warmupLogins: Q ? 40 : 200,
  warmupConcurrency: Q ? 20 : 50,
  logins: int(opt.logins, Q ? 300 : 2000),
  loginConcurrency: int(opt['login-concurrency'], Q ? 50 : 100),
  loginMaxSeconds: Q ? 30 : 120,
  msgClients: int(opt['msg-clients'], Q ? 40 : 200),
  window: int(opt.window, 32),
  msgWarmupSeconds: Q ? 1 : 2,
  msgSeconds: int(opt.duration, Q ? 3 : 10),
  drainSeconds: 5,
  idleSessions: int(opt.idle, Q ? 300 : 2000),
  settleMs: Q ? 1000 : 2000,
  idleMaxSeconds: Q ? 60 : 180,
};
const nAccounts = Math.max(cfg.idleSessions, cfg.msgClients, cfg.logins, cfg.warmupLogins);

const wanted = opt.server === 'both' ? ['prosody', 'clove'] : [opt.server];
if (!wanted.every((s) => s === 'prosody' || s === 'clove')) {
  console.error('bench: --server must be prosody, clove or both');
  process.exit(2);
}

const say = (s) => console.log(`[bench] ${s}`);
const disturbances = [];

/** Warns (and remembers for RESULTS.md) when other processes ate CPU during a phase. */
function checkQuiet(label, phase, m) {
  if (m && m.otherCpuPct > 15) {
    const msg = `${label} ${phase}: other processes used ${fmt(m.otherCpuPct)}% of a CPU meanwhile — numbers are disturbed`;
    disturbances.push(msg);
    say(`WARNING: ${msg}`);
  }
}

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'clove-bench-'));
let cleanedUp = false;
function removeTmp() {
  if (cleanedUp) return;
  cleanedUp = true;
  if (opt['keep-tmp']) console.log(`[bench] kept ${tmpRoot}`);
  else fs.rmSync(tmpRoot, { recursive: true, force: true });
}
process.on('exit', () => {
  killAllStartedSync();
  removeTmp();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\n[bench] ${sig}: stopping servers`);
    killAllStartedSync();
    removeTmp();
    process.exit(130);
  });
}

function commandLine() {
  const args = process.argv.slice(2).join(' ');
  const direct = `node ${path.relative(process.cwd(), process.argv[1]) || process.argv[1]}${args ? ' ' + args : ''}`;
  return process.env.npm_lifecycle_event === 'bench' ? `npm run bench${args ? ' -- ' + args : ''}` : direct;
}

function machine() {
  const dpkg = spawnSync('dpkg-query', ['-W', 'prosody'], { encoding: 'utf8' });
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGiB: os.totalmem() / 2 ** 30,
    kernel: os.release(),
    node: process.version,
    prosody: dpkg.status === 0 ? dpkg.stdout.trim() : 'not installed',
  };
}

async function benchServer(server, shared) {
  const r = { server: server.name, label: server.label, ok: false };
  const avail = server.available();
  if (!avail.ok) {
    r.skipped = avail.reason;
    say(`${server.label}: not available — ${avail.reason}. Skipping it.`);
    return r;
  }
  r.version = server.version();
  const dir = path.join(tmpRoot, server.name);
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  let proc = null;
  let prepared = null;
  try {
    say(`${server.label}: preparing config and ${shared.users.length} accounts…`);
    prepared = await server.prepare({
      dir,
      port,
      certDir: shared.certDir,
      domain: DOMAIN,
      users: shared.users,
      prosodyCreds: shared.prosodyCreds,
      cpus: `${SERVER_CPU},${GENERATOR_CPU}`,
    });
    r.accounts = prepared.accountsNote;
    say(`${server.label}: ${prepared.accountsNote}`);
    proc = startServer({
      argv: prepared.argv,
      cwd: prepared.cwd,
      cpu: shared.pin ? SERVER_CPU : null,
      logPath: prepared.stdoutPath,
      env: prepared.env,
    });
    say(`${server.label}: started PID ${proc.pid} on 127.0.0.1:${port}${shared.pin ? ` (CPU ${SERVER_CPU})` : ''}`);
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
    r.rssAtStartKiB = rssKiB(pid);

    // One login first: a wrong account format or config shows up here as one clear error.
    try {
      const c = await login({ ...target, ...shared.users[0] });
      c.close();
    } catch (err) {
      throw new Error(`sanity login as ${shared.users[0].user}@${DOMAIN} failed: ${err.message}`);
    }

    const w = await warmup(target, shared.users, { count: cfg.warmupLogins, concurrency: cfg.warmupConcurrency });
    r.tls = w.tlsInfo;
    say(`${server.label}: warm-up ${w.completed}/${cfg.warmupLogins} logins (${w.tlsInfo?.protocol} ${w.tlsInfo?.cipher})`);

    say(`${server.label}: memory — ${cfg.idleSessions} idle sessions…`);
    r.memory = await memoryPhase(target, shared.users, {
      sessions: cfg.idleSessions,
      concurrency: cfg.loginConcurrency,
      settleMs: cfg.settleMs,
      maxSeconds: cfg.idleMaxSeconds,
    });
    say(
      `${server.label}:   ${r.memory.stillOpen} sessions, RSS ${fmt(r.memory.rssBeforeKiB)} → ${fmt(r.memory.rssAfterKiB)} KiB` +
        ` = ${fmt(r.memory.kibPerSession, 1)} KiB/session`,
    );
    await new Promise((res) => setTimeout(res, cfg.settleMs));

    say(`${server.label}: logins — ${cfg.logins} total, ${cfg.loginConcurrency} at a time…`);
    r.logins = await loginPhase(target, shared.users, {
      total: cfg.logins,
      concurrency: cfg.loginConcurrency,
      maxSeconds: cfg.loginMaxSeconds,
    });
    say(
      `${server.label}:   ${r.logins.completed} ok, ${r.logins.failed} failed in ${fmt(r.logins.seconds, 2)} s = ` +
        `${fmt(r.logins.perSecond)} logins/s (server CPU ${fmt(r.logins.serverCpuPct)}%, generator ${fmt(r.logins.generatorCpuPct)}%)`,
    );
    checkQuiet(server.label, 'logins', r.logins);
    if (server.eventLoop) r.eventLoop = await server.eventLoop(prepared);

    say(`${server.label}: messages — ${cfg.msgClients} clients in pairs, window ${cfg.window}, ${cfg.msgSeconds} s…`);
    r.messages = await messagePhase(target, shared.users, {
      clients: cfg.msgClients,
      concurrency: cfg.loginConcurrency,
      window: cfg.window,
      warmupSeconds: cfg.msgWarmupSeconds,
      seconds: cfg.msgSeconds,
      drainSeconds: cfg.drainSeconds,
    });
    const m = r.messages;
    say(
      `${server.label}:   ${fmt(m.perSecond)} msg/s, p50 ${fmt(m.latencyMs?.p50, 2)} ms, p99 ${fmt(m.latencyMs?.p99, 2)} ms` +
        ` (server CPU ${fmt(m.serverCpuPct)}%, generator ${fmt(m.generatorCpuPct)}%, undelivered ${m.undelivered})`,
    );
    checkQuiet(server.label, 'messages', m);
    r.ok = true;
  } catch (err) {
    r.error = err.message;
    const logTail = [prepared?.logPath, prepared?.stdoutPath].filter(Boolean).map((p) => tail(p)).filter(Boolean).join('\n');
    r.logTail = logTail;
    say(`${server.label}: FAILED — ${err.message}`);
    if (logTail) console.log(logTail.replace(/^/gm, `[${server.name} log] `));
  } finally {
    if (proc) {
      await stopServer(proc);
      say(`${server.label}: stopped PID ${proc.pid}`);
    }
  }
  return r;
}

function writeResults(file, results, mach, shared, started) {
  const rows = buildTable(results.filter((r) => r.ok || r.skipped || r.error));
  const lines = [];
  lines.push('# Clove benchmark results', '');
  lines.push(`- Date: ${started.toISOString()}`);
  lines.push(
    `- Machine: ${mach.nproc} CPUs (${mach.cpu}), ${fmt(mach.memGiB, 1)} GiB RAM, Linux ${mach.kernel}; ` +
      `Node ${mach.node}; \`dpkg-query -W prosody\`: \`${mach.prosody}\``,
  );
  lines.push(`- Command: \`${commandLine()}\`${Q ? ' (quick smoke run: small N, not for comparison)' : ''}`);
  lines.push(
    `- Pinning: ${shared.pin ? `servers on CPU ${SERVER_CPU}, load generator on CPU ${GENERATOR_CPU} (taskset)` : 'none (--no-pin or no taskset)'}`,
  );
  lines.push(
    `- Accounts: ${shared.users.length}, SCRAM-SHA-1 hashed with ${shared.iterations.iterations} PBKDF2 iterations ` +
      `(Prosody's default, read from ${shared.iterations.source}); logins use SASL PLAIN, so the server runs PBKDF2 on each.`,
  );
  lines.push(
    `- Settings: logins ${cfg.logins} @ ${cfg.loginConcurrency} concurrent; messages ${cfg.msgClients} clients (pairs), ` +
      `window ${cfg.window}, ${cfg.msgWarmupSeconds} s warm-up + ${cfg.msgSeconds} s measured; idle sessions ${cfg.idleSessions}.`,
  );
  for (const r of results) {
    if (r.version) lines.push(`- ${r.label}: ${r.version}`);
  }
  if (shared.busyAtStart.length > 0) {
    lines.push(`- **Busy machine at start** (other processes ≥ 20% CPU): ${shared.busyAtStart.join('; ')}`);
  }
  for (const d of disturbances) lines.push(`- **Warning:** ${d}`);
  lines.push('', '## Results', '', markdownTable(rows), '');
  lines.push(
    'Targets: message throughput ≥ 2x Prosody; KiB per idle session ≤ 0.5x Prosody; logins/s ≥ 1.5x Prosody ' +
      '(hashed credentials); event-loop p99 < 50 ms while 100 clients log in at once (Clove only).',
    '',
  );
  for (const r of results) {
    lines.push(`### ${r.label}`, '');
    if (r.skipped) {
      lines.push(`Not measured: ${r.skipped}`, '');
      continue;
    }
    if (r.error) lines.push(`**Failed:** ${r.error}`, '');
    if (r.accounts) lines.push(`- ${r.accounts}`);
    if (r.tls) lines.push(`- TLS: ${r.tls.protocol}, ${r.tls.cipher}`);
    if (r.rssAtStartKiB) lines.push(`- RSS right after start: ${fmt(r.rssAtStartKiB)} KiB`);
    if (r.memory) {
      const m = r.memory;
      lines.push(
        `- Memory: ${m.stillOpen}/${m.sessions} sessions open; RSS ${fmt(m.rssBeforeKiB)} → ${fmt(m.rssAfterKiB)} KiB; ` +
          `${fmt(m.kibPerSession, 1)} KiB/session; failures ${JSON.stringify(m.failures)}`,
      );
    }
    if (r.logins) {
      const l = r.logins;
      lines.push(
        `- Logins: ${l.completed}/${l.total} in ${fmt(l.seconds, 2)} s; latency p50 ${fmt(l.latencyMs.p50, 1)} ms, ` +
          `p99 ${fmt(l.latencyMs.p99, 1)} ms; failures ${JSON.stringify(l.failures)}${l.timedOut ? ' (time limit hit)' : ''}; ` +
          `CPU server ${fmt(l.serverCpuPct)}% / generator ${fmt(l.generatorCpuPct)}%`,
      );
    }
    if (r.messages) {
      const m = r.messages;
      lines.push(
        `- Messages: ${m.loggedIn}/${m.clients} clients; ${fmt(m.delivered)} delivered in ${fmt(m.seconds, 2)} s; ` +
          `latency p50 ${fmt(m.latencyMs?.p50, 2)} / p99 ${fmt(m.latencyMs?.p99, 2)} / max ${fmt(m.latencyMs?.max, 1)} ms; ` +
          `undelivered after ${cfg.drainSeconds} s drain ${m.undelivered}; stream errors ${m.streamErrors}; ` +
          `dropped connections ${m.connectionsDropped}; CPU server ${fmt(m.serverCpuPct)}% / generator ${fmt(m.generatorCpuPct)}%`,
      );
    }
    if (r.server === 'clove' && !r.eventLoop) lines.push('- Event-loop delay: not reported yet (TODO in bench/lib/servers.mjs).');
    lines.push('');
  }
  lines.push('How each number is measured: see bench/README.md.', '');
  fs.writeFileSync(file, lines.join('\n'));
}

async function main() {
  const started = new Date();
  const mach = machine();
  const pin = !opt['no-pin'] && haveTaskset() && mach.nproc >= 2;
  say(`${commandLine()} — ${mach.nproc} CPUs, Node ${mach.node}, prosody ${mach.prosody}`);

  const busyAtStart = busyProcesses([process.pid]);
  if (busyAtStart.length > 0) {
    say(`WARNING: other processes are busy on this machine; results will be noisy:`);
    for (const b of busyAtStart) say(`  ${b}`);
  }

  const certDir = path.join(tmpRoot, 'certs');
  makeSelfSigned(certDir, DOMAIN);
  const users = makeUsers(nAccounts);
  const iterations = prosodyDefaultIterations();
  let prosodyCreds = [];
  if (wanted.includes('prosody')) {
    // Before pinning: PBKDF2 for every account on all cores.
    const t0 = Date.now();
    prosodyCreds = await prosodyCredentials(users, iterations.iterations);
    say(`hashed ${users.length} Prosody credentials (${iterations.iterations} iterations) in ${Date.now() - t0} ms`);
  }
  if (pin) {
    if (pinSelf(GENERATOR_CPU)) say(`generator pinned to CPU ${GENERATOR_CPU}; servers go on CPU ${SERVER_CPU}`);
    else say('warning: could not pin the generator with taskset');
  } else {
    say('not pinning CPUs');
  }
  const shared = { certDir, users, prosodyCreds, iterations, pin, busyAtStart };

  const servers = { prosody, clove: makeClove(REPO) };
  const results = [];
  for (const name of wanted) results.push(await benchServer(servers[name], shared));

  const rows = buildTable(results);
  console.log('\n' + textTable(rows) + '\n');
  for (const r of results) {
    if (r.skipped) console.log(`${r.label}: not measured — ${r.skipped}`);
    else if (r.error) console.log(`${r.label}: failed — ${r.error}`);
  }
  const out = opt.out ?? (Q ? null : path.join(HERE, 'RESULTS.md'));
  if (out) {
    writeResults(out, results, mach, shared, started);
    console.log(`results written to ${path.relative(process.cwd(), out) || out}`);
  }
  return results.some((r) => r.ok) ? 0 : 1;
}

main()
  .then((code) => {
    removeTmp();
    process.exit(code);
  })
  .catch((err) => {
    console.error(`[bench] fatal: ${err.stack || err}`);
    killAllStartedSync();
    removeTmp();
    process.exit(1);
  });
