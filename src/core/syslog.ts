// Syslog destination for pino: `log = { "*syslog" }`.
//
// /dev/log is a unix *datagram* socket and Node cannot open those, so the lines go through one
// long-lived util-linux `logger` child (Debian's Essential package bsdutils ships it) started
// with --prio-prefix: each line we write to its stdin is `<PRI>message`, with facility daemon.
// Nothing here blocks: writes go to a pipe; while the child is behind (write() returned false)
// lines wait in a bounded queue (BACKLOG_MAX_BYTES) written out on 'drain', and only past that
// bound are they dropped and counted. When logger is missing or exits (no
// syslog daemon, socket gone) one warning says so and the lines go to the console instead.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';

/** Syslog facility `daemon` (3); PRI = facility * 8 + severity. */
export const FACILITY_DAEMON = 3;
export const DEFAULT_SYSLOG_SOCKET = '/dev/log';
export const DEFAULT_LOGGER_COMMAND = '/usr/bin/logger';

/** Anything lines can be written to: a pino destination, a test buffer. */
export interface LineSink { write(line: string): unknown }

export interface SyslogOptions {
  /** Unix socket of the local syslog daemon (option `syslog_socket`); default /dev/log. */
  socket?: string;
  /** Syslog tag (program name); default "clove". */
  tag?: string;
  /** Where lines go while syslog is unavailable (pino's JSON lines, unchanged); null drops them. */
  fallback?: LineSink | null;
  /** Told once when syslog becomes unavailable, and why. */
  onWarning?: (msg: string) => void;
  /** The logger(1) binary; default /usr/bin/logger. */
  command?: string;
  /** Replace logger's arguments (tests). */
  args?: readonly string[];
  /** After the child ran this long it counts as up; default 1000 ms. */
  confirmMs?: number;
  /** A child that was up and then exited is started once more after this delay; default 5000 ms. */
  retryDelayMs?: number;
}

/** Syslog severity of a pino level: trace/debug → 7, info → 6, warn → 4, error → 3, fatal → 2. */
export function severityOf(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);
// Control characters (newlines included) would split or garble a syslog line.
const oneLine = (s: string): string => s.replace(/[\x00-\x1f\x7f]+/g, ' ');
const quote = (s: string): string => (s === '' || /[\s"=]/.test(s) ? JSON.stringify(s) : s);

/**
 * One pino JSON line → one logger input line: `<PRI>msg key=value …` (facility daemon). The
 * fields are the primitive ones besides level/time/pid/hostname/name/msg, plus an error's message.
 */
export function formatSyslogLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a record');
    rec = parsed as Record<string, unknown>;
  } catch {
    return `<${FACILITY_DAEMON * 8 + 6}>${oneLine(line).trim()}\n`;
  }
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const parts: string[] = [];
  if (typeof rec.msg === 'string' && rec.msg !== '') parts.push(oneLine(rec.msg));
  for (const [k, v] of Object.entries(rec)) {
    if (SKIP.has(k)) continue;
    if (typeof v === 'string') parts.push(`${k}=${quote(oneLine(v))}`);
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null) parts.push(`${k}=${String(v)}`);
    else if (typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') {
      parts.push(`${k}=${quote(oneLine((v as { message: string }).message))}`); // an Error: its message, not the stack
    }
  }
  return `<${FACILITY_DAEMON * 8 + severityOf(level)}>${parts.join(' ')}\n`;
}

const PENDING_MAX = 1000;
/** Bytes of formatted lines kept while logger is behind; past this, lines are dropped and counted. */
export const BACKLOG_MAX_BYTES = 4 * 1024 * 1024;

/**
 * A pino destination that hands lines to a `logger` child. States: 'starting' (the child runs
 * but may still fail to reach the socket: the lines are kept to be replayed to the fallback),
 * 'up', 'down' (lines go to the fallback) and 'closed'.
 */
export class SyslogDestination {
  readonly socket: string;
  private readonly tag: string;
  private readonly fallback: LineSink | null;
  private readonly onWarning: (msg: string) => void;
  private readonly command: string;
  private readonly args: readonly string[];
  private readonly confirmMs: number;
  private readonly retryDelayMs: number;
  private state: 'starting' | 'up' | 'down' | 'closed' = 'down';
  private child: ChildProcess | undefined;
  private stdin: Writable | undefined;
  private pending: string[] = [];
  private busy = false;
  /** Formatted lines waiting for 'drain' while busy, and their size. */
  private backlog: string[] = [];
  private backlogBytes = 0;
  private dropped = 0;
  private retried = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: SyslogOptions = {}) {
    this.socket = opts.socket ?? DEFAULT_SYSLOG_SOCKET;
    this.tag = opts.tag ?? 'clove';
    this.fallback = opts.fallback === undefined ? null : opts.fallback;
    this.onWarning = opts.onWarning ?? (() => {});
    this.command = opts.command ?? DEFAULT_LOGGER_COMMAND;
    // --socket-errors=on: without it logger silently drops lines when the socket is missing.
    this.args = opts.args ?? ['--prio-prefix', `--tag=${this.tag}`, `--id=${process.pid}`, `--socket=${this.socket}`, '--socket-errors=on', '--size=8192'];
    this.confirmMs = opts.confirmMs ?? 1000;
    this.retryDelayMs = opts.retryDelayMs ?? 5000;
    this.start();
  }

  /** 'starting', 'up', 'down' (lines go to the fallback) or 'closed'. */
  get status(): 'starting' | 'up' | 'down' | 'closed' {
    return this.state;
  }

  /** Lines dropped since the last "dropped" report because logger was behind. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** The logger child's process id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  write(line: string): void {
    const stdin = this.stdin;
    if ((this.state !== 'starting' && this.state !== 'up') || stdin === undefined) {
      this.fallback?.write(line);
      return;
    }
    if (this.state === 'starting' && this.pending.length < PENDING_MAX) this.pending.push(line);
    if (this.busy) {
      if (this.backlogBytes >= BACKLOG_MAX_BYTES) {
        this.dropped++;
        return;
      }
      const formatted = formatSyslogLine(line);
      this.backlog.push(formatted);
      this.backlogBytes += formatted.length;
      return;
    }
    if (!stdin.write(formatSyslogLine(line))) this.busy = true;
  }

  /** End the child (it exits once it has sent what it read); later lines go to the fallback. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    const stdin = this.stdin;
    this.stdin = undefined;
    this.pending = [];
    const backlog = this.backlog;
    this.backlog = [];
    this.backlogBytes = 0;
    try {
      // Node's stream buffers what the pipe cannot take yet; logger reads it before it exits.
      for (const l of backlog) stdin?.write(l);
      stdin?.end();
    } catch { /* already gone */ }
  }

  /** pino.multistream calls end() when its logger ends. */
  end(): void {
    this.close();
  }

  private start(): void {
    let child: ChildProcess;
    try {
      // No shell: the arguments go to logger as they are. Own process group (detached): a
      // Ctrl-C in the terminal stops Clove, which then ends logger through its stdin.
      child = spawn(this.command, [...this.args], { stdio: ['pipe', 'ignore', 'pipe'], detached: true, shell: false });
    } catch (err) {
      this.fail(`cannot run ${this.command}: ${(err as Error).message}`, false);
      return;
    }
    const stdin = child.stdin as Writable;
    const stderr = child.stderr;
    this.child = child;
    this.stdin = stdin;
    this.state = 'starting';
    this.pending = [];
    this.busy = false;
    this.backlog = [];
    this.backlogBytes = 0;
    let errText = '';
    let done = false;
    const confirm = setTimeout(() => {
      if (this.child === child && this.state === 'starting') {
        this.state = 'up';
        this.pending = [];
      }
    }, this.confirmMs);
    confirm.unref();
    const failed = (reason: string): void => {
      if (done) return;
      done = true;
      clearTimeout(confirm);
      if (this.child !== child) return;
      this.child = undefined;
      this.stdin = undefined;
      if (this.state === 'closed') return;
      this.fail(reason, this.state === 'up');
    };
    stdin.on('error', () => { /* EPIPE once logger is gone: its exit says why */ });
    stdin.on('drain', () => {
      if (this.stdin !== stdin) return;
      this.busy = false;
      // What waited goes first, in order, until the pipe is full again.
      let i = 0;
      while (i < this.backlog.length && !this.busy) {
        const l = this.backlog[i++] as string;
        this.backlogBytes -= l.length;
        if (!stdin.write(l)) this.busy = true;
      }
      this.backlog.splice(0, i);
      if (this.busy) return;
      if (this.dropped > 0) {
        const n = this.dropped;
        this.dropped = 0;
        if (!stdin.write(`<${FACILITY_DAEMON * 8 + 4}>${n} syslog lines dropped\n`)) this.busy = true;
      }
    });
    stderr?.setEncoding('utf8');
    stderr?.on('data', (s: string) => { if (errText.length < 500) errText += s; });
    child.on('error', (err) => failed(`cannot run ${this.command}: ${err.message}`));
    child.on('close', (code, signal) => {
      const said = errText.trim().split('\n')[0]?.trim();
      failed(said || (signal ? `logger was killed by ${signal}` : `logger exited with code ${String(code)}`));
    });
    // Neither the child nor its pipes keep Clove running.
    child.unref();
    (stdin as Partial<{ unref(): void }>).unref?.();
    (stderr as Partial<{ unref(): void }> | null)?.unref?.();
  }

  private fail(reason: string, wasUp: boolean): void {
    const lost = this.pending;
    this.pending = [];
    this.state = 'down';
    this.busy = false;
    const dropped = this.dropped + this.backlog.length;
    this.dropped = 0;
    this.backlog = [];
    this.backlogBytes = 0;
    const retry = wasUp && !this.retried;
    const where = `syslog socket ${this.socket}`;
    let msg = this.retried
      ? `syslog is still unavailable after a retry (${where}: ${oneLine(reason)}); logging to the console from now on`
      : `syslog is unavailable (${where}: ${oneLine(reason)}); logging to the console instead`;
    if (retry) msg += `; trying once more in ${Math.round(this.retryDelayMs / 1000)} s`;
    if (dropped > 0) msg += `; ${dropped} syslog lines dropped`;
    this.onWarning(msg);
    for (const l of lost) this.fallback?.write(l);
    if (retry) {
      this.retried = true;
      this.timer = setTimeout(() => { if (this.state === 'down') this.start(); }, this.retryDelayMs);
      this.timer.unref();
    }
  }
}
