// Log throughput: "*syslog" (one logger(1) child writing to a unix datagram socket) against a
// log file, the reference, in the same run. A python3 receiver stands in for the syslog daemon.
//
//   npm run build && node bench/syslog.mjs [lines] [rounds]
//
// Per lane and round: how long the logging calls kept the event loop (ms), how long until the
// last line arrived (file: flushed; syslog: received by the socket), lines/s to arrival, and
// lines dropped (syslog drops and counts lines while the child's pipe is full; it never blocks).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LINES = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 3);
// A burst of LINES lines, written as fast as the loop can: syslog keeps BACKLOG_MAX_BYTES (4 MiB)
// waiting for logger, so a burst larger than that drops lines (counted, reported in the log).
const { createLogger } = await import(new URL('../dist/core/log.js', import.meta.url).href);

const RECEIVER = `
import re, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(path)
print("ready", flush=True)
n = dropped = 0
while True:
    d = s.recv(65536)
    if b"bench-end" in d:
        print(n, dropped, flush=True)
        n = dropped = 0
    elif b"s2s: stream ready" in d:
        n += 1
    else:
        m = re.search(rb"(\\d+) syslog lines dropped", d)
        if m: dropped += int(m.group(1))
`;

/** The python3 receiver; resolves with a function that waits for the next count. */
async function receiver(path) {
  const child = spawn('/usr/bin/python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  const waiters = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      if (process.env.BENCH_DEBUG) console.error('rx', line);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const next = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)));
  const forget = () => { lines.length = 0; };
  if ((await next()) !== 'ready') throw new Error('receiver did not start');
  return { child, next, forget };
}

function emit(log) {
  const t0 = performance.now();
  for (let i = 0; i < LINES; i++) log.info({ host: 'localhost', remote: 'peer.b32.i2p', n: i }, 's2s: stream ready');
  return performance.now() - t0;
}

async function fileLane(dir, round) {
  const path = join(dir, `bench-${round}.log`);
  const made = createLogger([{ level: 'info', to: path }]);
  made.log.info('bench-warmup'); // the file opens asynchronously
  await new Promise((r) => setTimeout(r, 300));
  const t0 = performance.now();
  const blocked = emit(made.log);
  made.flush();
  made.close();
  const total = performance.now() - t0;
  const size = (await stat(path)).size;
  return { blocked, total, arrived: LINES, dropped: 0, bytes: size };
}

async function syslogLane(rx, socketPath) {
  const warnings = [];
  const made = createLogger([{ level: 'info', to: 'syslog' }], { syslogSocket: socketPath, onWarning: (w) => warnings.push(w) });
  // Let the child start before timing.
  made.log.info('bench-warmup');
  await new Promise((r) => setTimeout(r, 300));
  const t0 = performance.now();
  const blocked = emit(made.log);
  // The end marker is itself dropped while the pipe is full: repeat it until it is answered.
  const answer = rx.next();
  let answered = false;
  void answer.then(() => { answered = true; });
  while (!answered) {
    made.log.warn('bench-end');
    await Promise.race([answer, new Promise((r) => setTimeout(r, 20))]);
  }
  const total = performance.now() - t0;
  const [arrived, dropped] = (await answer).split(' ').map(Number);
  // Further answers to repeated markers: wait for them and forget them.
  await new Promise((r) => setTimeout(r, 300));
  rx.forget();
  made.close();
  if (warnings.length) throw new Error(`syslog failed: ${warnings.join('; ')}`);
  return { blocked, total, arrived, dropped, bytes: 0 };
}

const dir = await mkdtemp(join(tmpdir(), 'clove-bench-syslog-'));
const socketPath = join(dir, 'log.sock');
const rx = await receiver(socketPath);
const results = { file: [], syslog: [] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    results.file.push(await fileLane(dir, round));
    results.syslog.push(await syslogLane(rx, socketPath));
  }
} finally {
  rx.child.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const row = (name, rs) => {
  const total = median(rs.map((r) => r.total));
  const blocked = median(rs.map((r) => r.blocked));
  const arrived = median(rs.map((r) => r.arrived));
  const dropped = median(rs.map((r) => r.dropped));
  return { name, blocked, total, rate: Math.round((arrived / total) * 1000), arrived, dropped };
};
const f = row('file (reference)', results.file);
const s = row('*syslog', results.syslog);
const out = [
  `${LINES} info lines with 3 fields, median of ${ROUNDS} rounds (node ${process.version}, ${new Date().toISOString().slice(0, 10)})`,
  '',
  '| lane | event loop (ms) | until arrived (ms) | lines/s arrived | arrived | dropped |',
  '|---|---:|---:|---:|---:|---:|',
  ...[f, s].map((r) => `| ${r.name} | ${r.blocked.toFixed(0)} | ${r.total.toFixed(0)} | ${r.rate} | ${r.arrived} | ${r.dropped} |`),
  '',
  `syslog/file: event-loop time ${(s.blocked / f.blocked).toFixed(2)}x, lines/s to arrival ${(s.rate / f.rate).toFixed(2)}x`,
];
console.log(out.join('\n'));
if (!process.argv.includes('--no-write')) {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(new URL('./RESULTS-syslog.md', import.meta.url), `# Log throughput: "*syslog" against a log file\n\n\`node bench/syslog.mjs ${LINES} ${ROUNDS}\`\n\n${out.join('\n')}\n`);
}
