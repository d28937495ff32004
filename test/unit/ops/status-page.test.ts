// The status page's panel and charts, rendered on the server.
import { describe, expect, it } from 'vitest';
import { lineChart } from '../../../src/ops/chart.js';
import { renderPanel, bytes, duration } from '../../../src/ops/status-page.js';
import type { Sample } from '../../../src/ops/history.js';

const sample = (at: number, over: Partial<Sample> = {}): Sample => ({
  at, uptimeSeconds: 100, sessions: 2, connections: 3, linksOut: 1, linksIn: 1, queuedStanzas: 4, queuedBytes: 2048,
  stanzasInPerSecond: 1.5, stanzasOutPerSecond: 2, authFailures: 1, rssBytes: 50 * 1024 * 1024, heapUsedBytes: 9 * 1024 * 1024,
  loopDelayP99Ms: 12, storageMeanMs: 0.5, storageCalls: 10, ...over,
});

describe('lineChart', () => {
  it('spans the samples it has (at least a minute, at most an hour) and keeps every point inside the box', () => {
    const now = 10_000_000;
    const young = lineChart('t', [{ label: 'a', points: [[now - 30_000, 1], [now, 3]] }], now, String);
    expect(young).toContain('<span>−60 s</span>');
    const old = lineChart('t', [{ label: 'a', points: [[now - 7200_000, 9], [now - 1800_000, 1], [now, 3]] }], now, String);
    expect(old).toContain('<span>−60 min</span>');
    const pts = [...old.matchAll(/points="([^"]*)"/g)].flatMap((m) => (m[1] as string).split(' ').map((p) => p.split(',').map(Number)));
    expect(pts).toHaveLength(2); // the point older than an hour is left out
    for (const [x, y] of pts) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(300);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(70);
    }
  });

  it('escapes its title', () => {
    expect(lineChart('<b>&', [], 0, String)).toContain('&#60;b&#62;&#38;');
  });
});

describe('renderPanel', () => {
  it('shows the figures with raw values, hosts escaped, links by route only', () => {
    const now = 5_000_000;
    const html = renderPanel({
      now: sample(now),
      history: [sample(now - 20_000, { authFailures: 2 }), sample(now - 10_000, { authFailures: 3 })],
      sessionsByHost: [['<evil>.example', 2]],
      links: [{ direction: 'out', route: 'socks5', state: 'ready', queuedStanzas: 4, queuedBytes: 2048 }, { direction: 'in', route: 'darknet_map', state: 'ready', queuedStanzas: 0, queuedBytes: 0 }],
    });
    expect(html).toContain('id="sessions" data-value="2"');
    expect(html).toContain('id="auth-failures" data-value="6"'); // the hour's samples plus the open window
    expect(html).toContain('&#60;evil&#62;.example');
    expect(html).not.toContain('<evil>');
    expect(html).toMatch(/<td>outbound<\/td><td>socks5<\/td><td class="num">1<\/td><td class="num">4 \/ 2.0 KiB<\/td>/);
    expect(html).toContain('<td>inbound</td><td>darknet_map</td>');
    expect((html.match(/<svg /g) ?? []).length).toBe(8);
  });

  it('formats bytes and durations for people', () => {
    expect(bytes(512)).toBe('512 B');
    expect(bytes(3 * 1024 * 1024)).toBe('3.0 MiB');
    expect(duration(42)).toBe('42 s');
    expect(duration(3 * 3600 + 120)).toBe('3 h 2 min');
    expect(duration(2 * 86400 + 3600)).toBe('2 d 1 h');
  });
});
