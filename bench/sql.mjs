#!/usr/bin/env node
// Clove on files against Clove on PostgreSQL, in the same run: PLAIN logins/s (each login reads
// the account) and messages/s between online pairs (each message is archived twice by mam).
// A throwaway PostgreSQL cluster is started for the run (bench/lib/postgres.mjs) and stopped by
// PID at the end. Writes bench/RESULTS-sql.md.
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
  for (const [name, lines] of [['files', []], ['PostgreSQL', await pgRun.configLines('clove_bench')]]) {
    const dir = path.join(tmpRoot, name);
    fs.mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const prepared = await clove.prepare({ dir, port, certDir, domain: DOMAIN, users, cpus: `${cli.SERVER_CPU},${cli.GENERATOR_CPU}`, cloveExtra: ['clove_bcrypt_cost = 4', ...lines] });
    say(`${name}: ${prepared.accountsNote}`);
    const proc = startServer({ argv: prepared.argv, cwd: prepared.cwd, cpu: null, logPath: prepared.stdoutPath, env: prepared.env });
    try {
      await waitReady(proc, port, DOMAIN, prepared.startTimeoutMs);
      const target = { host: '127.0.0.1', port, domain: DOMAIN, pid: proc.pid };
      const logins = await loginPhase(target, users, { total: cfg.logins, concurrency: 50, maxSeconds: 120 });
      say(`${name}: ${logins.completed} logins (${logins.failed} failed) = ${fmt(logins.perSecond)} logins/s`);
      const msgs = await messagePhase(target, users, { clients: cfg.clients, concurrency: 50, window: 4, warmupSeconds: 2, seconds: cfg.seconds, drainSeconds: 5 });
      say(`${name}: ${fmt(msgs.perSecond)} messages/s (p50 ${fmt(msgs.latencyMs?.p50, 1)} ms, p99 ${fmt(msgs.latencyMs?.p99, 1)} ms)`);
      results.push({ name, accounts: prepared.accountsNote, logins, msgs });
    } finally {
      await stopServer(proc);
    }
  }
} finally {
  await pgRun.stop();
}
const [files, sql] = results;
const row = (label, f, s) => `| ${label} | ${fmt(f, 1)} | ${fmt(s, 1)} | ${fmt(s / f, 2)}× |`;
const md = [
  '# Clove on PostgreSQL against Clove on files',
  '',
  `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run build && node bench/sql.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`, both servers in the same run on this machine (2 cores, shared with other work), the default modules (mam archives each message for sender and recipient), ${cfg.accounts} accounts, PostgreSQL ${pgRun.version} started for the run (fsync on, default settings, Unix socket).`,
  '',
  '| Figure | files | PostgreSQL | PostgreSQL / files |',
  '|---|---|---|---|',
  row(`PLAIN logins/s (${cfg.logins} logins, 50 at a time)`, files.logins.perSecond, sql.logins.perSecond),
  row(`messages/s (${cfg.clients} clients in pairs, ${cfg.seconds} s)`, files.msgs.perSecond, sql.msgs.perSecond),
  row('message latency p50 (ms)', files.msgs.latencyMs?.p50, sql.msgs.latencyMs?.p50),
  row('message latency p99 (ms)', files.msgs.latencyMs?.p99, sql.msgs.latencyMs?.p99),
  '',
  `Account creation: files — ${files.accounts}; PostgreSQL — ${sql.accounts}.`,
  '',
];
fs.writeFileSync(path.join(cli.BENCH_DIR, 'RESULTS-sql.md'), md.join('\n'));
say('wrote bench/RESULTS-sql.md');
removeTmp();
