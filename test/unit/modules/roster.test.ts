// Roster management over a real stream, XML in and XML out. References: RFC 6121 §2, §2.6.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { serverSuite } from '../../helpers/server-suite.js';
import { testUsers } from '../../helpers/contacts.js';
import { type El, match, Wire } from '../../helpers/wire.js';
import { DEFAULT_ROSTER_LIMITS } from '../../../src/modules/roster/roster-store.js';

const ROSTER = 'jabber:iq:roster';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

const t = serverSuite('secret');

/** A fresh account (unique per test). */
const account = (prefix = 'user'): Promise<string> => t.account(prefix);

const login = (user: string, resource = 'r1'): Promise<Wire> => t.login(user, resource);

const rosterGet = (ver?: string): string => `<iq type='get'><query xmlns='${ROSTER}'${ver !== undefined ? ` ver='${ver}'` : ''}/></iq>`;
const rosterSet = (item: string): string => `<iq type='set'><query xmlns='${ROSTER}'>${item}</query></iq>`;
const isPush = match('iq', { type: 'set' }, (el) => el.getChild('query', ROSTER) !== undefined);
const items = (iq: El): El[] => iq.getChild('query', ROSTER)?.getChildren('item') ?? [];
const errorOf = (iq: El): string | undefined => iq.getChild('error')?.elements().find((e) => e.xmlns === STANZAS)?.name;

describe('roster get (RFC 6121 §2.2)', () => {
  it('returns an empty roster with a version', async () => {
    const c = await login(await account());
    const r = await c.iq(rosterGet());
    expect(r.attrs.type).toBe('result');
    const q = r.getChild('query', ROSTER)!;
    expect(q.attrs.ver).toBeDefined();
    expect(q.getChildren('item')).toHaveLength(0);
  });

  it('advertises roster versioning and pre-approval after authentication', async () => {
    const c = await login(await account());
    expect(c.features?.getChild('ver', 'urn:xmpp:features:rosterver')).toBeDefined();
    expect(c.features?.getChild('sub', 'urn:xmpp:features:pre-approval')).toBeDefined();
    // …and not before: the first features (pre-TLS) are about TLS and SASL only.
    const pre = await Wire.open({ port: t.srv.port });
    try {
      expect(pre.features?.getChild('ver', 'urn:xmpp:features:rosterver')).toBeUndefined();
    } finally {
      await pre.close();
    }
  });

  it('refuses a roster get for someone else', async () => {
    const other = await account();
    const c = await login(await account());
    const r = await c.iq(`<iq type='get' to='${other}@${t.srv.domain}'><query xmlns='${ROSTER}'/></iq>`);
    expect(r.attrs.type).toBe('error');
  });
});

describe('roster set (RFC 6121 §2.3, §2.4)', () => {
  it('adds an item, acknowledges, and pushes it to interested resources only', async () => {
    const u = await account();
    const a = await login(u, 'a');
    const b = await login(u, 'b');
    const idle = await login(u, 'idle'); // never fetches the roster: not interested
    await a.iq(rosterGet());
    await b.iq(rosterGet());
    const r = await a.iq(rosterSet(`<item jid='Nurse@Example.COM' name='Nurse'><group>Servants</group></item>`));
    expect(r.attrs.type).toBe('result');
    for (const c of [a, b]) {
      const push = await c.waitFor(isPush);
      expect(push.attrs.to).toBe(c.jid);
      const q = push.getChild('query', ROSTER)!;
      expect(q.attrs.ver).toBeDefined();
      const [item] = items(push);
      // The JID is prepared (nodeprep/case-folded), the subscription starts as none.
      expect(item!.attrs).toMatchObject({ jid: 'nurse@example.com', name: 'Nurse', subscription: 'none' });
      expect(item!.attrs.ask).toBeUndefined();
      expect(item!.getChildren('group').map((g) => g.text())).toEqual(['Servants']);
    }
    await idle.expectNothing(isPush, 150);
    const got = await a.iq(rosterGet());
    expect(items(got).map((i) => i.attrs.jid)).toEqual(['nurse@example.com']);
  });

  it('updates name and groups, keeping the subscription', async () => {
    const c = await login(await account());
    await c.iq(rosterGet());
    await c.iq(rosterSet(`<item jid='romeo@example.net' name='Romeo'><group>Friends</group></item>`));
    await c.waitFor(isPush);
    const r = await c.iq(rosterSet(`<item jid='romeo@example.net' name='R.'><group>Lovers</group><group>Verona</group></item>`));
    expect(r.attrs.type).toBe('result');
    const [item] = items(await c.waitFor(isPush));
    expect(item!.attrs).toMatchObject({ jid: 'romeo@example.net', name: 'R.', subscription: 'none' });
    expect(item!.getChildren('group').map((g) => g.text())).toEqual(['Lovers', 'Verona']);
    // Leaving out name and groups clears them.
    await c.iq(rosterSet(`<item jid='romeo@example.net'/>`));
    const [bare] = items(await c.waitFor(isPush));
    expect(bare!.attrs.name).toBeUndefined();
    expect(bare!.getChildren('group')).toHaveLength(0);
  });

  it('ignores subscription, ask and approved set by the client', async () => {
    const c = await login(await account());
    await c.iq(rosterGet());
    const r = await c.iq(rosterSet(`<item jid='juliet@example.com' subscription='both' ask='subscribe' approved='true'/>`));
    expect(r.attrs.type).toBe('result');
    const [item] = items(await c.waitFor(isPush));
    expect(item!.attrs.subscription).toBe('none');
    expect(item!.attrs.ask).toBeUndefined();
    expect(item!.attrs.approved).toBeUndefined();
  });

  it.each([
    ['more than one item', `<item jid='a@example.com'/><item jid='b@example.com'/>`, 'bad-request'],
    ['no item', ``, 'bad-request'],
    ['duplicate groups', `<item jid='a@example.com'><group>X</group><group>X</group></item>`, 'bad-request'],
    ['an empty group name', `<item jid='a@example.com'><group></group></item>`, 'not-acceptable'],
    ['a malformed JID', `<item jid='foo@bar@baz'/>`, 'jid-malformed'],
    ['a full JID', `<item jid='a@example.com/res'/>`, 'bad-request'],
    ['no JID', `<item name='x'/>`, 'bad-request'],
    ['a name that is too long', `<item jid='a@example.com' name='${'n'.repeat(1025)}'/>`, 'not-acceptable'],
    ['a group name that is too long', `<item jid='a@example.com'><group>${'g'.repeat(1025)}</group></item>`, 'not-acceptable'],
  ])('refuses %s', async (_what, payload, condition) => {
    const c = await login(await account());
    await c.iq(rosterGet());
    const r = await c.iq(rosterSet(payload));
    expect(r.attrs.type).toBe('error');
    expect(errorOf(r)).toBe(condition);
    await c.expectNothing(isPush, 100);
    expect(items(await c.iq(rosterGet()))).toHaveLength(0);
  });
});

describe('roster remove (RFC 6121 §2.5)', () => {
  it('removes an item and pushes subscription=remove', async () => {
    const c = await login(await account());
    await c.iq(rosterGet());
    await c.iq(rosterSet(`<item jid='nurse@example.com'/>`));
    const added = await c.waitFor(isPush);
    const r = await c.iq(rosterSet(`<item jid='nurse@example.com' subscription='remove'/>`));
    expect(r.attrs.type).toBe('result');
    const push = await c.waitFor(isPush);
    expect(items(push)[0]!.attrs).toMatchObject({ jid: 'nurse@example.com', subscription: 'remove' });
    expect(Number(push.getChild('query', ROSTER)!.attrs.ver)).toBeGreaterThan(Number(added.getChild('query', ROSTER)!.attrs.ver));
    expect(items(await c.iq(rosterGet()))).toHaveLength(0);
  });

  it('answers item-not-found for an item that is not there', async () => {
    const c = await login(await account());
    const r = await c.iq(rosterSet(`<item jid='nobody@example.com' subscription='remove'/>`));
    expect(errorOf(r)).toBe('item-not-found');
  });

  it('cancels subscriptions both ways (§2.5.2)', async () => {
    const [u1, u2] = [await account('juliet'), await account('romeo')];
    const j = await login(u1);
    const r = await login(u2);
    const jb = `${u1}@${t.srv.domain}`;
    const rb = `${u2}@${t.srv.domain}`;
    for (const c of [j, r]) {
      await c.iq(rosterGet());
      c.send(`<presence/>`);
    }
    // Mutual subscription.
    j.send(`<presence to='${rb}' type='subscribe'/>`);
    await r.waitFor(match('presence', { type: 'subscribe', from: jb }));
    r.send(`<presence to='${jb}' type='subscribed'/>`);
    r.send(`<presence to='${jb}' type='subscribe'/>`);
    await j.waitFor(match('presence', { type: 'subscribe', from: rb }));
    j.send(`<presence to='${rb}' type='subscribed'/>`);
    await r.waitFor(isPush, 2000);
    await waitForState(r, jb, 'both');
    j.clear();
    r.clear();

    const res = await j.iq(rosterSet(`<item jid='${rb}' subscription='remove'/>`));
    expect(res.attrs.type).toBe('result');
    expect(items(await j.waitFor(isPush))[0]!.attrs.subscription).toBe('remove');
    // The contact hears both cancellations and stops seeing Juliet.
    await r.waitFor(match('presence', { type: 'unsubscribe', from: jb }));
    await r.waitFor(match('presence', { type: 'unsubscribed', from: jb }));
    await r.waitFor(match('presence', { type: 'unavailable', from: j.jid }));
    await waitForState(r, jb, 'none');
  });
});

/** Wait until a roster push shows `jid` with `subscription` (earlier pushes are skipped). */
async function waitForState(c: Wire, jid: string, subscription: string): Promise<El> {
  return c.waitFor(match('iq', { type: 'set' }, (el) => items(el).some((i) => i.attrs.jid === jid && i.attrs.subscription === subscription)));
}

describe('roster versioning (RFC 6121 §2.6)', () => {
  it('answers an empty result when the client is up to date, the full roster otherwise', async () => {
    const u = await account();
    const c = await login(u);
    const first = await c.iq(rosterGet(''));
    const v0 = first.getChild('query', ROSTER)!.attrs.ver!;
    expect(await c.iq(rosterGet(v0))).toSatisfy((r: El) => r.attrs.type === 'result' && r.elements().length === 0);

    await c.iq(rosterSet(`<item jid='a@example.com'/>`));
    const v1 = (await c.waitFor(isPush)).getChild('query', ROSTER)!.attrs.ver!;
    await c.iq(rosterSet(`<item jid='b@example.com'/>`));
    const v2 = (await c.waitFor(isPush)).getChild('query', ROSTER)!.attrs.ver!;
    expect(Number(v1)).toBeGreaterThan(Number(v0));
    expect(Number(v2)).toBe(Number(v1) + 1);

    // Stale version: the whole roster with the current version.
    const full = await c.iq(rosterGet(v1));
    expect(full.getChild('query', ROSTER)!.attrs.ver).toBe(v2);
    expect(items(full).map((i) => i.attrs.jid).sort()).toEqual(['a@example.com', 'b@example.com']);
    // Up to date: empty, and nothing pushed.
    const same = await c.iq(rosterGet(v2));
    expect(same.elements()).toHaveLength(0);
    await c.expectNothing(isPush, 100);
  });

  it('a roster get makes the resource interested, even when answered empty', async () => {
    const u = await account();
    const a = await login(u, 'a');
    const v = (await a.iq(rosterGet(''))).getChild('query', ROSTER)!.attrs.ver!;
    const b = await login(u, 'b');
    expect((await b.iq(rosterGet(v))).elements()).toHaveLength(0);
    await a.iq(rosterSet(`<item jid='c@example.com'/>`));
    expect(items(await b.waitFor(isPush))[0]!.attrs.jid).toBe('c@example.com');
  });
});

describe('roster storage', () => {
  let server: TestServer | undefined;
  // Clients of `server`, a second one started (twice) by the test itself.
  const other = testUsers(() => server!, 'secret');
  afterEach(other.closeAll);

  it('keeps rosters across a restart (file storage)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clove-roster-'));
    try {
      server = await startTestServer({ storage: 'file', dir });
      await server.addUser('keeper', 'secret');
      const c = await other.login('keeper', 'r1');
      const r = await c.iq(rosterSet(`<item jid='kept@example.com' name='Kept'><group>G</group></item>`));
      expect(r.attrs.type).toBe('result');
      await c.close();
      await server.stop();
      server = await startTestServer({ storage: 'file', dir });
      const d = await other.login('keeper', 'r1');
      const [item] = items(await d.iq(rosterGet()));
      expect(item!.attrs).toMatchObject({ jid: 'kept@example.com', name: 'Kept', subscription: 'none' });
      expect(item!.getChildText('group')).toBe('G');
      await d.close();
    } finally {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('caches the roster of online users only', async () => {
    const u = await account();
    const rosters = t.srv.server.hosts.get(t.srv.domain)!.items('roster-store')[0]!;
    const a = await login(u, 'a');
    const b = await login(u, 'b');
    await a.iq(rosterGet());
    expect(rosters.cached(u)).toBeDefined();
    await a.close();
    expect(rosters.cached(u)).toBeDefined(); // b is still online
    await b.close();
    await until(() => rosters.cached(u) === undefined);
  });

  it('refuses new items once the roster is full', async () => {
    const u = await account();
    const full: Record<string, { subscription: string; groups: string[] }> = {};
    for (let i = 0; i < DEFAULT_ROSTER_LIMITS.items; i++) full[`c${i}@example.com`] = { subscription: 'none', groups: [] };
    await t.srv.server.storage.keyval(t.srv.domain, 'roster').set(u, { version: 7, items: full, pending: {} });
    const c = await login(u);
    expect(errorOf(await c.iq(rosterSet(`<item jid='one-more@example.com'/>`)))).toBe('not-allowed');
    // Existing items can still be changed.
    expect((await c.iq(rosterSet(`<item jid='c1@example.com' name='ok'/>`))).attrs.type).toBe('result');
  });

  it('refuses an item that takes the roster past its bytes, with resource-constraint', async () => {
    const u = await account();
    const big: Record<string, { subscription: string; name: string; groups: string[] }> = {};
    const name = 'n'.repeat(1000);
    for (let i = 0; JSON.stringify(big).length < DEFAULT_ROSTER_LIMITS.itemBytes - 1500; i++) big[`c${i}@example.com`] = { subscription: 'none', name, groups: [] };
    await t.srv.server.storage.keyval(t.srv.domain, 'roster').set(u, { version: 7, items: big, pending: {} });
    const c = await login(u);
    expect(errorOf(await c.iq(rosterSet(`<item jid='one-more@example.com' name='${name}'/>`)))).toBe('resource-constraint');
    // Nothing changed: the roster is as stored, and a smaller change still fits.
    const cached = t.srv.server.hosts.get(t.srv.domain)!.items('roster-store')[0]!.cached(u);
    expect(Object.keys(cached?.items ?? {})).toHaveLength(Object.keys(big).length);
    expect((await c.iq(rosterSet(`<item jid='c1@example.com' name='short'/>`))).attrs.type).toBe('result');
  });

  it('deletes the roster of a deleted user', async () => {
    const u = await account();
    const c = await login(u);
    await c.iq(rosterSet(`<item jid='gone@example.com'/>`));
    await c.close();
    const store = t.srv.server.storage.keyval(t.srv.domain, 'roster');
    expect(await store.get(u)).toBeDefined();
    await t.srv.server.hosts.get(t.srv.domain)!.events.fire('user-deleted', { host: t.srv.domain, username: u });
    expect(await store.get(u)).toBeUndefined();
  });
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
