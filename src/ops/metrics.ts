// The operator's metrics, counted from the start in plain numbers: streams, the s2s manager and
// storage feed them through the narrow StreamTally and StoreTimer interfaces main hands them;
// the status page's history reads their totals. prom-client, which writes them as OpenMetrics on
// /metrics (./exposition.ts), loads only with the first scrape (issue 15: ~1.5 MiB a server that
// serves no /metrics does not need). Every metric is documented in docs/metrics.md (a unit test
// compares the two). Labels are small fixed sets: a local host name, a route, a kind, never a JID
// or a remote domain.
// References: OpenMetrics 1.0 (https://openmetrics.io), prom-client.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
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
export const CONNECT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Seconds buckets for store calls: a cached read to a slow fsync. */
export const STORAGE_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

const KIND_SLOT: Readonly<Record<StanzaKind, number>> = { message: 0, presence: 1, iq: 2 };
/** The label set of each slot of the stanza counts: direction × link × kind. */
export const STANZA_SLOTS = (['in', 'out'] as const).flatMap((direction) => (['c2s', 's2s'] as const).flatMap((link) => (['message', 'presence', 'iq'] as const).map((kind) => ({ direction, link, kind }))));
/** The slot of a stanza count in STANZA_SLOTS. */
function stanzaSlot(direction: 'in' | 'out', link: StreamLink, kind: StanzaKind): number {
  return (direction === 'in' ? 0 : 6) + (link === 'c2s' ? 0 : 3) + KIND_SLOT[kind];
}

/** Observations of one label set of a histogram: a count per bucket (the last is +Inf), not cumulative. */
export interface Observed<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** Counts of one label set of a counter. */
export interface Counted<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  n: number;
}

/** Totals the status page's history samples. */
export interface MetricTotals {
  stanzasIn: number;
  stanzasOut: number;
  authFailures: number;
  storageSeconds: number;
  storageCalls: number;
}

/** Add one observation to the label set `key` of a histogram. */
function observe<L extends string>(into: Map<string, Observed<L>>, key: string, labels: Record<L, string>, bounds: readonly number[], seconds: number): void {
  let o = into.get(key);
  if (!o) into.set(key, (o = { labels, buckets: new Float64Array(bounds.length + 1), sum: 0, count: 0 }));
  let i = 0;
  while (i < bounds.length && seconds > bounds[i]!) i++;
  o.buckets[i]! += 1;
  o.sum += seconds;
  o.count += 1;
}

/** Add one to the label set `key` of a counter. */
function count<L extends string>(into: Map<string, Counted<L>>, key: string, labels: Record<L, string>): void {
  const c = into.get(key);
  if (c) c.n += 1;
  else into.set(key, { labels, n: 1 });
}

/** The counts streams feed, the sources the gauges read, and the OpenMetrics text of both. */
export class Metrics {
  readonly started = Date.now();
  /** Stanzas in and out, by STANZA_SLOTS (counted per stanza, so a plain array). */
  readonly stanzaCounts = new Float64Array(STANZA_SLOTS.length);
  readonly authFailures = new Map<string, Counted<'mechanism' | 'condition'>>();
  readonly s2sConnect = new Map<string, Observed<'route' | 'phase'>>();
  readonly s2sConnectFailures = new Map<string, Counted<'route'>>();
  readonly storage = new Map<string, Observed<'shape' | 'backend'>>();
  /** Where streams, the s2s manager and the SASL code count (main passes it to them). */
  readonly tally: StreamTally;
  /** Where the storage backend reports each call (storage/timed.ts). */
  readonly storeTimer: StoreTimer;
  private readonly loop: IntervalHistogram;
  private window: LoopDelay = { p50: 0, p99: 0, max: 0 };
  private exposing: Promise<() => Promise<string>> | undefined;

  constructor(readonly sources: OpsSources) {
    this.tally = {
      stanza: (direction, link, kind) => { this.stanzaCounts[stanzaSlot(direction, link, kind)]! += 1; },
      authFailure: (mechanism, condition) => count(this.authFailures, `${mechanism} ${condition}`, { mechanism, condition }),
      s2sConnect: (route, phase, seconds) => observe(this.s2sConnect, `${route} ${phase}`, { route, phase }, CONNECT_BUCKETS, seconds),
      s2sConnectFailed: (route) => count(this.s2sConnectFailures, route, { route }),
    };
    this.storeTimer = (shape, seconds) => observe(this.storage, shape, { shape, backend: sources.storageBackend }, STORAGE_BUCKETS, seconds);
    this.loop = monitorEventLoopDelay({ resolution: 10 });
    this.loop.enable();
  }

  /** The event-loop delay of the last closed window. */
  get loopWindow(): LoopDelay {
    return this.window;
  }

  /** Close the event-loop window: its delays become the gauges' values, and a new one starts. */
  closeLoopWindow(): LoopDelay {
    const s = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
    this.window = { p50: s(this.loop.percentile(50)), p99: s(this.loop.percentile(99)), max: s(this.loop.max) };
    this.loop.reset();
    return this.window;
  }

  /** Totals since start, for the status page's history. */
  totals(): MetricTotals {
    let stanzasIn = 0, stanzasOut = 0, authFailures = 0, storageSeconds = 0, storageCalls = 0;
    STANZA_SLOTS.forEach((labels, i) => {
      if (labels.direction === 'in') stanzasIn += this.stanzaCounts[i]!;
      else stanzasOut += this.stanzaCounts[i]!;
    });
    for (const c of this.authFailures.values()) authFailures += c.n;
    for (const o of this.storage.values()) { storageSeconds += o.sum; storageCalls += o.count; }
    return { stanzasIn, stanzasOut, authFailures, storageSeconds, storageCalls };
  }

  /** The OpenMetrics text of every metric (prom-client loads with the first call). */
  async exposition(): Promise<string> {
    this.exposing ??= import('./exposition.js').then((m) => m.openMetrics(this));
    return (await this.exposing)();
  }

  /** OpenMetrics 1.0, as prom-client's Registry.OPENMETRICS_CONTENT_TYPE. */
  get contentType(): string {
    return OPENMETRICS_CONTENT_TYPE;
  }

  /** Stop the event-loop monitor. */
  stop(): void {
    this.loop.disable();
  }
}

/** The content type of the exposition. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
