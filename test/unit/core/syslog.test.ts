// "*syslog" through a logger(1) child, checked against a real unix datagram socket. Node cannot
// bind one, so a tiny python3 receiver prints every datagram it gets as one line.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, type CloveLogger } from '../../../src/core/log.js';
import { BACKLOG_MAX_BYTES, SyslogDestination, formatSyslogLine, severityOf } from '../../../src/core/syslog.js';

const RECEIVER = `
import os, socket, sys
path = sys.argv[1]
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
sys.stdout.write("ready\\n"); sys.stdout.flush()
while True:
    d = s.recv(65536)
    sys.stdout.write(d.decode("utf-8", "replace").replace("\\n", " ") + "\\n"); sys.stdout.flush()
`;

interface Receiver { proc: ChildProcessWithoutNullStreams; lines: string[] }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function startReceiver(path: string): Promise<Receiver> {
  const proc = spawn('/usr/bin/python3', ['-u', '-c', RECEIVER, path]);
  const lines: string[] = [];
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (s: string) => {
    buf += s;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  await until('the receiver to bind', () => lines[0] === 'ready');
  lines.shift();
  return { proc, lines };
}

/** Collects console lines (pino JSON) instead of stderr. */
function consoleSink(): { write(s: string): boolean; lines: () => Record<string, unknown>[] } {
  let text = '';
  return {
    write(s: string) { text += s; return true; },
    lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

let dir: string;
const receivers: Receiver[] = [];
const loggers: CloveLogger[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clove-syslog-'));
});

afterEach(async () => {
  for (const l of loggers.splice(0)) l.close();
  for (const r of receivers.splice(0)) {
    if (r.proc.pid !== undefined && r.proc.exitCode === null && r.proc.signalCode === null) process.kill(r.proc.pid, 'SIGTERM');
  }
  await rm(dir, { recursive: true, force: true });
});

describe('formatSyslogLine', () => {
  it('maps pino levels to daemon-facility PRIs and flattens fields onto one line', () => {
    const line = JSON.stringify({ level: 30, time: 1, pid: 9, hostname: 'h', name: 'clove', host: 'localhost', remote: '127.0.0.2', n: 3, ok: true, nested: { a: 1 }, msg: 'two\nlines' });
    expect(formatSyslogLine(line)).toBe('<30>two lines host=localhost remote=127.0.0.2 n=3 ok=true\n');
    expect(formatSyslogLine(JSON.stringify({ level: 50, err: { type: 'Error', message: 'boom\nbang', stack: 'Error: boom\n at x' }, msg: 'failed' })))
      .toBe('<27>failed err="boom bang"\n');
    expect(formatSyslogLine(JSON.stringify({ level: 40, why: 'a b', msg: 'w' }))).toBe('<28>w why="a b"\n');
    expect(formatSyslogLine('not json')).toBe('<30>not json\n');
    expect([10, 20, 30, 40, 50, 60].map(severityOf)).toEqual([7, 7, 6, 4, 3, 2]);
  });
});

describe('createLogger with "*syslog"', () => {
  it('sends info and above to the syslog socket with the daemon facility and the clove tag', async () => {
    const path = join(dir, 'log.sock');
    const rx = await startReceiver(path);
    receivers.push(rx);
    const con = consoleSink();
    const warned: string[] = [];
    const made = createLogger([{ level: 'info', to: 'syslog' }], { syslogSocket: path, console: con, onWarning: (w) => warned.push(w) });
    loggers.push(made);
    const child = made.log.child({ host: 'localhost', remote: '127.0.0.2' });
    made.log.debug('not at info');
    child.info('client connected');
    child.warn({ stanzas: 3 }, 'queue is\nfilling');
    made.log.error({ err: new Error('disk full') }, 'cannot write');
    await until('three datagrams', () => rx.lines.length >= 3);
    await sleep(200); // nothing else arrives (the debug line was not sent)
    expect(rx.lines).toHaveLength(3);
    const [info, warn, error] = rx.lines as [string, string, string];
    const tag = `clove[${process.pid}]: `;
    expect(info.startsWith('<30>')).toBe(true);
    expect(info).toContain(`${tag}client connected host=localhost remote=127.0.0.2`);
    expect(warn.startsWith('<28>')).toBe(true);
    expect(warn).toContain(`${tag}queue is filling host=localhost remote=127.0.0.2 stanzas=3`);
    expect(error.startsWith('<27>')).toBe(true);
    expect(error).toContain(`${tag}cannot write err="disk full"`);
    expect(rx.lines.join('\n')).not.toContain('not at info');
    expect(warned).toEqual([]);
    expect(made.warnings).toEqual([]);
    expect(con.lines()).toEqual([]);
  });

  it('falls back to the console with one warning when the socket does not exist', async () => {
    const path = join(dir, 'missing.sock');
    const con = consoleSink();
    const warned: string[] = [];
    const made = createLogger([{ level: 'info', to: 'syslog' }], { syslogSocket: path, console: con, onWarning: (w) => warned.push(w) });
    loggers.push(made);
    made.log.info({ host: 'localhost' }, 'before the failure is known');
    await until('the warning', () => warned.length > 0);
    made.log.warn('after the failure');
    made.log.debug('not at info');
    await sleep(300);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain('syslog is unavailable');
    expect(warned[0]).toContain(path);
    expect(warned[0]).toMatch(/No such file or directory/);
    expect(made.warnings).toEqual(warned);
    const msgs = con.lines().map((l) => l.msg);
    expect(msgs).toEqual(['before the failure is known', 'after the failure']);
    expect(con.lines()[0]).toMatchObject({ level: 30, host: 'localhost' });
  });

  it('writes its warning as a console line by default, and does not repeat lines a console target shows', async () => {
    const con = consoleSink();
    const made = createLogger([{ level: 'info', to: 'syslog' }, { level: 'debug', to: 'console' }], { syslogSocket: join(dir, 'missing.sock'), console: con });
    loggers.push(made);
    made.log.info('once');
    await until('the warning', () => made.warnings.length > 0);
    made.log.info('still once');
    await sleep(100);
    const lines = con.lines();
    expect(lines.filter((l) => l.level === 40 && String(l.msg).startsWith('syslog is unavailable'))).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'once')).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'still once')).toHaveLength(1);
  });

  it('falls back when the logger binary is missing', async () => {
    const con = consoleSink();
    const warned: string[] = [];
    const made = createLogger([{ level: 'info', to: 'syslog' }], { syslogCommand: join(dir, 'no-logger'), console: con, onWarning: (w) => warned.push(w) });
    loggers.push(made);
    made.log.info('hello');
    await until('the warning', () => warned.length > 0);
    await sleep(100);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/cannot run .*no-logger: spawn .*ENOENT/);
    expect(con.lines().map((l) => l.msg)).toEqual(['hello']);
  });
});

describe('SyslogDestination', () => {
  it('tries once more after logger exits, then gives up with a second warning', async () => {
    const path = join(dir, 'log.sock');
    let rx = await startReceiver(path);
    receivers.push(rx);
    const con = consoleSink();
    const warned: string[] = [];
    const dest = new SyslogDestination({ socket: path, fallback: con, onWarning: (w) => warned.push(w), confirmMs: 200, retryDelayMs: 500 });
    const line = (msg: string): string => JSON.stringify({ level: 30, msg }) + '\n';
    dest.write(line('one'));
    await until('the first datagram', () => rx.lines.length === 1);
    await until('logger to count as up', () => dest.status === 'up');
    const first = dest.pid as number;
    process.kill(rx.proc.pid as number, 'SIGTERM'); // the syslog daemon goes away
    await until('the receiver to end', () => rx.proc.exitCode !== null || rx.proc.signalCode !== null);
    dest.write(line('lost with the daemon')); // logger finds out here and exits
    await until('the warning', () => warned.length === 1);
    expect(warned[0]).toMatch(/syslog is unavailable .*; trying once more in/);
    dest.write(line('to the console meanwhile'));
    expect(con.lines().map((l) => l.msg)).toEqual(['to the console meanwhile']);
    rx = await startReceiver(path); // the daemon is back
    receivers.push(rx);
    await until('the retry', () => dest.status === 'up', 5000);
    expect(dest.pid).not.toBe(first);
    dest.write(line('two'));
    await until('the second datagram', () => rx.lines.length === 1);
    expect(rx.lines[0]).toMatch(/^<30>.*clove\[\d+\]: two$/);
    process.kill(rx.proc.pid as number, 'SIGTERM'); // gone again: no third logger
    await until('the receiver to end', () => rx.proc.exitCode !== null || rx.proc.signalCode !== null);
    dest.write(line('three'));
    await until('the second warning', () => warned.length === 2);
    expect(warned[1]).toMatch(/still unavailable after a retry/);
    await sleep(800);
    expect(dest.status).toBe('down');
    expect(warned).toHaveLength(2);
    dest.close();
  });

  /** A stand-in for logger that reads nothing for a while, then copies its input to a file. */
  const slowLogger = (out: string, warned: string[]): SyslogDestination => {
    const script = 'import sys, time\ntime.sleep(1.5)\ndata = sys.stdin.buffer.read()\nopen(sys.argv[1], "wb").write(data)\n';
    return new SyslogDestination({ command: '/usr/bin/python3', args: ['-c', script, out], onWarning: (w) => warned.push(w), confirmMs: 200 });
  };
  const burst = (dest: SyslogDestination, total: number): void => {
    const t0 = Date.now();
    for (let i = 0; i < total; i++) dest.write(JSON.stringify({ level: 30, msg: `${i} ${'x'.repeat(200)}` }) + '\n');
    expect(Date.now() - t0).toBeLessThan(2000); // never waits for the child
  };
  const received = async (out: string): Promise<string[]> => {
    await until('the copy', () => existsSync(out), 10_000);
    await sleep(100);
    return (await readFile(out, 'utf8')).split('\n').filter(Boolean);
  };

  it('keeps a burst in a bounded backlog while logger is behind: every line arrives, in order', async () => {
    const out = join(dir, 'got-all.txt');
    const warned: string[] = [];
    const dest = slowLogger(out, warned);
    burst(dest, 5000);
    expect(dest.droppedLines).toBe(0);
    await sleep(2000); // logger catches up through 'drain'
    dest.close();
    const got = await received(out);
    expect(got.length).toBe(5000);
    expect(got.map((l) => Number(/^<30>(\d+) /.exec(l)?.[1]))).toEqual([...Array(5000).keys()]);
    expect(warned).toEqual([]);
  });

  it('past the backlog bound drops lines, then reports how many', async () => {
    const out = join(dir, 'got.txt');
    const warned: string[] = [];
    const dest = slowLogger(out, warned);
    const total = Math.ceil((BACKLOG_MAX_BYTES * 1.5) / 215);
    burst(dest, total);
    const dropped = dest.droppedLines;
    expect(dropped).toBeGreaterThan(0);
    await until('logger to catch up', () => dest.droppedLines === 0, 10_000);
    dest.close();
    const got = await received(out);
    expect(got.at(-1)).toBe(`<28>${dropped} syslog lines dropped`);
    expect(got.length - 1 + dropped).toBe(total);
    expect(warned).toEqual([]);
  });
});

