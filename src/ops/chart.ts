// Small line charts of the last hour as inline SVG: drawn on the server, so the status page needs
// no chart library, no CDN and no external fetch (nothing leaves the I2P site).

/** Chart size in SVG user units (the page scales it to its box). */
const W = 300;
const H = 70;

/** One series: a value per sample time (ms since the epoch). */
export interface Series { label: string; points: ReadonlyArray<readonly [at: number, value: number]> }

/** Escape text for HTML and SVG content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The chart's time span: the hour before `now`, or less while the samples cover less (at least a minute). */
function span(series: readonly Series[], now: number): number {
  const oldest = Math.min(now, ...series.flatMap((s) => s.points.map((p) => p[0])));
  return Math.min(HOUR, Math.max(60_000, now - oldest));
}

const HOUR = 3600_000;

/** An SVG line chart of `series` over the last hour (less on a young server), with its scale's top value. */
export function lineChart(title: string, series: readonly Series[], now: number, format: (v: number) => string): string {
  const width = span(series, now);
  const from = now - width;
  const top = Math.max(...series.flatMap((s) => s.points.map((p) => p[1])), 0);
  const scale = top > 0 ? top * 1.1 : 1;
  const x = (at: number): string => (((at - from) / width) * W).toFixed(1);
  // 2 units above the axis, so a line at zero stays visible.
  const y = (v: number): string => (H - 2 - (v / scale) * (H - 4)).toFixed(1);
  const lines = series.map((s, i) => {
    const pts = s.points.filter((p) => p[0] >= from).map((p) => `${x(p[0])},${y(p[1])}`).join(' ');
    return `<polyline class="s${i}" fill="none" stroke-width="1.5" stroke-linejoin="round" vector-effect="non-scaling-stroke" points="${pts}"/>`;
  });
  const legend = series.length > 1 ? series.map((s, i) => `<span class="key s${i}">${esc(s.label)}</span>`).join(' ') : '';
  return `<figure class="chart"><figcaption>${esc(title)} <small>max ${esc(format(top))}</small> ${legend}</figcaption>`
    + `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${esc(title)}, last hour">`
    + `<line class="axis" x1="0" y1="${H}" x2="${W}" y2="${H}"/>${lines.join('')}</svg>`
    + `<div class="span"><span>−${width >= 120_000 ? `${Math.round(width / 60_000)} min` : `${Math.round(width / 1000)} s`}</span><span>now</span></div></figure>`;
}
