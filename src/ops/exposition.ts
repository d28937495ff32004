// The metrics as OpenMetrics text, through prom-client: loaded with the first scrape of /metrics
// (src/ops/metrics.ts counts in plain numbers until then). Counters and histograms copy those
// numbers when scraped; gauges read the running server's sources.
// References: OpenMetrics 1.0 (https://openmetrics.io), prom-client.
import { Counter, Gauge, Histogram, Registry, type OpenMetricsContentType } from 'prom-client';
import { CONNECT_BUCKETS, STANZA_SLOTS, STORAGE_BUCKETS, type Counted, type Metrics, type Observed } from './metrics.js';

type Value = { value: number; labels: Record<string, string | number>; metricName: string };

/** A histogram whose observations were counted elsewhere (Metrics): it writes them as they are. */
class CountedHistogram<L extends string> extends Histogram<L> {
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly bounds: readonly number[];

  constructor(opts: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registers: Registry<OpenMetricsContentType>[] }, private readonly observed: ReadonlyMap<string, Observed<L>>) {
    super({ ...opts, buckets: [...opts.buckets] });
    this.metricName = opts.name;
    this.metricHelp = opts.help;
    this.bounds = opts.buckets;
  }

  /** Bucket, sum and count lines of each label set, as prom-client's own histogram writes them. */
  private rows(): { le: Record<string, string | number>; shared: Record<string, string>; value: number; metricName: string }[] {
    const out: { le: Record<string, string | number>; shared: Record<string, string>; value: number; metricName: string }[] = [];
    for (const o of this.observed.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => { acc += o.buckets[i]!; out.push({ le: { le }, shared: o.labels, value: acc, metricName: `${this.metricName}_bucket` }); });
      out.push({ le: { le: '+Inf' }, shared: o.labels, value: o.count, metricName: `${this.metricName}_bucket` });
      out.push({ le: {}, shared: o.labels, value: o.sum, metricName: `${this.metricName}_sum` });
      out.push({ le: {}, shared: o.labels, value: o.count, metricName: `${this.metricName}_count` });
    }
    return out;
  }

  /** What the registry writes as text (prom-client calls this before get() when it exists). */
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: { labels: Record<string, string | number>; sharedLabels: Record<string, string>; value: number; metricName: string }[] }> {
    return { name: this.metricName, help: this.metricHelp, type: 'histogram', aggregator: 'sum', values: this.rows().map((r) => ({ labels: r.le, sharedLabels: r.shared, value: r.value, metricName: r.metricName })) };
  }

  /** The same rows as JSON (prom-client's getMetricsAsJSON). */
  override async get(): ReturnType<Histogram<L>['get']> {
    const base = await super.get();
    // prom-client's type has no room for `le`, which its own histograms add to these rows too.
    return { ...base, values: this.rows().map((r): Value => ({ labels: { ...r.le, ...r.shared }, value: r.value, metricName: r.metricName })) as typeof base.values };
  }
}

/** Copy a counter's plain counts into it when scraped. */
function countedCounter<L extends string>(name: string, help: string, labelNames: readonly L[], registers: Registry<OpenMetricsContentType>[], counts: () => Iterable<Counted<L>>): void {
  new Counter<L>({
    name, help, labelNames, registers,
    collect() {
      this.reset();
      for (const c of counts()) if (c.n > 0) this.inc(c.labels, c.n);
    },
  });
}

/** Build the registry over `metrics` once; the function it returns writes the text of every metric. */
export function openMetrics(metrics: Metrics): () => Promise<string> {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const registers = [registry];
  const sources = metrics.sources;
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], collect: (g: Gauge<L>) => void): void => {
    new Gauge<L>({ name, help, labelNames, registers, collect() { this.reset(); collect(this); } });
  };
  gauge('clove_c2s_sessions', 'Bound client sessions by local host.', ['host'], (g) => {
    for (const [host, n] of sources.sessionsByHost()) g.set({ host }, n);
  });
  gauge('clove_c2s_connections', 'Open client connections, authenticated or not.', [], (g) => g.set(sources.c2sConnections()));
  gauge('clove_s2s_links', 'Server-to-server links by direction, route and state.', ['direction', 'route', 'state'], (g) => {
    for (const l of sources.s2sLinks()) g.inc({ direction: l.direction, route: l.route, state: l.state });
  });
  gauge('clove_s2s_queue_stanzas', 'Stanzas waiting in outbound s2s queues, by route.', ['route'], (g) => {
    for (const l of sources.s2sLinks()) if (l.direction === 'out') g.inc({ route: l.route }, l.queuedStanzas);
  });
  gauge('clove_s2s_queue_bytes', 'Bytes of the stanzas waiting in outbound s2s queues, by route.', ['route'], (g) => {
    for (const l of sources.s2sLinks()) if (l.direction === 'out') g.inc({ route: l.route }, l.queuedBytes);
  });
  gauge('clove_resident_memory_bytes', 'Resident set size of the process.', [], (g) => g.set(process.memoryUsage.rss()));
  gauge('clove_heap_bytes', 'V8 heap of the process: used and total.', ['kind'], (g) => {
    const m = process.memoryUsage();
    g.set({ kind: 'used' }, m.heapUsed);
    g.set({ kind: 'total' }, m.heapTotal);
  });
  gauge('clove_event_loop_delay_seconds', 'Event-loop delay over the last 10 s window: p50, p99 and max.', ['quantile'], (g) => {
    g.set({ quantile: '0.5' }, metrics.loopWindow.p50);
    g.set({ quantile: '0.99' }, metrics.loopWindow.p99);
    g.set({ quantile: 'max' }, metrics.loopWindow.max);
  });
  gauge('clove_uptime_seconds', 'Seconds since the server started.', [], (g) => g.set((Date.now() - metrics.started) / 1000));
  countedCounter('clove_stanzas', 'Stanzas received (in) and sent (out) on client and server streams, by kind.', ['direction', 'link', 'kind'], registers,
    () => STANZA_SLOTS.map((labels, i) => ({ labels, n: metrics.stanzaCounts[i]! })));
  countedCounter('clove_auth_failures', 'Failed logins by mechanism and SASL condition (never by user).', ['mechanism', 'condition'], registers, () => metrics.authFailures.values());
  new CountedHistogram({ name: 'clove_s2s_connect_seconds', help: 'Outbound s2s connection times by route: the tunnel (socket through the proxy) and the stream (up to dialback).', labelNames: ['route', 'phase'], buckets: CONNECT_BUCKETS, registers }, metrics.s2sConnect);
  countedCounter('clove_s2s_connect_failures', 'Failed outbound s2s connection attempts by route.', ['route'], registers, () => metrics.s2sConnectFailures.values());
  new CountedHistogram({ name: 'clove_storage_seconds', help: 'Store call latency by store shape and backend.', labelNames: ['shape', 'backend'], buckets: STORAGE_BUCKETS, registers }, metrics.storage);
  return () => registry.metrics();
}
