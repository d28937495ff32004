// Message carbons (XEP-0280) against a real Clove on 127.0.0.1, port 0, with raw clients and an
// xmpp.js resource: received and sent copies reach the account's other carbons-enabled
// resources, wrapped as XEP-0297 says, and not when disabled, <private/>, <no-copy/>, between
// resources of one account, or for messages that are not instant messaging.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type El, match, Wire } from '../helpers/wire.js';
import { connectXmppjs, xml, type XmppjsClient, type XmlElement } from '../helpers/xmppjs.js';

const PASS = 'carbons-pass';
const NS_CARBONS = 'urn:xmpp:carbons:2';
const NS_FORWARD = 'urn:xmpp:forward:0';

let ts: TestServer;
let one: Wire; // alice/one, carbons on
let two: XmppjsClient; // alice/two (xmpp.js), carbons on
let three: Wire; // alice/three, carbons never enabled
let bob: Wire;

/** A carbon of `kind` whose forwarded message has this body. */
const isCarbon = (kind: 'received' | 'sent', text: string) => (m: El): boolean =>
  m.getChild(kind, NS_CARBONS)?.getChild('forwarded', NS_FORWARD)?.getChild('message')?.getChildText('body') === text;
const isCarbonJs = (kind: 'received' | 'sent', text: string) => (m: XmlElement): boolean =>
  m.name === 'message' && m.getChild(kind, NS_CARBONS)?.getChild('forwarded', NS_FORWARD)?.getChild('message')?.getChildText('body') === text;
const anyCarbon = (m: El): boolean => m.getChild('received', NS_CARBONS) !== undefined || m.getChild('sent', NS_CARBONS) !== undefined;
const body = (text: string) => (m: El): boolean => m.getChildText('body') === text;

/** The xmpp.js client gets no carbon of this kind and body within `ms`. */
async function jsGetsNo(kind: 'received' | 'sent', text: string, ms = 300): Promise<void> {
  await expect(two.waitFor(isCarbonJs(kind, text), `no ${kind} carbon`, ms)).rejects.toThrow(/within/);
}

async function available(c: Wire): Promise<void> {
  c.send('<presence/>');
  await c.waitFor(match('presence', { from: c.jid }));
}

beforeAll(async () => {
  ts = await startTestServer({ extra: 'darknet_only = true' });
  await ts.addUser('alice', PASS);
  await ts.addUser('bob', PASS);
  one = await Wire.login({ port: ts.port, username: 'alice', password: PASS, resource: 'one' });
  three = await Wire.login({ port: ts.port, username: 'alice', password: PASS, resource: 'three' });
  bob = await Wire.login({ port: ts.port, username: 'bob', password: PASS, resource: 'b' });
  two = await connectXmppjs(ts, { username: 'alice', password: PASS, resource: 'two' });
  for (const c of [one, three, bob]) await available(c);
  await two.send(xml('presence'));
  await one.waitFor(match('presence', { from: 'alice@localhost/two' }));
});

afterAll(async () => {
  await two?.stop();
  for (const c of [one, three, bob]) await c?.close();
  await ts?.stop();
});

describe('message carbons', () => {
  it('are advertised and enabled per session', async () => {
    const info = await one.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var)).toContain(NS_CARBONS);
    const r1 = await one.iq(`<iq type='set'><enable xmlns='${NS_CARBONS}'/></iq>`);
    expect(r1.attrs.type, r1.toString()).toBe('result');
    // Enabling twice is not an error (§10.1).
    expect((await one.iq(`<iq type='set'><enable xmlns='${NS_CARBONS}'/></iq>`)).attrs.type).toBe('result');
    const r2 = await two.iq(xml('iq', { type: 'set' }, xml('enable', { xmlns: NS_CARBONS })));
    expect(r2.attrs.type, r2.toString()).toBe('result');
  });

  it('a chat message to one resource is copied, wrapped, to the other enabled resource', async () => {
    bob.send(`<message to='alice@localhost/one' type='chat' id='r1'><body>hi one</body><thread>t1</thread></message>`);
    const orig = await one.waitFor(match('message', { from: 'bob@localhost/b' }, body('hi one')));
    expect(orig.getChild('received', NS_CARBONS)).toBeUndefined();
    const c = await two.waitFor(isCarbonJs('received', 'hi one'), 'received carbon');
    expect(c.attrs).toMatchObject({ from: 'alice@localhost', to: 'alice@localhost/two', type: 'chat' });
    const inner = c.getChild('received', NS_CARBONS)?.getChild('forwarded', NS_FORWARD)?.getChild('message');
    expect(inner?.attrs).toMatchObject({ from: 'bob@localhost/b', to: 'alice@localhost/one', type: 'chat', id: 'r1' });
    expect(inner?.getNS()).toBe('jabber:client');
    expect(inner?.getChildText('thread')).toBe('t1');
    await one.expectNothing(match('message', {}, anyCarbon), 200);
    await three.expectNothing(match('message'), 0);
  });

  it('a message to the bare JID reaches every resource once, without copies', async () => {
    bob.send(`<message to='alice@localhost' type='chat'><body>hi all</body></message>`);
    await one.waitFor(match('message', { from: 'bob@localhost/b' }, body('hi all')));
    await three.waitFor(match('message', { from: 'bob@localhost/b' }, body('hi all')));
    await two.waitFor((m) => m.name === 'message' && m.getChildText('body') === 'hi all', 'the original');
    await jsGetsNo('received', 'hi all');
    await one.expectNothing(match('message', {}, anyCarbon), 0);
  });

  it('a message sent by one resource is copied to the others, also when it goes to another server', async () => {
    one.send(`<message to='bob@localhost' type='chat' id='s1'><body>from one</body></message>`);
    await bob.waitFor(match('message', { from: 'alice@localhost/one' }, body('from one')));
    const c = await two.waitFor(isCarbonJs('sent', 'from one'), 'sent carbon');
    expect(c.attrs).toMatchObject({ from: 'alice@localhost', to: 'alice@localhost/two', type: 'chat' });
    const inner = c.getChild('sent', NS_CARBONS)?.getChild('forwarded', NS_FORWARD)?.getChild('message');
    expect(inner?.attrs).toMatchObject({ from: 'alice@localhost/one', to: 'bob@localhost', id: 's1' });

    // xmpp.js sends: the raw resource gets the copy; the resource without carbons does not.
    await two.send(xml('message', { to: 'bob@localhost/b', type: 'chat' }, xml('body', {}, 'from two')));
    await bob.waitFor(match('message', { from: 'alice@localhost/two' }, body('from two')));
    const c2 = await one.waitFor(match('message', { from: 'alice@localhost', to: 'alice@localhost/one' }, isCarbon('sent', 'from two')));
    expect(c2.attrs.type).toBe('chat');

    // To a domain this server does not serve (darknet_only refuses it): still copied, then bounced.
    one.send(`<message to='someone@elsewhere.example' type='chat' id='s2'><body>far away</body></message>`);
    await two.waitFor(isCarbonJs('sent', 'far away'), 'sent carbon of a remote message');
    const bounce = await one.waitFor(match('message', { type: 'error', id: 's2' }));
    expect(bounce.getChild('error')?.getChild('remote-server-not-found')).toBeDefined();
    await three.expectNothing(match('message', {}, anyCarbon), 200);
    await one.expectNothing(match('message', {}, isCarbon('sent', 'from one')), 0);
  });

  it('honours <private/> with <no-copy/>, and copies only instant messages', async () => {
    one.send(`<message to='bob@localhost' type='chat'><body>secret out</body><private xmlns='${NS_CARBONS}'/><no-copy xmlns='urn:xmpp:hints'/></message>`);
    await bob.waitFor(match('message', {}, body('secret out')));
    bob.send(`<message to='alice@localhost/one' type='chat'><body>secret in</body><private xmlns='${NS_CARBONS}'/><no-copy xmlns='urn:xmpp:hints'/></message>`);
    await one.waitFor(match('message', {}, body('secret in')));
    await jsGetsNo('sent', 'secret out', 150);
    await jsGetsNo('received', 'secret in', 150);
    // A normal message with a body is copied; a headline and a body-less normal one are not.
    bob.send(`<message to='alice@localhost/one'><body>normal</body></message>`);
    bob.send(`<message to='alice@localhost/one' type='headline'><body>headline</body></message>`);
    bob.send(`<message to='alice@localhost/one' id='nb'><x xmlns='jabber:x:oob'><url>http://x.example/</url></x></message>`);
    await two.waitFor(isCarbonJs('received', 'normal'), 'received carbon of a normal message');
    await one.waitFor(match('message', { id: 'nb' }));
    await jsGetsNo('received', 'headline', 150);
    await expect(two.waitFor((m) => m.name === 'message' && m.getChild('received', NS_CARBONS) !== undefined, 'any carbon', 150)).rejects.toThrow();
  });

  it('leaves messages between resources of one account alone', async () => {
    const r = await three.iq(`<iq type='set'><enable xmlns='${NS_CARBONS}'/></iq>`);
    expect(r.attrs.type).toBe('result');
    one.send(`<message to='alice@localhost/two' type='chat'><body>note to self</body></message>`);
    await two.waitFor((m) => m.name === 'message' && m.getChildText('body') === 'note to self' && m.attrs.from === 'alice@localhost/one', 'own message');
    await three.expectNothing(match('message', {}, anyCarbon), 300);
    const off = await three.iq(`<iq type='set'><disable xmlns='${NS_CARBONS}'/></iq>`);
    expect(off.attrs.type).toBe('result');
  });

  it('stop once a resource disables them', async () => {
    const r = await two.iq(xml('iq', { type: 'set' }, xml('disable', { xmlns: NS_CARBONS })));
    expect(r.attrs.type, r.toString()).toBe('result');
    bob.send(`<message to='alice@localhost/one' type='chat'><body>after disable</body></message>`);
    await one.waitFor(match('message', {}, body('after disable')));
    one.send(`<message to='bob@localhost' type='chat'><body>sent after disable</body></message>`);
    await bob.waitFor(match('message', {}, body('sent after disable')));
    await jsGetsNo('received', 'after disable', 150);
    await jsGetsNo('sent', 'sent after disable', 150);
    // The raw resource still has them on: xmpp.js sending is still copied to it.
    await two.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'still copied')));
    await one.waitFor(match('message', {}, isCarbon('sent', 'still copied')));
  });
});
