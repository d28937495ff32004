// OMEMO over PEP between a Clove user and a Prosody 0.12 user (Debian prosody with mod_pep and
// mod_onions), through the SOCKS5 test proxy standing in for i2pd: two slixmpp clients with their
// own caps and PEP plugins subscribe to each other, exchange device lists (each server learns the
// other side's +notify through a disco#info query over s2s) and fetch each other's bundles.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SocksProxy } from '../helpers/socks-proxy.js';
import { startProsody, prosodyAvailable, onionsModuleDir, type ProsodyServer } from '../helpers/prosody.js';
import { Slixmpp } from '../helpers/slixmpp.js';
import type { XmlElement } from '../helpers/xmppjs.js';

const CLOVE = 'c'.repeat(52) + '.b32.i2p';
const PROSODY = 'prosody.example';
const PROSODY_B32 = 'p'.repeat(52) + '.b32.i2p';
const DEVICELIST = 'eu.siacs.conversations.axolotl.devicelist';
const NS_EVENT = 'http://jabber.org/protocol/pubsub#event';
const OPEN = { 'pubsub#access_model': 'open' };
const ready = prosodyAvailable() && onionsModuleDir() !== undefined;

const list = (id: number): string => `<list xmlns='eu.siacs.conversations.axolotl'><device id='${id}'/></list>`;
const bundle = (key: string): string => `<bundle xmlns='eu.siacs.conversations.axolotl'><identityKey>${key}</identityKey></bundle>`;
const isEvent = (from: string, node: string) => (el: XmlElement): boolean =>
  el.name === 'message' && el.attrs.from === from && el.getChild('event', NS_EVENT)?.getChild('items')?.attrs.node === node;
const presenceFrom = (bare: string) => (el: XmlElement): boolean =>
  el.name === 'presence' && el.attrs.type === undefined && el.attrs.from?.startsWith(`${bare}/`) === true;
const subscribeFrom = (bare: string) => (el: XmlElement): boolean =>
  el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === bare;

let proxy: SocksProxy;
let clove: TestServer;
let prosody: ProsodyServer | undefined;
let onClove: Slixmpp | undefined;
let onProsody: Slixmpp | undefined;

beforeAll(async () => {
  if (!ready) return;
  proxy = await SocksProxy.start();
  clove = await startTestServer({ s2s: true, hosts: `VirtualHost "${CLOVE}"`, extra: [`darknet_socks5_port = ${proxy.port}`, `darknet_map = { ["${PROSODY}"] = "${PROSODY_B32}" }`].join('\n') });
  await clove.addUser('alice', 'alice-pw');
  prosody = await startProsody({
    domain: PROSODY,
    users: [{ user: 'bob', password: 'bob-pw' }],
    modules: ['pep'],
    onions: { socksPort: proxy.port, map: { [CLOVE]: CLOVE } },
  });
  proxy.map(CLOVE, clove.server.s2sPort).map(PROSODY_B32, prosody.s2sPort);
}, 40_000);

afterAll(async () => {
  await onClove?.stop();
  await onProsody?.stop();
  await prosody?.stop();
  await clove?.stop();
  await proxy?.close();
});

describe.skipIf(!ready)('PEP between Clove and Prosody 0.12 over the SOCKS5 proxy', () => {
  it('exchanges OMEMO device lists (notified both ways by +notify) and bundles', async () => {
    const p = prosody as ProsodyServer;
    const alice = `alice@${CLOVE}`;
    const bob = `bob@${PROSODY}`;
    try {
      onClove = await Slixmpp.start(clove, { timeoutMs: 90_000 });
      onProsody = await Slixmpp.start({ port: p.c2sPort }, { timeoutMs: 90_000 });
      const a = onClove;
      const b = onProsody;
      await a.connect('alice', alice, 'alice-pw', { resource: 'phone' });
      await b.connect('bob', bob, 'bob-pw', { resource: 'phone' });
      await a.call('pep_interest', { name: 'alice', nodes: [DEVICELIST] });
      await b.call('pep_interest', { name: 'bob', nodes: [DEVICELIST] });
      await a.call('presence', { name: 'alice' });
      await b.call('presence', { name: 'bob' });

      await a.call('subscribe', { name: 'alice', to: bob });
      await b.waitFor('bob', subscribeFrom(alice), 'subscribe from alice', 20_000);
      await b.call('approve', { name: 'bob', to: alice });
      await a.waitFor('alice', presenceFrom(bob), "bob's presence", 20_000);
      await b.call('subscribe', { name: 'bob', to: alice });
      await a.waitFor('alice', subscribeFrom(bob), 'subscribe from bob', 20_000);
      await a.call('approve', { name: 'alice', to: bob });
      await b.waitFor('bob', presenceFrom(alice), "alice's presence", 20_000);

      // Clove → Prosody: Clove asked bob's client (over s2s) what its caps mean, and notifies it.
      await a.call('pep_publish', { name: 'alice', node: DEVICELIST, item_id: 'current', xml: list(1111), options: OPEN });
      await a.call('pep_publish', { name: 'alice', node: 'eu.siacs.conversations.axolotl.bundles:1111', item_id: 'current', xml: bundle('ALICEKEY'), options: OPEN });
      const toBob = await b.waitFor('bob', isEvent(alice, DEVICELIST), "alice's device list at bob", 20_000);
      expect(toBob.toString()).toContain('1111');
      // Prosody → Clove.
      await b.call('pep_publish', { name: 'bob', node: DEVICELIST, item_id: 'current', xml: list(2222), options: OPEN });
      await b.call('pep_publish', { name: 'bob', node: 'eu.siacs.conversations.axolotl.bundles:2222', item_id: 'current', xml: bundle('BOBKEY'), options: OPEN });
      const toAlice = await a.waitFor('alice', isEvent(bob, DEVICELIST), "bob's device list at alice", 20_000);
      expect(toAlice.toString()).toContain('2222');

      // Bundles fetched across the federation.
      const bobs = await a.call<{ xml: string }>('pep_items', { name: 'alice', jid: bob, node: 'eu.siacs.conversations.axolotl.bundles:2222' }, 30_000);
      expect(bobs.xml).toContain('BOBKEY');
      const alices = await b.call<{ xml: string }>('pep_items', { name: 'bob', jid: alice, node: 'eu.siacs.conversations.axolotl.bundles:1111' }, 30_000);
      expect(alices.xml).toContain('ALICEKEY');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${p.tail(80)}`);
    }
    expect(proxy.requested).not.toContain(PROSODY);
  }, 60_000);
});
