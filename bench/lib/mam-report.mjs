// The report of bench/mam.mjs: a markdown page (bench/RESULTS-mam.md) with the set-up, the
// messages/s table (Prosody + mod_mam, Clove without and with archiving, ratios in the same
// run), bytes on disk per archived message, and MAM query latencies on large archives.

import fs from 'node:fs';
import { fmt } from './stats.mjs';

const mib = (b) => fmt(b / 2 ** 20, 1);

function machineLines({ mach, started, command, pin, busyAtStart }) {
  return [
    `- Date: ${started.toISOString()}`,
    `- Machine: ${mach.nproc} CPUs (${mach.cpu}), ${fmt(mach.memGiB, 1)} GiB RAM, Linux ${mach.kernel}; Node ${mach.node}; \`dpkg-query -W prosody\`: \`${mach.prosody}\``,
    `- Command: \`${command}\``,
    `- Pinning: ${pin ? 'servers on CPU 0, load generator on CPU 1 (taskset)' : 'none'}`,
    ...(busyAtStart.length ? [`- **Busy machine at start** (other processes ≥ 20% CPU): ${busyAtStart.join('; ')}`] : []),
  ];
}

function throughputTable(results) {
  const rows = ['| server | messages/s | latency p50 / p99 (ms) | undelivered | CPU % server / generator / other | archived messages | archive on disk | bytes per archived message | RSS end (MiB) |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of results) {
    if (!r.ok) {
      rows.push(`| ${r.title} | ${r.skipped ? `not measured: ${r.skipped}` : `failed: ${r.error}`} | | | | | | | |`);
      continue;
    }
    const m = r.msg;
    const perMsg = r.disk.count ? fmt(r.disk.bytes / r.disk.count) : '—';
    rows.push(`| ${r.title} (${r.version}) | ${fmt(m.perSecond)} | ${fmt(m.latencyMs.p50, 1)} / ${fmt(m.latencyMs.p99, 1)} | ${m.undelivered} | ${fmt(m.serverCpuPct)} / ${fmt(m.generatorCpuPct)} / ${fmt(m.otherCpuPct)} | ${fmt(r.disk.count)} | ${r.disk.count ? `${mib(r.disk.bytes)} MiB` : '—'} | ${perMsg} | ${fmt(r.rssEndKiB / 1024, 1)} |`);
  }
  return rows;
}

function ratios(results) {
  const by = Object.fromEntries(results.filter((r) => r.ok).map((r) => [r.kind, r.msg.perSecond]));
  const out = [];
  if (by['clove-mam'] && by['prosody-mam']) out.push(`- **Clove with archiving / Prosody with mod_mam: ${fmt(by['clove-mam'] / by['prosody-mam'], 2)}×** (goal ≥ 3×)${results.length && results[0].perRun?.length > 1 ? ', medians' : ''}.`);
  const perRun = Object.fromEntries(results.filter((r) => r.ok && r.perRun?.length > 1).map((r) => [r.kind, r.perRun]));
  if (perRun['clove-mam'] && perRun['prosody-mam']) {
    const rounds = perRun['clove-mam'].map((c, i) => (c && perRun['prosody-mam'][i] ? `${fmt(c / perRun['prosody-mam'][i], 2)}×` : 'failed'));
    out.push(`- The same ratio round by round (each round ran every set-up once, one after the other): ${rounds.join(', ')}.`);
  }
  for (const r of results) if (r.ok && r.perRun?.length > 1) out.push(`- ${r.title}, messages/s per round: ${r.perRun.map((x) => (x === null ? 'failed' : fmt(x))).join(' / ')}.`);
  if (by['clove-mam'] && by['clove-off']) out.push(`- Clove with archiving / without: ${fmt(by['clove-mam'] / by['clove-off'], 2)} (archiving costs ${fmt((1 - by['clove-mam'] / by['clove-off']) * 100)} % of the throughput).`);
  return out;
}

function queryLines(q, cfg) {
  if (!q) return ['Not measured (Clove not run).'];
  if (!q.ok) return [`Failed: ${q.error ?? q.skipped}`];
  const row = (name, s) => `| ${name} | ${s.n} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} | ${fmt(s.max, 2)} | ${s.meanResults === undefined ? '' : fmt(s.meanResults, 1)} |`;
  const p = q.prefill;
  return [
    `- Prefill (through the archive store directly, before the server starts — the same files the server writes): ${fmt(p.bigCount)} messages for one user over ${cfg.bigContacts} contacts in ${fmt(p.bigSeconds, 1)} s, and ${fmt(cfg.users)} users × ${cfg.perUser} in ${fmt(p.smallSeconds, 1)} s.`,
    `- On disk: the big archive ${mib(p.bigDiskBytes)} MiB = **${fmt(p.bigDiskBytes / p.bigCount)} bytes per message** (of which the records — message XML, with, 28 bytes of framing — ${fmt(p.bigRecordBytes / p.bigCount)} bytes); everything ${mib(p.allDiskBytes)} MiB.`,
    `- First query on the big archive (opens it: reads its index) ${fmt(q.openMs, 1)} ms; server RSS ${fmt(q.rssStartKiB / 1024, 1)} MiB at start, ${fmt(q.rssOpenKiB / 1024, 1)} MiB with the big archive open, ${fmt(q.rssEndKiB / 1024, 1)} MiB at the end.`,
    '',
    '| query (page of 50, one at a time, through the server) | n | p50 (ms) | p99 (ms) | max (ms) | results per page |',
    '|---|---:|---:|---:|---:|---:|',
    row('baseline: ping round trip on the same stream (what the server and the machine add to any query)', q.big.ping),
    row(`big archive (${fmt(p.bigCount)}): last page with X`, q.big.lastWith),
    row(`big archive: page before id`, q.big.beforeId),
    row(`${cfg.sample} small archives: first query of a freshly logged-in user (opens the archive)`, q.small.cold),
    row('small archives: last page with X', q.small.lastWith),
    row('small archives: page before id', q.small.beforeId),
    '',
    `- Goal: p99 < 20 ms for "last page with X" and "page before id". Errors: big ${q.big.lastWith.errors + q.big.beforeId.errors}, small ${q.small.errors}.`,
  ];
}

/** The report as markdown; written to `file` when given. */
export function writeMamResults(file, ctx) {
  const { results, queries, cfg } = ctx;
  const text = [
    '# Message archive (MAM): throughput with archiving, disk per message, query latency',
    '',
    ...machineLines(ctx),
    `- Messages: ${cfg.msgClients} clients over TLS in pairs, chat messages with a body to the partner's full JID, ${cfg.window} outstanding per sender, ${cfg.warmupSeconds} s warm-up then ${cfg.durationSeconds} s measured; each server freshly started; archiving options: ${cfg.mamOptions.join(', ')}. Every delivered message is archived for both parties (two appends). Clove delivers and acknowledges an archived message only after its record is durable (group commit across owners: one O_DSYNC journal write for every append in flight, segments written behind); Prosody's internal storage appends to the user's .list file without fsync.`,
    '',
    '## Messages/s with archiving on and off',
    '',
    ...(cfg.repeat > 1 ? [`Each set-up ran ${cfg.repeat} times, in rounds (every set-up once per round, each on a fresh server); the table shows each set-up's median run.`, ''] : []),
    ...throughputTable(results),
    '',
    ...ratios(results),
    '',
    '## MAM queries on large archives (Clove)',
    '',
    ...queryLines(queries, cfg),
    '',
  ].join('\n');
  if (file) fs.writeFileSync(file, text);
  return text;
}
