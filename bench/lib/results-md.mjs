// The Markdown report: where and how the run was made, the comparison table, and per-server
// details (failures, CPU use, per-run rates, event-loop delay).

import fs from 'node:fs';
import { buildTable, markdownTable } from './report.mjs';
import { fmt } from './stats.mjs';

function runsText(x) {
  return x.runs && x.runs.length > 1 ? `; rate per run: ${x.runs.map((v) => fmt(v)).join(' / ')}` : '';
}

/** Writes the Markdown report (bench/RESULTS.md for a full run). */
export function writeResults(file, { results, mach, shared, started, cfg, quick, command, prosodyExtra, disturbances, cpus }) {
  const rows = buildTable(results.filter((r) => r.ok || r.skipped || r.error));
  const lines = [];
  lines.push('# Clove benchmark results', '');
  lines.push(`- Date: ${started.toISOString()}`);
  lines.push(
    `- Machine: ${mach.nproc} CPUs (${mach.cpu}), ${fmt(mach.memGiB, 1)} GiB RAM, Linux ${mach.kernel}; ` +
      `Node ${mach.node}; \`dpkg-query -W prosody\`: \`${mach.prosody}\``,
  );
  if (prosodyExtra.length) {
    lines.push(`- **Prosody config changed from its defaults:** \`${prosodyExtra.join('; ')}\``);
  }
  lines.push(`- Command: \`${command}\`${quick ? ' (quick smoke run: small N, not for comparison)' : ''}`);
  lines.push(
    `- Pinning: ${shared.pin ? `servers on CPU ${cpus.server}, load generator on CPU ${cpus.generator} (taskset)` : 'none (--no-pin or no taskset)'}`,
  );
  lines.push(
    `- Accounts: ${shared.users.length}, SCRAM-SHA-1 hashed with ${shared.iterations.iterations} PBKDF2 iterations ` +
      `(Prosody's default, read from ${shared.iterations.source}); with SASL PLAIN the server runs PBKDF2 on every login, ` +
        `with SCRAM-SHA-1 it checks stored keys.`,
  );
  lines.push(
    `- Settings: logins ${cfg.logins} @ ${cfg.loginConcurrency} concurrent (fresh server: ${cfg.freshLogins} @ ${cfg.freshConcurrency}); messages ${cfg.msgClients} clients (pairs), ` +
      `window ${cfg.window}, ${cfg.msgWarmupSeconds} s warm-up + ${cfg.msgSeconds} s measured; idle sessions ${cfg.idleSessions} (${cfg.presence ? 'each sends initial presence' : 'no initial presence'}); ` +
        `each timed phase on a fresh server, ${cfg.repeat === 1 ? 'once' : `${cfg.repeat} times (median reported)`}, the servers taking turns run by run` +
        `${cfg.phases.length < 5 ? `; phases run: ${cfg.phases.join(', ')}` : ''}.`,
  );
  for (const r of results) {
    if (r.version) lines.push(`- ${r.label}: ${r.version}`);
  }
  if (shared.busyAtStart.length > 0) {
    lines.push(`- **Busy machine at start** (other processes ≥ 20% CPU): ${shared.busyAtStart.join('; ')}`);
  }
  for (const d of disturbances) lines.push(`- **Warning:** ${d}`);
  lines.push('', '## Results', '', markdownTable(rows), '');
  lines.push(
    'Targets: message throughput ≥ 2x Prosody; KiB per idle session ≤ 0.5x Prosody; PLAIN logins/s ≥ 1.5x Prosody ' +
      '(hashed credentials; after a warm-up and on a fresh server) and SCRAM-SHA-1 ≥ 2.5x; RSS right after start ≤ 40 MiB; event-loop p99 < 50 ms while 100 ' +
      'clients log in at once (Clove only).',
    '',
  );
  for (const r of results) {
    lines.push(`### ${r.label}`, '');
    if (r.skipped) {
      lines.push(`Not measured: ${r.skipped}`, '');
      continue;
    }
    if (r.error) lines.push(`**Failed:** ${r.error}`, '');
    if (r.accounts) lines.push(`- ${r.accounts}`);
    if (r.tls) lines.push(`- TLS: ${r.tls.protocol}, ${r.tls.cipher}`);
    if (r.rssAtStartKiB) lines.push(`- RSS right after start: ${fmt(r.rssAtStartKiB)} KiB (RssAnon ${fmt(r.rssAnonAtStartKiB)} KiB)`);
    if (r.memory) {
      const m = r.memory;
      lines.push(
        `- Memory: ${m.stillOpen}/${m.sessions} sessions open; RSS ${fmt(m.rssBeforeKiB)} → ${fmt(m.rssAfterKiB)} KiB; ` +
          `${fmt(m.kibPerSession, 1)} KiB/session; failures ${JSON.stringify(m.failures)}`,
      );
    }
    if (r.logins) {
      const l = r.logins;
      lines.push(
        `- Logins: ${l.completed}/${l.total} in ${fmt(l.seconds, 2)} s; latency p50 ${fmt(l.latencyMs.p50, 1)} ms, ` +
          `p99 ${fmt(l.latencyMs.p99, 1)} ms; failures ${JSON.stringify(l.failures)}${l.timedOut ? ' (time limit hit)' : ''}; ` +
          `CPU server ${fmt(l.serverCpuPct)}% / generator ${fmt(l.generatorCpuPct)}%${runsText(l)}`,
      );
    }
    if (r.loginsFresh) {
      const l = r.loginsFresh;
      lines.push(
        `- Logins on a fresh server (no sanity or warm-up login first): ${l.completed}/${l.total} in ${fmt(l.seconds, 2)} s; latency p50 ${fmt(l.latencyMs.p50, 1)} ms, ` +
          `p99 ${fmt(l.latencyMs.p99, 1)} ms; failures ${JSON.stringify(l.failures)}${l.timedOut ? ' (time limit hit)' : ''}; ` +
          `CPU server ${fmt(l.serverCpuPct)}% / generator ${fmt(l.generatorCpuPct)}%${runsText(l)}`,
      );
    }
    if (r.loginsScram) {
      const l = r.loginsScram;
      lines.push(
        `- SCRAM-SHA-1 logins: ${l.completed}/${l.total} over ${l.users} accounts in ${fmt(l.seconds, 2)} s; latency p50 ${fmt(l.latencyMs.p50, 1)} ms, ` +
          `p99 ${fmt(l.latencyMs.p99, 1)} ms; failures ${JSON.stringify(l.failures)}${l.timedOut ? ' (time limit hit)' : ''}; ` +
          `CPU server ${fmt(l.serverCpuPct)}% / generator ${fmt(l.generatorCpuPct)}%${runsText(l)}`,
      );
    }
    if (r.messages) {
      const m = r.messages;
      lines.push(
        `- Messages: ${m.loggedIn}/${m.clients} clients; ${fmt(m.delivered)} delivered in ${fmt(m.seconds, 2)} s; ` +
          `latency p50 ${fmt(m.latencyMs?.p50, 2)} / p99 ${fmt(m.latencyMs?.p99, 2)} / max ${fmt(m.latencyMs?.max, 1)} ms; ` +
          `undelivered after ${cfg.drainSeconds} s drain ${m.undelivered}; error bounces ${m.bounced}; stream errors ${m.streamErrors}; ` +
          `dropped connections ${m.connectionsDropped}; CPU server ${fmt(m.serverCpuPct)}% / generator ${fmt(m.generatorCpuPct)}%${runsText(m)}`,
      );
    }
    if (r.eventLoop) {
      const e = r.eventLoop;
      lines.push(
        `- Event-loop delay during logins (Clove's own monitorEventLoopDelay, per-second samples: ${e.samples}): ` +
          `worst-second p99 ${fmt(e.p99Ms, 1)} ms, median p50 ${fmt(e.p50Ms, 1)} ms, max ${fmt(e.maxMs, 1)} ms`,
      );
    }
    if (r.eventLoopScram) {
      const e = r.eventLoopScram;
      lines.push(`- Event-loop delay during SCRAM logins: worst-second p99 ${fmt(e.p99Ms, 1)} ms, max ${fmt(e.maxMs, 1)} ms`);
    }
    if (r.eventLoopMessages) {
      const e = r.eventLoopMessages;
      lines.push(`- Event-loop delay during messages: worst-second p99 ${fmt(e.p99Ms, 1)} ms, max ${fmt(e.maxMs, 1)} ms`);
    }
    if (r.server === 'clove' && r.ok && !r.eventLoop) lines.push('- Event-loop delay: no stats file written (CLOVE_STATS_FILE).');
    lines.push('');
  }
  lines.push('How each number is measured: see bench/README.md.', '');
  fs.writeFileSync(file, lines.join('\n'));
}
