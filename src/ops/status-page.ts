// The status page (`/status`, module http_status): the metrics at a glance and charts of the last
// hour. The server renders everything (numbers and SVG charts, chart.ts); a tiny script served
// from the same place swaps in a fresh panel every few seconds. No remote domain or JID of a
// user appears: links are counted by route, as in the metrics.
import { esc, lineChart, type Series } from './chart.js';
import type { Sample } from './history.js';
import type { LinkView } from './metrics.js';

/** Seconds between the page's refreshes. */
export const REFRESH_SECONDS = 5;

/** What the panel shows besides the samples: per-host sessions and the links now. */
export interface PanelData {
  now: Sample;
  history: readonly Sample[];
  sessionsByHost: ReadonlyArray<readonly [string, number]>;
  links: readonly LinkView[];
}

/** Bytes in KiB / MiB / GiB. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** Seconds as "3 d 4 h", "5 h 12 min", "4 min 3 s". */
export function duration(s: number): string {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return m ? `${m} min ${sec} s` : `${sec} s`;
}

const rate = (v: number): string => (v >= 10 ? v.toFixed(0) : v.toFixed(1));
const ms = (v: number): string => `${v.toFixed(v >= 10 ? 0 : 2)} ms`;

/** One figure: its id and raw value let a script (or a test) read it. */
function tile(id: string, label: string, value: number, shown: string): string {
  return `<div class="tile"><span class="label">${esc(label)}</span><span class="value" id="${id}" data-value="${value}">${esc(shown)}</span></div>`;
}

/** The panel: figures, tables and charts; replaced whole at each refresh. */
export function renderPanel(d: PanelData): string {
  const n = d.now;
  const all = [...d.history, n];
  const pts = (f: (s: Sample) => number): Series['points'] => all.map((s) => [s.at, f(s)] as const);
  const one = (label: string, f: (s: Sample) => number): Series[] => [{ label, points: pts(f) }];
  const failuresHour = d.history.filter((s) => s.at >= n.at - 3600_000).reduce((a, s) => a + s.authFailures, n.authFailures);
  const tiles = [
    tile('uptime', 'Uptime', n.uptimeSeconds, duration(n.uptimeSeconds)),
    tile('sessions', 'Client sessions', n.sessions, String(n.sessions)),
    tile('connections', 'Client connections', n.connections, String(n.connections)),
    tile('links-out', 'S2S links out', n.linksOut, String(n.linksOut)),
    tile('links-in', 'S2S links in', n.linksIn, String(n.linksIn)),
    tile('queued', 'S2S queued', n.queuedBytes, `${n.queuedStanzas} / ${bytes(n.queuedBytes)}`),
    tile('stanzas-in', 'Stanzas in /s', n.stanzasInPerSecond, rate(n.stanzasInPerSecond)),
    tile('stanzas-out', 'Stanzas out /s', n.stanzasOutPerSecond, rate(n.stanzasOutPerSecond)),
    tile('auth-failures', 'Failed logins, last hour', failuresHour, String(failuresHour)),
    tile('rss', 'Memory (RSS)', n.rssBytes, bytes(n.rssBytes)),
    tile('heap', 'JS heap used', n.heapUsedBytes, bytes(n.heapUsedBytes)),
    tile('loop', 'Event-loop delay p99', n.loopDelayP99Ms, ms(n.loopDelayP99Ms)),
    tile('storage', 'Storage call, mean', n.storageMeanMs, ms(n.storageMeanMs)),
  ];
  const hostRows = d.sessionsByHost.map(([h, c]) => `<tr><td>${esc(h)}</td><td class="num">${c}</td></tr>`).join('');
  const byRoute = new Map<string, { links: number; stanzas: number; bytes: number }>();
  for (const l of d.links) {
    const k = `${l.direction} ${l.route}`;
    const e = byRoute.get(k) ?? { links: 0, stanzas: 0, bytes: 0 };
    e.links++;
    e.stanzas += l.queuedStanzas;
    e.bytes += l.queuedBytes;
    byRoute.set(k, e);
  }
  const linkRows = [...byRoute].sort().map(([k, e]) => {
    const [dir, route] = k.split(' ') as [string, string];
    return `<tr><td>${dir === 'out' ? 'outbound' : 'inbound'}</td><td>${esc(route)}</td><td class="num">${e.links}</td><td class="num">${dir === 'out' ? `${e.stanzas} / ${esc(bytes(e.bytes))}` : '—'}</td></tr>`;
  }).join('') || '<tr><td colspan="4">no links</td></tr>';
  const charts = [
    lineChart('Client sessions', one('sessions', (s) => s.sessions), n.at, String),
    lineChart('Stanzas per second', [{ label: 'in', points: pts((s) => s.stanzasInPerSecond) }, { label: 'out', points: pts((s) => s.stanzasOutPerSecond) }], n.at, rate),
    lineChart('S2S links', [{ label: 'out', points: pts((s) => s.linksOut) }, { label: 'in', points: pts((s) => s.linksIn) }], n.at, String),
    lineChart('S2S queued bytes', one('bytes', (s) => s.queuedBytes), n.at, bytes),
    lineChart('Memory (RSS)', one('rss', (s) => s.rssBytes), n.at, bytes),
    lineChart('Event-loop delay p99', one('p99', (s) => s.loopDelayP99Ms), n.at, ms),
    lineChart('Storage call, mean', one('mean', (s) => s.storageMeanMs), n.at, ms),
    lineChart('Failed logins per 10 s', one('failures', (s) => s.authFailures), n.at, String),
  ];
  return `<section class="tiles">${tiles.join('')}</section>`
    + `<section class="tables"><table><caption>Sessions by host</caption><tr><th>host</th><th>sessions</th></tr>${hostRows}</table>`
    + `<table><caption>S2S links by route</caption><tr><th>direction</th><th>route</th><th>links</th><th>queued</th></tr>${linkRows}</table></section>`
    + `<section class="charts">${charts.join('')}</section>`
    + `<p class="updated" id="updated" data-value="${n.at}">Updated ${esc(new Date(n.at).toISOString().replace('T', ' ').slice(0, 19))} UTC · one sample every 10 s, last hour kept</p>`;
}

/** The whole page around the panel; `base` is where the page's assets are served (e.g. /status). */
export function renderPage(panel: string, base: string): string {
  return '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
    + `<title>Clove status</title><link rel="stylesheet" href="${esc(base)}/status.css"></head>`
    + `<body><header><h1>Clove status</h1></header><main id="panel" data-panel="${esc(base)}/panel" data-refresh="${REFRESH_SECONDS}">${panel}</main>`
    + `<script src="${esc(base)}/status.js"></script></body></html>`;
}

/** The page's script: fetch a new panel every few seconds (same origin, same login). */
export const STATUS_SCRIPT = `'use strict';
(() => {
  const panel = document.getElementById('panel');
  const every = Number(panel.dataset.refresh) * 1000;
  const refresh = async () => {
    try {
      const r = await fetch(panel.dataset.panel, { cache: 'no-store', credentials: 'same-origin' });
      if (r.ok) panel.innerHTML = await r.text();
    } catch (e) { /* the next refresh tries again */ }
    setTimeout(refresh, every);
  };
  setTimeout(refresh, every);
})();
`;

/** The page's style sheet. */
export const STATUS_CSS = `body{font:14px system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#2b3a55;color:#fff;padding:10px 18px}h1{font-size:18px;margin:0}
main{padding:14px 18px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.tile{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:8px 10px}
.label{display:block;color:#5a6477;font-size:12px}.value{font-size:20px;font-weight:600}
.tables{display:flex;flex-wrap:wrap;gap:16px;margin:14px 0}
table{background:#fff;border-collapse:collapse;border:1px solid #dde1e8;min-width:260px}
caption{text-align:left;font-weight:600;padding:4px 0}th,td{padding:4px 10px;border-bottom:1px solid #eef0f4;text-align:left}
.num{text-align:right}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:10px}
.chart{background:#fff;border:1px solid #dde1e8;border-radius:6px;margin:0;padding:8px}
figcaption{font-size:12px;font-weight:600;margin-bottom:4px}small{color:#5a6477;font-weight:400}
svg{width:100%;height:70px;display:block;background:#fbfcfd}.axis{stroke:#c5cbd6}
polyline.s0{stroke:#2f6fde}polyline.s1{stroke:#e0742a}.key.s0{color:#2f6fde}.key.s1{color:#e0742a}
.span{display:flex;justify-content:space-between;font-size:11px;color:#8a93a3}
.updated{color:#5a6477;font-size:12px}`;
