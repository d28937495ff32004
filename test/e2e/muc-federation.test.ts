// A room on a Clove muc component joined by a user of another Clove server over the SOCKS5 test
// proxy (i2pd's stand-in), the room at `conf.<b32>` (a subdomain i2pd cannot resolve, dialled
// as the b32 between Clove servers): the remote occupant gets presence and messages both ways;
// then the link to the remote server fails (the proxy goes away, the remote server stays up and
// sends nothing), and once the room's stanzas to it bounce the remote occupant is removed with
// status 333: no ghost in the room. Before that, the tunnel is cut under a joined remote
// occupant with nothing to send: the lost link alone ('s2s-remote-lost' on the component)
// removes it with 333 within seconds, no bounce needed. Zero DNS: the proxy is asked only for the two b32 names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { Wire, match, type El } from '../helpers/wire.js';
import type { SocksProxy } from '../helpers/socks-proxy.js';
import { startFederationWith, type Federation } from '../helpers/federation.js';

const A = 'm'.repeat(52) + '.b32.i2p';
const B = 'n'.repeat(52) + '.b32.i2p';
const MUC = `conf.${B}`;
const ROOM = `lounge@${MUC}`;
const NS_USER = 'http://jabber.org/protocol/muc#user';
const codes = (el: El): number[] => el.getChild('x', NS_USER)?.getChildren('status').map((s) => Number(s.attrs.code)) ?? [];

let fed: Federation;
let proxy: SocksProxy;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  fed = await startFederationWith({ a: A, b: B, extraB: ['s2s_send_deadline = 2'], sectionsB: `Component "${MUC}" "muc"\n` });
  ({ proxy, a, b } = fed);
  await a.addUser('alice', 'alice-pw');
  await b.addUser('bob', 'bob-pw');
});

afterAll(async () => {
  await fed?.stop();
});

describe('a muc room with a remote occupant over I2P', () => {
  it('a remote occupant whose server link is cut leaves with 333 at once, before any stanza bounces', async () => {
    const bob = await Wire.login({ port: b.port, domain: B, username: 'bob', password: 'bob-pw', resource: 'r', timeoutMs: 15_000 });
    const alice = await Wire.login({ port: a.port, domain: A, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 15_000 });
    const porch = `porch@${MUC}`;
    try {
      bob.send(`<presence to='${porch}/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      await bob.waitFor(match('presence', { from: `${porch}/Bob` }, (p) => codes(p).includes(201)));
      expect((await bob.iq(`<iq type='set' to='${porch}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`)).attrs.type).toBe('result');
      alice.send(`<presence to='${porch}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      await alice.waitFor(match('presence', { from: `${porch}/Alice` }, (p) => codes(p).includes(110)), 15_000);
      await bob.waitFor(match('presence', { from: `${porch}/Alice` }, (p) => p.attrs.type === undefined), 15_000);
      // The tunnel drops (every relayed connection ends, both ways); nobody sends anything, so
      // nothing can bounce: the lost link is what removes Alice, well within a few seconds.
      const cutAt = Date.now();
      proxy.cut();
      const gone = await bob.waitFor(match('presence', { from: `${porch}/Alice`, type: 'unavailable' }), 5_000);
      expect(codes(gone)).toEqual([333]);
      expect(Date.now() - cutAt).toBeLessThan(5_000);
      const items = await bob.iq(`<iq type='get' to='${porch}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
      expect(items.getChild('query')?.getChildren('item').map((i) => i.attrs.name)).toEqual(['Bob']);
    } finally {
      await alice.close().catch(() => undefined);
      await bob.close().catch(() => undefined);
    }
  }, 40_000);

  it('joins and talks across servers; when the link to the remote server fails the occupant leaves with 333', async () => {
    const bob = await Wire.login({ port: b.port, domain: B, username: 'bob', password: 'bob-pw', resource: 'r', timeoutMs: 15_000 });
    const alice = await Wire.login({ port: a.port, domain: A, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 15_000 });
    try {
      bob.send(`<presence to='${ROOM}/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      await bob.waitFor(match('presence', { from: `${ROOM}/Bob` }, (p) => codes(p).includes(201)));
      const instant = await bob.iq(`<iq type='set' to='${ROOM}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
      expect(instant.attrs.type).toBe('result');

      alice.send(`<presence to='${ROOM}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      const self = await alice.waitFor(match('presence', { from: `${ROOM}/Alice` }, (p) => codes(p).includes(110)), 15_000);
      expect(self.getChild('x', NS_USER)?.getChild('item')?.attrs.jid).toBe(`alice@${A}/r`);
      await alice.waitFor(match('presence', { from: `${ROOM}/Bob` }), 15_000);
      await bob.waitFor(match('presence', { from: `${ROOM}/Alice` }, (p) => p.attrs.type === undefined));

      alice.send(`<message to='${ROOM}' type='groupchat' id='fromA'><body>hello from A</body></message>`);
      expect((await bob.waitFor(match('message', { id: 'fromA' }), 15_000)).attrs.from).toBe(`${ROOM}/Alice`);
      bob.send(`<message to='${ROOM}' type='groupchat' id='fromB'><body>hello from B</body></message>`);
      expect((await alice.waitFor(match('message', { id: 'fromB' }), 15_000)).attrs.from).toBe(`${ROOM}/Bob`);

      // The link to A fails: every proxied connection ends and the proxy is gone; A stays up.
      await proxy.close();
      // What is written to a stream in the instant its socket dies is lost with it (s2s has no
      // acknowledgements). The lost link removes Alice (as in the test above); had it not been
      // noticed, the next stanza would wait for a new link, which cannot be made, and bounce
      // back to the room after s2s_send_deadline: either way she leaves with 333.
      await new Promise((r) => setTimeout(r, 1000));
      bob.send(`<message to='${ROOM}' type='groupchat' id='lost'><body>anyone there?</body></message>`);
      const gone = await bob.waitFor(match('presence', { from: `${ROOM}/Alice`, type: 'unavailable' }), 15_000);
      expect(codes(gone)).toEqual([333]);
      const items = await bob.iq(`<iq type='get' to='${ROOM}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
      expect(items.getChild('query')?.getChildren('item').map((i) => i.attrs.name)).toEqual(['Bob']);
      expect([...new Set(proxy.requested)].sort()).toEqual([A, B].sort());
    } finally {
      await alice.close().catch(() => undefined);
      await bob.close().catch(() => undefined);
    }
  }, 40_000);
});
