import { describe, expect, it } from 'vitest';
import { randomId } from '../../src/random-id.js';

describe('randomId', () => {
  it('gives base64url text of the asked number of bytes', () => {
    for (const bytes of [1, 6, 9, 12, 18, 256]) {
      const id = randomId(bytes);
      expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(bytes);
    }
  });

  it('never hands out the same bytes twice, across many refills of its pool', () => {
    // 20,000 × 12 bytes: ~60 pools of 4 KiB. A reused or unrefilled pool would repeat ids.
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(randomId(12));
    expect(seen.size).toBe(20_000);
  });

  it('looks uniform: every base64url character shows up about as often', () => {
    const counts = new Map<string, number>();
    // 18 bytes = 24 characters, no partial last character.
    for (let i = 0; i < 5_000; i++) for (const ch of randomId(18)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(64);
    const expected = (5_000 * 24) / 64;
    for (const n of counts.values()) expect(Math.abs(n - expected)).toBeLessThan(expected * 0.2);
  });

  it('refuses sizes it cannot serve', () => {
    for (const bad of [0, -1, 1.5, 257, Number.NaN]) expect(() => randomId(bad)).toThrow(RangeError);
  });
});
