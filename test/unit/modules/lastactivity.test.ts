// Last activity of accounts (XEP-0012) as Prosody's mod_lastactivity, XML in and XML out on one
// host with fake sessions: who may ask, what a logout records, and how writes are coalesced.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { x, type Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { MODULES } from '../../../src/modules/index.js';
import presence from '../../../src/modules/presence/presence.js';
import lastactivity from '../../../src/modules/lastactivity/lastactivity.js';
import { Logouts, cutUtf8, type LastLogout } from '../../../src/modules/lastactivity/logouts.js';
import type { KeyValStore } from '../../../src/storage/store.js';
import type { Subscription } from '../../../src/modules/presence/subscription.js';
import { hostWorld, type FakeSession, type HostWorld } from '../../helpers/host-world.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** A host with presence and lastactivity; `alice` exists, and `sub` is bob's subscription in alice's roster. */
async function world(sub?: Subscription): Promise<HostWorld> {
  const w = hostWorld();
  await w.host.load([presence, lastactivity], MODULES);
  await w.accounts.create('alice', 'pw');
  await w.accounts.create('bob', 'pw');
  if (sub) {
    const rosters = w.host.items('roster-store')[0]!;
    await rosters.modify('alice', 'bob@localhost', (r, tx) => { r.items['bob@localhost'] = { subscription: sub, groups: [] }; tx.bump(); });
  }
  return w;
}

/** `asker` asks `to` for its last activity; returns the reply. */
async function ask(w: HostWorld, asker: FakeSession, to: string): Promise<Element> {
  asker.got.length = 0;
  await w.router.fromClient(asker, x('iq', { type: 'get', id: 'l', to }, x('query', { xmlns: NS.LAST })));
  const reply = asker.got.find((s) => s.name === 'iq' && s.attrs.id === 'l');
  expect(reply).toBeDefined();
  return reply!;
}

const condition = (iq: Element): string | undefined => iq.getChild('error')?.elements().find((e) => e.xmlns === STANZAS)?.name;

/** alice's resource `res` goes offline with `<status>` text. */
async function logout(w: HostWorld, s: FakeSession, status?: string): Promise<void> {
  await w.router.fromClient(s, x('presence', { type: 'unavailable' }, status !== undefined ? x('status', null, status) : undefined));
}

afterEach(() => vi.useRealTimers());

describe('lastactivity', () => {
  it('tells a contact with a subscription the seconds since the last logout and its status', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const w = await world('from');
    const alice = w.bind('alice@localhost/pc');
    const bob = w.bind('bob@localhost/pc');
    // Nothing known yet: 0 seconds and no status, as Prosody.
    const none = await ask(w, bob, 'alice@localhost');
    expect(none.attrs.type).toBe('result');
    expect(none.getChild('query', NS.LAST)?.attrs.seconds).toBe('0');
    expect(none.getChild('query', NS.LAST)?.text()).toBe('');

    await logout(w, alice, 'Gone fishing');
    w.sessions.remove(alice);
    vi.setSystemTime(Date.now() + 42_000);
    const q = (await ask(w, bob, 'alice@localhost')).getChild('query', NS.LAST)!;
    expect(q.attrs.seconds).toBe('42');
    expect(q.text()).toBe('Gone fishing');

    // Online again: still the time since that logout, as Prosody answers (not XEP-0012's 0).
    const again = w.bind('alice@localhost/pc');
    await w.router.fromClient(again, x('presence'));
    vi.setSystemTime(Date.now() + 8_000);
    const online = (await ask(w, bob, 'alice@localhost')).getChild('query', NS.LAST)!;
    expect([online.attrs.seconds, online.text()]).toEqual(['50', 'Gone fishing']);
  });

  it('records only when the last available resource goes, and a disconnect without unavailable', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const w = await world('both');
    const phone = w.bind('alice@localhost/phone');
    const pc = w.bind('alice@localhost/pc');
    const bob = w.bind('bob@localhost/pc');
    await logout(w, phone, 'phone away');
    // The pc is still available: no logout yet.
    expect((await ask(w, bob, 'alice@localhost')).getChild('query', NS.LAST)?.text()).toBe('');
    vi.setSystemTime(Date.now() + 5_000);
    // The pc's stream breaks with an error: a logout with Prosody's "Disconnected:" status.
    w.sessions.remove(pc);
    await w.host.events.fire('session-closed', { session: pc, reason: 'connection-timeout' });
    vi.setSystemTime(Date.now() + 7_000);
    const q = (await ask(w, bob, 'alice@localhost')).getChild('query', NS.LAST)!;
    expect([q.attrs.seconds, q.text()]).toEqual(['7', 'Disconnected: connection-timeout']);
  });

  it('answers the account itself', async () => {
    const w = await world();
    const alice = w.bind('alice@localhost/pc');
    expect((await ask(w, alice, 'alice@localhost')).attrs.type).toBe('result');
  });

  it('refuses strangers and subscription "to" alike with forbidden, for an account that exists or not', async () => {
    for (const sub of [undefined, 'none', 'to'] as const) {
      const w = await world(sub);
      const alice = w.bind('alice@localhost/pc');
      await logout(w, alice, 'secret plans');
      const bob = w.bind('bob@localhost/pc');
      const existing = await ask(w, bob, 'alice@localhost');
      const missing = await ask(w, bob, 'nobody@localhost');
      expect([existing.attrs.type, condition(existing)]).toEqual(['error', 'forbidden']);
      expect(missing.toString().replace('nobody@', 'alice@')).toBe(existing.toString());
      expect(existing.toString()).not.toContain('secret');
    }
  });

  it('advertises jabber:iq:last on the host and on the account', async () => {
    const w = await world();
    expect(w.host.items('feature')).toContain(NS.LAST);
    expect(w.host.items('account-feature')).toContain(NS.LAST);
  });
});

/** A keyval store in memory that counts its writes. */
function countingStore(): KeyValStore<LastLogout> & { writes: number; data: Map<string, LastLogout> } {
  const data = new Map<string, LastLogout>();
  return {
    writes: 0,
    data,
    async get(user) { return data.get(user); },
    async set(user, v) { this.writes++; if (v === undefined) data.delete(user); else data.set(user, v); },
    async users() { return [...data.keys()]; },
  };
}

describe('Logouts (coalesced writes)', () => {
  it('writes a user who toggles presence once per interval, with the latest logout', async () => {
    vi.useFakeTimers();
    const store = countingStore();
    const l = new Logouts(store, (err) => { throw err; }, 1000);
    for (let i = 0; i < 500; i++) l.record('alice', { t: i, status: `s${i}` });
    expect(store.writes).toBe(0);
    expect(await l.get('alice')).toEqual({ t: 499, status: 's499' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.writes).toBe(1);
    expect(store.data.get('alice')).toEqual({ t: 499, status: 's499' });
  });

  it('writes at once when the waiting logouts reach their byte bound', async () => {
    vi.useFakeTimers();
    const store = countingStore();
    const l = new Logouts(store, (err) => { throw err; }, 60_000, 4096);
    for (let i = 0; i < 100; i++) l.record(`user${i}`, { t: i, status: 'x'.repeat(100) });
    await vi.advanceTimersByTimeAsync(0);
    expect(store.writes).toBeGreaterThan(0);
    await l.flush();
    expect(store.data.size).toBe(100);
  });

  it('keeps at most 1 KiB of status, whole characters', () => {
    expect(Buffer.byteLength(cutUtf8('é'.repeat(1000), 1024))).toBe(1024);
    expect(cutUtf8('aé', 2)).toBe('a');
  });

  it('forgets a deleted account, also a logout still waiting', async () => {
    const store = countingStore();
    const l = new Logouts(store, (err) => { throw err; }, 60_000);
    l.record('alice', { t: 1, status: '' });
    await l.flush();
    l.record('alice', { t: 2, status: '' });
    await l.forget('alice');
    await l.flush();
    expect(await l.get('alice')).toBeUndefined();
  });
});
