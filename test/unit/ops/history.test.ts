// The last hour's ring and the rates a sample computes from the counters.
import { afterEach, describe, expect, it } from 'vitest';
import { History, Ring, SAMPLES_KEPT } from '../../../src/ops/history.js';
import { Metrics, type LinkView } from '../../../src/ops/metrics.js';

let metrics: Metrics | undefined;
afterEach(() => metrics?.stop());

describe('Ring', () => {
  it('keeps the last `capacity` items, oldest first', () => {
    const r = new Ring<number>(3);
    for (let i = 1; i <= 7; i++) r.push(i);
    expect(r.toArray()).toEqual([5, 6, 7]);
  });
});

describe('History', () => {
  it('samples gauges and counter rates, and never keeps more than an hour', async () => {
    let sessions = 2;
    const links: LinkView[] = [{ direction: 'out', route: 'socks5', state: 'ready', queuedStanzas: 3, queuedBytes: 500 }, { direction: 'in', route: 'socks5', state: 'ready', queuedStanzas: 0, queuedBytes: 0 }];
    metrics = new Metrics({ sessionsByHost: () => [['a.example', sessions], ['b.example', 1]], c2sConnections: () => 5, s2sLinks: () => links, storageBackend: 'memory' });
    const history = new History(metrics);
    await history.record(); // the baseline
    for (let i = 0; i < 20; i++) metrics.tally.stanza('in', 'c2s', 'message');
    metrics.tally.stanza('out', 's2s', 'iq');
    metrics.tally.authFailure('PLAIN', 'not-authorized');
    metrics.storeTimer('map', 0.004);
    metrics.storeTimer('map', 0.002);
    sessions = 4;
    const s = await history.record();
    expect(s).toMatchObject({ sessions: 5, connections: 5, linksOut: 1, linksIn: 1, queuedStanzas: 3, queuedBytes: 500, authFailures: 1, storageCalls: 2 });
    expect(s.storageMeanMs).toBeCloseTo(3, 5);
    expect(s.stanzasInPerSecond).toBeGreaterThan(s.stanzasOutPerSecond);
    expect(s.rssBytes).toBeGreaterThan(1024 * 1024);
    // current() reads without closing the window: the next record still sees these counts.
    metrics.tally.authFailure('PLAIN', 'not-authorized');
    expect((await history.current()).authFailures).toBe(1);
    expect((await history.record()).authFailures).toBe(1);
    for (let i = 0; i < SAMPLES_KEPT + 5; i++) await history.record();
    expect(history.samples()).toHaveLength(SAMPLES_KEPT);
  });
});
