#!/usr/bin/env node
// Multi-user chat fan-out (XEP-0045): N occupants in one room of a muc component; one message at
// a time until every occupant has it (time to all, p50/p99), then a window of messages in flight
// from several senders (messages/s delivered to everyone), with server RSS and CPU. Prosody
// (Debian, its muc component) and Clove in the same run. See bench/README.md ("MUC fan-out").
//
//   node bench/muc.mjs [--server prosody|clove|both] [--quick] [--out FILE] [--no-pin] [--keep-tmp]
//                      [--occupants N] [--messages K] [--senders S] [--window W] [--duration S]
//                      [--wait-quiet S]

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
import { joinRoom, sendDelivered, sustained } from './lib/muc-clients.mjs';
import { writeMucResults } from './lib/muc-report.mjs';

const DOMAIN = 'localhost';
const MUC = 'conference.localhost';
const ROOM = `bench@${MUC}`;
const MODULES = 'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping" }';

const opt = cli.parseBenchArgs(import.meta.url, 9, {
  occupants: { type: 'string' },
  messages: { type: 'string' },
  senders: { type: 'string' },
});
const int = (v, d) => cli.numberOption('muc', v, d, (n) => n > 0 && Number.isInteger(n));
const Q = opt.quick;
const cfg = {
  occupants: int(opt.occupants, Q ? 50 : 200),
  messages: int(opt.messages, Q ? 20 : 100),
  senders: int(opt.senders, 10),
  window: int(opt.window, 16),
  durationSeconds: int(opt.duration, Q ? 3 : 10),
  loginConcurrency: 20,
  deliveryTimeoutMs: 30_000,
  settleMs: Q ? 500 : 2000,
  cloveExtra: ['clove_bcrypt_cost = 4', MODULES, 'muc_event_rate = 1000', 'muc_burst_factor = 100'],
  prosodyExtra: [MODULES],
  sections: [`Component ${JSON.stringify(MUC)} "muc"`, ''],
};

const say = (s) => console.log(`[muc] ${s}`);
const quietBefore = cli.quietWaiter(cli.quietSecondsOption(opt), say);
const { tmpRoot, removeTmp } = cli.benchTmpDir('muc', 'clove-muc-', opt['keep-tmp']);

async function roomServer(server, shared) {
  const { r, dir, port } = await cli.serverSlot(server, tmpRoot, say);
  if (r.skipped) return r;
  return cli.guardedRun(r, server, say, async (st) => {
    say(`${server.label}: config and ${shared.users.length} accounts…`);
    const p = (st.prepared = await cli.prepareServer(server, { dir, port, domain: DOMAIN, shared, cloveExtra: cfg.cloveExtra, prosodyExtra: cfg.prosodyExtra, sections: cfg.sections }));
    st.proc = startServer({ argv: p.argv, cwd: p.cwd, cpu: shared.pin ? SERVER_CPU : null, logPath: p.stdoutPath, env: p.env });
    await waitReady(st.proc, port, DOMAIN, p.startTimeoutMs);
    const pid = st.proc.pid;
    await sleep(cfg.settleMs);
    r.rssIdleKiB = rssKiB(pid);

    const t0 = performance.now();
    const room = await joinRoom({ host: '127.0.0.1', port, domain: DOMAIN }, ROOM, shared.users, { concurrency: cfg.loginConcurrency, conns: st.conns });
    r.joinSeconds = (performance.now() - t0) / 1000;
    r.joined = room.joined;
    r.failures = room.failures;
    say(`${server.label}: ${r.joined}/${cfg.occupants} occupants joined in ${fmt(r.joinSeconds, 1)} s (${JSON.stringify(room.failures)} failed)`);
    if (r.joined < 2) throw new Error('the room has no occupants to deliver to');
    await sleep(cfg.settleMs);
    r.rssJoinedKiB = rssKiB(pid);
    const occupants = room.occupants.filter(Boolean);
    const need = r.joined;
    for (let k = 0; k < 3; k++) await sendDelivered(occupants[0], ROOM, room.tracker, `warm${k}`, need, 10_000);

    // Time to all: one message at a time from the room's creator.
    await quietBefore(`${server.label} latency`);
    const meter = cpuMeter(pid);
    const toAll = [];
    const perRecipient = [];
    let incomplete = 0;
    for (let i = 0; i < cfg.messages; i++) {
      const d = await sendDelivered(occupants[0], ROOM, room.tracker, `lat${i}`, need, cfg.deliveryTimeoutMs, perRecipient);
      if (d.got < need) incomplete++;
      else toAll.push(d.ms);
    }
    r.latency = { toAll, perRecipient, incomplete, cpu: meter() };
    say(`${server.label}: ${cfg.messages} messages one at a time, ${incomplete} incomplete`);

    // Sustained: a window of messages in flight from several occupants.
    await quietBefore(`${server.label} sustained`);
    const m2 = cpuMeter(pid);
    const load = await sustained(occupants.slice(0, cfg.senders), ROOM, room.tracker, need, cfg.window, cfg.durationSeconds * 1000, cfg.deliveryTimeoutMs);
    r.throughput = { ...load, cpu: m2() };
    say(`${server.label}: ${fmt(load.perSecond, 1)} messages/s sustained (${fmt(load.perSecond * need)} deliveries/s)`);
    await sleep(cfg.settleMs);
    r.rssEndKiB = rssKiB(pid);
  });
}

async function main() {
  const { started, mach, pin, busyAtStart, wanted, shared } = await benchSetup({ tag: 'muc', opt, tmpRoot, say, domain: DOMAIN, users: makeUsers(cfg.occupants) });
  const servers = { prosody, clove: makeClove(REPO) };
  const results = [];
  for (const name of wanted) results.push(await roomServer(servers[name], shared));
  const out = opt.out ?? (Q ? null : path.join(BENCH_DIR, 'RESULTS-muc.md'));
  const text = writeMucResults(out, { results, mach, started, cfg, busyAtStart, command: cli.commandLine(), pin });
  console.log('\n' + text);
  if (out) say(`results written to ${path.relative(process.cwd(), out) || out}`);
  return results.some((r) => r.ok) ? 0 : 1;
}

cli.runMain('muc', main, removeTmp);
