// A token bucket per occupant: muc_event_rate stanzas a second with bursts of
// muc_event_rate × muc_burst_factor, so one occupant flooding a room is refused with a stanza
// error while everyone else carries on (as the community mod_muc_limits does for Prosody).

/** Refills `rate` tokens a second up to `burst`; O(1) memory. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly rate: number, private readonly burst: number, private readonly now: () => number = () => performance.now()) {
    this.tokens = burst;
    this.last = now();
  }

  /** Take one token; false when the bucket is empty. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
