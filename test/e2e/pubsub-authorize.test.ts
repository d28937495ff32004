// The pubsub service's 'authorize' access model end to end with slixmpp (xep_0060, xep_0004)
// against a Clove child process with file storage: a subscription to an authorize node is
// pending, the owner gets the subscribe_authorization form (XEP-0060 §8.6) and answers it as a
// client does, the subscriber is told and notified only once approved; a pending request
// survives a restart and a denial reaches the subscriber. Also: publish_model 'open' lets a
// non-affiliated user publish, and a whitelist node is, to a stranger, absent from disco.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Slixmpp, slixCondition } from '../helpers/slixmpp.js';
import type { XmlElement } from '../helpers/xmppjs.js';

const PASS = 'authorize pass';
const PS = 'pubsub.localhost';
const NS_EVENT = 'http://jabber.org/protocol/pubsub#event';
const NS_OWNER = 'http://jabber.org/protocol/pubsub#owner';
const AUTH = 'http://jabber.org/protocol/pubsub#subscribe_authorization';
const entry = (text: string): string => `<entry xmlns='http://www.w3.org/2005/Atom'><title>${text}</title></entry>`;

let child: ChildServer;
let py: Slixmpp;


/** An approval request from the service about `subscriber`'s subscription to `node`. */
const approvalRequest = (node: string, subscriber: string) => (el: XmlElement): boolean => {
  const form = el.name === 'message' && el.attrs.from === PS ? el.getChild('x', 'jabber:x:data') : undefined;
  const value = (name: string): string | undefined => form?.getChildren('field').find((f) => f.attrs.var === name)?.getChildText('value') ?? undefined;
  return value('FORM_TYPE') === AUTH && value('pubsub#node') === node && value('pubsub#subscriber_jid') === subscriber;
};
/** A subscription state change about `node` (XEP-0060 §8.6). */
const stateChange = (node: string, subscription: string) => (el: XmlElement): boolean =>
  el.name === 'message' && el.attrs.from === PS && el.getChild('event', NS_EVENT)?.getChild('subscription')?.attrs.node === node &&
  el.getChild('event', NS_EVENT)?.getChild('subscription')?.attrs.subscription === subscription;
/** A publish notification of item `id` on `node`. */
const item = (node: string, id: string) => (el: XmlElement): boolean =>
  el.name === 'message' && el.attrs.from === PS && el.getChild('event', NS_EVENT)?.getChild('items')?.attrs.node === node &&
  el.getChild('event', NS_EVENT)?.getChild('items')?.getChild('item')?.attrs.id === id;

async function login(): Promise<void> {
  py = await Slixmpp.start(child, { timeoutMs: 90_000 });
  for (const [name, res] of [['alice', 'pc'], ['bob', 'phone'], ['carol', 'tab']] as const) {
    await py.connect(name, `${name}@localhost`, PASS, { resource: res });
    // Available: messages to the bare JID go to available resources (RFC 6121 §8.5.2).
    await py.call('presence', { name });
  }
}

/** The owner's list of subscriptions of `node` as "jid state" lines. */
async function ownerList(node: string): Promise<string[]> {
  const r = await py.iq('alice', `<iq type='get' to='${PS}' id='subs-${node}'><pubsub xmlns='${NS_OWNER}'><subscriptions node='${node}'/></pubsub></iq>`);
  return (r.getChild('pubsub', NS_OWNER)?.getChild('subscriptions')?.getChildren('subscription') ?? []).map((s) => `${s.attrs.jid} ${s.attrs.subscription}`);
}

describe('the pubsub service: authorize, publish_model and hidden nodes with slixmpp', () => {
  beforeAll(async () => {
    child = await startChild({ extra: 'admins = { "alice@localhost" }', hosts: `VirtualHost "localhost"\nComponent "${PS}" "pubsub"\n` });
    await addUsers(child.configPath, ['alice', 'bob', 'carol'].map((u) => [`${u}@localhost`, PASS] as [string, string]));
    await login();
  }, 60_000);

  afterAll(async () => {
    await py?.stop();
    await child?.kill().then(() => removeChildDir(child.dir));
  });

  it('keeps a subscription pending until the owner approves it with the §8.6 form', async () => {
    await py.call('ps_create', { name: 'alice', jid: PS, node: 'club', config: { 'pubsub#access_model': 'authorize' } });
    const sub = await py.call<{ subscription: string }>('ps_subscribe', { name: 'bob', jid: PS, node: 'club' });
    expect(sub.subscription).toBe('pending');
    const request = await py.waitFor('alice', approvalRequest('club', 'bob@localhost'), 'approval request', 10_000);
    expect(await slixCondition(py.call('pep_items', { name: 'bob', jid: PS, node: 'club' }))).toBe('not-authorized');
    await py.call('pep_publish', { name: 'alice', jid: PS, node: 'club', item_id: 'early', xml: entry('Before approval') });
    expect(await ownerList('club')).toEqual(['bob@localhost pending']);
    await py.call('ps_authorize', { name: 'alice', request: request.toString(), allow: 'true' });
    await py.waitFor('bob', stateChange('club', 'subscribed'), 'approval notification', 10_000);
    await py.call('pep_publish', { name: 'alice', jid: PS, node: 'club', item_id: 'late', xml: entry('After approval') });
    await py.waitFor('bob', item('club', 'late'), 'notification after approval', 10_000);
    // Notifications arrive in order: had 'early' gone to the pending subscriber, it would be here already.
    await expect(py.waitFor('bob', item('club', 'early'), 'notification while pending', 300)).rejects.toThrow(/no notification while pending/);
    expect((await py.call<{ ids: string[] }>('pep_items', { name: 'bob', jid: PS, node: 'club' })).ids).toEqual(['late', 'early']);
  }, 40_000);

  it('keeps a pending request across a restart; a denial reaches the subscriber', async () => {
    await py.call('ps_subscribe', { name: 'carol', jid: PS, node: 'club' });
    const request = await py.waitFor('alice', approvalRequest('club', 'carol@localhost'), 'approval request', 10_000);
    await py.stop();
    await child.kill();
    child = await startChild({ dir: child.dir });
    await login();
    expect(await ownerList('club')).toEqual(['bob@localhost subscribed', 'carol@localhost pending']);
    await py.call('ps_authorize', { name: 'alice', request: request.toString(), allow: 'false' });
    await py.waitFor('carol', stateChange('club', 'none'), 'denial notification', 10_000);
    expect(await ownerList('club')).toEqual(['bob@localhost subscribed']);
  }, 60_000);

  it('lets a non-affiliated user publish to a publish_model open node, not to a publishers one', async () => {
    await py.call('ps_create', { name: 'alice', jid: PS, node: 'wall', config: { 'pubsub#publish_model': 'open' } });
    await py.call('ps_create', { name: 'alice', jid: PS, node: 'news' });
    await py.call('pep_publish', { name: 'bob', jid: PS, node: 'wall', item_id: 'graffiti', xml: entry('Bob was here') });
    expect((await py.call<{ ids: string[] }>('pep_items', { name: 'carol', jid: PS, node: 'wall' })).ids).toEqual(['graffiti']);
    expect(await slixCondition(py.call('pep_publish', { name: 'bob', jid: PS, node: 'news', item_id: 'x', xml: entry('no') }))).toBe('forbidden');
  }, 30_000);

  it('answers disco about a whitelist node to a stranger as about a missing one', async () => {
    await py.call('ps_create', { name: 'alice', jid: PS, node: 'secret', config: { 'pubsub#access_model': 'whitelist' } });
    const info = (name: string, node: string): Promise<XmlElement> =>
      py.iq(name, `<iq type='get' to='${PS}' id='i-${node}'><query xmlns='http://jabber.org/protocol/disco#info' node='${node}'/></iq>`);
    const condition = (r: XmlElement): string | undefined => r.getChild('error')?.children.find((c): c is XmlElement => typeof c !== 'string')?.name;
    expect(condition(await info('bob', 'secret'))).toBe('item-not-found');
    expect(condition(await info('bob', 'no-such-node'))).toBe('item-not-found');
    expect((await info('alice', 'secret')).getChild('query')?.getChild('identity')?.attrs.type).toBe('leaf');
    const items = await py.call<{ items: string[][] }>('disco_items', { name: 'bob', jid: PS });
    expect(items.items.map((i) => i[1]).sort()).toEqual(['club', 'news', 'wall']);
  }, 30_000);
});
