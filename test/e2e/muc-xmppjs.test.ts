// The muc component with xmpp.js (@xmpp/client, which has no MUC plugin: stanzas built with its
// `xml` helper and parsed by its own parser): create and configure a room, join a second user,
// fan-out, a private message, moderated voice (a visitor refused, then granted voice), a mediated
// invitation, and destroy with the alternate venue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { connectXmppjs, xml, type XmppjsClient, type XmlElement } from '../helpers/xmppjs.js';

const PASS = 'muc pass';
const MUC = 'chat.localhost';
const ROOM = `agora@${MUC}`;
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_USER = `${NS_MUC}#user`;
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

let ts: TestServer;
const open: XmppjsClient[] = [];

const codes = (el: XmlElement): number[] => (el.getChild('x', NS_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code)).sort((a, b) => a - b);
const condition = (el: XmlElement): string | undefined => el.getChild('error')?.children.find((c): c is XmlElement => typeof c !== 'string' && c.attrs.xmlns === NS_STANZAS)?.name;
const selfPresence = (nick: string) => (el: XmlElement): boolean => el.name === 'presence' && el.attrs.from === `${ROOM}/${nick}` && (el.attrs.type === 'error' || codes(el).includes(110));
const submit = (fields: Record<string, string>): XmlElement =>
  xml('iq', { type: 'set', to: ROOM }, xml('query', { xmlns: `${NS_MUC}#owner` }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' },
    ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v))))));

async function login(username: string): Promise<XmppjsClient> {
  const c = await connectXmppjs(ts, { username, password: PASS, resource: 'js' });
  open.push(c);
  await c.send(xml('presence'));
  return c;
}

async function join(c: XmppjsClient, nick: string): Promise<XmlElement> {
  await c.send(xml('presence', { to: `${ROOM}/${nick}` }, xml('x', { xmlns: NS_MUC })));
  return c.waitFor(selfPresence(nick), `the self-presence of ${nick}`);
}

describe('the muc component with xmpp.js', () => {
  beforeAll(async () => {
    ts = await startTestServer({ hosts: `VirtualHost "localhost"\nComponent "${MUC}" "muc"\n` });
    for (const u of ['alice', 'bob', 'carol']) await ts.addUser(u, PASS);
  });

  afterAll(async () => {
    for (const c of open) await c.stop().catch(() => undefined);
    await ts?.stop();
  });

  it('creates a moderated room, fans out, passes a private message, refuses a visitor until voice is granted', async () => {
    const alice = await login('alice');
    const bob = await login('bob');
    expect(codes(await join(alice, 'Alice'))).toEqual([110, 201]);
    expect((await alice.iq(submit({ 'muc#roomconfig_moderatedroom': '1', 'muc#roomconfig_roomname': 'Agora' }))).attrs.type).toBe('result');
    const bobSelf = await join(bob, 'Bob');
    expect(bobSelf.getChild('x', NS_USER)?.getChild('item')?.attrs.role).toBe('visitor');

    await bob.send(xml('message', { to: ROOM, type: 'groupchat', id: 'b1' }, xml('body', {}, 'may I?')));
    expect(condition(await bob.waitFor((el) => el.name === 'message' && el.attrs.id === 'b1' && el.attrs.type === 'error', 'the refusal'))).toBe('forbidden');
    expect((await alice.iq(xml('iq', { type: 'set', to: ROOM }, xml('query', { xmlns: `${NS_MUC}#admin` }, xml('item', { nick: 'Bob', role: 'participant' }))))).attrs.type).toBe('result');
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === `${ROOM}/Bob` && el.getChild('x', NS_USER)?.getChild('item')?.attrs.role === 'participant', 'voice');
    await bob.send(xml('message', { to: ROOM, type: 'groupchat', id: 'b2' }, xml('body', {}, 'thanks')));
    for (const c of [alice, bob]) await c.waitFor((el) => el.name === 'message' && el.attrs.id === 'b2' && el.attrs.from === `${ROOM}/Bob` && el.attrs.type === 'groupchat', 'the fan-out');

    await alice.send(xml('message', { to: `${ROOM}/Bob`, type: 'chat', id: 'pm' }, xml('body', {}, 'between us')));
    const pm = await bob.waitFor((el) => el.name === 'message' && el.attrs.id === 'pm', 'the private message');
    expect(pm.attrs.from).toBe(`${ROOM}/Alice`);
  });

  it('a mediated invitation reaches the invitee; destroy sends everyone to the alternate venue', async () => {
    const [alice, bob] = open as [XmppjsClient, XmppjsClient];
    const carol = await login('carol');
    await alice.send(xml('message', { to: ROOM }, xml('x', { xmlns: NS_USER }, xml('invite', { to: 'carol@localhost' }, xml('reason', {}, 'come in')))));
    const inv = await carol.waitFor((el) => el.name === 'message' && el.attrs.from === ROOM && el.getChild('x', NS_USER)?.getChild('invite') !== undefined, 'the invitation');
    expect(inv.getChild('x', NS_USER)?.getChild('invite')?.attrs.from).toBe('alice@localhost');
    expect(codes(await join(carol, 'Carol'))).toEqual([110]);
    expect((await alice.iq(xml('iq', { type: 'set', to: ROOM }, xml('query', { xmlns: `${NS_MUC}#owner` }, xml('destroy', { jid: `forum@${MUC}` }, xml('reason', {}, 'moving')))))).attrs.type).toBe('result');
    for (const c of [bob, carol]) {
      const p = await c.waitFor((el) => el.name === 'presence' && el.attrs.type === 'unavailable' && el.getChild('x', NS_USER)?.getChild('destroy') !== undefined, 'the destroy');
      expect(p.getChild('x', NS_USER)?.getChild('destroy')?.attrs.jid).toBe(`forum@${MUC}`);
    }
  });
});
