// The s2s benchmark's table (console and Markdown) and bench/RESULTS-s2s.md.

import fs from 'node:fs';
import { fmt } from './stats.mjs';

const ROWS = [
  { label: 'messages/s (delivered A→B)', get: (m) => m.perSecond, digits: 0, ratio: true },
  { label: 'latency p50 (ms)', get: (m) => m.latencyMs?.p50, digits: 2, ratio: true },
  { label: 'latency p99 (ms)', get: (m) => m.latencyMs?.p99, digits: 2, ratio: true },
  { label: 'latency max (ms)', get: (m) => m.latencyMs?.max, digits: 1 },
  { label: 's2s bytes on the wire per message (A→B)', get: (m) => m.bytesPerMessage, digits: 0 },
  { label: 'first message incl. s2s setup (ms)', get: (m) => m.firstMessageMs, digits: 0 },
  { label: 'undelivered after drain', get: (m) => m.undelivered, digits: 0 },
  { label: 'error bounces', get: (m) => m.bounced, digits: 0 },
  { label: 'server A CPU %', get: (m) => m.cpu?.serverA, digits: 0 },
  { label: 'server B CPU %', get: (m) => m.cpu?.serverB, digits: 0 },
  { label: 'proxy CPU %', get: (m) => m.cpu?.proxy, digits: 0 },
  { label: 'generator CPU %', get: (m) => m.cpu?.generator, digits: 0 },
  { label: 'other processes CPU %', get: (m) => m.cpu?.other, digits: 0 },
];

/** Rows of [label, prosody, clove, ratio] as strings; missing kinds read n/a. */
export function buildRows(byKind) {
  const p = byKind.prosody?.best;
  const c = byKind.clove?.best;
  return ROWS.map((row) => {
    const pv = p ? row.get(p) : undefined;
    const cv = c ? row.get(c) : undefined;
    const ratio = row.ratio && pv > 0 && cv >= 0 ? `${fmt(cv / pv, 2)}x` : '';
    return [row.label, fmt(pv, row.digits), fmt(cv, row.digits), ratio];
  });
}

const HEAD = ['metric', 'Prosody↔Prosody', 'Clove↔Clove', 'Clove/Prosody'];

export function textTable(rows) {
  const all = [HEAD, ...rows];
  const w = HEAD.map((_, i) => Math.max(...all.map((r) => [...r[i]].length)));
  const line = (r) => r.map((cell, i) => (i === 0 ? cell.padEnd(w[i]) : cell.padStart(w[i]))).join('  ');
  return [line(HEAD), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(rows) {
  return [
    `| ${HEAD.join(' | ')} |`,
    '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Writes the Markdown report. */
export function writeS2SResults(file, { byKind, mach, started, cfg, quick, command, pin, cpus, domains, disturbances, busyAtStart, prosodyExtra = [] }) {
  const rows = buildRows(byKind);
  const L = [];
  L.push('# Clove s2s benchmark results', '');
  L.push('Server-to-server throughput between two servers of the same kind on one machine; see the "s2s" section of `bench/README.md`.', '');
  L.push(`- Date: ${started.toISOString()}`);
  L.push(
    `- Machine: ${mach.nproc} CPUs (${mach.cpu}), ${fmt(mach.memGiB, 1)} GiB RAM, Linux ${mach.kernel}; Node ${mach.node}; ` +
      `\`dpkg-query -W prosody prosody-modules\`: \`${mach.prosody}\``,
  );
  if (prosodyExtra.length) L.push(`- **Prosody config changed from its defaults:** \`${prosodyExtra.join('; ')}\``);
  L.push(`- Command: \`${command}\`${quick ? ' (quick smoke run: small N, not for comparison)' : ''}`);
  L.push(
    `- Pinning: ${pin ? `both servers of a pair on CPU ${cpus.server}; load generator and SOCKS5 proxy on CPU ${cpus.generator} (taskset). The machine has 2 CPUs, so the two servers share one core: the rate is what one core does for both ends of a federation.` : 'none (--no-pin, no taskset, or fewer than 2 CPUs)'}`,
  );
  L.push(`- Domains: \`${domains[0]}\` (A, senders) and \`${domains[1]}\` (B, receivers), one self-signed RSA-2048 certificate each (openssl req), shared by both kinds.`);
  L.push(
    `- Settings: ${cfg.pairs} sender/receiver pairs, window ${cfg.window} outstanding messages per pair, ${cfg.warmupSeconds} s warm-up + ` +
      `${cfg.seconds} s measured, ${cfg.drainSeconds} s drain; each run on freshly started servers with fresh data; ` +
      `${cfg.repeat === 1 ? 'one run per kind' : `${cfg.repeat} runs per kind, interleaved, median by messages/s reported`}.`,
  );
  L.push(
    '- Route: client → A c2s → A s2s-out → SOCKS5 proxy (bench/lib/s2s-proxy.mjs, ATYP 3 `<b32>:5269` → B\'s s2s port) → B s2s-in → B c2s → client. ' +
      'STARTTLS required on s2s (`s2s_require_encryption = true`) and c2s, dialback (`s2s_secure_auth = false`), B verifies A\'s key over its own stream back through the proxy.',
  );
  for (const k of ['prosody', 'clove']) if (byKind[k]?.version) L.push(`- ${byKind[k].label}: ${byKind[k].version}`);
  if (busyAtStart.length) L.push(`- **Busy machine at start** (other processes ≥ 20% CPU): ${busyAtStart.join('; ')}`);
  for (const d of disturbances) L.push(`- **Warning:** ${d}`);
  L.push('', '## Results', '', markdownTable(rows), '');
  L.push('Ratios are Clove/Prosody: above 1 is better for messages/s, below 1 is better for latency.', '');
  for (const k of ['prosody', 'clove']) {
    const r = byKind[k];
    if (!r) continue;
    L.push(`### ${r.label}`, '');
    if (r.skipped) {
      L.push(`Not measured: ${r.skipped}`, '');
      continue;
    }
    if (r.error) L.push(`**Failed:** ${r.error}`, '');
    if (r.accounts) L.push(`- Accounts: ${r.accounts}`);
    if (r.discarded) L.push(`- ${r.discarded} run(s) discarded and run again because other processes were busy meanwhile`);
    if (r.runs.length) {
      L.push(
        `- Runs kept (messages/s / p99 ms / other processes' CPU %): ` +
          r.runs.map((m) => `${fmt(m.perSecond)} / ${fmt(m.latencyMs?.p99, 1)} / ${fmt(m.cpu?.other)}`).join('; '),
      );
    }
    const b = r.best;
    if (b) {
      L.push(
        `- Reported run: ${fmt(b.delivered)} messages delivered in ${fmt(b.seconds, 2)} s (${fmt(b.latencyMs?.n)} latency samples); ` +
          `${fmt(b.sentTotal)} sent and ${fmt(b.deliveredTotal)} delivered over the whole run; ` +
          `${b.undelivered} undelivered after the drain, ${b.bounced} bounced${b.bounced ? ` (${JSON.stringify(b.bounceConditions)})` : ''}, ` +
          `${b.duplicates} duplicates, ${b.streamErrors} stream errors, ${b.connectionsDropped} client connections dropped.`,
      );
    }
    if (r.proxyConnects) L.push(`- Proxied s2s connections in the reported run: ${r.proxyConnects}`);
    if (r.logTail) L.push('', '```', r.logTail, '```');
    L.push('');
  }
  fs.writeFileSync(file, L.join('\n'));
}
