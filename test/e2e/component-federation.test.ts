// A component's domain reached from a remote Clove through the SOCKS5 test proxy (i2pd's
// stand-in), with dialback both ways and zero DNS: once as its own b32 name (the component has
// its own i2pd destination, mapped in the proxy to the hosting server's s2s port), once as
// `room@conf.<b32>` — a subdomain i2pd cannot resolve, dialled as <b32> with the stream's `to`
// naming the subdomain, so the proxy is asked only for the b32 names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Wire, match } from '../helpers/wire.js';
import { SocksProxy, darknetConfig } from '../helpers/socks-proxy.js';
import { testComponent } from '../helpers/test-component.js';
import * as guard from '../helpers/leak-guard.js';

const A = 'f'.repeat(52) + '.b32.i2p';
const B = 'g'.repeat(52) + '.b32.i2p';
/** The component with its own i2pd destination. */
const OWN = 'h'.repeat(52) + '.b32.i2p';
/** The component under the hosting server's b32 name. */
const SUB = `conf.${B}`;

let proxy: SocksProxy;
let a: TestServer;
let b: TestServer;
const comp = testComponent();

beforeAll(async () => {
  proxy = await SocksProxy.start();
  a = await startTestServer({ s2s: true, extra: darknetConfig(proxy.port), hosts: `VirtualHost "${A}"` });
  b = await startTestServer({
    s2s: true,
    extra: darknetConfig(proxy.port),
    hosts: `VirtualHost "${B}"\nComponent "${SUB}" "test_component"\nComponent "${OWN}" "test_component"\n`,
    extraModules: [comp.module],
  });
  proxy.map(A, a.server.s2sPort).map(B, b.server.s2sPort).map(OWN, b.server.s2sPort);
  await a.addUser('alice', 'alice-pw');
  await b.addUser('bob', 'bob-pw');
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await proxy?.close();
});

describe('a component federating over I2P', () => {
  it('is reached as its own b32 and as a b32 subdomain, answers back, dialback both ways, zero DNS', async () => {
    guard.start([{ port: proxy.port }, { port: a.port }, { port: b.port }]);
    try {
      const alice = await Wire.login({ port: a.port, domain: A, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 15_000 });
      for (const to of [`room@${OWN}/nick`, `room@${SUB}`]) {
        alice.send(`<message to='${to}' type='chat'><body>hi</body></message>`);
        const answer = await alice.waitFor(match('message', { from: to }), 15_000);
        expect(answer.getChildText('body')).toMatch(/^component got /);
        expect(comp.seen).toContain(`${to.includes('/') ? 'full' : 'bare'} ${to}`);
        // Both directions carried stanzas, and an inbound stream takes stanzas only for a pair
        // dialback verified: A for the component domain on B, the component domain on A.
      }
      const pong = await alice.iq(`<iq type='get' to='${SUB}'><ping xmlns='urn:xmpp:ping'/></iq>`, 15_000);
      expect(pong.attrs.type).toBe('result');
      // B's own domain goes over the same b32 destination but its own stream (streams are per
      // local → remote domain pair): a user there gets messages too, and the component still does.
      const bob = await Wire.login({ port: b.port, domain: B, username: 'bob', password: 'bob-pw', resource: 'r', timeoutMs: 15_000 });
      alice.send(`<message to='bob@${B}/r' type='chat' id='tob'><body>to bob</body></message>`);
      expect((await bob.waitFor(match('message', { id: 'tob' }), 15_000)).attrs.from).toBe(`alice@${A}/r`);
      alice.send(`<message to='room@${SUB}' type='chat'><body>again</body></message>`);
      await alice.waitFor(match('message', { from: `room@${SUB}` }), 15_000);
      await bob.close();
      await alice.close();
    } finally {
      guard.stop();
    }
    guard.assertNoLeaks();
    // i2pd is never asked for the subdomain: only b32 names it can resolve.
    expect([...new Set(proxy.requested)].sort()).toEqual([A, B, OWN].sort());
  }, 40_000);
});
