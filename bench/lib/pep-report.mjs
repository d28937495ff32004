// The PEP fan-out bench's Markdown report (bench/RESULTS-pep.md for a full run).

import fs from 'node:fs';
import { fmt, latencySummary } from './stats.mjs';

const mib = (k) => fmt(k / 1024, 1);

/** One row per server: measured, without PEP, failed or not available. */
function row(r, cfg) {
  const name = r.version ?? r.label;
  if (r.skipped) return `| ${r.label} | not available: ${r.skipped} |${' |'.repeat(10)}`;
  if (r.noPep) return `| ${name} | **${r.label}: no PEP** (${r.noPep}) | ${r.online ?? 'n/a'} | — | — | — | — | — | — | ${mib(r.rssIdleKiB)} / ${mib(r.rssOnlineKiB)} / — | — |`;
  if (!r.ok) return `| ${name} | failed: ${r.error} |${' |'.repeat(10)}`;
  const all = latencySummary(r.latency.toAll);
  const one = latencySummary(r.latency.perRecipient);
  const ack = latencySummary(r.latency.ack);
  const t = r.throughput;
  return (
    `| ${name} | ${cfg.contacts} | ${r.online} | ${r.interested} | ${fmt(all.p50, 1)} / ${fmt(all.p99, 1)} / ${fmt(all.max, 1)}` +
    `${r.latency.incomplete ? ` (${r.latency.incomplete} incomplete)` : ''} | ${fmt(one.p50, 1)} / ${fmt(one.p99, 1)} | ${fmt(ack.p50, 1)} | ` +
    `${fmt(t.perSecond, 1)}${t.incomplete ? ` (${t.incomplete} incomplete)` : ''} | ${fmt(t.perSecond * r.interested)} | ` +
    `${mib(r.rssIdleKiB)} / ${mib(r.rssOnlineKiB)} / ${mib(r.rssEndKiB)} | ${fmt(t.cpu.serverCpuPct)} / ${fmt(t.cpu.generatorCpuPct)} / ${fmt(t.cpu.otherCpuPct)} |`
  );
}

/** Writes the report to `file` (when given) and returns its text. */
export function writePepResults(file, { results, mach, started, cfg, busyAtStart, command, pin }) {
  const lines = [
    '# PEP notification fan-out',
    '',
    `- Date: ${started.toISOString()}`,
    `- Machine: ${mach.nproc} CPUs (${mach.cpu}), ${fmt(mach.memGiB, 1)} GiB RAM, Linux ${mach.kernel}; Node ${mach.node}; \`dpkg-query -W prosody\`: \`${mach.prosody}\``,
    `- Command: \`${command}\``,
    `- Pinning: ${pin ? 'servers on CPU 0, load generator on CPU 1 (taskset)' : 'none'}`,
    `- Set-up: one publisher with ${cfg.contacts} contacts (mutual \`both\` subscriptions written into each server's roster storage), ` +
      `${cfg.online} of them online over TLS, each with XEP-0115 caps (sha-1, verified string) whose disco#info lists the node and its +notify; ` +
      `modules: roster, saslauth, tls, disco, ping, pep. Each server freshly started.`,
    `- Time to all: from writing one publish iq until the last interested contact read its notification; ${cfg.publishes} publishes one at a time. ` +
      `Per recipient: the same for each notification. Ack: publish iq round trip.`,
    `- Sustained: ${cfg.window} publishes in flight for ${cfg.durationSeconds} s, each replaced when every interested contact has it; notifications/s = publishes/s × interested.`,
  ];
  if (busyAtStart.length) lines.push(`- **Busy machine at start** (other processes ≥ 20% CPU): ${busyAtStart.join('; ')}`);
  lines.push(
    '',
    '| server | contacts | online | interested | time to all p50 / p99 / max (ms) | per recipient p50 / p99 (ms) | ack p50 (ms) | publishes/s sustained | notifications/s | RSS idle / online / end (MiB) | CPU % server / generator / other (sustained) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) => row(r, cfg)),
    '',
  );
  for (const r of results) {
    const cpu = r.latency?.cpu;
    if (cpu) lines.push(`- ${r.label} during the one-at-a-time publishes: CPU % server ${fmt(cpu.serverCpuPct)}, generator ${fmt(cpu.generatorCpuPct)}, other processes ${fmt(cpu.otherCpuPct)}${cpu.otherCpuPct > 15 ? ' (**disturbed**: other processes were busy)' : ''}.`);
  }
  for (const r of results) {
    if (r.setup) lines.push(`- ${r.label}: ${r.setup}; the publisher saw ${r.presentToPublisher ?? 'n/a'} contacts' presence; ${r.discoQueries ?? 0} disco#info queries from the server answered.`);
    if (r.logTail) lines.push('', `${r.label} log tail:`, '', '```', r.logTail, '```');
  }
  const text = lines.join('\n') + '\n';
  if (file) fs.writeFileSync(file, text);
  return text;
}
