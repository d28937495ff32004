#!/usr/bin/env node
// PEP notification fan-out (XEP-0163): a publisher with N contacts (mutual `both` subscriptions
// written straight into storage), M of them online with XEP-0115 caps saying +notify for the
// node (they answer the server's disco#info), publishes items to that node. Measures the time
// from sending one publish until every interested contact has its notification (p50/p99 over
// several publishes, one at a time), sustained publishes/s with a window of publishes in flight,
// and server RSS. Prosody (Debian, mod_pep) and Clove in the same run; a server without PEP is
// reported as such, not waited for. See bench/README.md ("PEP fan-out").
//
//   node bench/pep-fanout.mjs [--server prosody|clove|both] [--quick] [--out FILE] [--no-pin] [--keep-tmp]
//                             [--contacts N] [--online M] [--publishes K] [--window W] [--duration S]
//                             [--wait-quiet S]

import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeUsers } from './lib/accounts.mjs';
import { benchSetup } from './lib/bench-setup.mjs';
import * as cli from './lib/cli.mjs';
import { BENCH_DIR, REPO, SERVER_CPU } from './lib/cli.mjs';
import { cpuMeter } from './lib/phases.mjs';
import { rssKiB, startServer, waitReady } from './lib/proc.mjs';
import { makeClove, prosody } from './lib/servers.mjs';
import { fmt } from './lib/stats.mjs';
import { login } from './lib/xmpp.mjs';
import { capsVer, writeCloveRosters, writeProsodyRosters } from './lib/pep-setup.mjs';
import { onlineContacts, Publisher } from './lib/pep-clients.mjs';
import { writePepResults } from './lib/pep-report.mjs';

const DOMAIN = 'localhost';
const MODULES = 'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "pep" }';

const opt = cli.parseBenchArgs(import.meta.url, 12, {
  contacts: { type: 'string' },
  online: { type: 'string' },
  publishes: { type: 'string' },
});
const int = (v, d) => cli.numberOption('pep-fanout', v, d, (n) => n > 0 && Number.isInteger(n));
const Q = opt.quick;
const contacts = int(opt.contacts, Q ? 50 : 500);
const cfg = {
  contacts,
  online: Math.min(contacts, int(opt.online, contacts)),
  publishes: int(opt.publishes, Q ? 10 : 50),
  window: int(opt.window, 8),
  durationSeconds: int(opt.duration, Q ? 3 : 10),
  loginConcurrency: 50,
  // A publish not delivered to everyone by then counts as incomplete (the bench goes on).
  deliveryTimeoutMs: 30_000,
  settleMs: Q ? 500 : 2000,
  cloveExtra: ['clove_bcrypt_cost = 4', MODULES],
  prosodyExtra: [MODULES],
};

const say = (s) => console.log(`[pep] ${s}`);
/** Before a timed phase: give other processes on a shared machine a chance to finish (--wait-quiet S). */
const quietBefore = cli.quietWaiter(cli.quietSecondsOption(opt), say);
const { tmpRoot, removeTmp } = cli.benchTmpDir('pep', 'clove-pep-', opt['keep-tmp']);

async function fanoutServer(server, shared) {
  const { r, dir, port } = await cli.serverSlot(server, tmpRoot, say);
  if (r.skipped) return r;
  let prepared = null;
  let proc = null;
  const conns = [];
  try {
    say(`${server.label}: config, ${shared.users.length} accounts and rosters…`);
    prepared = await cli.prepareServer(server, { dir, port, domain: DOMAIN, shared, cloveExtra: cfg.cloveExtra, prosodyExtra: cfg.prosodyExtra });
    const [pub, ...rest] = shared.users.map((u) => u.user);
    const t0 = Date.now();
    const dataPath = path.join(dir, 'data');
    if (server.name === 'prosody') writeProsodyRosters(dataPath, DOMAIN, pub, rest);
    else await writeCloveRosters(REPO, dataPath, DOMAIN, pub, rest);
    r.setup = `${prepared.accountsNote}; ${rest.length + 1} rosters written in ${Date.now() - t0} ms`;
    say(`${server.label}: ${r.setup}`);

    proc = startServer({ argv: prepared.argv, cwd: prepared.cwd, cpu: shared.pin ? SERVER_CPU : null, logPath: prepared.stdoutPath, env: prepared.env });
    await waitReady(proc, port, DOMAIN, prepared.startTimeoutMs);
    const pid = proc.pid;
    const target = { host: '127.0.0.1', port, domain: DOMAIN };
    await sleep(cfg.settleMs);
    r.rssIdleKiB = rssKiB(pid);

    const publisher = new Publisher(await login({ ...target, ...shared.users[0] }), DOMAIN);
    conns.push(publisher.conn);
    await publisher.available();
    const online = await onlineContacts(target, shared.users.slice(1, cfg.online + 1), { concurrency: cfg.loginConcurrency, ver: capsVer(), conns });
    r.online = online.contacts.length;
    say(`${server.label}: ${r.online}/${cfg.online} contacts online with +notify caps (${JSON.stringify(online.failures)} failed); ${online.discoQueries()} disco#info queries answered so far`);
    await sleep(cfg.settleMs);
    r.rssOnlineKiB = rssKiB(pid);
    r.presentToPublisher = publisher.present.size;
    say(`${server.label}: the publisher sees ${r.presentToPublisher} contacts online (mutual rosters in place)`);

    // Does the server have PEP at all? A publish it refuses (or never answers) ends the run here.
    const probe = await publisher.publishAck('probe', 10_000);
    if (!probe.ok) {
      r.noPep = probe.reason;
      say(`${server.label}: no PEP — ${probe.reason}`);
      return r;
    }

    // Warm-up until every online contact is known to be interested (caps learnt, disco answered).
    const tracker = online.tracker;
    let reached = 0;
    for (let k = 0; k < 5 && reached < r.online; k++) {
      const d = await publisher.publishDelivered(tracker, `warm${k}`, r.online, 10_000);
      reached = d.got;
      say(`${server.label}: warm-up publish ${k + 1} reached ${reached}/${r.online}`);
    }
    r.interested = reached;
    r.discoQueries = online.discoQueries();
    if (reached === 0) throw new Error('no contact received any notification');

    // Latency: one publish at a time, each until every interested contact has it.
    await quietBefore(`${server.label} latency`);
    const meter = cpuMeter(pid);
    const toAll = [];
    const ack = [];
    const perRecipient = [];
    let incomplete = 0;
    for (let i = 0; i < cfg.publishes; i++) {
      const d = await publisher.publishDelivered(tracker, `lat${i}`, reached, cfg.deliveryTimeoutMs, perRecipient);
      if (d.got < reached) incomplete++;
      else toAll.push(d.ms);
      ack.push(d.ackMs);
    }
    r.latency = { toAll, ack, perRecipient, incomplete, cpu: meter() };
    say(`${server.label}: ${cfg.publishes} publishes one at a time, ${incomplete} incomplete`);

    // Throughput: `window` publishes in flight, each replaced as soon as it reached everyone.
    await quietBefore(`${server.label} sustained`);
    const m2 = cpuMeter(pid);
    r.throughput = { ...(await publisher.sustained(tracker, reached, cfg.window, cfg.durationSeconds * 1000, cfg.deliveryTimeoutMs)), cpu: m2() };
    say(`${server.label}: ${fmt(r.throughput.perSecond, 1)} publishes/s sustained (${fmt(r.throughput.perSecond * reached)} notifications/s)`);
    await sleep(cfg.settleMs);
    r.rssEndKiB = rssKiB(pid);
    r.ok = true;
  } catch (err) {
    cli.recordFailure(r, err, server, prepared, say);
  } finally {
    await cli.closeRun(r, conns, proc);
  }
  return r;
}

async function main() {
  const { started, mach, pin, busyAtStart, wanted, shared } = await benchSetup({ tag: 'pep-fanout', opt, tmpRoot, say, domain: DOMAIN, users: makeUsers(cfg.contacts + 1) });
  const servers = { prosody, clove: makeClove(REPO) };
  const results = [];
  for (const name of wanted) results.push(await fanoutServer(servers[name], shared));
  const out = opt.out ?? (Q ? null : path.join(BENCH_DIR, 'RESULTS-pep.md'));
  const text = writePepResults(out, { results, mach, started, cfg, busyAtStart, command: cli.commandLine(), pin });
  console.log('\n' + text);
  if (out) say(`results written to ${path.relative(process.cwd(), out) || out}`);
  return results.some((r) => r.ok) ? 0 : 1;
}

cli.runMain('pep', main, removeTmp);
