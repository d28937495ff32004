// Clove's muc and Prosody's over the SOCKS5 test proxy (i2pd's stand-in), with a real Prosody
// (Debian + mod_onions): a Prosody user joins a room of a Clove muc component at
// `rooms.<clove b32>`, which the Prosody peer maps to Clove's b32 (the map entry docs/i2p.md
// tells Prosody operators to add); and a Clove user joins a room of Prosody's own muc component,
// mapped in Clove's darknet_map to Prosody's b32. Presence with status codes and messages go
// both ways; the proxy is never asked for either subdomain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { Wire, match, type El } from '../helpers/wire.js';
import type { SocksProxy } from '../helpers/socks-proxy.js';
import { startProsodyPeer, type ProsodyPeer } from '../helpers/prosody-peer.js';
import { prosodyAvailable, onionsModuleDir, type ProsodyServer } from '../helpers/prosody.js';

const CLOVE = 'q'.repeat(52) + '.b32.i2p';
const MUC = `rooms.${CLOVE}`;
const ROOM = `meetup@${MUC}`;
const PROSODY = 'prosody.example';
const PROSODY_B32 = 'r'.repeat(52) + '.b32.i2p';
const PROSODY_MUC = `rooms.${PROSODY}`;
const NS_USER = 'http://jabber.org/protocol/muc#user';
const codes = (el: El): number[] => el.getChild('x', NS_USER)?.getChildren('status').map((s) => Number(s.attrs.code)) ?? [];

const ready = prosodyAvailable() && onionsModuleDir() !== undefined;

let peer: ProsodyPeer | undefined;
let proxy: SocksProxy;
let clove: TestServer;
let prosody: ProsodyServer | undefined;

/** Alice on Clove and Bob on Prosody, logged in. */
async function logins(p: ProsodyServer): Promise<[Wire, Wire]> {
  const alice = await Wire.login({ port: clove.port, domain: CLOVE, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 10_000 });
  const bob = await Wire.login({ port: p.c2sPort, domain: PROSODY, username: 'bob', password: 'bob-pw', resource: 'r', timeoutMs: 10_000 });
  return [alice, bob];
}

beforeAll(async () => {
  if (!ready) return;
  peer = await startProsodyPeer({
    clove: CLOVE,
    prosody: PROSODY,
    prosodyB32: PROSODY_B32,
    cloveUsers: [{ user: 'alice', password: 'alice-pw' }],
    prosodyUsers: [{ user: 'bob', password: 'bob-pw' }],
    cloveSections: `Component "${MUC}" "muc"\n`,
    cloveMap: { [PROSODY_MUC]: PROSODY_B32 },
    prosodyMap: { [MUC]: CLOVE },
    prosodyComponents: [{ domain: PROSODY_MUC, module: 'muc' }],
  });
  ({ proxy, clove, prosody } = peer);
}, 40_000);

afterAll(async () => {
  await peer?.stop();
});

describe.skipIf(!ready)('a Prosody user in a Clove room over I2P', () => {
  it('joins, sees and is seen with the codes of XEP-0045, and talks both ways', async () => {
    const p = prosody as ProsodyServer;
    const [alice, bob] = await logins(p);
    try {
      alice.send(`<presence to='${ROOM}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      expect(codes(await alice.waitFor(match('presence', { from: `${ROOM}/Alice` }, (e) => codes(e).includes(110))))).toEqual([110, 201]);
      const instant = await alice.iq(`<iq type='set' to='${ROOM}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
      expect(instant.attrs.type).toBe('result');

      bob.send(`<presence/>`);
      bob.send(`<presence to='${ROOM}/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      const self = await bob.waitFor(match('presence', { from: `${ROOM}/Bob` }, (e) => codes(e).includes(110)), 30_000);
      expect(self.getChild('x', NS_USER)?.getChild('item')?.attrs).toMatchObject({ role: 'participant', jid: `bob@${PROSODY}/r` });
      await bob.waitFor(match('presence', { from: `${ROOM}/Alice` }), 10_000);
      await bob.waitFor(match('message', { from: ROOM, type: 'groupchat' }, (m) => m.getChild('subject') !== undefined), 10_000);
      const seen = await alice.waitFor(match('presence', { from: `${ROOM}/Bob` }), 10_000);
      expect(seen.getChild('x', NS_USER)?.getChild('item')?.attrs.jid).toBe(`bob@${PROSODY}/r`);

      bob.send(`<message to='${ROOM}' type='groupchat' id='fromProsody'><body>hello from Prosody</body></message>`);
      expect((await alice.waitFor(match('message', { id: 'fromProsody' }), 15_000)).attrs.from).toBe(`${ROOM}/Bob`);
      alice.send(`<message to='${ROOM}' type='groupchat' id='fromClove'><body>hello from Clove</body></message>`);
      expect((await bob.waitFor(match('message', { id: 'fromClove' }), 15_000)).attrs.from).toBe(`${ROOM}/Alice`);
      bob.send(`<message to='${ROOM}/Alice' type='chat' id='pm'><body>psst</body></message>`);
      expect((await alice.waitFor(match('message', { id: 'pm' }), 15_000)).attrs.from).toBe(`${ROOM}/Bob`);

      bob.send(`<presence to='${ROOM}/Bob' type='unavailable'/>`);
      expect(codes(await alice.waitFor(match('presence', { from: `${ROOM}/Bob`, type: 'unavailable' }), 15_000))).toEqual([]);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${p.tail(60)}`);
    } finally {
      await bob.close();
      await alice.close();
    }
    expect(proxy.requested).not.toContain(MUC);
    expect([...new Set(proxy.requested)].sort()).toEqual([CLOVE, PROSODY_B32].sort());
  }, 60_000);

  it('a Clove user joins a room of Prosody\'s muc and talks both ways', async () => {
    const p = prosody as ProsodyServer;
    const CAFE = `cafe@${PROSODY_MUC}`;
    const [alice, bob] = await logins(p);
    try {
      bob.send(`<presence to='${CAFE}/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      expect(codes(await bob.waitFor(match('presence', { from: `${CAFE}/Bob` }, (e) => codes(e).includes(110)), 10_000))).toEqual(expect.arrayContaining([110, 201]));
      const instant = await bob.iq(`<iq type='set' to='${CAFE}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
      expect(instant.attrs.type).toBe('result');
      alice.send(`<presence to='${CAFE}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      await alice.waitFor(match('presence', { from: `${CAFE}/Alice` }, (e) => codes(e).includes(110)), 30_000);
      await alice.waitFor(match('presence', { from: `${CAFE}/Bob` }), 10_000);
      await bob.waitFor(match('presence', { from: `${CAFE}/Alice` }), 10_000);
      alice.send(`<message to='${CAFE}' type='groupchat' id='c1'><body>hello from Clove</body></message>`);
      expect((await bob.waitFor(match('message', { from: `${CAFE}/Alice` }, (m) => m.getChildText('body') === 'hello from Clove'), 15_000)).attrs.type).toBe('groupchat');
      bob.send(`<message to='${CAFE}' type='groupchat' id='p1'><body>hello from Prosody</body></message>`);
      expect((await alice.waitFor(match('message', { from: `${CAFE}/Bob` }, (m) => m.getChildText('body') === 'hello from Prosody'), 15_000)).attrs.type).toBe('groupchat');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${p.tail(60)}`);
    } finally {
      await bob.close();
      await alice.close();
    }
    expect(proxy.requested).not.toContain(PROSODY_MUC);
  }, 60_000);
});
