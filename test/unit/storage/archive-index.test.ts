// Archive ids (encrypted per-owner sequence numbers) and the index's memory per item.

import { describe, expect, it } from 'vitest';
import { IdCodec, newIdKey } from '../../../src/storage/archive/ids.js';
import { ArchiveIndex } from '../../../src/storage/archive/index.js';

describe('archive ids', () => {
  it('round-trip sequence numbers as 22 URL-safe characters', () => {
    const c = new IdCodec(newIdKey());
    for (const seq of [0, 1, 2, 1000, 2 ** 32 - 1, 2 ** 32, 2 ** 48 - 1]) {
      const id = c.encode(seq);
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(c.decode(id)).toBe(seq);
    }
  });

  it('do not show the count: consecutive ids share nothing visible, and keys differ per owner', () => {
    const a = new IdCodec(newIdKey());
    const b = new IdCodec(newIdKey());
    const ids = [0, 1, 2, 3].map((s) => a.encode(s));
    for (let i = 1; i < ids.length; i++) expect(ids[i]!.slice(0, 4)).not.toBe(ids[i - 1]!.slice(0, 4));
    expect(b.encode(0)).not.toBe(a.encode(0));
    expect(b.decode(a.encode(5))).toBeUndefined();
  });

  it('refuse forged, malformed and non-canonical ids', () => {
    const c = new IdCodec(newIdKey());
    for (const id of ['', 'abc', 'A'.repeat(22), '!'.repeat(22), 'A'.repeat(23), `${c.encode(1)}=`]) expect(c.decode(id)).toBeUndefined();
    // The last character carries 2 spare bits: another spelling of the same bytes is refused.
    const id = c.encode(7);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(id[21]!);
    const twin = id.slice(0, 21) + alphabet[last ^ 1];
    expect(Buffer.from(twin, 'base64url')).toEqual(Buffer.from(id, 'base64url'));
    expect(c.decode(twin)).toBeUndefined();
  });
});

describe('archive index', () => {
  it('holds an item in about 28 bytes (typed columns and a posting list), not an object each', () => {
    const ix = new ArchiveIndex();
    const n = 200_000;
    for (let i = 0; i < n; i++) ix.push(i, 1e12 + i, `c${i % 50}@x/r${i % 3}`, 300, i * 300);
    expect(ix.memoryBytes() / n).toBeLessThan(32);
    expect(ix.memoryBytes() / n).toBeGreaterThanOrEqual(28);
    expect(ix.positionOf(123_456)).toBe(123_456);
    expect(ix.withAt(7)).toBe('c7@x/r1');
    ix.dropOldest(n - 10);
    expect(ix.length).toBe(10);
    expect(ix.memoryBytes()).toBeLessThan(20_000);
  });
});
