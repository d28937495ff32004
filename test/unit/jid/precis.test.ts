import { describe, expect, it } from 'vitest';
import { LruCache, precisDomain, precisLocal, precisResource } from '../../../src/jid/precis.js';

describe('LruCache', () => {
  it('keeps recently used entries and bounds its size', () => {
    const c = new LruCache<number>(2);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3); // {a, b} become the old generation
    expect(c.get('a')).toBe(1); // a moves back to the young generation
    c.set('d', 4); // young {c, a} is full: {a, c} become old, b is dropped
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.get('d')).toBe(4);
    for (let i = 0; i < 100; i++) c.set(`k${i}`, i);
    expect(c.size).toBeLessThanOrEqual(4);
  });
});

describe('precis profiles are idempotent', () => {
  const locals = ['Alice', '\uFF21\uFF42', 'cafe\u0301', 'ΣΑΣ', 'İstanbul', 'ß'];
  it.each(locals)('localpart %s', (s) => {
    const once = precisLocal(s);
    expect(precisLocal(once)).toBe(once);
  });
  const resources = ['Home Laptop', 'a\u00A0b', 'e\u0301', '👩‍💻 work'];
  it.each(resources)('resource %s', (s) => {
    const once = precisResource(s);
    expect(precisResource(once)).toBe(once);
  });
  const domains = ['Example.COM.', 'Bücher.example', '\uFF45\uFF58\u3002com', '[::FFFF:1.2.3.4]'];
  it.each(domains)('domain %s', (s) => {
    const once = precisDomain(s);
    expect(precisDomain(once)).toBe(once);
  });
});
