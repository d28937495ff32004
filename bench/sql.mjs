#!/usr/bin/env node
// Clove on files against Clove on PostgreSQL and on SQLite, in the same run: PLAIN logins/s
// (each login reads the account) and messages/s between online pairs (each message is archived
// twice by mam). A throwaway PostgreSQL cluster is started for the run (bench/lib/postgres.mjs)
// and stopped by PID at the end. Writes the first section of bench/RESULTS-sql.md (the sections
// the other SQL benchmarks append stay).
//
//   npm run build && node bench/sql.mjs [--accounts N] [--logins N] [--clients N] [--seconds N]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { makeUsers } from './lib/accounts.mjs';
import { makeSelfSigned } from './lib/certs.mjs';
import * as cli from './lib/cli.mjs';
import { loginPhase, messagePhase } from './lib/phases.mjs';
import { postgresSetup } from './lib/sql-setup.mjs';
import { freePort, startServer, stopServer, waitReady } from './lib/proc.mjs';
import { makeClove } from './lib/servers.mjs';
import { fmt } from './lib/stats.mjs';

const { values: opt } = parseArgs({ options: { accounts: { type: 'string' }, logins: { type: 'string' }, clients: { type: 'string' }, seconds: { type: 'string' } } });
const cfg = { accounts: Number(opt.accounts ?? 400), logins: Number(opt.logins ?? 1000), clients: Number(opt.clients ?? 100), seconds: Number(opt.seconds ?? 10) };
const DOMAIN = 'bench.localhost';
const say = (s) => console.log(`[sql] ${s}`);
const { tmpRoot, removeTmp } = cli.benchTmpDir('sql', 'clove-sql-', false);

const pgRun = await postgresSetup(say);
const users = makeUsers(cfg.accounts);
const certDir = path.join(tmpRoot, 'certs');
makeSelfSigned(certDir, DOMAIN);
const clove = makeClove(cli.REPO);
const results = [];
try {
  const backends = [['files', []], ['PostgreSQL', await pgRun.configLines('clove_bench')], ['SQLite', ['storage = "sql"', 'sql = { driver = "SQLite3"; database = "clove.sqlite" }']]];
  for (const [name, lines] of backends) {
    const dir = path.join(tmpRoot, name);
    fs.mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const prepared = await clove.prepare({ dir, port, certDir, domain: DOMAIN, users, cpus: `${cli.SERVER_CPU},${cli.GENERATOR_CPU}`, cloveExtra: ['clove_bcrypt_cost = 4', ...lines] });
    say(`${name}: ${prepared.accountsNote}`);
    const proc = startServer({ argv: prepared.argv, cwd: prepared.cwd, cpu: null, logPath: prepared.stdoutPath, env: prepared.env });
    try {
      await waitReady(proc, port, DOMAIN, prepared.startTimeoutMs);
      // The server's own RSS once it answers (SQLite's adds the worker thread).
      const rssMiB = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1]) / 1024;
      say(`${name}: RSS after start ${fmt(rssMiB, 1)} MiB`);
      const target = { host: '127.0.0.1', port, domain: DOMAIN, pid: proc.pid };
      const logins = await loginPhase(target, users, { total: cfg.logins, concurrency: 50, maxSeconds: 120 });
      say(`${name}: ${logins.completed} logins (${logins.failed} failed) = ${fmt(logins.perSecond)} logins/s`);
      const msgs = await messagePhase(target, users, { clients: cfg.clients, concurrency: 50, window: 4, warmupSeconds: 2, seconds: cfg.seconds, drainSeconds: 5 });
      say(`${name}: ${fmt(msgs.perSecond)} messages/s (p50 ${fmt(msgs.latencyMs?.p50, 1)} ms, p99 ${fmt(msgs.latencyMs?.p99, 1)} ms)`);
      results.push({ name, accounts: prepared.accountsNote, logins, msgs, rssMiB });
    } finally {
      await stopServer(proc);
    }
  }
} finally {
  await pgRun.stop();
}
const [files, pg, lite] = results;
const row = (label, get) => {
  const [f, p, l] = [files, pg, lite].map(get);
  return `| ${label} | ${fmt(f, 1)} | ${fmt(p, 1)} | ${fmt(l, 1)} | ${fmt(p / f, 2)}× | ${fmt(l / f, 2)}× |`;
};
const md = [
  '# Clove on PostgreSQL and on SQLite against Clove on files',
  '',
  `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run build && node bench/sql.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`, the three servers one after the other in the same run on this machine (2 cores), the default modules (mam archives each message for sender and recipient), ${cfg.accounts} accounts, PostgreSQL ${pgRun.version} started for the run (fsync on, default settings, Unix socket), SQLite in WAL mode with synchronous=FULL on the data directory's disk.`,
  '',
  '| Figure | files | PostgreSQL | SQLite | PostgreSQL / files | SQLite / files |',
  '|---|---|---|---|---|---|',
  row(`PLAIN logins/s (${cfg.logins} logins, 50 at a time)`, (r) => r.logins.perSecond),
  row(`messages/s (${cfg.clients} clients in pairs, ${cfg.seconds} s)`, (r) => r.msgs.perSecond),
  row('message latency p50 (ms)', (r) => r.msgs.latencyMs?.p50),
  row('message latency p99 (ms)', (r) => r.msgs.latencyMs?.p99),
  row('RSS after start, before any login (MiB)', (r) => r.rssMiB),
  '',
  `Account creation: ${results.map((r) => `${r.name} — ${r.accounts}`).join('; ')}.`,
  '',
  "How each backend makes an archived message durable: files append to the host's shared journal, one fsync at a time; PostgreSQL runs one statement per append over a pool of 8 connections; SQLite sends the appends waiting for its worker thread as one transaction (up to 256), one WAL sync for all. Logins read the account (files: from the read cache after the first read); their rate moves by about a fifth from run to run here, and the servers ran in the order of the columns.",
  '',
];
// Keep the sections other benchmarks appended (from the first "## " heading on).
const out = path.join(cli.BENCH_DIR, 'RESULTS-sql.md');
const old = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
const rest = old.indexOf('\n## ') === -1 ? '' : old.slice(old.indexOf('\n## ') + 1);
fs.writeFileSync(out, md.join('\n') + (rest ? `\n${rest}` : ''));
say('wrote bench/RESULTS-sql.md');
removeTmp();
