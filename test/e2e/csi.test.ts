// Client state indication (XEP-0352) end to end: the stream feature, presence held while the
// client is inactive (only the latest per contact) and flushed on <active/>, while messages,
// iqs and subscription requests go through at once. Unknown nonzas still end the stream.
import { describe, expect, it } from 'vitest';
import { serverSuite } from '../helpers/server-suite.js';
import { match } from '../helpers/wire.js';
import { friends, settle } from '../helpers/contacts.js';
import { connectXmppjs, xml, type XmppjsClient } from '../helpers/xmppjs.js';

const NS_CSI = 'urn:xmpp:csi:0';
const PASS = 'csi-pass';
const suite = serverSuite(PASS);
const { login, user } = suite;

const status = (s: string): string => `<presence><status>${s}</status></presence>`;

describe('client state indication', () => {
  it('is offered as a stream feature after authentication', async () => {
    const c = await user('feat');
    // Wire keeps the features of the last stream: the one after SASL, with bind.
    expect(c.features?.getChild('bind', 'urn:ietf:params:xml:ns:xmpp-bind')).toBeDefined();
    expect(c.features?.getChild('csi', NS_CSI)).toBeDefined();
  });

  it('holds presence while inactive, keeps the latest per contact, and flushes it before a message and on active', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    await friends(alice, bob);
    await friends(alice, carol);

    alice.send(`<inactive xmlns='${NS_CSI}'/>`);
    await settle(alice);
    bob.send(status('one'));
    await settle(bob);
    carol.send(status('c-one'));
    await settle(carol);
    bob.send(status('two'));
    bob.send(status('three'));
    await settle(bob);
    await alice.expectNothing(match('presence'), 300);

    // A chat state alone is passed on and wakes nothing: the presence stays held.
    bob.send(`<message to='${alice.bare}' type='chat' id='cs'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    await alice.waitFor(match('message', { id: 'cs' }), 1000);
    await settle(alice);
    await alice.expectNothing(match('presence'), 100);

    // A message to read: what was held comes first — one per contact, the latest, in the order
    // of their latest change — then the message.
    const start = alice.received.length;
    bob.send(`<message to='${alice.bare}' type='chat' id='wake'><body>wake up</body></message>`);
    const m = await alice.waitFor(match('message', { id: 'wake' }), 1000);
    expect(m.getChildText('body')).toBe('wake up');
    const before = alice.received.slice(start, alice.received.indexOf(m)).filter((e) => e.name === 'presence');
    expect(before.map((p) => [p.attrs.from, p.getChildText('status')])).toEqual([
      [carol.jid, 'c-one'],
      [bob.jid, 'three'],
    ]);
    alice.clear();

    // Still inactive: presence is held again until <active/>.
    carol.send(status('c-two'));
    await settle(carol);
    await alice.expectNothing(match('presence', { from: carol.jid }, (p) => p.getChildText('status') === 'c-two'), 300);
    alice.send(`<active xmlns='${NS_CSI}'/>`);
    const flushed = await alice.collect(match('presence', {}, (p) => p.getChildText('status') === 'c-two'), 400);
    expect(flushed.map((p) => p.attrs.from)).toEqual([carol.jid]);

    // Active again: presence flows at once.
    bob.send(status('four'));
    const live = await alice.waitFor(match('presence', { from: bob.jid }), 1000);
    expect(live.getChildText('status')).toBe('four');
  });

  it('holds unavailable presence too, and lets subscription requests through', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const dave = await user('dave');
    await friends(alice, bob);
    alice.send(`<inactive xmlns='${NS_CSI}'/>`);
    await settle(alice);

    dave.send(`<presence to='${alice.bare}' type='subscribe'/>`);
    await alice.waitFor(match('presence', { from: dave.bare, type: 'subscribe' }), 1000);
    bob.send(status('busy'));
    bob.send(`<presence type='unavailable'/>`);
    await settle(bob);
    await alice.expectNothing(match('presence', { from: bob.jid }), 300);

    alice.send(`<active xmlns='${NS_CSI}'/>`);
    const flushed = await alice.collect(match('presence', { from: bob.jid }), 400);
    expect(flushed.map((p) => p.attrs.type ?? 'available')).toEqual(['unavailable']);
  });

  it('ignores a repeated inactive and an active while active', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await friends(alice, bob);
    alice.send(`<active xmlns='${NS_CSI}'/>`);
    alice.send(`<inactive xmlns='${NS_CSI}'/>`);
    alice.send(`<inactive xmlns='${NS_CSI}'/>`);
    await settle(alice);
    bob.send(status('held'));
    await settle(bob);
    await alice.expectNothing(match('presence'), 200);
    alice.send(`<active xmlns='${NS_CSI}'/>`);
    const p = await alice.waitFor(match('presence', { from: bob.jid }), 1000);
    expect(p.getChildText('status')).toBe('held');
    expect(alice.closed).toBe(false);
  });

  it('still ends the stream on a nonza nobody handles', async () => {
    const c = await user('odd');
    c.send(`<frobnicate xmlns='urn:example:nothing'/>`);
    await expect(c.waitFor(match('never'), 2000)).rejects.toThrow(/unsupported-stanza-type/);
  });

  it('works for an xmpp.js client', async () => {
    const bob = await user('bob');
    await suite.srv.addUser('xalice', PASS);
    let alice: XmppjsClient | undefined;
    try {
      alice = await connectXmppjs(suite.srv, { username: 'xalice', password: PASS, resource: 'x' });
      expect(alice.features.at(-1)?.getChild('csi', NS_CSI)).toBeDefined();
      const raw = await login('xalice', 'raw');
      await friends(raw, bob);
      await alice.send(xml('presence'));
      // The answer to the initial presence's probe comes first.
      await alice.waitFor((s) => s.name === 'presence' && s.attrs.from === bob.jid, "bob's presence", 1000);
      await alice.send(xml('inactive', { xmlns: NS_CSI }));
      const pong = await alice.iq(xml('iq', { type: 'get' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      expect(pong.attrs.type).toBe('result');
      bob.send(status('for xmpp.js'));
      await settle(bob);
      await expect(alice.waitFor((s) => s.name === 'presence' && s.attrs.from === bob.jid, 'held presence', 300)).rejects.toThrow(/no held presence/);
      // A message to read flushes what was held, before it.
      bob.send(`<message to='xalice@localhost/x' type='chat'><body>hi</body></message>`);
      const p = await alice.waitFor((s) => s.name === 'presence' && s.attrs.from === bob.jid, 'flushed presence', 1000);
      expect(p.getChildText('status')).toBe('for xmpp.js');
      await alice.waitFor((s) => s.name === 'message' && s.getChildText('body') === 'hi', 'message while inactive', 1000);
      await alice.send(xml('active', { xmlns: NS_CSI }));
    } finally {
      await alice?.stop();
    }
  });
});
