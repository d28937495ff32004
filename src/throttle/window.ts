// A sliding-window budget: at most `max` events per `periodMs`, counted over everything that
// shares the window (a host's registrations, a server's log lines). Behind i2pd every peer comes
// from loopback, so these budgets are never per address.

/** At most `max` events per `periodMs`; O(max) memory. */
export class SlidingWindow {
  private readonly stamps: number[] = [];
  constructor(
    private readonly max: number,
    private readonly periodMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A slot (release it if the event did not happen after all), or the whole seconds to wait for one. */
  take(): number | { release(): void } {
    const now = this.now();
    while (this.stamps.length && (this.stamps[0] as number) <= now - this.periodMs) this.stamps.shift();
    if (this.stamps.length >= this.max) return Math.max(1, Math.ceil(((this.stamps[0] as number) + this.periodMs - now) / 1000));
    this.stamps.push(now);
    return {
      release: () => {
        const i = this.stamps.indexOf(now);
        if (i >= 0) this.stamps.splice(i, 1);
      },
    };
  }
}
