// Personal eventing (XEP-0163) end to end with slixmpp's own pubsub, caps and PEP plugins against
// a Clove child process (file storage): the OMEMO device list and bundle exchange with
// publish-options, notifications only to resources whose entity capabilities (XEP-0115) show
// +notify, publish-options mismatch, retract/purge/delete/config notifications, max_items, bad
// input, items surviving a restart, and PEP private storage (XEP-0223).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Slixmpp, SlixError, parseXml } from '../helpers/slixmpp.js';
import type { XmlElement } from '../helpers/xmppjs.js';

const PASS = 'pep pass';
const DEVICELIST = 'eu.siacs.conversations.axolotl.devicelist';
const BUNDLE = 'eu.siacs.conversations.axolotl.bundles:31415';
const STATUS = 'urn:example:status';
const NS_EVENT = 'http://jabber.org/protocol/pubsub#event';
const NS_OWNER = 'http://jabber.org/protocol/pubsub#owner';
const OPEN = { 'pubsub#access_model': 'open' };
/** The publish-options of XEP-0223 private storage. */
const PRIVATE = { 'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist', 'pubsub#send_last_published_item': 'never' };
const list = (...ids: number[]): string =>
  `<list xmlns='eu.siacs.conversations.axolotl'>${ids.map((id) => `<device id='${id}'/>`).join('')}</list>`;
const bundle = (key: string): string =>
  `<bundle xmlns='eu.siacs.conversations.axolotl'><signedPreKeyPublic signedPreKeyId='1'>${key}</signedPreKeyPublic><identityKey>${key}</identityKey></bundle>`;

let child: ChildServer;
let py: Slixmpp;

/** The pubsub#event child of a headline from `from` about `node`, as `kind` (items, purge, delete, configuration). */
const isEvent = (from: string, node: string, kind = 'items') => (el: XmlElement): boolean =>
  el.name === 'message' && el.attrs.from === from && el.getChild('event', NS_EVENT)?.getChild(kind)?.attrs.node === node;

/** What a failed command's error iq says: [condition, the whole error XML]. */
async function failure(p: Promise<unknown>): Promise<[string, string]> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SlixError) return [String(err.info.condition), String(err.info.xml)];
    throw err;
  }
  throw new Error('expected an error');
}

/** alice and bob subscribe to each other, each waiting for the other's presence. */
async function befriend(a: string, aJid: string, b: string, bJid: string): Promise<void> {
  for (const [x, xJid, y, yJid] of [[a, aJid, b, bJid], [b, bJid, a, aJid]] as const) {
    await py.call('subscribe', { name: x, to: yJid });
    await py.waitFor(y, (el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === xJid, 'subscribe', 10_000);
    await py.call('approve', { name: y, to: xJid });
    await py.waitFor(x, (el) => el.name === 'presence' && el.attrs.type === undefined && el.attrs.from?.startsWith(`${yJid}/`) === true, 'presence', 10_000);
  }
}

const received = (name: string, pred: (el: XmlElement) => boolean): number =>
  py.proc.lines.filter((l) => l.event === 'in' && l.client === name && typeof l.xml === 'string' && pred(parseXml(l.xml))).length;

describe('PEP with slixmpp (XEP-0163, XEP-0060, XEP-0115)', () => {
  beforeAll(async () => {
    child = await startChild({ extra: 'pep_max_item_bytes = 4096' });
    await addUsers(child.configPath, ['alice', 'bob', 'carol'].map((u) => [`${u}@localhost`, PASS] as [string, string]));
    py = await Slixmpp.start(child, { timeoutMs: 120_000 });
    await py.connect('alice', 'alice@localhost', PASS, { resource: 'phone' });
    await py.connect('bob', 'bob@localhost', PASS, { resource: 'phone' });
    await py.connect('bobpc', 'bob@localhost', PASS, { resource: 'pc' });
    await py.connect('carol', 'carol@localhost', PASS, { resource: 'laptop' });
    await py.call('pep_interest', { name: 'alice', nodes: [DEVICELIST, STATUS] });
    await py.call('pep_interest', { name: 'bob', nodes: [DEVICELIST] });
    for (const name of ['alice', 'bob', 'bobpc', 'carol']) await py.call('presence', { name });
    await befriend('alice', 'alice@localhost', 'bob', 'bob@localhost');
  }, 60_000);

  afterAll(async () => {
    await py?.stop();
    if (child) {
      await child.kill();
      await removeChildDir(child.dir);
    }
  });

  it('exchanges OMEMO device lists and bundles with publish-options; a stranger fetches the bundle; only +notify resources are told', async () => {
    const pub = await py.call<{ id: string }>('pep_publish', { name: 'bob', node: DEVICELIST, item_id: 'current', xml: list(31415), options: OPEN });
    expect(pub.id).toBe('current');
    await py.call('pep_publish', { name: 'bob', node: BUNDLE, item_id: 'current', xml: bundle('BOBKEY'), options: OPEN });
    const note = await py.waitFor('alice', isEvent('bob@localhost', DEVICELIST), 'the device list notification', 10_000);
    expect(note.attrs.type).toBe('headline');
    expect(note.toString()).toContain('31415');
    // bob's own phone (+notify) hears it; his pc (no caps) never does.
    await py.waitFor('bob', isEvent('bob@localhost', DEVICELIST), "bob's own notification", 10_000);

    // alice fetches the bundle the device list names, then publishes her own.
    const got = await py.call<{ ids: string[]; xml: string }>('pep_items', { name: 'alice', jid: 'bob@localhost', node: BUNDLE });
    expect(got.ids).toEqual(['current']);
    expect(got.xml).toContain('BOBKEY');
    await py.call('pep_publish', { name: 'alice', node: DEVICELIST, item_id: 'current', xml: list(2718), options: OPEN });
    await py.call('pep_publish', { name: 'alice', node: 'eu.siacs.conversations.axolotl.bundles:2718', item_id: 'current', xml: bundle('ALICEKEY'), options: OPEN });
    await py.waitFor('bob', isEvent('alice@localhost', DEVICELIST), "alice's device list", 10_000);

    // carol, who has no subscription to anyone, fetches bob's bundle (access model open).
    const stranger = await py.call<{ ids: string[]; xml: string }>('pep_items', { name: 'carol', jid: 'bob@localhost', node: BUNDLE });
    expect(stranger.xml).toContain('BOBKEY');
    // ...but is never notified, and bob's pc without +notify got nothing.
    await new Promise((r) => setTimeout(r, 500));
    expect(received('bobpc', (el) => el.name === 'message' && !!el.getChild('event', NS_EVENT))).toBe(0);
    expect(received('carol', (el) => el.name === 'message' && !!el.getChild('event', NS_EVENT))).toBe(0);
  });

  it('carries OMEMO 2 (urn:xmpp:omemo:2): a devices list and bundles as items by device id, max_items max', async () => {
    const options = { ...OPEN, 'pubsub#max_items': 'max' };
    await py.call('pep_publish', { name: 'bob', node: 'urn:xmpp:omemo:2:devices', item_id: 'current', xml: "<devices xmlns='urn:xmpp:omemo:2'><device id='11'/><device id='12'/></devices>", options: OPEN });
    for (const id of ['11', '12']) {
      await py.call('pep_publish', { name: 'bob', node: 'urn:xmpp:omemo:2:bundles', item_id: id, xml: `<bundle xmlns='urn:xmpp:omemo:2'><ik>KEY${id}</ik></bundle>`, options });
    }
    const one = await py.call<{ ids: string[]; xml: string }>('pep_items', { name: 'carol', jid: 'bob@localhost', node: 'urn:xmpp:omemo:2:bundles', ids: ['11'] });
    expect(one.ids).toEqual(['11']);
    expect(one.xml).toContain('KEY11');
    expect((await py.call<{ ids: string[] }>('pep_items', { name: 'carol', jid: 'bob@localhost', node: 'urn:xmpp:omemo:2:bundles' })).ids).toEqual(['12', '11']);
  });

  it('answers a publish-options mismatch with conflict and precondition-not-met', async () => {
    const [condition, xml] = await failure(py.call('pep_publish', { name: 'bob', node: DEVICELIST, item_id: 'current', xml: list(1), options: { 'pubsub#access_model': 'presence' } }));
    expect(condition).toBe('conflict');
    expect(xml).toContain("<precondition-not-met xmlns=\"http://jabber.org/protocol/pubsub#errors\"");
    const still = await py.call<{ xml: string }>('pep_items', { name: 'carol', jid: 'bob@localhost', node: DEVICELIST });
    expect(still.xml).toContain('31415');
  });

  it('notifies retract, config change, purge and delete', async () => {
    await py.call('pep_publish', { name: 'bob', node: STATUS, item_id: 's1', xml: "<status xmlns='urn:example:status'>busy</status>", options: { ...OPEN, 'pubsub#notify_config': '1' } });
    await py.waitFor('alice', isEvent('bob@localhost', STATUS), 'the status item', 10_000);
    const owner = (op: string) => `<iq type='set'><pubsub xmlns='${NS_OWNER}'>${op}</pubsub></iq>`;
    const ok = async (xml: string): Promise<void> => {
      const r = await py.iq('bob', xml);
      expect(r.attrs.type, r.toString()).toBe('result');
    };
    await ok(`<iq type='set'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='${STATUS}' notify='true'><item id='s1'/></retract></pubsub></iq>`);
    const retract = await py.waitFor('alice', isEvent('bob@localhost', STATUS), 'the retraction', 10_000);
    expect(retract.getChild('event', NS_EVENT)!.getChild('items')!.getChild('retract')?.attrs.id).toBe('s1');
    await ok(owner(`<configure node='${STATUS}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field><field var='pubsub#title'><value>Status</value></field></x></configure>`));
    await py.waitFor('alice', isEvent('bob@localhost', STATUS, 'configuration'), 'the configuration notification', 10_000);
    await ok(owner(`<purge node='${STATUS}'/>`));
    await py.waitFor('alice', isEvent('bob@localhost', STATUS, 'purge'), 'the purge notification', 10_000);
    await ok(owner(`<delete node='${STATUS}'/>`));
    await py.waitFor('alice', isEvent('bob@localhost', STATUS, 'delete'), 'the delete notification', 10_000);
    const [gone] = await failure(py.call('pep_items', { name: 'bob', jid: 'bob@localhost', node: STATUS }));
    expect(gone).toBe('item-not-found');
  });

  it('honours max_items in the node config and in requests', async () => {
    for (const id of ['1', '2', '3']) {
      await py.call('pep_publish', { name: 'bob', node: 'urn:example:log', item_id: id, xml: `<entry xmlns='urn:example:log'>${id}</entry>`, options: { ...OPEN, 'pubsub#max_items': '2' } });
    }
    expect((await py.call<{ ids: string[] }>('pep_items', { name: 'carol', jid: 'bob@localhost', node: 'urn:example:log' })).ids).toEqual(['3', '2']);
    expect((await py.call<{ ids: string[] }>('pep_items', { name: 'carol', jid: 'bob@localhost', node: 'urn:example:log', max_items: 1 })).ids).toEqual(['3']);
    expect((await py.call<{ ids: string[] }>('pep_items', { name: 'carol', jid: 'bob@localhost', node: 'urn:example:log', ids: ['2'] })).ids).toEqual(['2']);
  });

  it('refuses bad input with the right error and stores nothing', async () => {
    const big = await failure(py.call('pep_publish', { name: 'carol', node: 'urn:example:big', item_id: 'x', xml: `<big xmlns='urn:example:big'>${'a'.repeat(5000)}</big>` }));
    expect(big[0]).toBe('not-acceptable');
    expect(big[1]).toContain('payload-too-big');
    const unknown = await failure(py.call('pep_publish', { name: 'carol', node: 'urn:example:n', item_id: 'x', xml: "<n xmlns='urn:example:n'/>", options: { 'pubsub#colour': 'red' } }));
    expect(unknown[0]).toBe('not-acceptable');
    const model = await failure(py.call('pep_publish', { name: 'carol', node: 'urn:example:n', item_id: 'x', xml: "<n xmlns='urn:example:n'/>", options: { 'pubsub#access_model': 'everyone' } }));
    expect(model[0]).toBe('not-acceptable');
    const other = await failure(py.call('pep_publish', { name: 'carol', jid: 'bob@localhost', node: DEVICELIST, item_id: 'current', xml: list(666) }));
    expect(other[0]).toBe('forbidden');
    for (const node of ['urn:example:big', 'urn:example:n']) {
      expect((await failure(py.call('pep_items', { name: 'carol', jid: 'carol@localhost', node })))[0]).toBe('item-not-found');
    }
    expect((await py.call<{ xml: string }>('pep_items', { name: 'carol', jid: 'bob@localhost', node: DEVICELIST })).xml).not.toContain('666');
  });

  it('keeps PEP private storage (XEP-0223) from a contact whose caps want the node', async () => {
    // alice's caps show STATUS+notify; bob stores a private item there (the notify test deleted the node).
    const secret = "<status xmlns='urn:example:status'>private</status>";
    await py.call('pep_publish', { name: 'bob', node: STATUS, item_id: 'current', xml: secret, options: PRIVATE });
    // A marker published after it, on a node alice also wants: notifications arrive in order.
    await py.call('pep_publish', { name: 'bob', node: DEVICELIST, item_id: 'current', xml: list(7), options: OPEN });
    const device7 = (el: XmlElement): boolean => el.getChild('event', NS_EVENT)?.getChild('items')?.getChild('item')?.getChild('list')?.getChild('device')?.attrs.id === '7';
    await py.waitFor('alice', (el) => isEvent('bob@localhost', DEVICELIST)(el) && device7(el), 'the marker', 10_000);
    const privateItem = (el: XmlElement): boolean => el.getChild('event', NS_EVENT)?.getChild('items')?.getChild('item')?.getChildText('status') === 'private';
    expect(received('alice', (el) => isEvent('bob@localhost', STATUS)(el) && privateItem(el))).toBe(0);
    for (const name of ['alice', 'carol']) {
      expect((await failure(py.call('pep_items', { name, jid: 'bob@localhost', node: STATUS })))[0]).toBe('not-allowed');
    }
  });

  it('keeps nodes, configs and items across a restart', async () => {
    await py.stop();
    await child.kill();
    child = await startChild({ dir: child.dir });
    py = await Slixmpp.start(child, { timeoutMs: 60_000 });
    await py.connect('carol', 'carol@localhost', PASS, { resource: 'laptop' });
    const got = await py.call<{ ids: string[]; xml: string }>('pep_items', { name: 'carol', jid: 'bob@localhost', node: BUNDLE });
    expect(got.xml).toContain('BOBKEY');
    expect((await py.call<{ ids: string[] }>('pep_items', { name: 'carol', jid: 'bob@localhost', node: 'urn:example:log' })).ids).toEqual(['3', '2']);
    // The config came back too: publish-options still checked against it.
    await py.connect('bob', 'bob@localhost', PASS, { resource: 'phone' });
    // XEP-0223 private storage: its owner reads it back, a stranger still may not.
    expect((await py.call<{ xml: string }>('pep_items', { name: 'bob', jid: 'bob@localhost', node: STATUS })).xml).toContain('private');
    expect((await failure(py.call('pep_items', { name: 'carol', jid: 'bob@localhost', node: STATUS })))[0]).toBe('not-allowed');
    const [condition] = await failure(py.call('pep_publish', { name: 'bob', node: DEVICELIST, item_id: 'current', xml: list(1), options: { 'pubsub#access_model': 'whitelist' } }));
    expect(condition).toBe('conflict');
  }, 40_000);
});
