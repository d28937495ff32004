#!/usr/bin/env node
// s2s benchmark: two servers of the same kind federate over loopback through a SOCKS5 proxy
// standing in for i2pd; N clients on server A send chat messages to N clients on server B.
// Clove↔Clove and Prosody↔Prosody in the same run. See the "s2s" section of bench/README.md.
//
//   node bench/s2s.mjs [--server clove|prosody|both] [--quick] [--out FILE] [--no-pin] [--keep-tmp]
//                      [--pairs N] [--window N] [--warmup S] [--duration S] [--drain S]
//                      [--repeat N] [--wait-quiet S] [--retry-disturbed N] [--prosody-extra 'LUA LINE']

import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeUsers, prosodyCredentials, prosodyDefaultIterations } from './lib/accounts.mjs';
import { makeSelfSigned } from './lib/certs.mjs';
import * as cli from './lib/cli.mjs';
import { BENCH_DIR, GENERATOR_CPU, REPO, SERVER_CPU } from './lib/cli.mjs';
import { freePort, killAllStartedSync, startServer, stopServer, tail, waitReady } from './lib/proc.mjs';
import { s2sMessagePhase } from './lib/s2s-phase.mjs';
import { buildRows, textTable, writeS2SResults } from './lib/s2s-report.mjs';
import { kinds, resetData } from './lib/s2s-servers.mjs';
import { fmt } from './lib/stats.mjs';

const opt = cli.parseBenchArgs(import.meta.url, 10, {
  pairs: { type: 'string' },
  warmup: { type: 'string' },
  drain: { type: 'string' },
  'retry-disturbed': { type: 'string' },
});

const num = (v, d, { min = 1 } = {}) => cli.numberOption('s2s bench', v, d, (n) => n >= min);

const Q = opt.quick;
const cfg = {
  pairs: num(opt.pairs, Q ? 20 : 50),
  window: num(opt.window, 32),
  warmupSeconds: num(opt.warmup, Q ? 1 : 2, { min: 0 }),
  seconds: num(opt.duration, Q ? 3 : 10),
  drainSeconds: num(opt.drain, Q ? 3 : 5, { min: 0 }),
  repeat: num(opt.repeat, Q ? 1 : 3),
  loginConcurrency: 25,
  // A run during which other processes used > 15% of a CPU is run again (up to this many times).
  retryDisturbed: num(opt['retry-disturbed'], Q ? 0 : 3, { min: 0 }),
};
const prosodyExtra = opt['prosody-extra'] ?? [];
const quietSeconds = cli.quietSecondsOption(opt);
// Everything is bounded; this is the last resort if something hangs anyway.
const WATCHDOG_S = Q ? 120 : 300 + cfg.repeat * (1 + cfg.retryDisturbed) * 2 * (cfg.warmupSeconds + cfg.seconds + cfg.drainSeconds + quietSeconds + 90);

const wanted = cli.wantedServers('s2s bench', opt.server);
kinds.clove.repoRoot = REPO;

const say = (s) => console.log(`[s2s] ${s}`);
const disturbances = [];

const { tmpRoot, removeTmp } = cli.benchTmpDir('s2s', 'clove-s2s-bench-', opt['keep-tmp']);
const watchdog = setTimeout(() => {
  console.error(`[s2s] watchdog: still running after ${WATCHDOG_S} s; stopping everything`);
  killAllStartedSync();
  removeTmp();
  process.exit(1);
}, WATCHDOG_S * 1000);
watchdog.unref();

/** A made-up I2P b32 address: 52 base32 characters + .b32.i2p. */
function b32Name() {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return [...crypto.randomBytes(52)].map((x) => alphabet[x & 31]).join('') + '.b32.i2p';
}

function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function waitListening(proc, port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (proc.exited) throw new Error(`exited during start-up (code ${proc.exitCode}, signal ${proc.signal})`);
    if (await listening(port)) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${ms / 1000} s`);
}

const quietBefore = cli.quietWaiter(quietSeconds, say);

/** Writes configs and accounts for one kind's pair of servers. */
async function prepareKind(kind, shared) {
  const base = path.join(tmpRoot, kind.name);
  const proxyPort = await freePort();
  const sides = [];
  for (const [i, name] of ['a', 'b'].entries()) {
    const dir = path.join(base, name);
    fs.mkdirSync(dir, { recursive: true });
    sides.push({ name, domain: shared.domains[i], dir, c2sPort: await freePort(), s2sPort: await freePort() });
  }
  const prepared = [];
  for (const side of sides) {
    prepared.push(
      await kind.prepareSide(side, {
        certDir: shared.certDir,
        proxyPort,
        domains: shared.domains,
        users: shared.users,
        prosodyCreds: shared.prosodyCreds,
        prosodyExtra,
        cpus: `${SERVER_CPU},${GENERATOR_CPU}`,
      }),
    );
  }
  return { kind, base, proxyPort, sides, prepared };
}

/** One measured run on freshly started servers (and proxy) with fresh data. */
async function runOnce(setup, shared, runNo) {
  const { kind, sides, prepared, proxyPort } = setup;
  const procs = [];
  const proxyLog = path.join(setup.base, `proxy-${runNo}.log`);
  fs.rmSync(proxyLog, { force: true }); // a repeated (disturbed) run starts a new log
  try {
    const proxy = startServer({
      argv: [
        process.execPath,
        path.join(BENCH_DIR, 'lib', 's2s-proxy.mjs'),
        '--port',
        String(proxyPort),
        ...sides.flatMap((s) => ['--map', `${s.domain}=${s.s2sPort}`]),
      ],
      cwd: REPO,
      cpu: shared.pin ? GENERATOR_CPU : null,
      logPath: proxyLog,
      env: {},
    });
    procs.push(proxy);
    await waitListening(proxy, proxyPort, 10000);
    const servers = [];
    for (const [i, side] of sides.entries()) {
      resetData(side, prepared[i]);
      const p = startServer({
        argv: prepared[i].argv,
        cwd: prepared[i].cwd,
        cpu: shared.pin ? SERVER_CPU : null,
        logPath: prepared[i].stdoutPath,
        env: prepared[i].env,
      });
      procs.push(p);
      servers.push(p);
    }
    for (const [i, side] of sides.entries()) {
      try {
        await waitReady(servers[i], side.c2sPort, side.domain, 30000);
        await waitListening(servers[i], side.s2sPort, 10000);
      } catch (err) {
        throw new Error(`server ${side.name.toUpperCase()} (${kind.name}): ${err.message}`);
      }
    }
    say(
      `${kind.label} run ${runNo}: A PID ${servers[0].pid}, B PID ${servers[1].pid}${shared.pin ? ` (CPU ${SERVER_CPU})` : ''}, ` +
        `proxy PID ${proxy.pid}${shared.pin ? ` (CPU ${GENERATOR_CPU})` : ''}`,
    );
    await quietBefore(`${kind.label} run ${runNo}`);
    const target = (i) => ({ host: '127.0.0.1', port: sides[i].c2sPort, domain: sides[i].domain });
    const m = await s2sMessagePhase(
      target(0),
      target(1),
      shared.users,
      { serverA: servers[0].pid, serverB: servers[1].pid, proxy: proxy.pid },
      {
        pairs: cfg.pairs,
        window: cfg.window,
        warmupSeconds: cfg.warmupSeconds,
        seconds: cfg.seconds,
        drainSeconds: cfg.drainSeconds,
        concurrency: cfg.loginConcurrency,
        tag: `s${runNo}${crypto.randomBytes(3).toString('hex')}`,
      },
    );
    say(
      `${kind.label} run ${runNo}: ${fmt(m.perSecond)} msg/s, p50 ${fmt(m.latencyMs.p50, 2)} ms, p99 ${fmt(m.latencyMs.p99, 2)} ms, ` +
        `first message ${fmt(m.firstMessageMs)} ms; CPU A ${fmt(m.cpu.serverA)}% B ${fmt(m.cpu.serverB)}% ` +
        `proxy ${fmt(m.cpu.proxy)}% generator ${fmt(m.cpu.generator)}% other ${fmt(m.cpu.other)}%; ` +
        `undelivered ${m.undelivered}, bounced ${m.bounced}`,
    );
    return m;
  } catch (err) {
    err.logTail = prepared
      .map((p, i) => {
        const t = [tail(p.logPath), tail(p.stdoutPath)].filter(Boolean).join('\n');
        return t ? `--- server ${sides[i].name.toUpperCase()} ---\n${t}` : '';
      })
      .concat([tail(proxyLog) ? `--- proxy ---\n${tail(proxyLog)}` : ''])
      .filter(Boolean)
      .join('\n');
    throw err;
  } finally {
    // Servers first (their s2s streams close and the proxy logs them), then the proxy.
    for (const p of procs.slice(1).reverse()) await stopServer(p);
    if (procs[0]) {
      await sleep(300);
      await stopServer(procs[0]);
    }
    setup.lastProxy = readProxyLog(proxyLog, sides);
  }
}

/**
 * The proxy's account of a run: one entry per CONNECT, in order, with the direction (by the
 * name asked for), whether the initiator started TLS on it, and the bytes each way.
 */
function readProxyLog(file, sides) {
  let lines = [];
  try {
    lines = fs.readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
  const dir = (name) => {
    const i = sides.findIndex((s) => s.domain === name);
    return i === 1 ? 'A→B' : i === 0 ? 'B→A' : `?→${name}`;
  };
  const conns = [];
  for (const l of lines) {
    const [what, rest] = [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)];
    if (what === 'connect') conns.push({ name: rest.slice(0, rest.indexOf(':')), dir: dir(rest.slice(0, rest.indexOf(':'))), tls: false });
    else if (what === 'tls') {
      const c = conns.find((x) => x.name === rest && !x.tls);
      if (c) c.tls = true;
    } else if (what === 'close') {
      const m = /^(\S+) up=(\d+) down=(\d+)/.exec(rest);
      const c = m && conns.find((x) => x.name === m[1] && x.up === undefined);
      if (c) {
        c.up = Number(m[2]);
        c.down = Number(m[3]);
      }
    }
  }
  return conns;
}

function describeProxy(conns) {
  if (!conns.length) return 'none logged';
  const mb = (n) => (n === undefined ? '?' : n >= 1e6 ? `${fmt(n / 1e6, 1)} MB` : `${fmt(n / 1e3, 1)} kB`);
  return conns.map((c) => `${c.dir} (${c.tls ? 'STARTTLS' : '**no TLS seen**'}, ${mb(c.up)} sent, ${mb(c.down)} received)`).join('; ');
}

async function main() {
  const started = new Date();
  const mach = cli.machine(['prosody', 'prosody-modules']);
  const pin = cli.shouldPin(opt, mach);
  say(`${cli.commandLine()} — ${mach.nproc} CPUs, Node ${mach.node}, ${mach.prosody}`);
  const busyAtStart = cli.warnBusyAtStart(say);

  const domains = [b32Name(), b32Name()];
  const certDir = path.join(tmpRoot, 'certs');
  for (const d of domains) makeSelfSigned(certDir, d);
  const users = makeUsers(cfg.pairs);
  let prosodyCreds = [];
  if (wanted.includes('prosody')) {
    prosodyCreds = await prosodyCredentials(users, prosodyDefaultIterations().iterations);
  }
  const shared = { domains, certDir, users, prosodyCreds, pin };

  const byKind = {};
  const setups = [];
  for (const name of wanted) {
    const kind = kinds[name];
    const r = { name, label: kind.label, runs: [] };
    byKind[name] = r;
    const avail = kind.available();
    if (!avail.ok) {
      r.skipped = avail.reason;
      say(`${kind.label}: not available — ${avail.reason}. Skipping it.`);
      continue;
    }
    r.version = kind.version();
    try {
      const setup = await prepareKind(kind, shared);
      r.accounts = `${setup.prepared[0].accountsNote} on each server`;
      setups.push({ setup, r });
      say(`${kind.label}: ${r.accounts}`);
    } catch (err) {
      r.error = `preparing: ${err.message}`;
      say(`${kind.label}: FAILED — ${r.error}`);
    }
  }

  cli.pinGenerator(pin, say, `generator pinned to CPU ${GENERATOR_CPU}; servers on CPU ${SERVER_CPU}, proxy on CPU ${GENERATOR_CPU}`);

  // Runs interleave the kinds (P, C, P, C, …) so slow drift on a shared machine hits both.
  for (let i = 1; i <= cfg.repeat; i++) {
    for (const { setup, r } of setups) {
      if (r.error) continue;
      try {
        let m;
        for (let attempt = 0; ; attempt++) {
          m = await runOnce(setup, shared, i);
          if (!(m.cpu.other > 15)) break;
          const msg = `${r.label} run ${i}: other processes used ${fmt(m.cpu.other)}% of a CPU meanwhile — numbers are disturbed`;
          if (attempt < cfg.retryDisturbed) {
            say(`${msg}; running it again`);
            r.discarded = (r.discarded ?? 0) + 1;
            continue;
          }
          disturbances.push(msg);
          say(`WARNING: ${msg}`);
          break;
        }
        m.proxy = setup.lastProxy;
        m.proxyConnects = describeProxy(m.proxy);
        const ab = m.proxy.find((c) => c.dir === 'A→B');
        m.bytesPerMessage = ab?.up !== undefined && m.deliveredTotal > 0 ? ab.up / m.deliveredTotal : undefined;
        say(`${r.label} run ${i}: proxy connections: ${m.proxyConnects.replace(/\*\*/g, '')}`);
        if (m.proxy.some((c) => !c.tls)) {
          const msg = `${r.label} run ${i}: a proxied s2s connection showed no TLS handshake: ${m.proxyConnects}`;
          disturbances.push(msg);
          say(`WARNING: ${msg}`);
        }
        r.runs.push(m);
      } catch (err) {
        r.error = err.message;
        r.logTail = err.logTail;
        say(`${r.label} run ${i}: FAILED — ${err.message}`);
        if (err.logTail) console.log(err.logTail.replace(/^/gm, `[${setup.kind.name} log] `));
      }
    }
  }
  for (const r of Object.values(byKind)) {
    if (r.runs.length) {
      const sorted = [...r.runs].sort((x, y) => x.perSecond - y.perSecond);
      r.best = sorted[(sorted.length - 1) >> 1];
      r.proxyConnects = r.best.proxyConnects;
    }
  }

  cli.printAndWriteResults(opt, {
    table: textTable(buildRows(byKind)),
    results: Object.values(byKind),
    note: (r) => {
      if (r.runs.length > 1) say(`${r.label}: messages/s per run ${r.runs.map((m) => fmt(m.perSecond)).join(' / ')} (median reported)`);
    },
    file: 'RESULTS-s2s.md',
    write: (out) =>
      writeS2SResults(out, {
        byKind,
        mach,
        started,
        cfg,
        quick: Q,
        command: cli.commandLine(),
        pin,
        cpus: { server: SERVER_CPU, generator: GENERATOR_CPU },
        domains,
        disturbances,
        prosodyExtra,
        busyAtStart,
      }),
  });
  return Object.values(byKind).some((r) => r.runs.length > 0 && !r.error) ? 0 : 1;
}

cli.runMain('s2s', main, removeTmp);
