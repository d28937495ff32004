// The results table (console and Markdown) with Clove/Prosody ratios against the targets.

import { fmt } from './stats.mjs';

// Targets from the issue. `better` says which direction wins; `ratio` is Clove/Prosody.
const ROWS = [
  {
    key: 'msgs',
    label: 'messages/s (delivered)',
    get: (r) => r.messages?.perSecond,
    digits: 0,
    target: { text: '≥ 2x Prosody', ok: (ratio) => ratio >= 2 },
  },
  { key: 'msgP50', label: 'message latency p50 (ms)', get: (r) => r.messages?.latencyMs?.p50, digits: 2 },
  { key: 'msgP99', label: 'message latency p99 (ms)', get: (r) => r.messages?.latencyMs?.p99, digits: 2 },
  {
    key: 'logins',
    label: 'logins/s (STARTTLS+PLAIN+bind+session)',
    get: (r) => r.logins?.perSecond,
    digits: 0,
    target: { text: '≥ 1.5x Prosody', ok: (ratio) => ratio >= 1.5 },
  },
  { key: 'loginP99', label: 'login latency p99 (ms)', get: (r) => r.logins?.latencyMs?.p99, digits: 0 },
  {
    key: 'fresh',
    label: '… PLAIN on a fresh server (no warm-up, 50 at a time)',
    get: (r) => r.loginsFresh?.perSecond,
    digits: 0,
    target: { text: '≥ 1.5x Prosody', ok: (ratio) => ratio >= 1.5 },
  },
  {
    key: 'scram',
    label: 'logins/s (… SCRAM-SHA-1 instead)',
    get: (r) => r.loginsScram?.perSecond,
    digits: 0,
    target: { text: '≥ 2.5x Prosody', ok: (ratio) => ratio >= 2.5 },
  },
  {
    key: 'loginFail',
    diag: true,
    label: 'login failures (all login phases)',
    get: (r) => (r.logins || r.loginsFresh || r.loginsScram ? (r.logins?.failed ?? 0) + (r.loginsFresh?.failed ?? 0) + (r.loginsScram?.failed ?? 0) : undefined),
    digits: 0,
  },
  {
    key: 'kib',
    label: 'KiB per idle TLS session',
    get: (r) => r.memory?.kibPerSession,
    digits: 1,
    target: { text: '≤ 0.5x Prosody', ok: (ratio) => ratio <= 0.5 },
  },
  { key: 'rssBase', label: 'server RSS before sessions (MiB)', get: (r) => r.memory?.rssBeforeKiB / 1024, digits: 1 },
  {
    key: 'rssStart',
    label: 'server RSS right after start (MiB)',
    get: (r) => (r.rssAtStartKiB ? r.rssAtStartKiB / 1024 : undefined),
    digits: 1,
    target: { text: '≤ 40 MiB (Clove only)', absolute: (v) => v <= 40 },
  },
  {
    key: 'anonStart',
    diag: true,
    label: '… of which the process\'s own (RssAnon, MiB)',
    get: (r) => (r.rssAnonAtStartKiB ? r.rssAnonAtStartKiB / 1024 : undefined),
    digits: 1,
  },
  {
    key: 'elp99',
    label: 'event-loop p99 during logins (ms)',
    get: (r) => r.eventLoop?.p99Ms,
    digits: 1,
    target: { text: '< 50 ms (Clove only)', absolute: (v) => v < 50 },
  },
  { key: 'srvCpuMsg', diag: true, label: 'server CPU % (messages)', get: (r) => r.messages?.serverCpuPct, digits: 0 },
  { key: 'genCpuMsg', diag: true, label: 'generator CPU % (messages)', get: (r) => r.messages?.generatorCpuPct, digits: 0 },
  { key: 'othCpuMsg', diag: true, label: 'other processes CPU % (messages)', get: (r) => r.messages?.otherCpuPct, digits: 0 },
  { key: 'srvCpuLogin', diag: true, label: 'server CPU % (logins)', get: (r) => r.logins?.serverCpuPct, digits: 0 },
  { key: 'genCpuLogin', diag: true, label: 'generator CPU % (logins)', get: (r) => r.logins?.generatorCpuPct, digits: 0 },
  { key: 'othCpuLogin', diag: true, label: 'other processes CPU % (logins)', get: (r) => r.logins?.otherCpuPct, digits: 0 },
];

/** Rows of cells: metric, one column per server, ratio, target. */
export function buildTable(results) {
  const prosody = results.find((r) => r.server === 'prosody');
  const clove = results.find((r) => r.server === 'clove');
  // The login floor (bench/lib/floor-server.mjs): its ratio is the most a Node server can show.
  const floor = results.find((r) => r.server === 'floor');
  const header = ['metric', ...results.map((r) => r.label)];
  const withRatio = prosody && clove;
  const withFloor = prosody && floor;
  if (withRatio) header.push('Clove/Prosody', 'target');
  if (withFloor) header.push('floor/Prosody');
  const rows = [header];
  const ratioOf = (row, r) => (prosody.ok && r.ok ? row.get(r) / row.get(prosody) : NaN);
  for (const row of ROWS) {
    const vals = results.map((r) => (r.ok ? row.get(r) : undefined));
    if (vals.every((v) => v === undefined || Number.isNaN(v)) && row.key === 'elp99' && !clove) continue;
    const cells = [row.label, ...vals.map((v) => fmt(v, row.digits))];
    if (withRatio) {
      const c = clove.ok ? row.get(clove) : NaN;
      const ratio = ratioOf(row, clove);
      let target = '';
      if (row.diag) {
        cells.push('');
      } else if (row.target?.absolute) {
        target = `${row.target.text}${Number.isFinite(c) ? (row.target.absolute(c) ? ' ✅' : ' ❌') : ''}`;
        cells.push('');
      } else {
        cells.push(Number.isFinite(ratio) ? `${fmt(ratio, 2)}x` : 'n/a');
        if (row.target) target = `${row.target.text}${Number.isFinite(ratio) ? (row.target.ok(ratio) ? ' ✅' : ' ❌') : ''}`;
      }
      cells.push(target);
    }
    if (withFloor) {
      const ratio = ratioOf(row, floor);
      cells.push(row.diag || row.target?.absolute || !Number.isFinite(ratio) ? '' : `${fmt(ratio, 2)}x`);
    }
    rows.push(cells);
  }
  return rows;
}

/** Fixed-width text table. */
export function textTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Markdown table. */
export function markdownTable(rows) {
  const esc = (c) => String(c ?? '').replace(/\|/g, '\\|');
  const out = [`| ${rows[0].map(esc).join(' | ')} |`, `|${rows[0].map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of rows.slice(1)) out.push(`| ${r.map(esc).join(' | ')} |`);
  return out.join('\n');
}
