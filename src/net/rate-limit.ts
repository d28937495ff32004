// Prosody's `limits` option (mod_limits): a byte rate with a burst, per connection type, enforced
// by pausing reads from a connection that goes over it (a token bucket per connection).
//   limits = { c2s = { rate = "10kb/s"; burst = "2s" }; s2sin = { rate = "30kb/s" } }
// As in Prosody, units are decimal (k = 1000), a type missing from a configured table is not
// limited, and burst defaults to 2 seconds. Unlike Prosody, a bad value stops the start with one
// line naming file:line instead of falling back to a default rate.
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/errors.js';

export type ConnectionType = 'c2s' | 's2sin' | 's2sout';
export const CONNECTION_TYPES: readonly ConnectionType[] = ['c2s', 's2sin', 's2sout'];

export interface RateLimit {
  readonly bytesPerSecond: number;
  readonly burstSeconds: number;
}

/**
 * Clove's limits when `limits` is not set. Well above an I2P tunnel's throughput (tens of kB/s),
 * so only a peer pushing from the local machine or a fast link ever waits.
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<ConnectionType, RateLimit>> = {
  c2s: { bytesPerSecond: 100_000, burstSeconds: 2 },
  s2sin: { bytesPerSecond: 300_000, burstSeconds: 2 },
  s2sout: { bytesPerSecond: 300_000, burstSeconds: 2 },
};

const UNITS: Record<string, number> = { b: 1, k: 1e3, m: 1e6, g: 1e9 };

/** "10kb/s", "500 b/s", "1mb/s" → bytes per second; undefined when not in that form. */
export function parseRate(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?) ?([bkmg])[a-z]*\/s$/i.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * (UNITS[(m[2] as string).toLowerCase()] as number);
  return n >= 1 ? n : undefined;
}

/** "2s", "2 s" or a number of seconds → seconds; undefined otherwise. */
export function parseBurst(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(/^(\d+(?:\.\d+)?) ?s$/.exec(v.trim())?.[1] ?? NaN) : NaN;
  return Number.isFinite(n) && n > 0 && n <= 3600 ? n : undefined;
}

/** The rate limit of each connection type from the config (undefined: not limited). */
export function rateLimits(config: Config): Record<ConnectionType, RateLimit | undefined> {
  const found = config.lookup('limits');
  if (!found || found.value === undefined) return { ...DEFAULT_RATE_LIMITS };
  const fail = (what: string): never => { throw new ConfigError(found.file, found.line, what, 'limits'); };
  // An empty Lua table reads as an empty list: `limits = { }` lifts every limit.
  const table = Array.isArray(found.value) && found.value.length === 0 ? {} : found.value;
  if (typeof table !== 'object' || table === null || Array.isArray(table)) return fail("option 'limits' must be a table such as { c2s = { rate = \"10kb/s\"; burst = \"2s\" } }");
  const out: Record<ConnectionType, RateLimit | undefined> = { c2s: undefined, s2sin: undefined, s2sout: undefined };
  for (const [type, spec] of Object.entries(table as Record<string, unknown>)) {
    if (!(CONNECTION_TYPES as readonly string[]).includes(type)) fail(`limits: unknown connection type '${type}' (known: ${CONNECTION_TYPES.join(', ')})`);
    if (typeof spec !== 'object' || spec === null) fail(`limits.${type} must be a table { rate = "10kb/s"; burst = "2s" }`);
    const { rate, burst } = spec as { rate?: unknown; burst?: unknown };
    const bytesPerSecond = parseRate(rate);
    if (bytesPerSecond === undefined) fail(`limits.${type}.rate must be a rate such as "10kb/s" (units b, kb, mb), got ${JSON.stringify(rate)}`);
    const burstSeconds = burst === undefined ? 2 : parseBurst(burst);
    if (burstSeconds === undefined) fail(`limits.${type}.burst must be a number of seconds such as "2s", got ${JSON.stringify(burst)}`);
    out[type as ConnectionType] = { bytesPerSecond: bytesPerSecond as number, burstSeconds: burstSeconds as number };
  }
  return out;
}

/** A token bucket over bytes: `rate * burst` bytes may arrive at once, then `rate` per second. */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private readonly capacity: number;

  constructor(private readonly limit: RateLimit) {
    this.capacity = limit.bytesPerSecond * limit.burstSeconds;
    this.tokens = this.capacity;
  }

  /** Take `bytes`; returns the milliseconds to stop reading for the balance to be back at zero (0: go on). */
  take(bytes: number): number {
    const now = Date.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.limit.bytesPerSecond);
    this.last = now;
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.limit.bytesPerSecond) * 1000);
  }
}
