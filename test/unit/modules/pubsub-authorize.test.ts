// The pubsub component's 'authorize' access model and pending subscriptions (XEP-0060 §6.1.2,
// §8.6, §8.8), publish_model open and subscribers (§7.1.3.1), and what disco shows of nodes an
// asker may not read: XML in, XML out, no sockets.
import { describe, it, expect } from 'vitest';
import { x, type Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { MODULES } from '../../../src/modules/index.js';
import type { FakeSession, HostWorld } from '../../helpers/host-world.js';
import { owner, ps, PS, pubsubIq, pubsubWorld } from '../../helpers/pubsub-world.js';

const AUTH = 'http://jabber.org/protocol/pubsub#subscribe_authorization';
const world = pubsubWorld;
const iq = pubsubIq;
const fields = (type: string, formType: string, values: Record<string, string>): Element =>
  x('x', { xmlns: NS.DATA_FORMS, type },
    x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, formType)),
    ...Object.entries(values).map(([k, v]) => x('field', { var: k }, x('value', null, v))));
const configure = (values: Record<string, string>): Element => x('configure', null, fields('submit', NS.PUBSUB_NODE_CONFIG, values));
const publish = (node: string, id: string): Element => ps(x('publish', { node }, x('item', { id }, x('entry', { xmlns: 'urn:test' }, id))));
const subscribe = (node: string, jid: string): Element => ps(x('subscribe', { node, jid }));
const condition = (r: Element): string | undefined => r.getChild('error')?.elements().find((c) => c.xmlns === NS.STANZA_ERRORS)?.local;
const specific = (r: Element): string | undefined => r.getChild('error')?.elements().find((c) => c.xmlns === NS.PUBSUB_ERRORS)?.local;
const subscriptionOf = (r: Element): string | undefined => r.getChild('pubsub', NS.PUBSUB)?.getChild('subscription')?.attrs.subscription;
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
/** Notifications with an <event/> child of `kind` from the service. */
const events = (s: FakeSession, kind: string): Element[] =>
  s.got.filter((e) => e.name === 'message' && e.attrs.from === PS && e.getChild('event', NS.PUBSUB_EVENT)?.getChild(kind));
/** The approval requests a session got (§8.6). */
const requests = (s: FakeSession): Element[] =>
  s.got.filter((e) => e.name === 'message' && e.getChild('x', NS.DATA_FORMS)?.getChildren('field').some((f) => f.attrs.var === 'FORM_TYPE' && f.getChildText('value') === AUTH));
const fieldOf = (form: Element | undefined, name: string): string | undefined => form?.getChildren('field').find((f) => f.attrs.var === name)?.getChildText('value') ?? undefined;

/** The owner's answer to an approval request, as a message to the service. */
async function answer(w: HostWorld, s: FakeSession, node: string, jid: string, allow: string, type = 'submit'): Promise<void> {
  await w.router.fromClient(s, x('message', { to: PS, id: 'approve1' },
    fields(type, AUTH, type === 'cancel' ? {} : { 'pubsub#node': node, 'pubsub#subscriber_jid': jid, 'pubsub#allow': allow })));
  await settle();
}

async function authorizeNode(w: HostWorld, admin: FakeSession, node = 'club'): Promise<void> {
  expect((await iq(w, admin, 'set', ps(x('create', { node }), configure({ 'pubsub#access_model': 'authorize' })))).attrs.type).toBe('result');
}

describe('pending subscriptions on an authorize node', () => {
  it('makes a subscription pending, asks the owners, and subscribes on approval', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    await authorizeNode(w, admin);
    const sub = await iq(w, bob, 'set', subscribe('club', 'bob@localhost'));
    expect(subscriptionOf(sub)).toBe('pending');
    await settle();
    const asked = requests(admin);
    expect(asked).toHaveLength(1);
    const form = asked[0]!.getChild('x', NS.DATA_FORMS);
    expect(form?.attrs.type).toBe('form');
    expect([fieldOf(form, 'pubsub#node'), fieldOf(form, 'pubsub#subscriber_jid'), fieldOf(form, 'pubsub#allow')]).toEqual(['club', 'bob@localhost', 'false']);
    // Asking again while pending: not-authorized with pending-subscription; no second request.
    const again = await iq(w, bob, 'set', subscribe('club', 'bob@localhost'));
    expect([condition(again), specific(again)]).toEqual(['not-authorized', 'pending-subscription']);
    await settle();
    expect(requests(admin)).toHaveLength(1);
    // Pending: no items, no notifications.
    const items = await iq(w, bob, 'get', ps(x('items', { node: 'club' })));
    expect([condition(items), specific(items)]).toEqual(['not-authorized', 'not-subscribed']);
    await iq(w, admin, 'set', publish('club', 'early'));
    await settle();
    expect(events(bob, 'items')).toHaveLength(0);
    // Both views list it as pending.
    const mine = await iq(w, bob, 'get', ps(x('subscriptions')));
    expect(mine.getChild('pubsub', NS.PUBSUB)?.getChild('subscriptions')?.getChildren('subscription').map((s) => s.attrs)).toEqual([{ node: 'club', jid: 'bob@localhost', subscription: 'pending' }]);
    const list = await iq(w, admin, 'get', owner(x('subscriptions', { node: 'club' })));
    expect(list.getChild('pubsub', NS.PUBSUB_OWNER)?.getChild('subscriptions')?.getChildren('subscription').map((s) => s.attrs.subscription)).toEqual(['pending']);
    // A cancelled form leaves it pending; approval subscribes and tells the subscriber.
    await answer(w, admin, 'club', 'bob@localhost', 'true', 'cancel');
    expect(events(bob, 'subscription')).toHaveLength(0);
    await answer(w, admin, 'club', 'bob@localhost', 'true');
    expect(events(bob, 'subscription').map((e) => e.getChild('event')?.getChild('subscription')?.attrs)).toEqual([{ node: 'club', jid: 'bob@localhost', subscription: 'subscribed' }]);
    await iq(w, admin, 'set', publish('club', 'late'));
    await settle();
    expect(events(bob, 'items').map((e) => e.getChild('event')?.getChild('items')?.getChild('item')?.attrs.id)).toEqual(['late']);
    expect((await iq(w, bob, 'get', ps(x('items', { node: 'club' })))).attrs.type).toBe('result');
  });

  it('drops a denied request and tells the subscriber; only owners decide', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    const eve = w.bind('eve@localhost/e');
    await authorizeNode(w, admin);
    await iq(w, bob, 'set', subscribe('club', 'bob@localhost/b'));
    await w.router.fromClient(eve, x('message', { to: PS, id: 'forged' }, fields('submit', AUTH, { 'pubsub#node': 'club', 'pubsub#subscriber_jid': 'bob@localhost/b', 'pubsub#allow': 'true' })));
    await settle();
    const refused = eve.got.find((e) => e.name === 'message' && e.attrs.id === 'forged');
    expect(refused && condition(refused)).toBe('forbidden');
    await answer(w, admin, 'club', 'bob@localhost/b', 'false');
    expect(events(bob, 'subscription').map((e) => e.getChild('event')?.getChild('subscription')?.attrs.subscription)).toEqual(['none']);
    const list = await iq(w, admin, 'get', owner(x('subscriptions', { node: 'club' })));
    expect(list.getChild('pubsub', NS.PUBSUB_OWNER)?.getChild('subscriptions')?.getChildren('subscription')).toHaveLength(0);
    // A late second answer changes nothing and tells nobody.
    await answer(w, admin, 'club', 'bob@localhost/b', 'true');
    expect(events(bob, 'subscription')).toHaveLength(1);
    // Withdrawn by the requester: unsubscribe ends a pending request too.
    expect(subscriptionOf(await iq(w, bob, 'set', subscribe('club', 'bob@localhost/b')))).toBe('pending');
    expect((await iq(w, bob, 'set', ps(x('unsubscribe', { node: 'club', jid: 'bob@localhost/b' })))).attrs.type).toBe('result');
  });

  it('subscribes affiliated JIDs at once, approves via the owner lists and affiliations, rejects outcasts', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    const carol = w.bind('carol@localhost/c');
    const dave = w.bind('dave@localhost/d');
    await authorizeNode(w, admin);
    const aff = (jid: string, affiliation: string): Element => owner(x('affiliations', { node: 'club' }, x('affiliation', { jid, affiliation })));
    await iq(w, admin, 'set', aff('bob@localhost', 'member'));
    expect(subscriptionOf(await iq(w, bob, 'set', subscribe('club', 'bob@localhost')))).toBe('subscribed');
    for (const s of [carol, dave]) expect(subscriptionOf(await iq(w, s, 'set', subscribe('club', s.jid.bare().toString())))).toBe('pending');
    // The owner's subscriptions list approves (§8.8.2); a publisher affiliation approves too; an outcast is rejected.
    await iq(w, admin, 'set', owner(x('subscriptions', { node: 'club' }, x('subscription', { jid: 'carol@localhost', subscription: 'subscribed' }))));
    await iq(w, admin, 'set', aff('dave@localhost', 'outcast'));
    await settle();
    expect(events(carol, 'subscription').map((e) => e.getChild('event')?.getChild('subscription')?.attrs.subscription)).toEqual(['subscribed']);
    expect(events(dave, 'subscription').map((e) => e.getChild('event')?.getChild('subscription')?.attrs.subscription)).toEqual(['none']);
    const eve = w.bind('eve@localhost/e');
    expect(subscriptionOf(await iq(w, eve, 'set', subscribe('club', 'eve@localhost')))).toBe('pending');
    await iq(w, admin, 'set', aff('eve@localhost', 'publisher'));
    await settle();
    expect(events(eve, 'subscription').map((e) => e.getChild('event')?.getChild('subscription')?.attrs.subscription)).toEqual(['subscribed']);
    const list = await iq(w, admin, 'get', owner(x('subscriptions', { node: 'club' })));
    expect(list.getChild('pubsub', NS.PUBSUB_OWNER)?.getChild('subscriptions')?.getChildren('subscription').map((s) => `${s.attrs.jid} ${s.attrs.subscription}`))
      .toEqual(['bob@localhost subscribed', 'carol@localhost subscribed', 'eve@localhost subscribed']);
  });

  it('bounds pending requests per subscriber and per node, in count and in characters', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    const tooMany = (r: Element): string[] => [condition(r) ?? '', specific(r) ?? ''];
    // Per subscriber: 16 requests over the service.
    for (let i = 0; i < 17; i++) await authorizeNode(w, admin, `n${i}`);
    for (let i = 0; i < 16; i++) expect(subscriptionOf(await iq(w, bob, 'set', subscribe(`n${i}`, 'bob@localhost')))).toBe('pending');
    // From another resource: the bound is per bare JID.
    const seventeenth = await iq(w, w.bind('bob@localhost/other'), 'set', subscribe('n16', 'bob@localhost/other'));
    expect(tooMany(seventeenth)).toEqual(['policy-violation', 'too-many-subscriptions']);
    expect(seventeenth.getChild('error')?.getChildText('text')).toBe('at most 16 pending subscription requests per subscriber');
    // Per subscriber, in characters: long node names fill 16 KiB before 16 requests.
    const long = (i: number): string => `${'l'.repeat(1020)}${i}`.slice(0, 1024);
    for (let i = 0; i < 16; i++) await authorizeNode(w, admin, long(i));
    const carol = w.bind('carol@localhost/c');
    for (let i = 0; i < 15; i++) expect(subscriptionOf(await iq(w, carol, 'set', subscribe(long(i), 'carol@localhost')))).toBe('pending');
    const full = await iq(w, carol, 'set', subscribe(long(15), 'carol@localhost'));
    expect(full.getChild('error')?.getChildText('text')).toBe('pending subscription requests of one subscriber are limited to 16384 characters');
    // Per node, in characters: 64 KiB of JIDs (local parts of 1000 characters fit 64, not 65).
    await authorizeNode(w, admin, 'crowd');
    const localOf = (i: number): string => `${'u'.repeat(996)}${String(i).padStart(4, '0')}`;
    for (let i = 0; i < 64; i++) {
      const s = w.bind(`${localOf(i)}@localhost/r`);
      expect(subscriptionOf(await iq(w, s, 'set', subscribe('crowd', `${localOf(i)}@localhost`)))).toBe('pending');
    }
    const s65 = w.bind(`${localOf(64)}@localhost/r`);
    const crowded = await iq(w, s65, 'set', subscribe('crowd', `${localOf(64)}@localhost`));
    expect(tooMany(crowded)).toEqual(['policy-violation', 'too-many-subscriptions']);
    expect(crowded.getChild('error')?.getChildText('text')).toBe('pending subscription requests of one node are limited to 65536 characters');
  }, 30_000);

  it('bounds pending requests per node in count', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    await authorizeNode(w, admin, 'popular');
    for (let i = 0; i < 256; i++) {
      const s = w.bind(`u${i}@localhost/r`);
      expect(subscriptionOf(await iq(w, s, 'set', subscribe('popular', `u${i}@localhost`)))).toBe('pending');
    }
    const late = await iq(w, w.bind('late@localhost/r'), 'set', subscribe('popular', 'late@localhost'));
    expect(late.getChild('error')?.getChildText('text')).toBe('at most 256 pending subscription requests per node');
    await settle();
    expect(requests(admin)).toHaveLength(256);
  }, 30_000);
});

describe('publish_model on the service', () => {
  it('lets anyone not banned publish to an open node, and subscribers to a subscribers node', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    const eve = w.bind('eve@localhost/e');
    await iq(w, admin, 'set', ps(x('create', { node: 'wall' }), configure({ 'pubsub#publish_model': 'open' })));
    await iq(w, admin, 'set', ps(x('create', { node: 'board' }), configure({ 'pubsub#publish_model': 'subscribers' })));
    await iq(w, admin, 'set', ps(x('create', { node: 'news' })));
    expect((await iq(w, bob, 'set', publish('wall', 'by-bob'))).attrs.type).toBe('result');
    await iq(w, admin, 'set', owner(x('affiliations', { node: 'wall' }, x('affiliation', { jid: 'eve@localhost', affiliation: 'outcast' }))));
    expect(condition(await iq(w, eve, 'set', publish('wall', 'by-eve')))).toBe('forbidden');
    // Retracting stays with owners and publishers (as Prosody).
    expect(condition(await iq(w, bob, 'set', ps(x('retract', { node: 'wall' }, x('item', { id: 'by-bob' })))))).toBe('forbidden');
    expect(condition(await iq(w, bob, 'set', publish('board', 'early')))).toBe('forbidden');
    await iq(w, bob, 'set', subscribe('board', 'bob@localhost/b'));
    expect((await iq(w, bob, 'set', publish('board', 'member-post'))).attrs.type).toBe('result');
    expect(condition(await iq(w, bob, 'set', publish('news', 'x')))).toBe('forbidden');
  });

  it('validates publish_model and access_model per service: PEP keeps publishers only', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    expect(condition(await iq(w, admin, 'set', ps(x('create', { node: 'bad' }), configure({ 'pubsub#publish_model': 'everyone' }))))).toBe('not-acceptable');
    await iq(w, admin, 'set', ps(x('create', { node: 'n' })));
    const conf = await iq(w, admin, 'get', owner(x('configure', { node: 'n' })));
    const field = (name: string): string[] => conf.getChild('pubsub', NS.PUBSUB_OWNER)?.getChild('configure')?.getChild('x', NS.DATA_FORMS)
      ?.getChildren('field').find((f) => f.attrs.var === name)?.getChildren('option').map((o) => o.getChildText('value') ?? '') ?? [];
    expect(field('pubsub#publish_model')).toEqual(['publishers', 'subscribers', 'open']);
    expect(field('pubsub#access_model')).toContain('authorize');
    // PEP: an account's own node refuses other publish models and 'authorize'.
    await w.host.load([MODULES.get('pep')!], MODULES);
    const alice = w.bind('alice@localhost/a');
    const pep = async (values: Record<string, string>): Promise<Element> => {
      const id = `p${Math.random()}`;
      await w.router.fromClient(alice, x('iq', { type: 'set', id }, ps(x('create', { node: 'urn:x' }), configure(values))));
      await settle();
      return alice.got.find((e) => e.attrs.id === id)!;
    };
    expect(condition(await pep({ 'pubsub#publish_model': 'open' }))).toBe('not-acceptable');
    expect(condition(await pep({ 'pubsub#access_model': 'authorize' }))).toBe('not-acceptable');
    expect((await pep({ 'pubsub#publish_model': 'publishers' })).attrs.type).toBe('result');
  });
});

describe('disco of nodes an asker may not read', () => {
  it('answers item-not-found as for a missing node, shows authorize nodes, and lists items to readers', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    await iq(w, admin, 'set', ps(x('create', { node: 'secret' }), configure({ 'pubsub#access_model': 'whitelist', 'pubsub#title': 'Secret' })));
    await authorizeNode(w, admin, 'club');
    await iq(w, admin, 'set', ps(x('create', { node: 'open' })));
    for (const node of ['secret', 'club', 'open']) await iq(w, admin, 'set', publish(node, `${node}-1`));
    const info = (s: FakeSession, node: string): Promise<Element> => iq(w, s, 'get', x('query', { xmlns: NS.DISCO_INFO, node }));
    const items = (s: FakeSession, node?: string): Promise<Element> => iq(w, s, 'get', x('query', { xmlns: NS.DISCO_ITEMS, ...(node ? { node } : {}) }));
    // Hidden: the same answer as a node that does not exist.
    for (const node of ['secret', 'missing']) {
      expect(condition(await info(bob, node))).toBe('item-not-found');
      expect(condition(await items(bob, node))).toBe('item-not-found');
    }
    // Shown to its owner, with its meta-data.
    const own = await info(admin, 'secret');
    expect(own.getChild('query')?.getChild('identity')?.attrs).toMatchObject({ category: 'pubsub', type: 'leaf', name: 'Secret' });
    const meta = own.getChild('query')?.getChild('x', NS.DATA_FORMS);
    expect(fieldOf(meta, 'pubsub#access_model')).toBe('whitelist');
    // An authorize node can be found (to ask), but its items are for subscribers.
    expect(fieldOf((await info(bob, 'club')).getChild('query')?.getChild('x', NS.DATA_FORMS), 'pubsub#access_model')).toBe('authorize');
    const clubItems = await items(bob, 'club');
    expect([condition(clubItems), specific(clubItems)]).toEqual(['not-authorized', 'not-subscribed']);
    expect((await items(bob, 'open')).getChild('query')?.getChildren('item').map((i) => i.attrs)).toEqual([{ jid: PS, name: 'open-1' }]);
    expect((await items(bob)).getChild('query')?.getChildren('item').map((i) => i.attrs.node).sort()).toEqual(['club', 'open']);
    // A member sees the whitelist node.
    await iq(w, admin, 'set', owner(x('affiliations', { node: 'secret' }, x('affiliation', { jid: 'bob@localhost', affiliation: 'member' }))));
    expect((await info(bob, 'secret')).attrs.type).toBe('result');
    expect((await items(bob, 'secret')).getChild('query')?.getChildren('item').map((i) => i.attrs.name)).toEqual(['secret-1']);
  });
});
