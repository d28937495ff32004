// Bounds on what outside input can make federation hold or do (issue 9): queued stanzas per
// link, per sender and in total, links in memory, and outbound connections that inbound
// dialback makes us open. Behind i2pd every peer is anonymous and can connect without limit,
// so each bound is global or per sender, never per address. docs/limits.md lists them.

/** Stanzas and bytes waiting for one (local, remote) link. */
export const LINK_QUEUE_STANZAS = 500;
export const LINK_QUEUE_BYTES = 2 * 1024 * 1024;
/** Stanzas and bytes one sender (a bare JID) may have waiting, over all links. */
export const SENDER_QUEUE_STANZAS = 100;
export const SENDER_QUEUE_BYTES = 1024 * 1024;
/** Bytes waiting in all s2s queues together. */
export const TOTAL_QUEUE_BYTES = 32 * 1024 * 1024;
/** Links (local domain → remote domain) kept in memory, and so queue records on disk. */
export const MAX_LINKS = 1000;
/** Longest remote domain we federate with: a DNS name (and an I2P hostname) has at most 253. */
export const MAX_REMOTE_DOMAIN_BYTES = 253;

/** Dialback requests on one inbound stream that may be pending or have failed. */
export const INBOUND_DIALBACK_ATTEMPTS = 5;
/** New outbound connections that inbound dialback may open: a burst, then one per interval. */
export const DIALBACK_DIAL_BURST = 5;
export const DIALBACK_DIAL_INTERVAL_MS = 10_000;

/** A token bucket: `burst` at once, then one token per `intervalMs`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly burst: number, private readonly intervalMs: number, private readonly now: () => number = Date.now) {
    this.tokens = burst;
    this.last = now();
  }

  /** Take a token; false when none is left. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (t - this.last) / this.intervalMs);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Counts of what one key (a link, a sender) has waiting. */
export interface Usage { stanzas: number; bytes: number }

/** Why a stanza of `bytes` may not join the queues, or undefined when it may. */
export function queueRefusal(link: Usage, sender: Usage, totalBytes: number, bytes: number): string | undefined {
  if (link.stanzas + 1 > LINK_QUEUE_STANZAS || link.bytes + bytes > LINK_QUEUE_BYTES) {
    return `too many stanzas are waiting for this server (at most ${LINK_QUEUE_STANZAS} or ${LINK_QUEUE_BYTES >> 10} KiB); try again later`;
  }
  if (sender.stanzas + 1 > SENDER_QUEUE_STANZAS || sender.bytes + bytes > SENDER_QUEUE_BYTES) {
    return `you have too many stanzas waiting for remote servers (at most ${SENDER_QUEUE_STANZAS} or ${SENDER_QUEUE_BYTES >> 10} KiB); try again later`;
  }
  if (totalBytes + bytes > TOTAL_QUEUE_BYTES) return 'the server has too much waiting for remote servers; try again later';
  return undefined;
}
