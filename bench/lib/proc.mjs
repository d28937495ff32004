// Process plumbing for the benchmark: free ports, starting a server pinned to a CPU with a
// raised fd limit, stopping it by PID, and reading its memory and CPU time from /proc.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { scan, streamHeader } from './xmpp.mjs';

/** A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** True when `taskset` can be run. */
export function haveTaskset() {
  return spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Pins every thread of this process to `cpu` (threads made later inherit it). */
export function pinSelf(cpu) {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { encoding: 'utf8' });
  return r.status === 0;
}

const running = new Set();

/**
 * Starts `argv` through `sh -c 'ulimit -n …; exec taskset -c <cpu> …'`. Every step execs, so
 * the child's PID is the server's PID. stdout/stderr go to `logPath`.
 */
export function startServer({ argv, cwd, cpu, logPath, env }) {
  const out = fs.openSync(logPath, 'a');
  const pin = cpu === null || cpu === undefined ? '' : `taskset -c ${cpu} `;
  const script = `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec ${pin}"$@"`;
  const child = spawn('sh', ['-c', script, 'sh', ...argv], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const proc = { pid: child.pid, child, exited: false, exitCode: null, signal: null };
  child.on('exit', (code, signal) => {
    proc.exited = true;
    proc.exitCode = code;
    proc.signal = signal;
    running.delete(proc);
  });
  running.add(proc);
  return proc;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopServer(proc, graceMs = 5000) {
  if (!proc || proc.exited) return;
  try {
    process.kill(proc.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (!proc.exited && Date.now() < deadline) await sleep(50);
  if (!proc.exited) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    const hard = Date.now() + 2000;
    while (!proc.exited && Date.now() < hard) await sleep(20);
  }
  running.delete(proc);
}

/** Last-resort cleanup (process exit): SIGKILL whatever this module started and is still up. */
export function killAllStartedSync() {
  for (const proc of running) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  running.clear();
}

/** A `Vm…` field of /proc/<pid>/status in KiB (VmRSS: resident now, VmHWM: its peak), or NaN. */
export function statusKiB(pid, field) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(s);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Resident set size of `pid` in KiB (VmRSS), or NaN. */
export function rssKiB(pid) {
  return statusKiB(pid, 'VmRSS');
}

/**
 * Scheduler times of `pid`'s main thread (for Node: the event loop) from /proc/<pid>/schedstat,
 * in seconds: { run: on a CPU, wait: runnable but waiting for a CPU (other processes had it) },
 * or undefined.
 */
export function mainThreadSched(pid) {
  try {
    const [run, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { run: run / 1e9, wait: wait / 1e9 };
  } catch {
    return undefined;
  }
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system, all threads) used so far by `pid`, or NaN. */
export function cpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm)": state is f[0]; utime is field 14 overall → f[11], stime → f[12]
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return NaN;
  }
}

/** CPU seconds all CPUs of the machine have spent busy (not idle/iowait) since boot. */
export function machineBusySeconds() {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0)) / TICKS;
  } catch {
    return NaN;
  }
}

/**
 * Waits (up to `maxSeconds`) for a second in which the whole machine is nearly idle (< `pct`%
 * of one CPU busy). Call it while the server and the generator are idle. Returns the last
 * measured busy percentage.
 */
export async function waitQuiet(maxSeconds, pct = 10) {
  const deadline = Date.now() + maxSeconds * 1000;
  let busy = NaN;
  do {
    const b0 = machineBusySeconds();
    await sleep(1000);
    busy = (machineBusySeconds() - b0) * 100;
    if (!(busy >= pct)) return busy;
  } while (Date.now() < deadline);
  return busy;
}

/** Other processes using the CPU right now (ps), as "pid comm %cpu" strings, busiest first. */
export function busyProcesses(exclude, minPct = 20) {
  const r = spawnSync('ps', ['-eo', 'pid=,pcpu=,args='], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().match(/^(\d+)\s+([\d.]+)\s+(.*)$/))
    .filter((m) => m && !exclude.includes(Number(m[1])) && Number(m[2]) >= minPct)
    .map((m) => `${m[1]} ${m[3].slice(0, 60)} (${m[2]}%)`);
}

/** One readiness probe: connect, send a stream header, expect <stream:features>. */
function probe(port, domain, timeoutMs) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('error', () => finish(false));
    sock.on('close', () => finish(false));
    sock.on('connect', () => sock.write(streamHeader(domain)));
    sock.on('data', (d) => {
      buf += d;
      if (scan(buf, 0).items.some((it) => it.kind === 'el' && it.name.endsWith('features'))) finish(true);
    });
  });
}

/**
 * Polls the c2s port until the server answers a stream header with features. Fails early when
 * the process exits.
 */
export async function waitReady(proc, port, domain, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited) {
      throw new Error(`exited during start-up (code ${proc.exitCode}, signal ${proc.signal})`);
    }
    if (await probe(port, domain, 1000)) return;
    await sleep(100);
  }
  throw new Error(`no stream features on 127.0.0.1:${port} within ${timeoutMs / 1000} s`);
}

/** Last `n` lines of a text file (for error reports). */
export function tail(path, n = 15) {
  try {
    const lines = fs.readFileSync(path, 'utf8').trimEnd().split('\n');
    return lines.slice(-n).join('\n');
  } catch {
    return '';
  }
}
