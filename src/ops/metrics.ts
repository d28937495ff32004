// The operator's metrics: one prom-client registry, exposed as OpenMetrics on /metrics and read
// by the status page. Counters are fed through the narrow StreamTally and StoreTimer interfaces
// main hands to streams, the s2s manager and storage; gauges read OpsSources when scraped.
// Every metric is documented in docs/metrics.md (a unit test compares the two). Labels are
// small fixed sets: a local host name, a route, a kind, never a JID or a remote domain.
// References: OpenMetrics 1.0 (https://openmetrics.io), prom-client.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, type OpenMetricsContentType } from 'prom-client';
import type { RouteLabel, StanzaKind, StreamLink, StreamTally } from '../stream/tally.js';
import type { StoreTimer } from '../storage/timed.js';

/** One s2s link as the metrics see it (outbound from the s2s manager, inbound from the listener). */
export interface LinkView {
  direction: 'in' | 'out';
  /** How the peer is reached; 'pending' for an inbound stream with no verified domain yet. */
  route: RouteLabel | 'pending';
  state: string;
  queuedStanzas: number;
  queuedBytes: number;
}

/** What the gauges read when scraped; main implements it over the running server. */
export interface OpsSources {
  /** Bound c2s sessions of each local host (VirtualHosts only). */
  sessionsByHost(): Iterable<readonly [host: string, sessions: number]>;
  /** Open client connections, authenticated or not. */
  c2sConnections(): number;
  /** Every s2s link, both directions. */
  s2sLinks(): Iterable<LinkView>;
  /** The storage backend's name (`storage`): the storage histogram's label. */
  readonly storageBackend: string;
}

/** Event-loop delay over the last sampling window, in seconds. */
export interface LoopDelay { p50: number; p99: number; max: number }

/** Seconds buckets for s2s connections: I2P first contact can take minutes. */
const CONNECT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Seconds buckets for store calls: a cached read to a slow fsync. */
const STORAGE_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

const KIND_SLOT: Readonly<Record<StanzaKind, number>> = { message: 0, presence: 1, iq: 2 };
/** The label set of each slot of the stanza counts: direction × link × kind. */
const STANZA_SLOTS = (['in', 'out'] as const).flatMap((direction) => (['c2s', 's2s'] as const).flatMap((link) => (['message', 'presence', 'iq'] as const).map((kind) => ({ direction, link, kind }))));
/** The slot of a stanza count in STANZA_SLOTS. */
function stanzaSlot(direction: 'in' | 'out', link: StreamLink, kind: StanzaKind): number {
  return (direction === 'in' ? 0 : 6) + (link === 'c2s' ? 0 : 3) + KIND_SLOT[kind];
}

/** The registry, the counters streams feed, and the gauges over `sources`. */
export class Metrics {
  readonly registry = new Registry<OpenMetricsContentType>();
  readonly started = Date.now();
  readonly stanzas: Counter<'direction' | 'link' | 'kind'>;
  readonly authFailures: Counter<'mechanism' | 'condition'>;
  readonly s2sConnect: Histogram<'route' | 'phase'>;
  readonly s2sConnectFailures: Counter<'route'>;
  readonly storage: Histogram<'shape' | 'backend'>;
  /** Where streams, the s2s manager and the SASL code count (main passes it to them). */
  readonly tally: StreamTally;
  /** Where the storage backend reports each call (storage/timed.ts). */
  readonly storeTimer: StoreTimer;
  private readonly loop: IntervalHistogram;
  private window: LoopDelay = { p50: 0, p99: 0, max: 0 };

  constructor(readonly sources: OpsSources) {
    this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const registers = [this.registry];
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
      g.set({ quantile: '0.5' }, this.window.p50);
      g.set({ quantile: '0.99' }, this.window.p99);
      g.set({ quantile: 'max' }, this.window.max);
    });
    gauge('clove_uptime_seconds', 'Seconds since the server started.', [], (g) => g.set((Date.now() - this.started) / 1000));
    // Counted per stanza in and out, so kept as plain numbers (a labelled inc hashes its labels
    // each time: ~15 % of a busy server's message rate) and handed to the counter when scraped.
    const stanzaCounts = new Float64Array(STANZA_SLOTS.length);
    this.stanzas = new Counter({
      name: 'clove_stanzas', help: 'Stanzas received (in) and sent (out) on client and server streams, by kind.', labelNames: ['direction', 'link', 'kind'], registers,
      collect() {
        this.reset();
        STANZA_SLOTS.forEach((labels, i) => { if (stanzaCounts[i]! > 0) this.inc(labels, stanzaCounts[i]!); });
      },
    });
    this.authFailures = new Counter({ name: 'clove_auth_failures', help: 'Failed logins by mechanism and SASL condition (never by user).', labelNames: ['mechanism', 'condition'], registers });
    this.s2sConnect = new Histogram({ name: 'clove_s2s_connect_seconds', help: 'Outbound s2s connection times by route: the tunnel (socket through the proxy) and the stream (up to dialback).', labelNames: ['route', 'phase'], buckets: CONNECT_BUCKETS, registers });
    this.s2sConnectFailures = new Counter({ name: 'clove_s2s_connect_failures', help: 'Failed outbound s2s connection attempts by route.', labelNames: ['route'], registers });
    this.storage = new Histogram({ name: 'clove_storage_seconds', help: 'Store call latency by store shape and backend.', labelNames: ['shape', 'backend'], buckets: STORAGE_BUCKETS, registers });
    this.tally = {
      stanza: (direction, link, kind) => { stanzaCounts[stanzaSlot(direction, link, kind)]! += 1; },
      authFailure: (mechanism, condition) => this.authFailures.inc({ mechanism, condition }),
      s2sConnect: (route, phase, seconds) => this.s2sConnect.observe({ route, phase }, seconds),
      s2sConnectFailed: (route) => this.s2sConnectFailures.inc({ route }),
    };
    this.storeTimer = (shape, seconds) => this.storage.observe({ shape, backend: sources.storageBackend }, seconds);
    this.loop = monitorEventLoopDelay({ resolution: 10 });
    this.loop.enable();
  }

  /** Close the event-loop window: its delays become the gauges' values, and a new one starts. */
  closeLoopWindow(): LoopDelay {
    const s = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
    this.window = { p50: s(this.loop.percentile(50)), p99: s(this.loop.percentile(99)), max: s(this.loop.max) };
    this.loop.reset();
    return this.window;
  }

  /** The OpenMetrics text of every metric. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stop the event-loop monitor. */
  stop(): void {
    this.loop.disable();
  }
}
