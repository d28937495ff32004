// Every metric the exposition shows is documented in docs/metrics.md with its type and labels,
// and every documented metric is in the exposition: the page cannot drift from the code.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics, type LinkView } from '../../../src/ops/metrics.js';

const ROOT = resolve(__dirname, '../../..');

interface Documented { type: string; labels: string[] }

/** The metrics table of docs/metrics.md: `| \`name\` | type | labels | meaning |`. */
async function documented(): Promise<Map<string, Documented>> {
  const doc = await readFile(join(ROOT, 'docs/metrics.md'), 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith('Metrics\n')) ?? '';
  const out = new Map<string, Documented>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`(clove_[a-z0-9_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (!name) continue;
    out.set(name, { type: cells[2] as string, labels: [...(cells[3] as string).matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string).sort() });
  }
  return out;
}

/** Families in an OpenMetrics text: name → type and the label names its samples carry. */
function exposed(text: string): Map<string, Documented> {
  const out = new Map<string, Documented>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1] as string, { type: m[2] as string, labels: [] });
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const m = /^([a-z0-9_]+?)(?:_total|_bucket|_sum|_count)?(?:\{([^}]*)\})? /.exec(line);
    const family = out.get(m?.[1] ?? '') ?? out.get(/^([a-z0-9_]+)/.exec(line)?.[1] ?? '');
    if (!family || !m) continue;
    for (const l of (m[2] ?? '').matchAll(/([a-z_]+)="/g)) if (l[1] !== 'le' && !family.labels.includes(l[1] as string)) family.labels.push(l[1] as string);
  }
  for (const f of out.values()) f.labels.sort();
  return out;
}

const links: LinkView[] = [
  { direction: 'out', route: 'socks5', state: 'ready', queuedStanzas: 2, queuedBytes: 300 },
  { direction: 'out', route: 'darknet_map', state: 'connecting', queuedStanzas: 1, queuedBytes: 120 },
  { direction: 'in', route: 'pending', state: 'pending', queuedStanzas: 0, queuedBytes: 0 },
];

let metrics: Metrics | undefined;
afterEach(() => metrics?.stop());

/** A registry with every counter and histogram moved once, over sources with sessions and links. */
function busyMetrics(): Metrics {
  const m = new Metrics({ sessionsByHost: () => [['example.org', 3]], c2sConnections: () => 4, s2sLinks: () => links, storageBackend: 'memory' });
  m.tally.stanza('in', 'c2s', 'message');
  m.tally.authFailure('PLAIN', 'not-authorized');
  m.tally.s2sConnect('socks5', 'tunnel', 0.3);
  m.tally.s2sConnectFailed('socks5');
  m.storeTimer('keyval', 0.002);
  return m;
}

describe('docs/metrics.md', () => {
  it('documents every metric of the exposition with its type and labels, and nothing else', async () => {
    metrics = busyMetrics();
    const text = await metrics.exposition();
    const docs = await documented();
    const expo = exposed(text);
    expect(expo.size).toBeGreaterThanOrEqual(14);
    expect([...expo.keys()].filter((n) => !docs.has(n))).toEqual([]);
    expect([...docs.keys()].filter((n) => !expo.has(n))).toEqual([]);
    for (const [name, d] of docs) expect(expo.get(name), name).toEqual(d);
  });

  it('is OpenMetrics: the content type, _total counters and the # EOF line', async () => {
    metrics = busyMetrics();
    const text = await metrics.exposition();
    expect(metrics.contentType).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    expect(text).toContain('clove_stanzas_total{direction="in",link="c2s",kind="message"} 1');
    expect(text).toContain('clove_c2s_sessions{host="example.org"} 3');
    expect(text).toContain('clove_s2s_queue_bytes{route="socks5"} 300');
    expect(text).toContain('clove_s2s_links{direction="in",route="pending",state="pending"} 1');
    expect(text.trimEnd().endsWith('# EOF')).toBe(true);
  });
});
