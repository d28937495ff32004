// The `limits` option (Prosody's mod_limits syntax) and the token bucket behind it.
import { describe, expect, it, vi, afterEach } from 'vitest';
import { DEFAULT_RATE_LIMITS, TokenBucket, parseBurst, parseRate, rateLimits } from '../../../src/net/rate-limit.js';
import { parseConfig } from '../../../src/config/config.js';

afterEach(() => { vi.useRealTimers(); });

describe('limits syntax', () => {
  it('parses rates as Prosody does (decimal units, b/kb/mb per second)', () => {
    expect(parseRate('10kb/s')).toBe(10_000);
    expect(parseRate('500 b/s')).toBe(500);
    expect(parseRate('1mb/s')).toBe(1_000_000);
    expect(parseRate('3KB/s')).toBe(3000);
    expect(parseRate('10kb')).toBeUndefined();
    expect(parseRate('fast')).toBeUndefined();
    expect(parseRate(10)).toBeUndefined();
  });

  it('parses burst as seconds', () => {
    expect(parseBurst('2s')).toBe(2);
    expect(parseBurst('5 s')).toBe(5);
    expect(parseBurst(3)).toBe(3);
    expect(parseBurst('0s')).toBeUndefined();
    expect(parseBurst('2m')).toBeUndefined();
  });
});

describe('rateLimits(config)', () => {
  const load = (text: string) => parseConfig(text, '/etc/clove/clove.cfg.lua');

  it('gives the defaults when limits is unset', () => {
    expect(rateLimits(load(''))).toEqual(DEFAULT_RATE_LIMITS);
  });

  it('limits only the types in a set table, burst 2 s by default', () => {
    expect(rateLimits(load('limits = { c2s = { rate = "10kb/s" }; s2sin = { rate = "30kb/s"; burst = "5s" } }'))).toEqual({
      c2s: { bytesPerSecond: 10_000, burstSeconds: 2 },
      s2sin: { bytesPerSecond: 30_000, burstSeconds: 5 },
      s2sout: undefined,
    });
  });

  it('lifts every limit with an empty table', () => {
    expect(rateLimits(load('limits = { }'))).toEqual({ c2s: undefined, s2sin: undefined, s2sout: undefined });
  });

  it('names file, line and option for a bad value', () => {
    expect(() => rateLimits(load('\nlimits = { c2s = { rate = "fast" } }'))).toThrow(/^\/etc\/clove\/clove\.cfg\.lua:2: limits\.c2s\.rate must be a rate such as "10kb\/s".*\(option 'limits'\)$/);
    expect(() => rateLimits(load('limits = { c2 = { rate = "1kb/s" } }'))).toThrow(/clove\.cfg\.lua:1: limits: unknown connection type 'c2'/);
    expect(() => rateLimits(load('limits = { c2s = { rate = "1kb/s"; burst = "soon" } }'))).toThrow(/limits\.c2s\.burst must be a number of seconds/);
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then asks to wait for the debt at the rate', () => {
    vi.useFakeTimers({ now: 0 });
    const b = new TokenBucket({ bytesPerSecond: 1000, burstSeconds: 2 });
    expect(b.take(2000)).toBe(0);
    expect(b.take(500)).toBe(500);
    vi.advanceTimersByTime(500);
    expect(b.take(0)).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(b.take(2000)).toBe(0); // refilled to the burst, not beyond
    expect(b.take(1)).toBe(1);
  });
});
