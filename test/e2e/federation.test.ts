// Two Clove servers with b32 domains federating through a SOCKS5 test proxy standing in for
// i2pd: dialback both ways, subscriptions, presence, messages and a remote vCard — with
// darknet_only on, and Node's dns and net instrumented so any leak fails the test.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Wire, match } from '../helpers/wire.js';
import { SocksProxy, darknetConfig } from '../helpers/socks-proxy.js';
import * as guard from '../helpers/leak-guard.js';

const A = 'a'.repeat(52) + '.b32.i2p';
const B = 'b'.repeat(52) + '.b32.i2p';

let proxy: SocksProxy;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  proxy = await SocksProxy.start();
  a = await startTestServer({ s2s: true, extra: darknetConfig(proxy.port), hosts: `VirtualHost "${A}"` });
  b = await startTestServer({ s2s: true, extra: darknetConfig(proxy.port), hosts: `VirtualHost "${B}"` });
  proxy.map(A, a.server.s2sPort).map(B, b.server.s2sPort);
  await a.addUser('alice', 'alice-pw');
  await b.addUser('bob', 'bob-pw');
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await proxy?.close();
});

const login = (srv: TestServer, username: string, password: string) =>
  Wire.login({ port: srv.port, domain: srv.domain, username, password, resource: 'r', timeoutMs: 10_000 });

describe('federation through the SOCKS5 proxy', () => {
  it('subscribes, sees presence, chats both ways and reads a remote vCard, leaking nothing', async () => {
    guard.start([{ port: proxy.port }, { port: a.port }, { port: b.port }]);
    try {
      const alice = await login(a, 'alice', 'alice-pw');
      const bob = await login(b, 'bob', 'bob-pw');
      await alice.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
      await bob.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
      alice.send('<presence/>');
      bob.send('<presence/>');

      // alice → bob subscription, approved; then bob → alice.
      alice.send(`<presence to='bob@${B}' type='subscribe'/>`);
      await bob.waitFor(match('presence', { type: 'subscribe', from: `alice@${A}` }), 15_000);
      bob.send(`<presence to='alice@${A}' type='subscribed'/>`);
      await alice.waitFor(match('presence', { from: `bob@${B}/r`, type: null }), 15_000);
      bob.send(`<presence to='alice@${A}' type='subscribe'/>`);
      await alice.waitFor(match('presence', { type: 'subscribe', from: `bob@${B}` }), 15_000);
      alice.send(`<presence to='bob@${B}' type='subscribed'/>`);
      await bob.waitFor(match('presence', { from: `alice@${A}/r`, type: null }), 15_000);

      const roster = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
      const item = roster.getChild('query')!.getChildren('item').find((i) => i.attrs.jid === `bob@${B}`);
      expect(item?.attrs.subscription).toBe('both');

      // Messages both ways.
      alice.send(`<message to='bob@${B}/r' type='chat' id='m1'><body>hello over I2P</body></message>`);
      const m1 = await bob.waitFor(match('message', { id: 'm1' }), 15_000);
      expect(m1.attrs.from).toBe(`alice@${A}/r`);
      expect(m1.getChildText('body')).toBe('hello over I2P');
      bob.send(`<message to='alice@${A}' type='chat' id='m2'><body>hi back</body></message>`);
      const m2 = await alice.waitFor(match('message', { id: 'm2' }), 15_000);
      expect(m2.attrs.from).toBe(`bob@${B}/r`);
      expect(m2.getChildText('body')).toBe('hi back');

      // A remote user's vCard.
      await bob.iq(`<iq type='set'><vCard xmlns='vcard-temp'><FN>Bob B</FN></vCard></iq>`);
      const v = await alice.iq(`<iq type='get' to='bob@${B}'><vCard xmlns='vcard-temp'/></iq>`);
      expect(v.attrs.type).toBe('result');
      expect(v.attrs.from).toBe(`bob@${B}`);
      expect(v.getChild('vCard')!.getChildText('FN')).toBe('Bob B');

      // Unavailable crosses too.
      bob.send('<presence type="unavailable"/>');
      await alice.waitFor(match('presence', { from: `bob@${B}/r`, type: 'unavailable' }), 15_000);

      await alice.close();
      await bob.close();
    } finally {
      guard.stop();
    }
    guard.assertNoLeaks();
    // Only the two b32 names were asked of the proxy: nothing was resolved locally.
    expect([...new Set(proxy.requested)].sort()).toEqual([A, B].sort());
  });

  it('refuses a clearnet domain under darknet_only with remote-server-not-found, asking nobody', async () => {
    const before = proxy.requested.length;
    guard.start([{ port: proxy.port }, { port: a.port }]);
    try {
      const alice = await login(a, 'alice', 'alice-pw');
      alice.send(`<message to='carol@example.org' type='chat' id='c1'><body>x</body></message>`);
      const err = await alice.waitFor(match('message', { id: 'c1', type: 'error' }));
      expect(err.getChild('error')!.getChild('remote-server-not-found')).toBeDefined();
      expect(err.getChild('error')!.getChildText('text')).toMatch(/darknet_only/);
      await alice.close();
    } finally {
      guard.stop();
    }
    guard.assertNoLeaks();
    expect(proxy.requested.length).toBe(before);
  });
});

describe('s2s_secure_auth', () => {
  const S = 's'.repeat(52) + '.b32.i2p';
  const C = 'c.example';
  const CB32 = 'q'.repeat(52) + '.b32.i2p';
  let proxy2: SocksProxy;
  let s: TestServer;
  let c: TestServer;

  beforeAll(async () => {
    proxy2 = await SocksProxy.start();
    const common = (extra: string) => `${darknetConfig(proxy2.port)}\ns2s_send_deadline = 2\ns2s_connect_timeout = 2\n${extra}`;
    s = await startTestServer({ s2s: true, extra: common(`s2s_secure_auth = true\ndarknet_map = { ["${C}"] = "${CB32}" }`), hosts: `VirtualHost "${S}"` });
    c = await startTestServer({ s2s: true, extra: common(''), hosts: `VirtualHost "${C}"` });
    proxy2.map(S, s.server.s2sPort).map(CB32, c.server.s2sPort).map(A, a.server.s2sPort);
    await s.addUser('sam', 'sam-pw');
    await c.addUser('cid', 'cid-pw');
  });
  afterAll(async () => {
    await s?.stop();
    await c?.stop();
    await proxy2?.close();
  });

  it('refuses a clearnet-named peer whose certificate no CA signed, and bounces with the reason', async () => {
    const sam = await login(s, 'sam', 'sam-pw');
    sam.send(`<message to='cid@${C}' type='chat' id='sa1'><body>x</body></message>`);
    const err = await sam.waitFor(match('message', { id: 'sa1', type: 'error' }), 10_000);
    expect(err.getChild('error')!.getChild('remote-server-not-found')).toBeDefined();
    expect(err.getChild('error')!.getChildText('text')).toMatch(/s2s_secure_auth/);
    await sam.close();
  });

  it('still federates with .i2p peers over dialback', async () => {
    proxy.map(S, s.server.s2sPort); // A dials back to S through its own proxy
    const sam = await login(s, 'sam', 'sam-pw');
    const v = await sam.iq(`<iq type='get' to='${A}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(v.toString()).toMatch(/type="result"/);
    await sam.close();
  });
});
