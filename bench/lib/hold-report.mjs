// bench/RESULTS-hold.md for bench/hold.mjs: the run's settings, a summary per server, and the
// samples taken every interval.

import fs from 'node:fs';
import { fmt } from './stats.mjs';

const MiB = (kib) => fmt(kib / 1024, 1);

/** Summary rows: label, then a getter on one server's result. */
const SUMMARY = [
  ['sessions logged in / asked', (r) => `${fmt(r.logins?.completed)} / ${fmt(r.sessionsAsked)}`],
  ['login wall time (s)', (r) => fmt(r.logins?.seconds, 1)],
  ['login failures', (r) => JSON.stringify(r.logins?.failures ?? {})],
  ['sessions answering the final ping', (r) => `${fmt(r.final?.ok)} / ${fmt(r.final?.sessions)}`],
  ['RSS before logins (MiB)', (r) => MiB(r.rssIdleKiB)],
  ['RSS with all sessions, before chat (MiB)', (r) => MiB(r.rssLoggedInKiB)],
  ['RSS at the end of the hold (MiB)', (r) => MiB(r.rssEndKiB)],
  ['peak RSS, VmHWM (MiB)', (r) => MiB(r.hwmKiB)],
  ['KiB per session (RSS growth / sessions)', (r) => fmt(r.kibPerSession, 1)],
  ['messages delivered/s (talkers)', (r) => (r.talk ? fmt(r.talk.delivered / r.talk.seconds) : 'n/a')],
  ['message latency p50 / p99 / max (ms)', (r) => lat(r.talk?.latencyMs)],
  ['messages sent / undelivered / bounced', (r) => (r.talk ? `${fmt(r.talk.sent)} / ${fmt(r.talk.undelivered)} / ${fmt(r.talk.bounced)}` : 'n/a')],
  ['event-loop delay p50 / worst p99 / max (ms), server-measured', (r) => (r.loopDuringHold ? lat({ p50: r.loopDuringHold.p50Ms, p99: r.loopDuringHold.p99Ms, max: r.loopDuringHold.maxMs }) : 'n/a')],
  ['… the same over samples where the main thread waited < 5% for a CPU', (r) => quiet(r)],
  ['ping round trip on idle sessions p50 / worst p99 / max (ms)', (r) => (r.pingDuringHold ? lat({ p50: r.pingDuringHold.p50Ms, p99: r.pingDuringHold.p99Ms, max: r.pingDuringHold.maxMs }) : 'n/a')],
  ['server CPU % during the hold', (r) => fmt(r.cpu?.serverCpuPct)],
  ['generator CPU % / other processes CPU %', (r) => (r.cpu ? `${fmt(r.cpu.generatorCpuPct)} / ${fmt(r.cpu.otherCpuPct)}` : 'n/a')],
];

/** Event-loop delay over the hold samples not disturbed by other processes (see the note below the tables). */
function quiet(r) {
  const rows = (r.rows ?? []).filter((x) => x.phase === 'hold' && x.loop && x.sched?.waitPct < 5);
  if (rows.length === 0) return 'n/a';
  const p50 = rows.map((x) => x.loop.p50Ms).sort((a, b) => a - b)[rows.length >> 1];
  const p99 = Math.max(...rows.map((x) => x.loop.p99Ms));
  return `${lat({ p50, p99, max: Math.max(...rows.map((x) => x.loop.maxMs)) })} (${rows.length} samples)`;
}

function lat(l) {
  return l ? `${fmt(l.p50, 1)} / ${fmt(l.p99, 1)} / ${fmt(l.max, 1)}` : 'n/a';
}

function sampleTable(r) {
  const lines = [
    '| t (s) | phase | open (generator) | server sessions | RSS MiB | HWM MiB | main thread ran / waited % | loop p50 / p99 / max ms | msg/s | msg p50 / p99 ms | ping p50 / max ms |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const x of r.rows) {
    lines.push(
      `| ${fmt(x.t)} | ${x.phase} | ${fmt(x.open)} | ${x.loop ? fmt(x.loop.sessions) : ''} | ${MiB(x.rssKiB)} | ${MiB(x.hwmKiB)} | ` +
        `${x.sched ? `${fmt(x.sched.runPct)} / ${fmt(x.sched.waitPct)}` : ''} | ` +
        `${x.loop ? `${fmt(x.loop.p50Ms, 1)} / ${fmt(x.loop.p99Ms, 1)} / ${fmt(x.loop.maxMs, 1)}` : ''} | ` +
        `${x.msgs ? fmt(x.msgs.perSecond) : ''} | ${x.msgs ? `${fmt(x.msgs.latencyMs.p50, 1)} / ${fmt(x.msgs.latencyMs.p99, 1)}` : ''} | ` +
        `${x.ping ? `${fmt(x.ping.rttMs.p50, 1)} / ${fmt(x.ping.rttMs.max, 1)}${x.ping.failed ? ` (${x.ping.failed} failed)` : ''}` : ''} |`,
    );
  }
  return lines;
}

/** Writes the report for `results` (one per server run so far) to `file`. */
export function writeHoldResults(file, { results, mach, started, cfg, busyAtStart, command, pin }) {
  const lines = [
    '# Holding sessions: results',
    '',
    `- Date: ${started.toISOString()}`,
    `- Machine: ${mach.nproc} CPUs (${mach.cpu}), ${fmt(mach.memGiB, 1)} GiB RAM, Linux ${mach.kernel}; Node ${mach.node}; prosody ${mach.prosody}`,
    `- Command: \`${command}\``,
    `- Pinning: ${pin ? 'server on CPU 0, load generator on CPU 1 (taskset)' : 'none'}`,
    `- Settings: ${fmt(cfg.sessions)} sessions (one account each; STARTTLS, SASL PLAIN, bind, session, initial presence), logged in at ` +
      `${cfg.loginRate}/s with ${cfg.loginConcurrency} in flight; held ${cfg.durationSeconds} s while ${cfg.talkers} of them chat in pairs at ` +
      `${cfg.msgRate} msg/s each; a sample every ${cfg.intervalSeconds} s with a ping to ${cfg.pingSample} idle sessions; at the end a ping to every session.`,
    `- Clove config additions: ${cfg.cloveExtra.length ? `${cfg.cloveExtra.map((l) => `\`${l}\``).join(', ')} (room for every session)` : 'none'}; ` +
      `clients connect from ${cfg.sources} loopback source address${cfg.sources > 1 ? 'es' : ''}.`,
  ];
  if (busyAtStart?.length) lines.push(`- Other processes busy at the start: ${busyAtStart.join('; ')}`);
  lines.push('', '## Summary', '');
  const shown = results.filter((r) => r.rows?.length);
  lines.push(`| | ${shown.map((r) => r.label).join(' | ')} |`, `| --- |${shown.map(() => ' ---: |').join('')}`);
  for (const [label, get] of SUMMARY) lines.push(`| ${label} | ${shown.map((r) => get({ ...r, sessionsAsked: cfg.sessions })).join(' | ')} |`);
  lines.push('');
  for (const r of results) {
    lines.push(`## ${r.label}`, '');
    if (r.version) lines.push(`- ${r.version}`);
    if (r.accounts) lines.push(`- ${r.accounts}`);
    if (r.skipped) lines.push(`- not measured: ${r.skipped}`);
    if (r.error) lines.push(`- FAILED: ${r.error}`, '', '```', r.logTail ?? '', '```');
    if (r.exited) lines.push(`- the server ${r.exited}`);
    if (r.logins) lines.push(`- login latency p50 ${fmt(r.logins.latencyMs.p50, 1)} ms, p99 ${fmt(r.logins.latencyMs.p99, 1)} ms`);
    if (r.rows?.length) lines.push('', ...sampleTable(r));
    lines.push('');
  }
  lines.push(
    'Event-loop delay is Clove\'s own `monitorEventLoopDelay` (written once a second to `CLOVE_STATS_FILE`); each sample row ',
    'shows the median per-second p50, the worst per-second p99 and the maximum since the previous row. The histogram samples ',
    'every 10 ms and records the time between samples, so an idle loop reads about 10 ms: the delay is the excess. Prosody has no such ',
    'figure; the ping round trip (XEP-0199 iq to the server on idle sessions, measured by the generator) is the view from ',
    'outside for both. "Main thread ran / waited": the share of the time since the previous row the server\'s main thread ',
    '(the event loop) was on a CPU, and was ready but waiting for one (/proc/<pid>/schedstat; waiting means other processes ',
    'had the CPU, which shows up as event-loop delay that is not the server\'s own). How it is measured: bench/README.md, "Holding sessions".',
    '',
  );
  fs.writeFileSync(file, lines.join('\n'));
}
