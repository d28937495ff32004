// session.data (src/core/session-data.ts) behaves as a Map and holds no table while empty, and
// the session table (src/core/sessions.ts) keeps an account's only session without a Map of one:
// both are per-session memory of every idle client.
import { describe, expect, it } from 'vitest';
import { SessionData } from '../../../src/core/session-data.js';
import { SessionTable } from '../../../src/core/sessions.js';
import type { C2SSession } from '../../../src/core/session.js';
import { Jid } from '../../../src/jid/jid.js';

/** The table a SessionData holds right now (undefined while it is empty). */
const tableOf = (d: SessionData): unknown => (d as unknown as { table: unknown }).table;

describe('SessionData', () => {
  it('works as a Map: set, get, has, delete, size, iteration, forEach', () => {
    const d = new SessionData<number>();
    expect(d.size).toBe(0);
    expect(d.get('a')).toBeUndefined();
    expect(d.has('a')).toBe(false);
    expect([...d]).toEqual([]);
    expect(d.set('a', 1).set('b', 2)).toBe(d);
    expect(d.get('a')).toBe(1);
    expect(d.has('b')).toBe(true);
    expect(d.size).toBe(2);
    expect([...d.entries()]).toEqual([['a', 1], ['b', 2]]);
    expect([...d.keys()]).toEqual(['a', 'b']);
    expect([...d.values()]).toEqual([1, 2]);
    const seen: [string, number][] = [];
    d.forEach((v, k, m) => {
      expect(m).toBe(d);
      seen.push([k, v]);
    });
    expect(seen).toEqual([['a', 1], ['b', 2]]);
    expect(d.delete('a')).toBe(true);
    expect(d.delete('a')).toBe(false);
    expect([...d]).toEqual([['b', 2]]);
    expect(Object.prototype.toString.call(d)).toBe('[object Map]');
  });

  it('holds no table while empty, and gives it up when the last entry goes', () => {
    const d = new SessionData();
    expect(tableOf(d)).toBeUndefined();
    d.set('x', true);
    expect(tableOf(d)).toBeInstanceOf(Map);
    d.delete('x');
    expect(tableOf(d)).toBeUndefined();
    d.set('y', 1);
    d.clear();
    expect(tableOf(d)).toBeUndefined();
    expect(d.size).toBe(0);
  });

  it('can be copied entry by entry into another session (as XEP-0198 resumption does)', () => {
    const old = new SessionData();
    old.set('k1', 1).set('k2', 2);
    const fresh = new SessionData();
    for (const [k, v] of old) fresh.set(k, v);
    expect([...fresh]).toEqual([['k1', 1], ['k2', 2]]);
  });
});

/** A bound session as the table sees it. */
const session = (local: string, resource: string): C2SSession => ({ jid: new Jid(local, 'example.org', resource) }) as C2SSession;

describe('SessionTable', () => {
  it('keeps one, two and again one session of an account, each found by its full JID', () => {
    const t = new SessionTable();
    const a = session('u', 'a');
    const b = session('u', 'b');
    expect(t.add(a)).toBeUndefined();
    expect(t.get('example.org', 'u', 'a')).toBe(a);
    expect(t.get('example.org', 'u', 'b')).toBeUndefined();
    expect(t.hasResource('example.org', 'u', 'a')).toBe(true);
    expect(t.ofUser('example.org', 'u')).toEqual([a]);
    expect(t.add(b)).toBeUndefined();
    expect(t.size).toBe(2);
    expect(t.ofUser('example.org', 'u')).toEqual([a, b]);
    expect(t.get('example.org', 'u', 'b')).toBe(b);
    expect(t.remove(a)).toBe(true);
    expect(t.remove(a)).toBe(false);
    expect(t.ofUser('example.org', 'u')).toEqual([b]);
    expect(t.get('example.org', 'u', 'b')).toBe(b);
    expect(t.all()).toEqual([b]);
    expect(t.remove(b)).toBe(true);
    expect(t.size).toBe(0);
    expect(t.ofUser('example.org', 'u')).toEqual([]);
  });

  it('displaces the session with the same full JID, alone or among others, and removes only the registered one', () => {
    const t = new SessionTable();
    const first = session('u', 'r');
    const second = session('u', 'r');
    t.add(first);
    expect(t.add(second)).toBe(first);
    expect(t.size).toBe(1);
    expect(t.remove(first)).toBe(false);
    expect(t.get('example.org', 'u', 'r')).toBe(second);
    const other = session('u', 'o');
    t.add(other);
    const third = session('u', 'r');
    expect(t.add(third)).toBe(second);
    expect(t.size).toBe(2);
    expect(t.all('example.org')).toEqual(expect.arrayContaining([third, other]));
    expect(t.all('elsewhere.org')).toEqual([]);
  });
});
