// The MUC bench's Markdown report (bench/RESULTS-muc.md for a full run).

import fs from 'node:fs';
import { fmt, latencySummary } from './stats.mjs';

const mib = (k) => fmt(k / 1024, 1);

/** One row per server: measured, failed or not available. */
function row(r) {
  const name = r.version ?? r.label;
  if (r.skipped) return `| ${r.label} | not available: ${r.skipped} |${' |'.repeat(8)}`;
  if (!r.ok) return `| ${name} | failed: ${r.error} |${' |'.repeat(8)}`;
  const all = latencySummary(r.latency.toAll);
  const one = latencySummary(r.latency.perRecipient);
  const t = r.throughput;
  return (
    `| ${name} | ${r.joined} | ${fmt(all.p50, 1)} / ${fmt(all.p99, 1)} / ${fmt(all.max, 1)}${r.latency.incomplete ? ` (${r.latency.incomplete} incomplete)` : ''} | ` +
    `${fmt(one.p50, 1)} / ${fmt(one.p99, 1)} | ${fmt(t.perSecond, 1)}${t.incomplete ? ` (${t.incomplete} incomplete)` : ''} | ${fmt(t.perSecond * r.joined)} | ` +
    `${mib(r.rssIdleKiB)} / ${mib(r.rssJoinedKiB)} / ${mib(r.rssEndKiB)} | ${fmt(t.cpu.serverCpuPct)} / ${fmt(t.cpu.generatorCpuPct)} / ${fmt(t.cpu.otherCpuPct)} | ${fmt(r.joinSeconds, 1)} |`
  );
}

/** Writes the report to `file` (when given) and returns its text. */
export function writeMucResults(file, { results, mach, started, cfg, busyAtStart, command, pin }) {
  const lines = [
    '# Multi-user chat: fan-out in one big room',
    '',
    `- Date: ${started.toISOString()}`,
    `- Machine: ${mach.nproc} CPUs (${mach.cpu}), ${fmt(mach.memGiB, 1)} GiB RAM, Linux ${mach.kernel}; Node ${mach.node}; \`dpkg-query -W prosody\`: \`${mach.prosody}\``,
    `- Command: \`${command}\``,
    `- Pinning: ${pin ? 'servers on CPU 0, load generator on CPU 1 (taskset)' : 'none'}`,
    `- Set-up: ${cfg.occupants} users over TLS join one room of \`Component "conference.localhost" "muc"\` (the first creates it and accepts the instant configuration), ` +
      `no history on join; modules: roster, saslauth, tls, disco, ping (no archive). Clove's per-occupant rate limit is raised (muc_event_rate = 1000) since Prosody's muc has none by default. Each server freshly started.`,
    `- Time to all: from writing one groupchat message until the last occupant (the sender's echo included) read it; ${cfg.messages} messages one at a time. Per recipient: the same for each copy.`,
    `- Sustained: ${cfg.window} messages in flight from ${cfg.senders} senders for ${cfg.durationSeconds} s, each replaced when every occupant has it; deliveries/s = messages/s × occupants.`,
  ];
  if (busyAtStart.length) lines.push(`- **Busy machine at start** (other processes ≥ 20% CPU): ${busyAtStart.join('; ')}`);
  lines.push(
    '',
    '| server | occupants | time to all p50 / p99 / max (ms) | per recipient p50 / p99 (ms) | messages/s sustained | deliveries/s | RSS idle / joined / end (MiB) | CPU % server / generator / other (sustained) | joins took (s) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(row),
    '',
  );
  const [p, c] = [results.find((r) => r.server === 'prosody' && r.ok), results.find((r) => r.server === 'clove' && r.ok)];
  if (p && c) {
    lines.push(`- **Clove / Prosody, sustained messages/s: ${fmt(c.throughput.perSecond / p.throughput.perSecond, 2)}×** (goal ≥ 3×); time to all p50: Prosody ${fmt(latencySummary(p.latency.toAll).p50, 1)} ms, Clove ${fmt(latencySummary(c.latency.toAll).p50, 1)} ms.`);
  }
  for (const r of results) {
    const cpu = r.latency?.cpu;
    if (cpu) lines.push(`- ${r.label} during the one-at-a-time messages: CPU % server ${fmt(cpu.serverCpuPct)}, generator ${fmt(cpu.generatorCpuPct)}, other processes ${fmt(cpu.otherCpuPct)}${cpu.otherCpuPct > 15 ? ' (**disturbed**: other processes were busy)' : ''}.`);
    if (r.failures && Object.keys(r.failures).length) lines.push(`- ${r.label}: joins that failed: ${JSON.stringify(r.failures)}.`);
    if (r.logTail) lines.push('', `${r.label} log tail:`, '', '```', r.logTail, '```');
  }
  const text = lines.join('\n') + '\n';
  if (file) fs.writeFileSync(file, text);
  return text;
}
