// PEP between two Clove servers through the SOCKS5 test proxy (i2pd's stand-in), zero DNS: bob on
// B announces +notify for the OMEMO device list in his caps; A asks bob's client over s2s what
// the caps mean, then delivers alice's device list (last item on interest, then live) over s2s,
// and bob fetches alice's bundle from her bare JID. Raw Wire clients, so the caps presence and
// the disco#info answer are exactly as written here. References: XEP-0163, XEP-0115, XEP-0384.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Wire, match, type El } from '../helpers/wire.js';
import { SocksProxy, darknetConfig } from '../helpers/socks-proxy.js';
import { friends } from '../helpers/contacts.js';
import * as guard from '../helpers/leak-guard.js';
import { clientInfo, showCaps } from '../helpers/caps.js';
import { NS } from '../../src/xml/ns.js';

const A = 'k'.repeat(52) + '.b32.i2p';
const B = 'm'.repeat(52) + '.b32.i2p';
/** A pubsub service under A's b32 name: dialled as A, the stream's `to` naming it. */
const PS = `pubsub.${A}`;
const DEVICELIST = 'eu.siacs.conversations.axolotl.devicelist';
const BUNDLE = 'eu.siacs.conversations.axolotl.bundles:1111';
const MODULES = 'modules_enabled = { "roster"; "disco"; "ping"; "vcard"; "darknet"; "pep" }';
const OPEN = `<publish-options><x xmlns='${NS.DATA_FORMS}' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS.PUBSUB_PUBLISH_OPTIONS}</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options>`;

const publish = (node: string, payload: string): string =>
  `<iq type='set'><pubsub xmlns='${NS.PUBSUB}'><publish node='${node}'><item id='current'>${payload}</item></publish>${OPEN}</pubsub></iq>`;
const list = (...ids: number[]): string => `<list xmlns='eu.siacs.conversations.axolotl'>${ids.map((id) => `<device id='${id}'/>`).join('')}</list>`;
const deviceEvent = (from: string) => match('message', { from, type: 'headline' }, (m: El) => m.getChild('event', NS.PUBSUB_EVENT)?.getChild('items')?.attrs.node === DEVICELIST);
const deviceIds = (m: El): string[] =>
  m.getChild('event', NS.PUBSUB_EVENT)?.getChild('items')?.getChild('item')?.getChild('list', 'eu.siacs.conversations.axolotl')?.getChildren('device').map((d) => d.attrs.id ?? '') ?? [];

let proxy: SocksProxy;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  proxy = await SocksProxy.start();
  a = await startTestServer({ s2s: true, extra: darknetConfig(proxy.port, MODULES, `admins = { "alice@${A}" }`), hosts: `VirtualHost "${A}"\nComponent "${PS}" "pubsub"\n` });
  b = await startTestServer({ s2s: true, extra: darknetConfig(proxy.port, MODULES), hosts: `VirtualHost "${B}"` });
  proxy.map(A, a.server.s2sPort).map(B, b.server.s2sPort);
  await a.addUser('alice', 'alice-pw');
  await b.addUser('bob', 'bob-pw');
}, 30_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await proxy?.close();
});

/**
 * Log alice in on A and bob on B (resource `resource`), run `body`, close both; no DNS lookup
 * and no connection but to the proxy and the two servers, and i2pd asked only for A and B.
 */
async function overI2p(resource: string, body: (alice: Wire, bob: Wire) => Promise<void>): Promise<void> {
  guard.start([{ port: proxy.port }, { port: a.port }, { port: b.port }]);
  try {
    const alice = await Wire.login({ port: a.port, domain: A, username: 'alice', password: 'alice-pw', resource, timeoutMs: 15_000 });
    const bob = await Wire.login({ port: b.port, domain: B, username: 'bob', password: 'bob-pw', resource, timeoutMs: 15_000 });
    await body(alice, bob);
    await bob.close();
    await alice.close();
  } finally {
    guard.stop();
  }
  guard.assertNoLeaks();
  expect([...new Set(proxy.requested)].sort()).toEqual([A, B].sort());
}

describe('PEP between two Clove servers over I2P', () => {
  it('notifies a remote +notify contact of an OMEMO device list and serves the bundle over s2s, zero DNS', () => overI2p('phone', async (alice, bob) => {
    await friends(alice, bob);
    expect((await alice.iq(publish(DEVICELIST, list(1111)))).attrs.type).toBe('result');
    expect((await alice.iq(publish(BUNDLE, `<bundle xmlns='eu.siacs.conversations.axolotl'><identityKey>ALICEKEY</identityKey></bundle>`))).attrs.type).toBe('result');

    // bob's caps reach A with his presence; A asks bob's client (over s2s, from alice's bare JID) what they mean.
    // B asks too (for bob's own PEP): each server keeps its own caps cache.
    await showCaps(bob, clientInfo('wire', `${DEVICELIST}+notify`), [`alice@${A}`, `bob@${B}`], 15_000);
    // Interest shown: the last item at once, then each new publish, all over s2s.
    expect(deviceIds(await bob.waitFor(deviceEvent(`alice@${A}`), 15_000))).toEqual(['1111']);
    expect((await alice.iq(publish(DEVICELIST, list(1111, 2222)))).attrs.type).toBe('result');
    const live = await bob.waitFor(deviceEvent(`alice@${A}`), 15_000);
    expect([live.attrs.to, deviceIds(live)]).toEqual([`bob@${B}/phone`, ['1111', '2222']]);

    // The bundle, fetched from alice's bare JID across the federation.
    const got = await bob.iq(`<iq type='get' to='alice@${A}'><pubsub xmlns='${NS.PUBSUB}'><items node='${BUNDLE}'/></pubsub></iq>`, 15_000);
    expect(got.attrs.type).toBe('result');
    expect(got.getChild('pubsub', NS.PUBSUB)?.getChild('items')?.getChild('item')?.getChild('bundle', 'eu.siacs.conversations.axolotl')?.getChildText('identityKey')).toBe('ALICEKEY');
  }), 60_000);

  it('delivers a pubsub service node\'s notification to a remote subscriber over s2s, zero DNS', () => overI2p('ps', async (alice, bob) => {
    expect((await alice.iq(`<iq type='set' to='${PS}'><pubsub xmlns='${NS.PUBSUB}'><create node='news'/></pubsub></iq>`)).attrs.type).toBe('result');
    const sub = await bob.iq(`<iq type='set' to='${PS}'><pubsub xmlns='${NS.PUBSUB}'><subscribe node='news' jid='bob@${B}/ps'/></pubsub></iq>`, 15_000);
    expect(sub.getChild('pubsub', NS.PUBSUB)?.getChild('subscription')?.attrs.subscription).toBe('subscribed');
    expect((await alice.iq(`<iq type='set' to='${PS}'><pubsub xmlns='${NS.PUBSUB}'><publish node='news'><item id='n1'><entry xmlns='http://www.w3.org/2005/Atom'><title>hello</title></entry></item></publish></pubsub></iq>`)).attrs.type).toBe('result');
    const note = await bob.waitFor(match('message', { from: PS }, (m: El) => m.getChild('event', NS.PUBSUB_EVENT) !== undefined), 15_000);
    const item = note.getChild('event', NS.PUBSUB_EVENT)?.getChild('items')?.getChild('item');
    expect([note.attrs.to, item?.attrs.id, item?.getChild('entry', 'http://www.w3.org/2005/Atom')?.getChildText('title')]).toEqual([`bob@${B}/ps`, 'n1', 'hello']);
  }), 60_000);
});
