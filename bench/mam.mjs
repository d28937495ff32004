#!/usr/bin/env node
// Message archive (XEP-0313 MAM) through the real server: what archiving costs in messages/s,
// what one archived message takes on disk, and how fast MAM pages come back from large archives.
//
//   npm run build && node bench/mam.mjs [--server prosody|clove|both] [--quick] [--out FILE] [--no-pin]
//                       [--keep-tmp] [--big N] [--users U] [--per-user P] [--queries Q]
//                       [--msg-clients N] [--window W] [--duration S] [--wait-quiet S] [--repeat N]
//
// 1. Messages/s: N clients in pairs send chat messages with a body to their partner's full JID,
//    W outstanding each (bench/lib/msg-load.mjs), 2 s warm-up then S s measured, against each
//    server freshly started: Prosody 0.12 with mod_mam, Clove with `mam`, and Clove without it
//    (archiving off). Every delivered message is archived twice (sender's and addressee's
//    archive). Then the server is stopped and its archive directory measured: bytes on disk per
//    archived message.
// 2. Queries (Clove): one user with N (1,000,000) archived messages over 200 contacts and U
//    (10,000) users × P (100), written into the archive store directly before the server starts
//    (bench/lib/mam-prefill.mjs). Then through the running server, one query at a time, Q each:
//    "last page with X" (with = a contact, RSM <before/>, max 50) and "page before id" (no
//    filter, <before>id</before> with a random archived id, max 50), on the big archive and on
//    the small archives of 200 users who log in (each user's first query opens its archive).
//    Latency: the iq written → its answer read, all <result/> messages in between.
// Servers on CPU 0, the generator on CPU 1 (taskset). Writes bench/RESULTS-mam.md (not --quick).

import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { makeUsers, prosodyPathEncode } from './lib/accounts.mjs';
import { benchSetup } from './lib/bench-setup.mjs';
import * as cli from './lib/cli.mjs';
import { BENCH_DIR, REPO, SERVER_CPU } from './lib/cli.mjs';
import { mamClient } from './lib/mam-client.mjs';
import { prefillArchives, rng } from './lib/mam-prefill.mjs';
import { writeMamResults } from './lib/mam-report.mjs';
import { messagePhase } from './lib/phases.mjs';
import { rssKiB, startServer, waitReady } from './lib/proc.mjs';
import { makeClove, prosody } from './lib/servers.mjs';
import { fmt, latencySummary } from './lib/stats.mjs';
import { becomeAvailable, login } from './lib/xmpp.mjs';

const DOMAIN = 'localhost';
const BASE_MODULES = ['roster', 'saslauth', 'tls', 'disco', 'ping'];
const modules = (more) => `modules_enabled = { ${[...BASE_MODULES, ...more].map((m) => JSON.stringify(m)).join('; ')} }`;

const opt = cli.parseBenchArgs(import.meta.url, 23, {
  big: { type: 'string' },
  users: { type: 'string' },
  'per-user': { type: 'string' },
  queries: { type: 'string' },
  'msg-clients': { type: 'string' },
});
const int = (v, d) => cli.numberOption('mam', v, d, (n) => n > 0 && Number.isInteger(n));
const Q = opt.quick;
const cfg = {
  big: int(opt.big, Q ? 20_000 : 1_000_000),
  bigContacts: 200,
  users: int(opt.users, Q ? 200 : 10_000),
  perUser: int(opt['per-user'], 100),
  queries: int(opt.queries, Q ? 100 : 500),
  sample: Q ? 20 : 200,
  msgClients: int(opt['msg-clients'], Q ? 40 : 200),
  window: int(opt.window, 32),
  durationSeconds: int(opt.duration, Q ? 3 : 10),
  // Throughput rounds: each round runs every set-up once (interleaved, so a noisy minute hits
  // all of them); the report takes each set-up's median run.
  repeat: int(opt.repeat, 1),
  warmupSeconds: Q ? 1 : 2,
  pageSize: 50,
  // Archives that the load fills never reach a limit or expire during the run.
  mamOptions: ['archive_expires_after = "never"'],
};

const say = (s) => console.log(`[mam] ${s}`);
const quietBefore = cli.quietWaiter(cli.quietSecondsOption(opt), say);
const { tmpRoot, removeTmp } = cli.benchTmpDir('mam', 'clove-mam-', opt['keep-tmp']);

/** Bytes of every file under `dir` (0 when missing). */
function duBytes(dir) {
  let n = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? duBytes(p) : fs.statSync(p).size;
  }
  return n;
}

/** Archived messages and their bytes on disk after a run: Prosody's .list files, Clove's store. */
async function archiveOnDisk(serverName, dataPath) {
  if (serverName === 'prosody') {
    const dir = path.join(dataPath, prosodyPathEncode(DOMAIN), 'archive');
    let count = 0;
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) count += (fs.readFileSync(path.join(dir, f), 'latin1').match(/^item\(/gm) ?? []).length;
    return { count, bytes: duBytes(dir) };
  }
  const { createFileBackend } = await import(pathToFileURL(path.join(REPO, 'dist', 'storage', 'file.js')).href);
  const backend = createFileBackend(dataPath);
  const store = backend.archive(DOMAIN, 'archive');
  let count = 0;
  for (const o of await store.owners()) count += (await store.metadata(o)).count;
  await backend.close();
  const dirs = fs.existsSync(path.join(dataPath, DOMAIN)) ? [path.join(dataPath, DOMAIN, 'archive')] : [];
  return { count, bytes: dirs.reduce((a, d) => a + duBytes(d), 0) };
}

/** Start the prepared server (st.prepared) on CPU 0 when pinning; resolves once it answers. */
async function launch(st, port, pin) {
  const p = st.prepared;
  st.proc = startServer({ argv: p.argv, cwd: p.cwd, cpu: pin ? SERVER_CPU : null, logPath: p.stdoutPath, env: p.env });
  await waitReady(st.proc, port, DOMAIN, p.startTimeoutMs);
  return st.proc;
}

/** Phase 1 on one server set-up (`round` of cfg.repeat): messages/s, then the archive on disk. */
async function throughputRun(kind, shared, round) {
  // Each set-up and round gets its own folder (serverSlot names it after the server).
  const name = cfg.repeat > 1 ? `${kind.key}-${round + 1}` : kind.key;
  const { r, dir, port } = await cli.serverSlot({ ...kind.server, name }, tmpRoot, say, { kind: kind.key, title: kind.title });
  if (r.skipped) return r;
  return cli.guardedRun(r, kind.server, say, async (st) => {
    const prepared = (st.prepared = await cli.prepareServer(kind.server, { dir, port, domain: DOMAIN, shared, cloveExtra: kind.extra, prosodyExtra: kind.extra }));
    const proc = await launch(st, port, shared.pin);
    const target = { host: '127.0.0.1', port, domain: DOMAIN, pid: proc.pid };
    await quietBefore(`${kind.title} messages`);
    r.msg = await messagePhase(target, shared.users, {
      clients: cfg.msgClients,
      concurrency: 50,
      window: cfg.window,
      warmupSeconds: cfg.warmupSeconds,
      seconds: cfg.durationSeconds,
      drainSeconds: 5,
    });
    r.rssEndKiB = rssKiB(proc.pid);
    say(`${kind.title}: ${fmt(r.msg.perSecond)} messages/s (p50 ${fmt(r.msg.latencyMs.p50, 1)} ms, p99 ${fmt(r.msg.latencyMs.p99, 1)} ms), server CPU ${fmt(r.msg.serverCpuPct)} %, ${r.msg.undelivered} undelivered`);
    // Stopped before its files are measured.
    await cli.closeRun(r, [], proc);
    st.proc = null;
    r.disk = await archiveOnDisk(kind.server === prosody ? 'prosody' : 'clove', path.join(dir, 'data'));
    say(`${kind.title}: ${fmt(r.disk.count)} archived messages, ${fmt(r.disk.bytes)} bytes on disk`);
  });
}

/** The run with the median messages/s (the lower middle one of an even count), with every run's rate in `perRun`. */
function medianRun(runs) {
  const ok = runs.filter((r) => r.ok).sort((a, b) => a.msg.perSecond - b.msg.perSecond);
  if (ok.length === 0) return runs[0];
  return { ...ok[Math.floor((ok.length - 1) / 2)], perRun: runs.map((r) => (r.ok ? r.msg.perSecond : null)) };
}

/** Q queries of one shape on one connection; `make(i)` gives the i-th query. */
async function timedQueries(mc, n, make) {
  const ms = [];
  let results = 0;
  let errors = 0;
  let firstError;
  for (let i = 0; i < n; i++) {
    const a = await mc.query(make(i));
    if (a.type !== 'result') {
      errors++;
      firstError ??= a.xml;
      continue;
    }
    ms.push(a.ms);
    results += a.results;
  }
  return { ...latencySummary(ms), meanResults: ms.length ? results / ms.length : 0, errors, firstError };
}

/** Phase 2 (Clove): prefilled archives, then MAM queries through the server. */
async function queryRun(server, shared) {
  const { r, dir, port } = await cli.serverSlot({ ...server, name: 'clove-queries' }, tmpRoot, say, { kind: 'clove-queries', title: 'Clove (mam), prefilled' });
  if (r.skipped) return r;
  return cli.guardedRun(r, server, say, async (st) => {
    const prepared = (st.prepared = await cli.prepareServer(server, { dir, port, domain: DOMAIN, shared, cloveExtra: shared.cloveMam }));
    const dataPath = path.join(dir, 'data');
    say(`prefilling ${fmt(cfg.big)} messages for one user and ${fmt(cfg.users)} users × ${cfg.perUser} through the store…`);
    const pre = await prefillArchives(REPO, dataPath, DOMAIN, { bigUser: 'big', bigItems: cfg.big, bigContacts: cfg.bigContacts, users: cfg.users, perUser: cfg.perUser, sample: cfg.sample, say });
    r.prefill = { bigSeconds: pre.bigMs / 1000, smallSeconds: pre.smallMs / 1000, bigCount: pre.bigCount, bigRecordBytes: pre.bigBytes };
    r.prefill.bigDiskBytes = duBytes(path.join(dataPath, DOMAIN, 'archive', 'big'));
    r.prefill.allDiskBytes = duBytes(path.join(dataPath, DOMAIN, 'archive'));

    const proc = await launch(st, port, shared.pin);
    const target = { host: '127.0.0.1', port, domain: DOMAIN };
    r.rssStartKiB = rssKiB(proc.pid);
    const bigConn = await login({ ...target, user: 'big', password: shared.bigPassword });
    st.conns.push(bigConn);
    await becomeAvailable(bigConn, DOMAIN);
    const mc = mamClient(bigConn);
    const rand = rng(42);
    const pick = (a) => a[Math.floor(rand() * a.length)];
    // The first query opens the archive (reads the index of a million records): timed on its own.
    const open = await mc.query({ max: cfg.pageSize, before: '' }, 120_000);
    r.openMs = open.ms;
    say(`big archive: first query (opens it) ${fmt(open.ms, 1)} ms, ${open.results} results, ${open.type}`);
    if (open.type !== 'result') throw new Error(`MAM query refused: ${open.xml}`);
    r.rssOpenKiB = rssKiB(proc.pid);
    await quietBefore('queries');
    r.big = {
      ping: await timedQueries({ query: () => mc.ping() }, cfg.queries, () => ({})),
      lastWith: await timedQueries(mc, cfg.queries, () => ({ with: pick(pre.big.contacts), before: '', max: cfg.pageSize })),
      beforeId: await timedQueries(mc, cfg.queries, () => ({ before: pick(pre.big.ids), max: cfg.pageSize })),
    };
    say(`big archive: last page with X p50 ${fmt(r.big.lastWith.p50, 2)} / p99 ${fmt(r.big.lastWith.p99, 2)} ms; page before id p50 ${fmt(r.big.beforeId.p50, 2)} / p99 ${fmt(r.big.beforeId.p99, 2)} ms`);

    // Small archives: each sampled user logs in and queries its own archive (cold, then warm).
    const cold = [];
    const lastWith = [];
    const beforeId = [];
    let errors = 0;
    for (const u of pre.small) {
      const c = await login({ ...target, user: u.user, password: shared.smallPassword(u.user) });
      const m = mamClient(c);
      const first = await m.query({ with: pick(u.contacts), before: '', max: cfg.pageSize });
      if (first.type === 'result') cold.push(first.ms);
      else errors++;
      for (let k = 0; k < Math.max(1, Math.floor(cfg.queries / pre.small.length)); k++) {
        const a = await m.query({ with: pick(u.contacts), before: '', max: cfg.pageSize });
        const b = await m.query({ before: pick(u.ids), max: cfg.pageSize });
        if (a.type === 'result') lastWith.push(a.ms);
        else errors++;
        if (b.type === 'result') beforeId.push(b.ms);
        else errors++;
      }
      c.close();
    }
    r.small = { cold: latencySummary(cold), lastWith: latencySummary(lastWith), beforeId: latencySummary(beforeId), errors };
    say(`small archives: first query p99 ${fmt(r.small.cold.p99, 2)} ms; last page with X p99 ${fmt(r.small.lastWith.p99, 2)} ms; page before id p99 ${fmt(r.small.beforeId.p99, 2)} ms; ${errors} errors`);
    r.rssEndKiB = rssKiB(proc.pid);
  });
}

async function main() {
  const users = makeUsers(cfg.msgClients);
  const bigPassword = 'big-pw-x7';
  const smallPassword = (u) => `${u}-pw-x7`;
  const all = [...users, { user: 'big', password: bigPassword }, ...Array.from({ length: cfg.sample }, (_, i) => ({ user: `small${i}`, password: smallPassword(`small${i}`) }))];
  const { started, mach, pin, busyAtStart, wanted, shared } = await benchSetup({ tag: 'mam', opt, tmpRoot, say, domain: DOMAIN, users });
  const { certDir, prosodyCreds } = shared;
  const clove = makeClove(REPO);
  const cloveMam = ['clove_bcrypt_cost = 4', modules(['mam']), ...cfg.mamOptions];
  // The big archive is over the default per-user limits (10,000 messages, 64 MiB).
  const cloveBig = [...cloveMam, `storage_archive_item_limit = ${Math.max(10_000, cfg.big + 1)}`, `archive_max_bytes = ${64 * 2 ** 30}`];
  const kinds = [];
  if (wanted.includes('prosody')) kinds.push({ key: 'prosody-mam', title: 'Prosody + mod_mam', server: prosody, extra: [modules(['mam']), ...cfg.mamOptions] });
  if (wanted.includes('clove')) {
    kinds.push({ key: 'clove-off', title: 'Clove, archiving off', server: clove, extra: ['clove_bcrypt_cost = 4', modules([])] });
    kinds.push({ key: 'clove-mam', title: 'Clove + mam', server: clove, extra: cloveMam });
  }
  const runs = kinds.map(() => []);
  for (let round = 0; round < cfg.repeat; round++) {
    if (cfg.repeat > 1) say(`throughput round ${round + 1}/${cfg.repeat}`);
    for (const [i, k] of kinds.entries()) runs[i].push(await throughputRun(k, { certDir, users, prosodyCreds, pin }, round));
  }
  const results = runs.map(medianRun);
  let queries;
  if (wanted.includes('clove')) queries = await queryRun(clove, { certDir, users: all, prosodyCreds: [], pin, cloveMam: cloveBig, bigPassword, smallPassword });
  await sleep(10);
  const out = opt.out ?? (Q ? null : path.join(BENCH_DIR, 'RESULTS-mam.md'));
  const text = writeMamResults(out, { results, queries, mach, started, cfg, busyAtStart, command: cli.commandLine(), pin });
  console.log('\n' + text);
  if (out) say(`results written to ${path.relative(process.cwd(), out) || out}`);
  return results.some((r) => r.ok) || queries?.ok ? 0 : 1;
}

cli.runMain('mam', main, removeTmp);
