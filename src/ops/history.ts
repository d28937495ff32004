// The last hour at a glance: one sample of the metrics every 10 s, kept in a fixed ring of 360
// (about 110 KiB of heap whatever the load), for the status page's charts. Rates (stanzas per second,
// failures, storage latency) are over the sample's window, from the counters' deltas.
import type { Metrics } from './metrics.js';

/** Milliseconds between samples. */
export const SAMPLE_INTERVAL_MS = 10_000;
/** Samples kept: one hour at SAMPLE_INTERVAL_MS. */
export const SAMPLES_KEPT = 360;

/** The server at one moment, and its rates over the window that ended then. */
export interface Sample {
  /** Milliseconds since the epoch. */
  at: number;
  uptimeSeconds: number;
  sessions: number;
  connections: number;
  linksOut: number;
  linksIn: number;
  queuedStanzas: number;
  queuedBytes: number;
  stanzasInPerSecond: number;
  stanzasOutPerSecond: number;
  /** Failed logins in the window (for current(): since the last sample). */
  authFailures: number;
  rssBytes: number;
  heapUsedBytes: number;
  loopDelayP99Ms: number;
  /** Mean store call latency in the window (0 without calls). */
  storageMeanMs: number;
  storageCalls: number;
}

/** Counter totals a sample's rates are computed against. */
interface Totals { at: number; stanzasIn: number; stanzasOut: number; authFailures: number; storageSeconds: number; storageCalls: number }

/** Fixed-size ring, oldest overwritten first. */
export class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  constructor(readonly capacity: number) {}

  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    return this.items.length < this.capacity ? [...this.items] : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

/** Samples the metrics on a timer and keeps the last hour. */
export class History {
  private readonly ring = new Ring<Sample>(SAMPLES_KEPT);
  private timer: NodeJS.Timeout | undefined;
  private last: Totals | undefined;
  /** The totals at the sample before `last`: current() rates span a whole window at least. */
  private before: Totals | undefined;
  private lastLoopMs = 0;

  constructor(private readonly metrics: Metrics, private readonly intervalMs = SAMPLE_INTERVAL_MS) {}

  /** Take a first baseline now and a sample every interval. */
  start(): void {
    if (this.timer) return;
    void this.totals().then((t) => { this.last ??= t; }, () => undefined);
    // A sample that fails (it should not) leaves a gap in the charts, never an unhandled rejection.
    this.timer = setInterval(() => void this.record().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The samples kept, oldest first. */
  samples(): Sample[] {
    return this.ring.toArray();
  }

  /**
   * The server now (the window stays open): failed logins since the last sample (what the
   * samples do not hold yet), rates since the sample before it (10 to 20 s, never a window of
   * a few milliseconds just after a sample).
   */
  current(): Promise<Sample> {
    return this.sample(false);
  }

  /** Take a sample now and keep it (the timer's work), closing the window. */
  async record(): Promise<Sample> {
    const s = await this.sample(true);
    this.ring.push(s);
    return s;
  }

  private async sample(closeWindow: boolean): Promise<Sample> {
    const now = await this.totals();
    const last = this.last ?? now;
    const prev = closeWindow ? last : this.before ?? last;
    if (closeWindow) {
      this.lastLoopMs = this.metrics.closeLoopWindow().p99 * 1000;
      this.before = this.last;
      this.last = now;
    }
    const seconds = Math.max(0.001, (now.at - prev.at) / 1000);
    const m = this.metrics;
    const src = m.sources;
    let sessions = 0;
    for (const [, n] of src.sessionsByHost()) sessions += n;
    let linksOut = 0, linksIn = 0, queuedStanzas = 0, queuedBytes = 0;
    for (const l of src.s2sLinks()) {
      if (l.direction === 'in') linksIn++;
      else linksOut++;
      queuedStanzas += l.queuedStanzas;
      queuedBytes += l.queuedBytes;
    }
    const mem = process.memoryUsage();
    const calls = now.storageCalls - prev.storageCalls;
    return {
      at: now.at,
      uptimeSeconds: Math.floor((now.at - m.started) / 1000),
      sessions,
      connections: src.c2sConnections(),
      linksOut, linksIn, queuedStanzas, queuedBytes,
      stanzasInPerSecond: (now.stanzasIn - prev.stanzasIn) / seconds,
      stanzasOutPerSecond: (now.stanzasOut - prev.stanzasOut) / seconds,
      authFailures: now.authFailures - last.authFailures,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      loopDelayP99Ms: this.lastLoopMs,
      storageMeanMs: calls > 0 ? ((now.storageSeconds - prev.storageSeconds) / calls) * 1000 : 0,
      storageCalls: calls,
    };
  }

  private async totals(): Promise<Totals> {
    return { at: Date.now(), ...this.metrics.totals() };
  }
}
