// PEP on the pubsub engine, with +notify learnt from entity capabilities: XML in, XML out, no
// sockets. References: XEP-0163, XEP-0060, XEP-0115.
import { describe, it, expect } from 'vitest';
import { x, type Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { parseElement } from '../../../src/xml/parse.js';
import { fromJSON } from '../../../src/xml/json.js';
import { parseXml, type El } from '../../helpers/wire.js';
import { MODULES } from '../../../src/modules/index.js';
import pep from '../../../src/modules/pep/pep.js';
import { defineModule } from '../../../src/core/modules.js';
import disco from '../../../src/modules/disco.js';
import { capsVer } from '../../../src/modules/caps/caps-hash.js';
import { hostWorld, type FakeSession, type HostWorld } from '../../helpers/host-world.js';
import type { PepService } from '../../../src/modules/pep/service.js';
import type { StoredNode } from '../../../src/modules/pubsub/engine.js';

const DEVICELIST = 'eu.siacs.conversations.axolotl.devicelist';

async function world(cfg = ''): Promise<HostWorld> {
  const w = hostWorld(`${cfg}\nVirtualHost "localhost"`);
  await w.host.load([MODULES.get('message')!, MODULES.get('presence')!, disco, pep], MODULES);
  for (const u of ['alice', 'bob', 'carol', 'dave']) await w.accounts.create(u, 'pw');
  return w;
}

/** Send `iq` from `s` and return its reply. */
async function iq(w: HostWorld, s: FakeSession, type: 'get' | 'set', to: string | undefined, payload: Element): Promise<Element> {
  const id = `q${Math.random()}`;
  await w.router.fromClient(s, x('iq', { type, id, ...(to ? { to } : {}) }, payload));
  const reply = s.got.find((e) => e.name === 'iq' && e.attrs.id === id);
  if (!reply) throw new Error('no reply');
  return reply;
}

const form = (type: string, fields: Record<string, string | string[]>): Element =>
  x('x', { xmlns: NS.DATA_FORMS, type: 'submit' },
    x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, type)),
    ...Object.entries(fields).map(([k, v]) => x('field', { var: k }, ...(typeof v === 'string' ? [v] : v).map((s) => x('value', null, s)))));

const publish = (node: string, id: string | undefined, payload: Element, options?: Record<string, string>): Element =>
  x('pubsub', { xmlns: NS.PUBSUB },
    x('publish', { node }, x('item', id ? { id } : {}, payload)),
    options ? x('publish-options', null, form(NS.PUBSUB_PUBLISH_OPTIONS, options)) : null);

const items = (node: string, attrs: Record<string, string> = {}, ...ids: string[]): Element =>
  x('pubsub', { xmlns: NS.PUBSUB }, x('items', { node, ...attrs }, ...ids.map((id) => x('item', { id }))));

const list = (...ids: string[]): Element => x('list', { xmlns: 'eu.siacs.conversations.axolotl' }, ...ids.map((id) => x('device', { id })));

/** The error condition and pubsub#errors condition of a reply. */
function errorOf(reply: Element): [string | undefined, string | undefined] {
  const e = reply.getChild('error');
  return [e?.elements().find((c) => c.xmlns === NS.STANZA_ERRORS)?.local, e?.elements().find((c) => c.xmlns === NS.PUBSUB_ERRORS)?.local];
}

const itemIds = (reply: Element): (string | undefined)[] =>
  reply.getChild('pubsub', NS.PUBSUB)?.getChild('items')?.getChildren('item').map((i) => i.attrs.id) ?? [];

/** A disco#info answer listing `features`, and its verified caps `<c/>`. */
function client(features: string[]): { info: Element; c: Element } {
  const info = x('query', { xmlns: NS.DISCO_INFO }, x('identity', { category: 'client', type: 'pc', name: 'T' }), ...features.map((f) => x('feature', { var: f })));
  return { info, c: x('c', { xmlns: NS.CAPS, hash: 'sha-1', node: 'https://t', ver: capsVer(info)! }) };
}

/** `s` sends available presence with `c` to `to` (or broadcast), and answers the server's caps query with `info`. */
async function presenceWithCaps(w: HostWorld, s: FakeSession, to: string | undefined, c: Element, info: Element | undefined): Promise<void> {
  await w.router.fromClient(s, x('presence', to ? { to } : {}, c));
  await new Promise((r) => setTimeout(r, 10));
  const q = s.got.find((e) => e.name === 'iq' && e.attrs.type === 'get' && e.getChild('query', NS.DISCO_INFO));
  if (!q || !info) return;
  s.got.splice(s.got.indexOf(q), 1);
  const answer = info.clone();
  answer.attrs.node = q.getChild('query')!.attrs.node!;
  await w.router.fromClient(s, x('iq', { type: 'result', id: q.attrs.id!, to: q.attrs.from! }, answer));
  await new Promise((r) => setTimeout(r, 10));
}

const events = (s: FakeSession): Element[] => s.got.filter((e) => e.name === 'message' && e.getChild('event', NS.PUBSUB_EVENT));

async function befriend(w: HostWorld, user: string, contact: string, groups: string[] = []): Promise<void> {
  const rosters = w.host.items('roster-store')[0]!;
  await rosters.modify(user, contact, (r, tx) => {
    r.items[contact] = { subscription: 'both', groups };
    tx.bump();
  });
}

describe('pep: publishing and reading', () => {
  it('auto-creates on publish, returns the id, and gives items back to the owner (all, by id, max_items)', async () => {
    const w = await world();
    const alice = w.bind('alice@localhost/pc');
    const r1 = await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('1')));
    expect(r1.attrs.type).toBe('result');
    expect(r1.getChild('pubsub', NS.PUBSUB)?.getChild('publish')?.getChild('item')?.attrs.id).toBe('current');
    const r2 = await iq(w, alice, 'set', undefined, publish('urn:xmpp:microblog:0', undefined, x('entry', { xmlns: 'http://www.w3.org/2005/Atom' }), { 'pubsub#max_items': '10' }));
    const generated = r2.getChild('pubsub', NS.PUBSUB)?.getChild('publish')?.getChild('item')?.attrs.id;
    expect(generated).toMatch(/^[\w-]{8,}$/);
    for (const id of ['a', 'b', 'c']) await iq(w, alice, 'set', undefined, publish('urn:xmpp:microblog:0', id, x('entry', { xmlns: 'http://www.w3.org/2005/Atom' })));
    expect(itemIds(await iq(w, alice, 'get', undefined, items('urn:xmpp:microblog:0')))).toEqual(['c', 'b', 'a', generated]);
    expect(itemIds(await iq(w, alice, 'get', 'alice@localhost', items('urn:xmpp:microblog:0', { max_items: '2' })))).toEqual(['c', 'b']);
    expect(itemIds(await iq(w, alice, 'get', undefined, items('urn:xmpp:microblog:0', {}, 'a')))).toEqual(['a']);
    // max_items 1 is PEP's default: a second publish replaces the first.
    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('1', '2')));
    const got = await iq(w, alice, 'get', undefined, items(DEVICELIST));
    expect(got.getChild('pubsub', NS.PUBSUB)!.getChild('items')!.getChildren('item').map((i) => i.toString())).toEqual([
      '<item id="current"><list xmlns="eu.siacs.conversations.axolotl"><device id="1"/><device id="2"/></list></item>',
    ]);
  });

  it('checks publish-options against an existing node: conflict with precondition-not-met', async () => {
    const w = await world();
    const alice = w.bind('alice@localhost/pc');
    expect((await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('1'), { 'pubsub#access_model': 'open' }))).attrs.type).toBe('result');
    expect((await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('2'), { 'pubsub#access_model': 'open' }))).attrs.type).toBe('result');
    const bad = await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('3'), { 'pubsub#access_model': 'presence' }));
    expect(errorOf(bad)).toEqual(['conflict', 'precondition-not-met']);
    expect(bad.getChild('error')?.attrs.type).toBe('cancel');
    const got = await iq(w, alice, 'get', undefined, items(DEVICELIST));
    expect(got.getChild('pubsub', NS.PUBSUB)!.getChild('items')!.getChild('item')!.toString()).toContain('<device id="2"/>');
  });

  it('lets only the owner publish, and others read per the access model', async () => {
    const w = await world();
    const alice = w.bind('alice@localhost/pc');
    const bob = w.bind('bob@localhost/pc');
    const carol = w.bind('carol@localhost/pc');
    await befriend(w, 'alice', 'bob@localhost', ['Friends']);
    const forbidden = await iq(w, bob, 'set', 'alice@localhost', publish(DEVICELIST, 'current', list('6')));
    expect(errorOf(forbidden)[0]).toBe('forbidden');
    expect(errorOf(await iq(w, alice, 'get', undefined, items(DEVICELIST)))[0]).toBe('item-not-found'); // nothing stored

    await iq(w, alice, 'set', undefined, publish('bundle', 'current', x('bundle', { xmlns: 'eu.siacs.conversations.axolotl' }), { 'pubsub#access_model': 'open' }));
    await iq(w, alice, 'set', undefined, publish('mood', 'current', x('mood', { xmlns: 'http://jabber.org/protocol/mood' })));
    await iq(w, alice, 'set', undefined, publish('friends', 'current', x('t', { xmlns: 'urn:t' }), { 'pubsub#access_model': 'roster', 'pubsub#roster_groups_allowed': 'Friends' }));
    await iq(w, alice, 'set', undefined, publish('secret', 'current', x('t', { xmlns: 'urn:t' }), { 'pubsub#access_model': 'whitelist' }));
    // open: a stranger too
    expect(itemIds(await iq(w, carol, 'get', 'alice@localhost', items('bundle')))).toEqual(['current']);
    // presence (the default): contacts with a subscription only
    expect(itemIds(await iq(w, bob, 'get', 'alice@localhost', items('mood')))).toEqual(['current']);
    expect(errorOf(await iq(w, carol, 'get', 'alice@localhost', items('mood')))).toEqual(['not-authorized', 'presence-subscription-required']);
    // roster: the groups named
    expect(itemIds(await iq(w, bob, 'get', 'alice@localhost', items('friends')))).toEqual(['current']);
    expect(errorOf(await iq(w, carol, 'get', 'alice@localhost', items('friends')))).toEqual(['not-authorized', 'not-in-roster-group']);
    // whitelist: the owner only
    expect(errorOf(await iq(w, bob, 'get', 'alice@localhost', items('secret')))).toEqual(['not-allowed', 'closed-node']);
    expect(itemIds(await iq(w, alice, 'get', undefined, items('secret')))).toEqual(['current']);
    // owner operations of others are forbidden
    const del = x('pubsub', { xmlns: NS.PUBSUB_OWNER }, x('delete', { node: 'bundle' }));
    expect(errorOf(await iq(w, bob, 'set', 'alice@localhost', del))[0]).toBe('forbidden');
  });

  it('refuses bad input with the right error and stores nothing', async () => {
    const w = await world('pep_max_item_bytes = 2048\npep_max_nodes = 3');
    const alice = w.bind('alice@localhost/pc');
    const big = await iq(w, alice, 'set', undefined, publish('big', 'x', x('t', { xmlns: 'urn:t' }, 'a'.repeat(3000))));
    expect(errorOf(big)).toEqual(['not-acceptable', 'payload-too-big']);
    const unknown = await iq(w, alice, 'set', undefined, publish('n', 'x', x('t', { xmlns: 'urn:t' }), { 'pubsub#colour': 'red' }));
    expect(errorOf(unknown)[0]).toBe('not-acceptable');
    const badModel = await iq(w, alice, 'set', undefined, publish('n', 'x', x('t', { xmlns: 'urn:t' }), { 'pubsub#access_model': 'everyone' }));
    expect(errorOf(badModel)[0]).toBe('not-acceptable');
    for (const node of ['big', 'n']) expect(errorOf(await iq(w, alice, 'get', undefined, items(node)))[0]).toBe('item-not-found');

    // Node configuration: unknown field and invalid value change nothing.
    await iq(w, alice, 'set', undefined, publish('n', 'x', x('t', { xmlns: 'urn:t' })));
    const configure = (fields: Record<string, string>): Element =>
      x('pubsub', { xmlns: NS.PUBSUB_OWNER }, x('configure', { node: 'n' }, form(NS.PUBSUB_NODE_CONFIG, fields)));
    expect(errorOf(await iq(w, alice, 'set', undefined, configure({ 'pubsub#access_model': 'open', 'pubsub#colour': 'red' })))[0]).toBe('not-acceptable');
    expect(errorOf(await iq(w, alice, 'set', undefined, configure({ 'pubsub#max_items': '-1' })))[0]).toBe('not-acceptable');
    const current = await iq(w, alice, 'get', undefined, x('pubsub', { xmlns: NS.PUBSUB_OWNER }, x('configure', { node: 'n' })));
    const fieldValue = (name: string): string | undefined =>
      current.getChild('pubsub', NS.PUBSUB_OWNER)?.getChild('configure')?.getChild('x', NS.DATA_FORMS)?.getChildren('field').find((f) => f.attrs.var === name)?.getChildText('value');
    expect(fieldValue('pubsub#access_model')).toBe('presence');
    expect(fieldValue('pubsub#max_items')).toBe('1');

    // Nodes per account.
    await iq(w, alice, 'set', undefined, publish('n2', 'x', x('t', { xmlns: 'urn:t' })));
    await iq(w, alice, 'set', undefined, publish('n3', 'x', x('t', { xmlns: 'urn:t' })));
    expect(errorOf(await iq(w, alice, 'set', undefined, publish('n4', 'x', x('t', { xmlns: 'urn:t' }))))[0]).toBe('policy-violation');
  });

  it('keeps items of persist_items=false nodes in memory, within the same byte budget', async () => {
    const w = await world('pep_max_item_bytes = 2048\npep_max_bytes = 65536');
    const alice = w.bind('alice@localhost/pc');
    const options = { 'pubsub#persist_items': '0', 'pubsub#max_items': 'max' };
    const payload = (): Element => x('t', { xmlns: 'urn:t' }, 'a'.repeat(1900));
    let refused: Element | undefined;
    for (let i = 0; i < 64 && !refused; i++) {
      const r = await iq(w, alice, 'set', undefined, publish('mem', `i${i}`, payload(), options));
      if (r.attrs.type === 'error') refused = r;
    }
    expect(refused && errorOf(refused)[0]).toBe('resource-constraint');
    const kept = itemIds(await iq(w, alice, 'get', undefined, items('mem')));
    expect(kept.length).toBeGreaterThan(20);
    expect(kept.length).toBeLessThan(34);
  });

  it('treats node names like __proto__ as plain names', async () => {
    const w = await world();
    const alice = w.bind('alice@localhost/pc');
    for (const node of ['__proto__', 'constructor']) {
      expect((await iq(w, alice, 'set', undefined, publish(node, 'x', x('t', { xmlns: 'urn:t' })))).attrs.type).toBe('result');
      expect(itemIds(await iq(w, alice, 'get', undefined, items(node)))).toEqual(['x']);
    }
  });

  it('lists the nodes in the account disco#items: all for the owner, readable ones for contacts, none for strangers', async () => {
    const w = await world();
    const alice = w.bind('alice@localhost/pc');
    const bob = w.bind('bob@localhost/pc');
    const carol = w.bind('carol@localhost/pc');
    await befriend(w, 'alice', 'bob@localhost');
    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('1'), { 'pubsub#access_model': 'open' }));
    await iq(w, alice, 'set', undefined, publish('secret', 'current', x('t', { xmlns: 'urn:t' }), { 'pubsub#access_model': 'whitelist' }));
    const nodes = async (s: FakeSession): Promise<(string | undefined)[] | string | undefined> => {
      const r = await iq(w, s, 'get', 'alice@localhost', x('query', { xmlns: NS.DISCO_ITEMS }));
      return r.attrs.type === 'error' ? errorOf(r)[0] : r.getChild('query', NS.DISCO_ITEMS)!.getChildren('item').map((i) => i.attrs.node);
    };
    expect(await nodes(alice)).toEqual([DEVICELIST, 'secret']);
    expect(await nodes(bob)).toEqual([DEVICELIST]);
    expect(await nodes(carol)).toBe('service-unavailable');
  });

  it('lists pubsub/pep and the features it implements in the account disco#info', async () => {
    const w = await world();
    const alice = w.bind('alice@localhost/pc');
    const info = (await iq(w, alice, 'get', 'alice@localhost', x('query', { xmlns: NS.DISCO_INFO }))).getChild('query', NS.DISCO_INFO)!;
    expect(info.getChildren('identity').map((i) => `${i.attrs.category}/${i.attrs.type}`)).toEqual(['account/registered', 'pubsub/pep']);
    const features = info.getChildren('feature').map((f) => f.attrs.var);
    for (const f of ['publish', 'publish-options', 'auto-create', 'persistent-items', 'access-open']) expect(features).toContain(`${NS.PUBSUB}#${f}`);
  });
});

describe('pep: notifications by +notify', () => {
  it('notifies only resources whose verified caps want the node, and sends the last item when interest shows', async () => {
    const w = await world();
    await befriend(w, 'alice', 'bob@localhost');
    const alice = w.bind('alice@localhost/pc');
    const bobPhone = w.bind('bob@localhost/phone');
    const bobPc = w.bind('bob@localhost/pc');
    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('1')));
    const notify = client([NS.DISCO_INFO, `${DEVICELIST}+notify`]);
    const plain = client([NS.DISCO_INFO]);
    await presenceWithCaps(w, bobPhone, 'alice@localhost', notify.c, notify.info);
    // The last published item at once.
    expect(events(bobPhone).map((m) => m.getChild('event')!.getChild('items')!.getChild('item')!.attrs.id)).toEqual(['current']);
    await presenceWithCaps(w, bobPc, 'alice@localhost', plain.c, plain.info);
    // alice's own resource, with the same (now cached, verified) caps: no second query.
    const aliceTablet = w.bind('alice@localhost/tablet');
    await w.router.fromClient(aliceTablet, x('presence', null, notify.c));
    await new Promise((r) => setTimeout(r, 10));
    expect(aliceTablet.got.filter((e) => e.name === 'iq')).toEqual([]);
    bobPhone.got.length = 0;
    aliceTablet.got.length = 0;

    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('1', '2')));
    const [m] = events(bobPhone);
    expect(m?.attrs).toMatchObject({ type: 'headline', from: 'alice@localhost', to: 'bob@localhost/phone' });
    expect(m?.getChild('event')?.getChild('items')?.attrs.node).toBe(DEVICELIST);
    expect(events(aliceTablet)).toHaveLength(1);
    expect(events(bobPc)).toEqual([]);
    expect(events(alice).filter((e) => e.getChild('event')!.getChild('items')!.getChild('item')!.toString().includes('id="2"'))).toEqual([]);

    // Retract, purge, config change and delete notify too.
    bobPhone.got.length = 0;
    const own = (el: Element): Element => x('pubsub', { xmlns: NS.PUBSUB_OWNER }, el);
    await iq(w, alice, 'set', undefined, x('pubsub', { xmlns: NS.PUBSUB }, x('retract', { node: DEVICELIST, notify: 'true' }, x('item', { id: 'current' }))));
    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('3')));
    await iq(w, alice, 'set', undefined, own(x('purge', { node: DEVICELIST })));
    await iq(w, alice, 'set', undefined, own(x('configure', { node: DEVICELIST }, form(NS.PUBSUB_NODE_CONFIG, { 'pubsub#notify_config': '1' }))));
    await iq(w, alice, 'set', undefined, own(x('configure', { node: DEVICELIST }, form(NS.PUBSUB_NODE_CONFIG, { 'pubsub#title': 'devices' }))));
    await iq(w, alice, 'set', undefined, own(x('delete', { node: DEVICELIST })));
    expect(events(bobPhone).map((e) => {
      const ev = e.getChild('event')!.elements()[0]!;
      return ev.local === 'items' ? ev.elements()[0]!.local : ev.local;
    })).toEqual(['retract', 'item', 'purge', 'configuration', 'configuration', 'delete']);

    // Gone unavailable: forgotten.
    await w.router.fromClient(bobPhone, x('presence', { to: 'alice@localhost', type: 'unavailable' }));
    bobPhone.got.length = 0;
    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('4')));
    expect(events(bobPhone)).toEqual([]);
  });

  it('stamps the last published item with its publish time (XEP-0203 delay); items stored without one get none', async () => {
    const w = await world();
    await befriend(w, 'alice', 'bob@localhost');
    const alice = w.bind('alice@localhost/pc');
    const before = Date.now();
    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('1')));
    const notify = client([`${DEVICELIST}+notify`]);
    const bob = w.bind('bob@localhost/phone');
    await presenceWithCaps(w, bob, 'alice@localhost', notify.c, notify.info);
    const [m] = events(bob);
    const stamp = m?.getChild('delay', NS.DELAY)?.attrs.stamp;
    expect(stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Date.parse(stamp!)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(stamp!)).toBeLessThanOrEqual(Date.now());
    // A live notification is not delayed.
    bob.got.length = 0;
    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('2')));
    expect(events(bob)[0]?.getChild('delay', NS.DELAY)).toBeUndefined();
    // An item stored before publish times were kept: the last item without a delay.
    const store = w.host.deps.storage.map<StoredNode>('localhost', 'pep');
    const n = (await store.get('alice', DEVICELIST))!;
    await store.set('alice', DEVICELIST, { ...n, items: n.items.map(({ published: _, ...rest }) => rest) });
    const bob2 = w.bind('bob@localhost/pc');
    await presenceWithCaps(w, bob2, 'alice@localhost', notify.c, undefined);
    const [m2] = events(bob2);
    expect(m2?.getChild('event', NS.PUBSUB_EVENT)?.getChild('items')?.getChild('item')?.attrs.id).toBe('current');
    expect(m2?.getChild('delay', NS.DELAY)).toBeUndefined();
  });

  it('keeps namespace declarations made on the iq or <pubsub> with the payload, in items and notifications', async () => {
    const w = await world();
    await befriend(w, 'alice', 'bob@localhost');
    const alice = w.bind('alice@localhost/pc');
    const bob = w.bind('bob@localhost/phone');
    const notify = client(['n1+notify', 'n2+notify']);
    await presenceWithCaps(w, bob, 'alice@localhost', notify.c, notify.info);
    // A prefix declared on the iq, and a default namespace inherited from <pubsub>, as a parser gives them.
    const sent = [
      `<iq type='set' id='p1' xmlns:foo='urn:x'><pubsub xmlns='${NS.PUBSUB}'><publish node='n1'><item id='a'><foo:bar foo:k='v'><foo:baz/><plain xmlns='urn:y'/></foo:bar></item></publish></pubsub></iq>`,
      `<iq type='set' id='p2'><pubsub xmlns='${NS.PUBSUB}'><publish node='n2'><item id='b'><entry><title>t</title></entry></item></publish></pubsub></iq>`,
    ];
    for (const text of sent) await w.router.fromClient(alice, parseElement(text));
    expect(alice.got.filter((e) => e.name === 'iq').map((e) => e.attrs.type)).toEqual(['result', 'result']);
    /** The payload of the one item of `items`, parsed by sax from what Clove serialised. */
    const payloadOf = (outer: Element, path: [string, string]): El => {
      const el = parseXml(outer.toString()).getChild(...path)?.getChild('items')?.getChild('item')?.elements()[0];
      if (!el) throw new Error(`no payload in ${outer.toString()}`);
      return el;
    };
    const check = (n1: El, n2: El): void => {
      expect([n1.local, n1.xmlns, n1.attrs['xmlns:foo']]).toEqual(['bar', 'urn:x', 'urn:x']);
      expect(n1.elements().map((c) => [c.local, c.xmlns])).toEqual([['baz', 'urn:x'], ['plain', 'urn:y']]);
      expect([n2.local, n2.xmlns, n2.getChild('title')?.xmlns]).toEqual(['entry', NS.PUBSUB, NS.PUBSUB]);
    };
    const [e1, e2] = events(bob);
    check(payloadOf(e1!, ['event', NS.PUBSUB_EVENT]), payloadOf(e2!, ['event', NS.PUBSUB_EVENT]));
    const [r1, r2] = [await iq(w, alice, 'get', undefined, items('n1')), await iq(w, alice, 'get', undefined, items('n2'))];
    check(payloadOf(r1, ['pubsub', NS.PUBSUB]), payloadOf(r2, ['pubsub', NS.PUBSUB]));
  });

  it('gives an unprefixed payload under a prefixed <ps:pubsub> the stream\'s default namespace (jabber:client), in the stored item', async () => {
    const w = await world();
    const alice = w.bind('alice@localhost/pc');
    // The client's stream header declared xmlns='jabber:client'; nothing in the stanza declares a default.
    await w.router.fromClient(alice, parseElement(`<iq type='set' id='p3'><ps:pubsub xmlns:ps='${NS.PUBSUB}'><ps:publish node='n3'><ps:item id='c'><note><body>hi</body></note></ps:item></ps:publish></ps:pubsub></iq>`));
    expect(alice.got.find((e) => e.attrs.id === 'p3')?.attrs.type).toBe('result');
    // The stored item, serialised and parsed again on its own, says what the client meant.
    const stored = (await w.host.deps.storage.map<StoredNode>('localhost', 'pep').get('alice', 'n3'))!.items[0]!;
    const reparsed = parseXml(fromJSON(stored.item).toString()).elements()[0]!;
    expect([reparsed.local, reparsed.xmlns, reparsed.getChild('body')?.xmlns]).toEqual(['note', NS.CLIENT, NS.CLIENT]);
    // And so does the read-back, inside <pubsub xmlns='…pubsub'/>.
    const back = await iq(w, alice, 'get', undefined, items('n3'));
    const payload = parseXml(back.toString()).getChild('pubsub', NS.PUBSUB)?.getChild('items')?.getChild('item')?.elements()[0];
    expect([payload?.local, payload?.xmlns]).toEqual(['note', NS.CLIENT]);
  });

  it('stops notifying a remote contact\'s resource once its server is lost (s2s-remote-lost), without unavailable', async () => {
    const w = await world();
    const remote: Element[] = [];
    await w.host.load([defineModule({ name: 'fake-s2s', setup(ctx) {
      ctx.hook('route/remote', (ev) => { remote.push(ev.stanza); return true; });
    } })], MODULES);
    await befriend(w, 'alice', 'bob@far.i2p');
    const alice = w.bind('alice@localhost/pc');
    const notify = client([`${DEVICELIST}+notify`]);
    // bob's presence with caps arrives over s2s; alice's server asks his client what they mean.
    await w.router.route(x('presence', { from: 'bob@far.i2p/phone', to: 'alice@localhost' }, notify.c), undefined);
    await new Promise((r) => setTimeout(r, 10));
    const ask = remote.find((e) => e.name === 'iq' && e.getChild('query', NS.DISCO_INFO))!;
    const answer = notify.info.clone();
    answer.attrs.node = ask.getChild('query')!.attrs.node!;
    await w.router.route(x('iq', { type: 'result', id: ask.attrs.id!, from: 'bob@far.i2p/phone', to: 'alice@localhost' }, answer), undefined);
    await new Promise((r) => setTimeout(r, 10));
    const toBob = (): Element[] => remote.filter((e) => e.name === 'message' && e.attrs.to === 'bob@far.i2p/phone');
    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('1')));
    expect(toBob()).toHaveLength(1);
    // far.i2p vanished: its link failed and no stream with it is left.
    await w.host.events.fire('s2s-remote-lost', { local: 'localhost', remote: 'far.i2p', reason: 'test' });
    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('1', '2')));
    expect(toBob()).toHaveLength(1);
  });

  it('does not notify contacts the access model excludes, nor share an unverified answer', async () => {
    const w = await world();
    const alice = w.bind('alice@localhost/pc');
    const carol = w.bind('carol@localhost/pc');
    const bob = w.bind('bob@localhost/pc');
    const dave = w.bind('dave@localhost/pc');
    await befriend(w, 'alice', 'bob@localhost');
    await befriend(w, 'alice', 'carol@localhost', ['Family']);
    const notify = client([`${DEVICELIST}+notify`]);
    await presenceWithCaps(w, carol, 'alice@localhost', notify.c, notify.info);
    await iq(w, alice, 'set', undefined, publish(DEVICELIST, 'current', list('1'), { 'pubsub#access_model': 'roster', 'pubsub#roster_groups_allowed': 'Friends' }));
    expect(events(carol)).toEqual([]); // a contact, but not in the group
    // A stranger's caps are not even asked about (nor remembered).
    await w.router.fromClient(dave, x('presence', { to: 'alice@localhost' }, x('c', { xmlns: NS.CAPS, hash: 'sha-1', node: 'https://t', ver: 'BBBBBBBBBBBBBBBBBBBBBBBBBBB=' })));
    await new Promise((r) => setTimeout(r, 10));
    expect(dave.got.filter((e) => e.name === 'iq')).toEqual([]);
    // A ver that does not match its answer serves the one who gave it, and is asked again for anyone else.
    const lie = x('c', { xmlns: NS.CAPS, hash: 'sha-1', node: 'https://t', ver: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
    await presenceWithCaps(w, bob, 'alice@localhost', lie, notify.info);
    const other = w.bind('carol@localhost/phone');
    await w.router.fromClient(other, x('presence', { to: 'alice@localhost' }, lie));
    await new Promise((r) => setTimeout(r, 10));
    expect(other.got.filter((e) => e.name === 'iq' && e.attrs.type === 'get')).toHaveLength(1);
  });

  it('takes explicit subscriptions per the access model, sends the last item, notifies, and ends them', async () => {
    const w = await world();
    const alice = w.bind('alice@localhost/pc');
    const carol = w.bind('carol@localhost/pc');
    await iq(w, alice, 'set', undefined, publish('blog', 'first', x('entry', { xmlns: 'http://www.w3.org/2005/Atom' }), { 'pubsub#access_model': 'open' }));
    await iq(w, alice, 'set', undefined, publish('mood', 'm', x('mood', { xmlns: 'http://jabber.org/protocol/mood' })));
    const sub = (node: string, jid: string, op = 'subscribe'): Element => x('pubsub', { xmlns: NS.PUBSUB }, x(op, { node, jid }));
    expect(errorOf(await iq(w, carol, 'set', 'alice@localhost', sub('blog', 'dave@localhost')))).toEqual(['bad-request', 'invalid-jid']);
    expect(errorOf(await iq(w, carol, 'set', 'alice@localhost', sub('mood', 'carol@localhost/pc')))).toEqual(['not-authorized', 'presence-subscription-required']);
    const ok = await iq(w, carol, 'set', 'alice@localhost', sub('blog', 'carol@localhost/pc'));
    expect(ok.getChild('pubsub', NS.PUBSUB)?.getChild('subscription')?.attrs).toMatchObject({ node: 'blog', jid: 'carol@localhost/pc', subscription: 'subscribed' });
    await new Promise((r) => setTimeout(r, 10));
    expect(events(carol).map((m) => m.getChild('event')!.getChild('items')!.getChild('item')!.attrs.id)).toEqual(['first']);
    const subs = await iq(w, carol, 'get', 'alice@localhost', x('pubsub', { xmlns: NS.PUBSUB }, x('subscriptions')));
    expect(subs.getChild('pubsub', NS.PUBSUB)?.getChild('subscriptions')?.getChildren('subscription').map((e) => e.attrs.node)).toEqual(['blog']);
    await iq(w, alice, 'set', undefined, publish('blog', 'second', x('entry', { xmlns: 'http://www.w3.org/2005/Atom' })));
    expect(events(carol)).toHaveLength(2);
    expect((await iq(w, carol, 'set', 'alice@localhost', sub('blog', 'carol@localhost/pc', 'unsubscribe'))).attrs.type).toBe('result');
    await iq(w, alice, 'set', undefined, publish('blog', 'third', x('entry', { xmlns: 'http://www.w3.org/2005/Atom' })));
    expect(events(carol)).toHaveLength(2);
    expect(errorOf(await iq(w, carol, 'set', 'alice@localhost', sub('blog', 'carol@localhost/pc', 'unsubscribe')))).toEqual(['unexpected-request', 'not-subscribed']);
  });

  it('offers the PepService other modules use, with the events', async () => {
    const w = await world();
    const service = w.host.items('pep-service')[0] as PepService;
    const seen: string[] = [];
    w.host.events.hook('pep-item-published', ({ node, item }) => { seen.push(`+${node}/${item.attrs.id}`); return undefined; });
    w.host.events.hook('pep-item-retracted', ({ node, id }) => { seen.push(`-${node}/${id}`); return undefined; });
    const id = await service.publish('alice', 'urn:xmpp:bookmarks:1', x('item', { id: 'room@muc' }, x('conference', { xmlns: 'urn:xmpp:bookmarks:1' })), { 'pubsub#access_model': 'whitelist', 'pubsub#max_items': 'max' });
    expect(id).toBe('room@muc');
    await expect(service.publish('alice', 'urn:xmpp:bookmarks:1', x('item', { id: 'r2' }, x('conference', { xmlns: 'urn:xmpp:bookmarks:1' })), { 'pubsub#access_model': 'open' }))
      .rejects.toMatchObject({ condition: 'conflict' });
    expect((await service.items('alice', 'urn:xmpp:bookmarks:1')).map((i) => i.attrs.id)).toEqual(['room@muc']);
    await service.retract('alice', 'urn:xmpp:bookmarks:1', 'room@muc');
    await service.retract('alice', 'urn:xmpp:bookmarks:1', 'none');
    expect(await service.items('alice', 'nothing')).toEqual([]);
    await service.deleteNode('alice', 'nothing');
    expect(seen).toEqual(['+urn:xmpp:bookmarks:1/room@muc', '-urn:xmpp:bookmarks:1/room@muc']);
  });
});

describe('pep: private storage (XEP-0223)', () => {
  const NODE = 'urn:xmpp:example:private';
  const PRIVATE = { 'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist', 'pubsub#send_last_published_item': 'never' };
  const secret = (v: string): Element => x('secret', { xmlns: NODE }, v);

  it('keeps the item for the owner across a restart, refuses contacts and strangers, and notifies no contact', async () => {
    const w = await world();
    await befriend(w, 'alice', 'bob@localhost');
    const alice = w.bind('alice@localhost/pc');
    const bob = w.bind('bob@localhost/pc');
    const dave = w.bind('dave@localhost/pc');
    // bob's client wants the node's notifications and is online before and after the publish.
    const notify = client([`${NODE}+notify`]);
    await presenceWithCaps(w, bob, 'alice@localhost', notify.c, notify.info);
    expect((await iq(w, alice, 'set', undefined, publish(NODE, 'current', secret('1'), PRIVATE))).attrs.type).toBe('result');
    // Publishing again with the same options meets the preconditions.
    expect((await iq(w, alice, 'set', undefined, publish(NODE, 'current', secret('2'), PRIVATE))).attrs.type).toBe('result');
    const bob2 = w.bind('bob@localhost/phone');
    await presenceWithCaps(w, bob2, 'alice@localhost', notify.c, undefined);
    expect(events(bob)).toEqual([]);
    expect(events(bob2)).toEqual([]);
    // Neither a contact nor a stranger reads it, subscribes to it, or sees it in disco#items.
    for (const s of [bob, dave]) {
      expect(errorOf(await iq(w, s, 'get', 'alice@localhost', items(NODE)))).toEqual(['not-allowed', 'closed-node']);
      expect(errorOf(await iq(w, s, 'get', 'alice@localhost', items(NODE, {}, 'current')))).toEqual(['not-allowed', 'closed-node']);
      const sub = await iq(w, s, 'set', 'alice@localhost', x('pubsub', { xmlns: NS.PUBSUB }, x('subscribe', { node: NODE, jid: s.jid.toString() })));
      expect(sub.attrs.type).toBe('error');
    }
    const listed = await iq(w, bob, 'get', 'alice@localhost', x('query', { xmlns: NS.DISCO_ITEMS }));
    expect(listed.getChild('query')?.getChildren('item').map((i) => i.attrs.node)).not.toContain(NODE);

    // A restart: the module again, on the same storage; the owner reads the item back.
    await w.host.unload();
    await w.host.load([MODULES.get('message')!, MODULES.get('presence')!, disco, pep], MODULES);
    const got = await iq(w, alice, 'get', undefined, items(NODE));
    expect(got.getChild('pubsub', NS.PUBSUB)?.getChild('items')?.getChildren('item').map((i) => i.toString())).toEqual([
      `<item id="current"><secret xmlns="${NODE}">2</secret></item>`,
    ]);
    expect(errorOf(await iq(w, bob, 'get', 'alice@localhost', items(NODE)))).toEqual(['not-allowed', 'closed-node']);
  });
});

describe('caps: the verification string', () => {
  it('computes XEP-0115 §5.2 simple example', () => {
    const q = x('query', { xmlns: NS.DISCO_INFO },
      x('identity', { category: 'client', type: 'pc', name: 'Exodus 0.9.1' }),
      ...['http://jabber.org/protocol/caps', 'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'http://jabber.org/protocol/muc'].map((v) => x('feature', { var: v })));
    expect(capsVer(q)).toBe('QgayPKawpkPSDYmwT/WM94uAlu0=');
  });

  it('computes XEP-0115 §5.3 complex example, with an extension form', () => {
    const field = (v: string, ...values: string[]): Element => x('field', { var: v }, ...values.map((s) => x('value', null, s)));
    const q = x('query', { xmlns: NS.DISCO_INFO },
      x('identity', { 'xml:lang': 'en', category: 'client', name: 'Psi 0.11', type: 'pc' }),
      x('identity', { 'xml:lang': 'el', category: 'client', name: 'Ψ 0.11', type: 'pc' }),
      ...['http://jabber.org/protocol/caps', 'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'http://jabber.org/protocol/muc'].map((v) => x('feature', { var: v })),
      x('x', { xmlns: NS.DATA_FORMS, type: 'result' },
        x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, 'urn:xmpp:dataforms:softwareinfo')),
        field('ip_version', 'ipv4', 'ipv6'), field('os', 'Mac'), field('os_version', '10.5.1'), field('software', 'Psi'), field('software_version', '0.11')));
    expect(capsVer(q)).toBe('q07IKJEyjvHSyhy//CH0CxmKi8w=');
    q.append(x('feature', { var: 'http://jabber.org/protocol/muc' }));
    expect(capsVer(q)).toBeUndefined(); // a duplicate feature is never trusted (§5.4)
  });
});
