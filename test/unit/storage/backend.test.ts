// The store contract, run against both backends.

import { beforeEach, describe, expect, it } from 'vitest';
import { eachBackend } from './backends.js';
import { StorageClosedError, type StorageBackend } from '../../../src/storage/store.js';

const backends = eachBackend('clove-store-');

describe.each(backends)('%s backend', (_name, make) => {
  let b: StorageBackend;
  beforeEach(async () => {
    b = await make();
  });

  describe('keyval', () => {
    it('returns undefined for missing users and [] for an empty store', async () => {
      const kv = b.keyval<{ n: number }>('localhost', 'accounts');
      expect(await kv.get('nobody')).toBeUndefined();
      expect(await kv.users()).toEqual([]);
    });

    it('stores, replaces and deletes values', async () => {
      const kv = b.keyval<{ n: number; s?: string }>('localhost', 'accounts');
      await kv.set('alice', { n: 1, s: 'é☃' });
      expect(await kv.get('alice')).toEqual({ n: 1, s: 'é☃' });
      await kv.set('alice', { n: 2 });
      expect(await kv.get('alice')).toEqual({ n: 2 });
      await kv.set('bob', { n: 3 });
      expect(await kv.users()).toEqual(['alice', 'bob']);
      await kv.set('alice', undefined);
      expect(await kv.get('alice')).toBeUndefined();
      expect(await kv.users()).toEqual(['bob']);
      await kv.set('alice', undefined); // deleting twice is fine
    });

    it('keeps hosts and stores apart', async () => {
      await b.keyval('a.example', 'vcard').set('u', 1);
      await b.keyval('b.example', 'vcard').set('u', 2);
      await b.keyval('a.example', 'private').set('u', 3);
      expect(await b.keyval('a.example', 'vcard').get('u')).toBe(1);
      expect(await b.keyval('b.example', 'vcard').get('u')).toBe(2);
      expect(await b.keyval('a.example', 'private').get('u')).toBe(3);
    });

    it('copies values in and out', async () => {
      const kv = b.keyval<{ list: number[] }>('localhost', 'copies');
      const v = { list: [1] };
      const p = kv.set('u', v);
      v.list.push(2);
      await p;
      const got = (await kv.get('u'))!;
      got.list.push(3);
      expect(await kv.get('u')).toEqual({ list: [1] });
    });

    it('handles names that need encoding', async () => {
      const kv = b.keyval<string>('localhost', 'names');
      const names = ['a.b', 'a%2eb', 'ünïcode', 'x/../y', 'UPPER', '%', 'a b'];
      for (const n of names) await kv.set(n, n);
      for (const n of names) expect(await kv.get(n)).toBe(n);
      expect(await kv.users()).toEqual([...names].sort());
    });

    it('ends 100 concurrent set() calls on one key with the last value', async () => {
      const kv = b.keyval<number>('localhost', 'race');
      const settled = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => kv.set('u', i)));
      expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
      expect(await kv.get('u')).toBe(99);
    });

    it('reads the latest queued value while writes are pending', async () => {
      const kv = b.keyval<number>('localhost', 'pending');
      const writes = [kv.set('u', 1), kv.set('u', 2), kv.set('u', 3)];
      expect(await kv.get('u')).toBe(3);
      expect(await kv.users()).toEqual(['u']);
      const del = kv.set('u', undefined);
      expect(await kv.get('u')).toBeUndefined();
      expect(await kv.users()).toEqual([]);
      await Promise.all([...writes, del]);
      expect(await kv.get('u')).toBeUndefined();
    });

    it('rejects values that are not JSON and bad store names', async () => {
      const kv = b.keyval<unknown>('localhost', 'bad');
      await expect(kv.set('u', () => 1)).rejects.toThrow(TypeError);
      expect(() => b.keyval('localhost', '../etc')).toThrow(/invalid store name/);
      expect(() => b.keyval('localhost', 'Roster')).toThrow(/invalid store name/);
    });
  });

  describe('map', () => {
    it('stores keys per user and deletes the map when it empties', async () => {
      const m = b.map<{ name: string }>('localhost', 'roster');
      expect(await m.getAll('alice')).toEqual({});
      expect(await m.get('alice', 'bob@x')).toBeUndefined();
      await m.set('alice', 'bob@x', { name: 'Bob' });
      await m.set('alice', 'carol@x', { name: 'Carol' });
      expect(await m.get('alice', 'bob@x')).toEqual({ name: 'Bob' });
      expect(await m.getAll('alice')).toEqual({ 'bob@x': { name: 'Bob' }, 'carol@x': { name: 'Carol' } });
      await m.set('alice', 'bob@x', undefined);
      expect(await m.getAll('alice')).toEqual({ 'carol@x': { name: 'Carol' } });
      await m.set('alice', 'carol@x', undefined);
      expect(await m.getAll('alice')).toEqual({});
    });

    it('replaces and deletes whole maps', async () => {
      const m = b.map<number>('localhost', 'whole');
      await m.setAll('u', { a: 1, b: 2 });
      expect(await m.getAll('u')).toEqual({ a: 1, b: 2 });
      await m.setAll('u', { c: 3 });
      expect(await m.getAll('u')).toEqual({ c: 3 });
      await m.setAll('u', undefined);
      expect(await m.getAll('u')).toEqual({});
      await m.setAll('u', { d: 4 });
      await m.setAll('u', {});
      expect(await m.getAll('u')).toEqual({});
    });

    it('keeps keys in the order they were first set, an update keeping its place', async () => {
      const m = b.map<number>('localhost', 'ordered');
      for (const k of ['zulu', 'alpha', 'mike']) await m.set('u', k, 1);
      await m.set('u', 'zulu', 2); // updated in place
      await m.set('u', 'alpha', undefined);
      await m.set('u', 'alpha', 3); // deleted, then set again: now last
      await m.set('u', 'bravo', 4);
      expect(Object.entries(await m.getAll('u'))).toEqual([['zulu', 2], ['mike', 1], ['alpha', 3], ['bravo', 4]]);
    });

    it('loses no key when 100 keys are set concurrently', async () => {
      const m = b.map<number>('localhost', 'concurrent');
      await Promise.all(Array.from({ length: 100 }, (_, i) => m.set('u', `k${i}`, i)));
      const all = await m.getAll('u');
      expect(Object.keys(all)).toHaveLength(100);
      expect(all.k42).toBe(42);
    });

    it('treats __proto__ and inherited names as ordinary keys', async () => {
      const m = b.map<number>('localhost', 'proto');
      expect(await m.get('u', 'toString')).toBeUndefined();
      await m.set('u', '__proto__', 1);
      expect(await m.get('u', '__proto__')).toBe(1);
      expect(Object.keys(await m.getAll('u'))).toEqual(['__proto__']);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  it('refuses writes after close()', async () => {
    const kv = b.keyval<number>('localhost', 'closing');
    const pending = kv.set('u', 1);
    await b.close();
    await pending;
    expect(await kv.get('u')).toBe(1);
    await expect(kv.set('u', 2)).rejects.toBeInstanceOf(StorageClosedError);
  });
});
