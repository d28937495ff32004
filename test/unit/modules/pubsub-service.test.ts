// The pubsub component (Component "pubsub.localhost" "pubsub") on the shared pubsub engine: XML
// in, XML out, no sockets. References: XEP-0060.
import { describe, it, expect } from 'vitest';
import { x, type Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { SUBSCRIBE_OPTIONS } from '../../../src/modules/pubsub/sub-options.js';
import type { FakeSession } from '../../helpers/host-world.js';
import { owner, ps, PS, pubsubIq, pubsubWorld } from '../../helpers/pubsub-world.js';

const world = pubsubWorld;
const iq = pubsubIq;
const form = (type: string, fields: Record<string, string>): Element =>
  x('x', { xmlns: NS.DATA_FORMS, type: 'submit' },
    x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, type)),
    ...Object.entries(fields).map(([k, v]) => x('field', { var: k }, x('value', null, v))));
const publish = (node: string, id: string, text: string): Element => ps(x('publish', { node }, x('item', { id }, x('entry', { xmlns: 'urn:test' }, text))));
const condition = (r: Element): string | undefined => r.getChild('error')?.elements().find((c) => c.xmlns === NS.STANZA_ERRORS)?.local;
const events = (s: FakeSession): Element[] => s.got.filter((e) => e.name === 'message' && e.attrs.from === PS && e.getChild('event', NS.PUBSUB_EVENT));
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('the pubsub component', () => {
  it('lets admins create nodes and refuses others with forbidden', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    expect((await iq(w, admin, 'set', ps(x('create', { node: 'news' })))).attrs.type).toBe('result');
    const refused = await iq(w, bob, 'set', ps(x('create', { node: 'mine' })));
    expect(condition(refused)).toBe('forbidden');
    const items = await iq(w, bob, 'get', x('query', { xmlns: NS.DISCO_ITEMS }));
    expect(items.getChild('query')?.getChildren('item').map((i) => i.attrs.node)).toEqual(['news']);
  });

  it('lets pubsub_admins create, and anyone when restrict_node_creation is off', async () => {
    const w = await world('  pubsub_admins = { "carol@localhost" }');
    expect((await iq(w, w.bind('carol@localhost/c'), 'set', ps(x('create', { node: 'c' })))).attrs.type).toBe('result');
    const open = await world('  restrict_node_creation = false');
    expect((await iq(open, open.bind('bob@localhost/b'), 'set', ps(x('create', { node: 'b' })))).attrs.type).toBe('result');
  });

  it('creates instant nodes with a generated name, and with a configure form', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const r = await iq(w, admin, 'set', ps(x('create')));
    expect(r.getChild('pubsub', NS.PUBSUB)?.getChild('create')?.attrs.node).toMatch(/.{8,}/);
    await iq(w, admin, 'set', ps(x('create', { node: 'closed' }), x('configure', null, form(NS.PUBSUB_NODE_CONFIG, { 'pubsub#access_model': 'whitelist' }))));
    const conf = await iq(w, admin, 'get', owner(x('configure', { node: 'closed' })));
    const field = conf.getChild('pubsub', NS.PUBSUB_OWNER)?.getChild('configure')?.getChild('x', NS.DATA_FORMS)?.getChildren('field').find((f) => f.attrs.var === 'pubsub#access_model');
    expect(field?.getChildText('value')).toBe('whitelist');
    expect(condition(await iq(w, w.bind('bob@localhost/b'), 'set', ps(x('subscribe', { node: 'closed', jid: 'bob@localhost' }))))).toBe('not-allowed');
  });

  it('notifies subscribers of publish, retract and delete; only publishers publish', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    await iq(w, admin, 'set', ps(x('create', { node: 'news' })));
    const sub = await iq(w, bob, 'set', ps(x('subscribe', { node: 'news', jid: 'bob@localhost/b' })));
    expect(sub.getChild('pubsub', NS.PUBSUB)?.getChild('subscription')?.attrs.subscription).toBe('subscribed');
    expect(condition(await iq(w, bob, 'set', ps(x('subscribe', { node: 'news', jid: 'carol@localhost' }))))).toBe('bad-request');
    expect(condition(await iq(w, bob, 'set', publish('news', 'x', 'no')))).toBe('forbidden');
    expect(condition(await iq(w, admin, 'set', publish('nope', 'x', 'no')))).toBe('item-not-found');
    await iq(w, admin, 'set', publish('news', 'one', 'hello'));
    await settle();
    expect(events(bob).at(-1)?.getChild('event')?.getChild('items')?.getChild('item')?.attrs.id).toBe('one');
    expect(events(bob).at(-1)?.attrs.type).toBe('headline');
    await iq(w, admin, 'set', ps(x('retract', { node: 'news', notify: 'true' }, x('item', { id: 'one' }))));
    await settle();
    expect(events(bob).at(-1)?.getChild('event')?.getChild('items')?.getChild('retract')?.attrs.id).toBe('one');
    await iq(w, admin, 'set', owner(x('delete', { node: 'news' }, x('redirect', { uri: 'xmpp:pubsub.localhost?;node=new' }))));
    await settle();
    expect(events(bob).at(-1)?.getChild('event')?.getChild('delete')?.attrs.node).toBe('news');
    expect(events(bob).at(-1)?.getChild('event')?.getChild('delete')?.getChild('redirect')?.attrs.uri).toBe('xmpp:pubsub.localhost?;node=new');
    expect(events(bob)).toHaveLength(3);
  });

  it('gives owners the lists and lets them set affiliations: publisher publishes, outcast is banned', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    const eve = w.bind('eve@localhost/e');
    await iq(w, admin, 'set', ps(x('create', { node: 'n' })));
    await iq(w, eve, 'set', ps(x('subscribe', { node: 'n', jid: 'eve@localhost' })));
    expect(condition(await iq(w, bob, 'get', owner(x('affiliations', { node: 'n' }))))).toBe('forbidden');
    const set = await iq(w, admin, 'set', owner(x('affiliations', { node: 'n' }, x('affiliation', { jid: 'bob@localhost', affiliation: 'publisher' }), x('affiliation', { jid: 'eve@localhost', affiliation: 'outcast' }))));
    expect(set.attrs.type).toBe('result');
    const list = await iq(w, admin, 'get', owner(x('affiliations', { node: 'n' })));
    const pairs = list.getChild('pubsub', NS.PUBSUB_OWNER)?.getChild('affiliations')?.getChildren('affiliation').map((a) => `${a.attrs.jid} ${a.attrs.affiliation}`);
    expect(pairs).toEqual(['admin@localhost owner', 'bob@localhost publisher', 'eve@localhost outcast']);
    const subs = await iq(w, admin, 'get', owner(x('subscriptions', { node: 'n' })));
    expect(subs.getChild('pubsub', NS.PUBSUB_OWNER)?.getChild('subscriptions')?.getChildren('subscription')).toHaveLength(0);
    expect((await iq(w, bob, 'set', publish('n', 'i1', 'by bob'))).attrs.type).toBe('result');
    expect(condition(await iq(w, eve, 'get', ps(x('items', { node: 'n' }))))).toBe('forbidden');
    const mine = await iq(w, bob, 'get', ps(x('affiliations')));
    expect(mine.getChild('pubsub', NS.PUBSUB)?.getChild('affiliations')?.getChildren('affiliation').map((a) => a.attrs.affiliation)).toEqual(['publisher']);
  });

  it('answers items (all, by id, max_items), purge, config and disco#info', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    await iq(w, admin, 'set', ps(x('create', { node: 'n' })));
    for (const id of ['a', 'b', 'c']) await iq(w, admin, 'set', publish('n', id, id));
    const ids = async (items: Element): Promise<(string | undefined)[]> =>
      (await iq(w, bob, 'get', ps(items))).getChild('pubsub', NS.PUBSUB)?.getChild('items')?.getChildren('item').map((i) => i.attrs.id) ?? [];
    expect(await ids(x('items', { node: 'n' }))).toEqual(['c', 'b', 'a']);
    expect(await ids(x('items', { node: 'n', max_items: '1' }))).toEqual(['c']);
    expect(await ids(x('items', { node: 'n' }, x('item', { id: 'a' })))).toEqual(['a']);
    await iq(w, bob, 'set', ps(x('subscribe', { node: 'n', jid: 'bob@localhost' })));
    await iq(w, admin, 'set', owner(x('configure', { node: 'n' }, form(NS.PUBSUB_NODE_CONFIG, { 'pubsub#notify_config': '1' }))));
    await iq(w, admin, 'set', owner(x('purge', { node: 'n' })));
    await settle();
    expect(events(bob).map((e) => e.getChild('event')?.elements()[0]?.local)).toEqual(['configuration', 'purge']);
    expect(await ids(x('items', { node: 'n' }))).toEqual([]);
    const info = await iq(w, bob, 'get', x('query', { xmlns: NS.DISCO_INFO }));
    expect(info.getChild('query')?.getChild('identity')?.attrs).toMatchObject({ category: 'pubsub', type: 'service' });
    expect(info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var)).toContain(`${NS.PUBSUB}#create-nodes`);
  });

  it('bounds nodes per service and item bytes, and unsubscribes only what was subscribed', async () => {
    const w = await world('  pubsub_max_nodes = 2\n  pubsub_max_item_bytes = 1024');
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    for (const node of ['a', 'b']) await iq(w, admin, 'set', ps(x('create', { node })));
    const tooMany = await iq(w, admin, 'set', ps(x('create', { node: 'c' })));
    expect(condition(tooMany)).toBe('policy-violation');
    expect(tooMany.getChild('error')?.getChildText('text')).toBe('at most 2 nodes per service');
    expect(condition(await iq(w, admin, 'set', publish('a', 'big', 'x'.repeat(2000))))).toBe('not-acceptable');
    expect(await iq(w, bob, 'get', ps(x('items', { node: 'a' })))).toMatchObject({ attrs: { type: 'result' } });
    expect(condition(await iq(w, bob, 'set', ps(x('unsubscribe', { node: 'a', jid: 'bob@localhost' }))))).toBe('unexpected-request');
    await iq(w, bob, 'set', ps(x('subscribe', { node: 'a', jid: 'bob@localhost' })));
    expect((await iq(w, bob, 'set', ps(x('unsubscribe', { node: 'a', jid: 'bob@localhost' })))).attrs.type).toBe('result');
    await iq(w, admin, 'set', publish('a', 'small', 'hi'));
    await settle();
    expect(events(bob)).toHaveLength(0);
  });

  it('gets and sets subscription options (XEP-0060 §6.3): deliver=false stops notifications; options with subscribe', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    const carol = w.bind('carol@localhost/c');
    await iq(w, admin, 'set', ps(x('create', { node: 'news' })));
    const opts = (jid: string, fields?: Record<string, string>): Element =>
      ps(x('options', { node: 'news', jid }, fields ? form(SUBSCRIBE_OPTIONS, fields) : null));
    const fieldsOf = (r: Element): Record<string, string | undefined> => Object.fromEntries(
      r.getChild('pubsub', NS.PUBSUB)?.getChild('options')?.getChild('x', NS.DATA_FORMS)?.getChildren('field').map((f) => [f.attrs.var, f.getChildText('value')]) ?? []);
    const pubsubCondition = (r: Element): string | undefined => r.getChild('error')?.elements().find((c) => c.xmlns === NS.PUBSUB_ERRORS)?.local;
    // Not subscribed yet.
    const none = await iq(w, bob, 'get', opts('bob@localhost/b'));
    expect([condition(none), pubsubCondition(none)]).toEqual(['unexpected-request', 'not-subscribed']);
    await iq(w, bob, 'set', ps(x('subscribe', { node: 'news', jid: 'bob@localhost/b' })));
    const got = await iq(w, bob, 'get', opts('bob@localhost/b'));
    expect(got.getChild('pubsub', NS.PUBSUB)?.getChild('options')?.attrs).toMatchObject({ node: 'news', jid: 'bob@localhost/b' });
    expect(fieldsOf(got)).toEqual({ FORM_TYPE: SUBSCRIBE_OPTIONS, 'pubsub#deliver': '1', 'pubsub#digest': '0', 'pubsub#include_body': '0' });
    // Someone else's subscription, digests, unknown fields: refused, nothing changed.
    expect(condition(await iq(w, carol, 'get', opts('bob@localhost/b')))).toBe('bad-request');
    const bads: Record<string, string>[] = [{ 'pubsub#digest': '1' }, { 'pubsub#show-values': 'away' }, { 'pubsub#deliver': 'maybe' }];
    for (const bad of bads) {
      const r = await iq(w, bob, 'set', opts('bob@localhost/b', bad));
      expect([condition(r), pubsubCondition(r)]).toEqual(['bad-request', 'invalid-options']);
    }
    await iq(w, admin, 'set', publish('news', 'one', 'hello'));
    await settle();
    expect(events(bob)).toHaveLength(1);
    expect((await iq(w, bob, 'set', opts('bob@localhost/b', { 'pubsub#deliver': '0', 'pubsub#digest': '0' }))).attrs.type).toBe('result');
    expect(fieldsOf(await iq(w, bob, 'get', opts('bob@localhost/b')))['pubsub#deliver']).toBe('0');
    await iq(w, admin, 'set', publish('news', 'two', 'quiet'));
    await settle();
    expect(events(bob)).toHaveLength(1);
    await iq(w, bob, 'set', opts('bob@localhost/b', { 'pubsub#deliver': 'true' }));
    await iq(w, admin, 'set', publish('news', 'three', 'again'));
    await settle();
    expect(events(bob)).toHaveLength(2);
    // Subscribe and configure in one request.
    const both = await iq(w, carol, 'set', ps(x('subscribe', { node: 'news', jid: 'carol@localhost' }), x('options', null, form(SUBSCRIBE_OPTIONS, { 'pubsub#deliver': 'false' }))));
    expect(both.attrs.type).toBe('result');
    expect(fieldsOf(await iq(w, carol, 'get', opts('carol@localhost')))['pubsub#deliver']).toBe('0');
    await iq(w, admin, 'set', publish('news', 'four', 'not for carol'));
    await settle();
    expect(events(carol)).toEqual([]);
    // The service says it does this.
    const info = await iq(w, bob, 'get', x('query', { xmlns: NS.DISCO_INFO }));
    expect(info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var)).toContain(`${NS.PUBSUB}#subscription-options`);
  });

  it('lists in disco#items only the nodes the asker may read', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    const carol = w.bind('carol@localhost/c');
    await iq(w, admin, 'set', ps(x('create', { node: 'news' })));
    await iq(w, admin, 'set', ps(x('create', { node: 'closed' }), x('configure', null, form(NS.PUBSUB_NODE_CONFIG, { 'pubsub#access_model': 'whitelist' }))));
    await iq(w, admin, 'set', owner(x('affiliations', { node: 'closed' }, x('affiliation', { jid: 'carol@localhost', affiliation: 'member' }))));
    await iq(w, admin, 'set', owner(x('affiliations', { node: 'news' }, x('affiliation', { jid: 'bob@localhost', affiliation: 'outcast' }))));
    const listed = async (s: FakeSession): Promise<(string | undefined)[]> =>
      (await iq(w, s, 'get', x('query', { xmlns: NS.DISCO_ITEMS }))).getChild('query')?.getChildren('item').map((i) => i.attrs.node).sort() ?? [];
    expect(await listed(admin)).toEqual(['closed', 'news']);
    expect(await listed(carol)).toEqual(['closed', 'news']);
    expect(await listed(bob)).toEqual([]);
    expect(await listed(w.bind('dave@localhost/d'))).toEqual(['news']);
  });

  it('bounds the bytes of the service, saying so per service', async () => {
    const w = await world('  pubsub_max_bytes = 65536\n  pubsub_max_item_bytes = 30000');
    const admin = w.bind('admin@localhost/a');
    await iq(w, admin, 'set', ps(x('create', { node: 'a' })));
    for (const id of ['1', '2']) expect((await iq(w, admin, 'set', publish('a', id, 'x'.repeat(25000)))).attrs.type).toBe('result');
    const full = await iq(w, admin, 'set', publish('a', '3', 'x'.repeat(25000)));
    expect(condition(full)).toBe('resource-constraint');
    expect(full.getChild('error')?.getChildText('text')).toBe('the stored items of one service are limited to 65536 bytes');
  });

  it('lets an owner set subscriptions (subscribed, none)', async () => {
    const w = await world();
    const admin = w.bind('admin@localhost/a');
    const bob = w.bind('bob@localhost/b');
    await iq(w, admin, 'set', ps(x('create', { node: 'n' })));
    const sub = (jid: string, subscription: string): Element => owner(x('subscriptions', { node: 'n' }, x('subscription', { jid, subscription })));
    expect((await iq(w, admin, 'set', sub('bob@localhost', 'subscribed'))).attrs.type).toBe('result');
    await iq(w, admin, 'set', publish('n', 'one', 'hi'));
    await settle();
    // Told of the new subscription (XEP-0060 §8.8.2, subscription-notifications), then notified.
    expect(events(bob).map((e) => e.getChild('event')?.elements()[0]?.local)).toEqual(['subscription', 'items']);
    expect(condition(await iq(w, admin, 'set', sub('bob@localhost', 'pending')))).toBe('bad-request');
    await iq(w, admin, 'set', sub('bob@localhost', 'none'));
    await settle();
    expect(events(bob).at(-1)?.getChild('event')?.getChild('subscription')?.attrs).toMatchObject({ node: 'n', jid: 'bob@localhost', subscription: 'none' });
    const list = await iq(w, admin, 'get', owner(x('subscriptions', { node: 'n' })));
    expect(list.getChild('pubsub', NS.PUBSUB_OWNER)?.getChild('subscriptions')?.getChildren('subscription')).toHaveLength(0);
  });
});
