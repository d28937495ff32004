// A remote server that vanishes without sending unavailable (its I2P tunnel drops): the caps
// interest its users left on our server goes with its s2s links, so PEP notifications are no
// longer routed, queued or dialled for them. A is a `clove start` child (its log is read), B an
// in-process server; both reach each other only through the SOCKS5 test proxy, which records
// every name it is asked for. References: XEP-0163 §4 (+notify), XEP-0115.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire, match, type El } from '../helpers/wire.js';
import { SocksProxy, darknetConfig } from '../helpers/socks-proxy.js';
import { friends } from '../helpers/contacts.js';
import { clientInfo, showCaps } from '../helpers/caps.js';
import { NS } from '../../src/xml/ns.js';

const A = 'r'.repeat(52) + '.b32.i2p';
const B = 's'.repeat(52) + '.b32.i2p';
const DEVICELIST = 'eu.siacs.conversations.axolotl.devicelist';
const MODULES = 'modules_enabled = { "roster"; "disco"; "ping"; "darknet"; "pep" }';
const OPEN = `<publish-options><x xmlns='${NS.DATA_FORMS}' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS.PUBSUB_PUBLISH_OPTIONS}</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options>`;
const publish = (...ids: number[]): string =>
  `<iq type='set'><pubsub xmlns='${NS.PUBSUB}'><publish node='${DEVICELIST}'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'>${ids.map((id) => `<device id='${id}'/>`).join('')}</list></item></publish>${OPEN}</pubsub></iq>`;

let proxy: SocksProxy;
let a: ChildServer;
let b: TestServer;

beforeAll(async () => {
  proxy = await SocksProxy.start();
  a = await startChild({ s2s: true, extra: darknetConfig(proxy.port, MODULES), hosts: `VirtualHost "${A}"` });
  await addUsers(a.configPath, [[`alice@${A}`, 'alice-pw']]);
  b = await startTestServer({ s2s: true, extra: darknetConfig(proxy.port, MODULES), hosts: `VirtualHost "${B}"` });
  await b.addUser('bob', 'bob-pw');
  proxy.map(A, a.s2sPort).map(B, b.server.s2sPort);
}, 30_000);

afterAll(async () => {
  await a?.kill();
  if (a) await removeChildDir(a.dir);
  await b?.stop();
  await proxy?.close();
});

it('forgets a vanished server\'s +notify resources: nothing is routed or dialled for them after its links are lost', async () => {
  const alice = await Wire.login({ port: a.port, domain: A, username: 'alice', password: 'alice-pw', resource: 'pc', timeoutMs: 15_000 });
  const bob = await Wire.login({ port: b.port, domain: B, username: 'bob', password: 'bob-pw', resource: 'phone', timeoutMs: 15_000 });
  try {
    await friends(alice, bob);
    expect((await alice.iq(publish(1111))).attrs.type).toBe('result');
    // bob's caps show the device list +notify; A (and B, for bob's own PEP) ask his client what they mean.
    await showCaps(bob, clientInfo('wire', `${DEVICELIST}+notify`), [`alice@${A}`, `bob@${B}`], 15_000);
    // Interest shown: A sends bob the last item over s2s.
    await bob.waitFor(match('message', { from: `alice@${A}`, type: 'headline' }, (m: El) => m.getChild('event', NS.PUBSUB_EVENT) !== undefined), 15_000);

    // B vanishes: its tunnel drops, bob never says unavailable, and i2pd cannot reach B any more.
    proxy.behave('refuse', B);
    proxy.cut();
    // A says when it has forgotten them (checked last: without it, the publish below shows why).
    const forgot = await a.waitForLog((l) => l.msg === 'pep: caps interest of a lost remote server forgotten' && l.remote === B, 10_000).catch(() => undefined);

    // alice publishes again: nothing is queued for bob@B/phone, so i2pd is never asked for B.
    const asked = proxy.requested.length;
    expect((await alice.iq(publish(1111, 2222))).attrs.type).toBe('result');
    await new Promise((r) => setTimeout(r, 1500));
    expect(proxy.requested.slice(asked).filter((name) => name === B)).toEqual([]);
    expect(forgot?.entries).toBe(1);
  } finally {
    await alice.close();
    await bob.close();
  }
}, 60_000);
