import { describe, expect, it } from 'vitest';
import { LruCache, precisDomain, precisLocal, precisResource } from '../../../src/jid/precis.js';

describe('LruCache', () => {
  it('evicts the least recently used entry past its limit', () => {
    const c = new LruCache<number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.set('c', 3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
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
