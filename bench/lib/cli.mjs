// Start-up shared by the benchmark scripts (run.mjs, s2s.mjs): the options they all take,
// --help from the script's header comment, number checks, CPU pinning, a temp dir removed on
// exit or signal (after every started server is killed), the machine and command line for the
// report, and the final exit. `tag` names the script in messages: '[tag] …' on stdout.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { busyProcesses, freePort, haveTaskset, killAllStartedSync, pinSelf, stopServer, tail, waitQuiet } from './proc.mjs';
import { fmt } from './stats.mjs';

/** The bench/ folder and the repository root. */
export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(BENCH_DIR, '..');
/** Servers run on SERVER_CPU; the generator (and the s2s proxy) on GENERATOR_CPU. */
export const SERVER_CPU = 0;
export const GENERATOR_CPU = 1;

/**
 * parseArgs with the options every bench script takes, then the script's own. --help prints
 * lines 2 to `helpEnd` of the script (`scriptUrl`: its import.meta.url) without `// ` and exits.
 */
export function parseBenchArgs(scriptUrl, helpEnd, options) {
  const { values: opt } = parseArgs({
    options: {
      server: { type: 'string', default: 'both' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'keep-tmp': { type: 'boolean', default: false },
      'wait-quiet': { type: 'string' },
      repeat: { type: 'string' },
      'prosody-extra': { type: 'string', multiple: true },
      window: { type: 'string' },
      duration: { type: 'string' },
      ...options,
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (opt.help) {
    console.log(fs.readFileSync(new URL(scriptUrl), 'utf8').split('\n').slice(1, helpEnd).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    process.exit(0);
  }
  return opt;
}

/**
 * A numeric option: `d` when absent, else the number, which must pass `ok`; otherwise
 * "<name>: bad number …" and exit 2.
 */
export function numberOption(name, v, d, ok) {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || !ok(n)) {
    console.error(`${name}: bad number ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

/** --wait-quiet S: 60 by default, 2 with --quick. */
export function quietSecondsOption(opt) {
  return opt['wait-quiet'] === undefined ? (opt.quick ? 2 : 60) : Number(opt['wait-quiet']);
}

/** --server both, or a comma-separated list of prosody, clove and the script's `extra` names, as a list; anything else: a message and exit 2. */
export function wantedServers(name, server, extra = []) {
  const known = ['prosody', 'clove', ...extra];
  const wanted = server === 'both' ? ['prosody', 'clove'] : server.split(',').map((s) => s.trim());
  if (wanted.length === 0 || !wanted.every((s) => known.includes(s)) || new Set(wanted).size !== wanted.length) {
    console.error(`${name}: --server must be both or a comma-separated list of ${known.join(', ')}`);
    process.exit(2);
  }
  return wanted;
}

/**
 * A temp dir for this run. On exit or SIGINT/SIGTERM/SIGHUP every started server is killed and
 * the dir removed (kept, and said so, with `keep`).
 */
export function benchTmpDir(tag, prefix, keep) {
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  let cleanedUp = false;
  function removeTmp() {
    if (cleanedUp) return;
    cleanedUp = true;
    if (keep) console.log(`[${tag}] kept ${tmpRoot}`);
    else fs.rmSync(tmpRoot, { recursive: true, force: true });
  }
  process.on('exit', () => {
    killAllStartedSync();
    removeTmp();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      console.error(`\n[${tag}] ${sig}: stopping servers`);
      killAllStartedSync();
      removeTmp();
      process.exit(130);
    });
  }
  return { tmpRoot, removeTmp };
}

/**
 * A result record for `server` ({ server, label, ok: false, version, …extra }) with its own
 * folder under `tmpRoot` and a free port. When it cannot run here, `r.skipped` says why (said
 * once) and there is no folder or port.
 */
export async function serverSlot(server, tmpRoot, say, extra = {}) {
  const r = { server: server.name, label: server.label, ok: false, ...extra };
  const avail = server.available();
  if (!avail.ok) {
    r.skipped = avail.reason;
    say(`${server.label}: not available — ${avail.reason}. Skipping it.`);
    return { r };
  }
  r.version = server.version();
  const dir = path.join(tmpRoot, server.name);
  fs.mkdirSync(dir, { recursive: true });
  return { r, dir, port: await freePort() };
}

/**
 * Writes `server`'s config and accounts into `dir` from what every bench shares (certificates,
 * users, Prosody's credentials), the server on CPU 0 and 1 while it prepares; `extra` adds the
 * server-specific fields (cloveExtra, prosodyExtra).
 */
export function prepareServer(server, { dir, port, domain, shared, ...extra }) {
  return server.prepare({
    dir,
    port,
    certDir: shared.certDir,
    domain,
    users: shared.users,
    prosodyCreds: shared.prosodyCreds,
    cpus: `${SERVER_CPU},${GENERATOR_CPU}`,
    ...extra,
  });
}

/** A server's run failed: the error and the tail of its logs go into `r` and are printed. */
export function recordFailure(r, err, server, prepared, say) {
  r.error = err.message;
  r.logTail = [prepared?.logPath, prepared?.stdoutPath].filter(Boolean).map((p) => tail(p)).filter(Boolean).join('\n');
  say(`${server.label}: FAILED — ${err.message}`);
  if (r.logTail) console.log(r.logTail.replace(/^/gm, `[${server.name} log] `));
}

/** The end of a server's run: its client connections closed, then the server stopped by PID (an early exit noted in `r`). */
export async function closeRun(r, conns, proc) {
  for (const c of conns) c.close();
  if (!proc) return;
  if (proc.exited) r.exited = `exited (code ${proc.exitCode}, signal ${proc.signal})`;
  await stopServer(proc);
}

/**
 * One server's run: `body(st)` fills st.prepared, st.proc and st.conns as it goes; a throw is
 * recorded in `r` (with the server's log tail), and the connections and server are closed either
 * way. Resolves with `r` (r.ok once body finished).
 */
export async function guardedRun(r, server, say, body) {
  const st = { prepared: null, proc: null, conns: [] };
  try {
    await body(st);
    r.ok = true;
  } catch (err) {
    recordFailure(r, err, server, st.prepared, say);
  } finally {
    await closeRun(r, st.conns, st.proc);
  }
  return r;
}

/**
 * Before a timed phase: waits up to `quietSeconds` for other processes on a shared machine to
 * go quiet, and says so when it waited or gave up.
 */
export function quietWaiter(quietSeconds, say) {
  return async (label) => {
    if (!(quietSeconds > 0)) return;
    const t0 = Date.now();
    const busy = await waitQuiet(quietSeconds);
    const waited = (Date.now() - t0) / 1000;
    if (busy >= 10) say(`${label}: machine still ${fmt(busy)}% busy after waiting ${fmt(waited)} s; going ahead`);
    else if (waited > 1.5) say(`${label}: waited ${fmt(waited)} s for other processes to go quiet`);
  };
}

/**
 * How this run was started, shell-quoted. `npmScript`: when run by `npm run <npmScript>`, it is
 * given as that.
 */
export function commandLine(npmScript) {
  const q = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const args = process.argv.slice(2).map(q).join(' ');
  const direct = `node ${path.relative(process.cwd(), process.argv[1]) || process.argv[1]}${args ? ' ' + args : ''}`;
  return npmScript && process.env.npm_lifecycle_event === npmScript ? `npm run ${npmScript}${args ? ' -- ' + args : ''}` : direct;
}

/** The machine, for the report; `prosody`: `dpkg-query -W <packages>`, one line per package joined by ', '. */
export function machine(packages) {
  const dpkg = spawnSync('dpkg-query', ['-W', ...packages], { encoding: 'utf8' });
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGiB: os.totalmem() / 2 ** 30,
    kernel: os.release(),
    node: process.version,
    prosody: (dpkg.stdout ?? '').trim().replace(/\n/g, ', ') || 'not installed',
  };
}

/** Pin CPUs unless --no-pin, taskset is missing or there are fewer than 2 CPUs. */
export function shouldPin(opt, mach) {
  return !opt['no-pin'] && haveTaskset() && mach.nproc >= 2;
}

/** The start of a run: its time, the machine, whether to pin, the command line said, and who else is busy. */
export function startRun(opt, say) {
  const started = new Date();
  const mach = machine(['prosody']);
  const pin = shouldPin(opt, mach);
  say(`${commandLine()} — ${mach.nproc} CPUs, Node ${mach.node}, prosody ${mach.prosody}`);
  return { started, mach, pin, busyAtStart: warnBusyAtStart(say) };
}

/** Other processes busy at the start (ps), with a warning for each. */
export function warnBusyAtStart(say) {
  const busyAtStart = busyProcesses([process.pid]);
  if (busyAtStart.length > 0) {
    say('WARNING: other processes are busy on this machine; results will be noisy:');
    for (const b of busyAtStart) say(`  ${b}`);
  }
  return busyAtStart;
}

/** Pins this process (the generator) to GENERATOR_CPU when `pin`; `pinned` is said on success. */
export function pinGenerator(pin, say, pinned) {
  if (pin) {
    if (pinSelf(GENERATOR_CPU)) say(pinned);
    else say('warning: could not pin the generator with taskset');
  } else say('not pinning CPUs');
}

/** Runs `main` (resolving to an exit code); on the way out kills what it started and removes the temp dir. */
export function runMain(tag, main, removeTmp) {
  main()
    .then((code) => {
      killAllStartedSync();
      removeTmp();
      process.exit(code);
    })
    .catch((err) => {
      console.error(`[${tag}] fatal: ${err.stack || err}`);
      killAllStartedSync();
      removeTmp();
      process.exit(1);
    });
}

/**
 * The end of a run: the table, then per server kind `note(r)` (if given) and a line if it was
 * not measured or failed; then the report, written by `write(file)` to --out, else (not with
 * --quick) to bench/`file`.
 */
export function printAndWriteResults(opt, { table, results, note, file, write }) {
  console.log('\n' + table + '\n');
  for (const r of results) {
    note?.(r);
    if (r.skipped) console.log(`${r.label}: not measured — ${r.skipped}`);
    else if (r.error) console.log(`${r.label}: failed — ${r.error}`);
  }
  const out = opt.out ?? (opt.quick ? null : path.join(BENCH_DIR, file));
  if (out) {
    write(out);
    console.log(`results written to ${path.relative(process.cwd(), out) || out}`);
  }
}
