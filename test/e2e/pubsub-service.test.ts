// The pubsub service component (Component "pubsub.localhost" "pubsub") end to end with slixmpp's
// xep_0060 plugin against a Clove child process (file storage): an admin creates a node and
// publishes, a subscriber gets the notification, retract and delete notify, a non-admin is
// refused creation with forbidden, and items survive a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { parseXml, Slixmpp, slixCondition } from '../helpers/slixmpp.js';
import type { XmlElement } from '../helpers/xmppjs.js';

const PASS = 'pubsub pass';
const PS = 'pubsub.localhost';
const NODE = 'princely_musings';
const NS_EVENT = 'http://jabber.org/protocol/pubsub#event';
const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
const entry = (text: string): string => `<entry xmlns='http://www.w3.org/2005/Atom'><title>${text}</title></entry>`;

let child: ChildServer;
let py: Slixmpp;

/** A headline from the service whose pubsub#event has a `kind` child about NODE. */
const isEvent = (kind: string) => (el: XmlElement): boolean =>
  el.name === 'message' && el.attrs.from === PS && el.getChild('event', NS_EVENT)?.getChild(kind)?.attrs.node === NODE;


describe('the pubsub service with slixmpp (XEP-0060)', () => {
  beforeAll(async () => {
    child = await startChild({ extra: 'admins = { "alice@localhost" }', hosts: `VirtualHost "localhost"\nComponent "${PS}" "pubsub"\n` });
    await addUsers(child.configPath, ['alice', 'bob'].map((u) => [`${u}@localhost`, PASS] as [string, string]));
    py = await Slixmpp.start(child, { timeoutMs: 90_000 });
    await py.connect('alice', 'alice@localhost', PASS, { resource: 'pc' });
    await py.connect('bob', 'bob@localhost', PASS, { resource: 'phone' });
    // Available: notifications to the bare JID go to available resources (RFC 6121 §8.5.2).
    await py.call('presence', { name: 'bob' });
  }, 60_000);

  afterAll(async () => {
    await py?.stop();
    await child?.kill().then(() => removeChildDir(child.dir));
  });

  it('refuses node creation to a non-admin with forbidden', async () => {
    expect(await slixCondition(py.call('ps_create', { name: 'bob', jid: PS, node: 'bobs' }))).toBe('forbidden');
  });

  it('creates, publishes to a subscriber, retracts and deletes with notifications', async () => {
    await py.call('ps_create', { name: 'alice', jid: PS, node: NODE });
    const sub = await py.call<{ subscription: string }>('ps_subscribe', { name: 'bob', jid: PS, node: NODE });
    expect(sub.subscription).toBe('subscribed');
    expect(await slixCondition(py.call('pep_publish', { name: 'bob', jid: PS, node: NODE, item_id: 'x', xml: entry('not mine') }))).toBe('forbidden');
    await py.call('pep_publish', { name: 'alice', jid: PS, node: NODE, item_id: 'first', xml: entry('Soliloquy') });
    const note = await py.waitFor('bob', isEvent('items'), 'publish notification', 10_000);
    expect(note.getChild('event', NS_EVENT)?.getChild('items')?.getChild('item')?.attrs.id).toBe('first');
    await py.call('pep_publish', { name: 'alice', jid: PS, node: NODE, item_id: 'second', xml: entry('Second') });
    await py.call('ps_retract', { name: 'alice', jid: PS, node: NODE, item_id: 'second' });
    await py.waitFor('bob', (el) => isEvent('items')(el) && el.getChild('event', NS_EVENT)?.getChild('items')?.getChild('retract')?.attrs.id === 'second', 'retract notification', 10_000);
    expect((await py.call<{ ids: string[] }>('pep_items', { name: 'bob', jid: PS, node: NODE })).ids).toEqual(['first']);
    await py.call('ps_create', { name: 'alice', jid: PS, node: 'doomed' });
    await py.call('ps_subscribe', { name: 'bob', jid: PS, node: 'doomed' });
    await py.call('ps_delete', { name: 'alice', jid: PS, node: 'doomed' });
    await py.waitFor('bob', (el) => el.name === 'message' && el.attrs.from === PS && el.getChild('event', NS_EVENT)?.getChild('delete')?.attrs.node === 'doomed', 'delete notification', 10_000);
    expect(await slixCondition(py.call('pep_items', { name: 'bob', jid: PS, node: 'doomed' }))).toBe('item-not-found');
  }, 40_000);

  it('gets and sets subscription options (XEP-0060 §6.3): deliver off stops notifications', async () => {
    const OPTS = 'options_node';
    const item = (id: string) => (el: XmlElement): boolean =>
      el.name === 'message' && el.attrs.from === PS && el.getChild('event', NS_EVENT)?.getChild('items')?.attrs.node === OPTS &&
      el.getChild('event', NS_EVENT)?.getChild('items')?.getChild('item')?.attrs.id === id;
    await py.call('ps_create', { name: 'alice', jid: PS, node: OPTS });
    await py.call('ps_subscribe', { name: 'bob', jid: PS, node: OPTS });
    const got = parseXml((await py.call<{ xml: string }>('ps_options_get', { name: 'bob', jid: PS, node: OPTS, user_jid: 'bob@localhost' })).xml);
    const fields = got.getChild('pubsub', NS_PUBSUB)?.getChild('options')?.getChild('x', 'jabber:x:data')?.getChildren('field') ?? [];
    expect(Object.fromEntries(fields.map((f) => [f.attrs.var, f.getChildText('value')]))).toMatchObject({ 'pubsub#deliver': '1', 'pubsub#digest': '0' });
    const set = (deliver: string): Promise<XmlElement> => py.iq('bob', `<iq type='set' to='${PS}' id='o${deliver}'><pubsub xmlns='${NS_PUBSUB}'><options node='${OPTS}' jid='bob@localhost'>` +
      `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field>` +
      `<field var='pubsub#deliver'><value>${deliver}</value></field></x></options></pubsub></iq>`);
    expect((await set('0')).attrs.type).toBe('result');
    await py.call('pep_publish', { name: 'alice', jid: PS, node: OPTS, item_id: 'quiet', xml: entry('Quiet') });
    expect((await set('1')).attrs.type).toBe('result');
    await py.call('pep_publish', { name: 'alice', jid: PS, node: OPTS, item_id: 'loud', xml: entry('Loud') });
    await py.waitFor('bob', item('loud'), 'notification with delivery on', 10_000);
    // Notifications arrive in order: had 'quiet' been sent, it would be here already.
    await expect(py.waitFor('bob', item('quiet'), 'notification with delivery off', 300)).rejects.toThrow(/no notification with delivery off/);
  }, 40_000);

  it('keeps nodes, items and subscriptions across a restart', async () => {
    await py.stop();
    await child.kill();
    child = await startChild({ dir: child.dir });
    py = await Slixmpp.start(child, { timeoutMs: 60_000 });
    await py.connect('alice', 'alice@localhost', PASS, { resource: 'pc' });
    await py.connect('bob', 'bob@localhost', PASS, { resource: 'phone' });
    // Available: notifications to the bare JID go to available resources (RFC 6121 §8.5.2).
    await py.call('presence', { name: 'bob' });
    const got = await py.call<{ ids: string[]; xml: string }>('pep_items', { name: 'bob', jid: PS, node: NODE });
    expect(got.ids).toEqual(['first']);
    expect(got.xml).toContain('Soliloquy');
    await py.call('pep_publish', { name: 'alice', jid: PS, node: NODE, item_id: 'third', xml: entry('After') });
    await py.waitFor('bob', (el) => isEvent('items')(el) && el.getChild('event', NS_EVENT)?.getChild('items')?.getChild('item')?.attrs.id === 'third', 'notification after restart', 10_000);
  }, 40_000);
});
