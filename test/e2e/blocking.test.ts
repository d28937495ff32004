// Blocking command (XEP-0191) against a real Clove (file storage, 127.0.0.1, port 0), with raw
// clients and an xmpp.js resource: blocked contacts get nothing, presence included, and nothing of
// theirs gets through; the blocker is told when it sends to them; unblocking restores both ways;
// pushes; domain and resource blocks; bad requests change nothing; the list survives a restart.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type El, match, Wire } from '../helpers/wire.js';
import { testUsers } from '../helpers/contacts.js';
import { connectXmppjs, xml, type XmppjsClient, type XmlElement } from '../helpers/xmppjs.js';

const PASS = 'blocking-pass';
const NS_BLOCKING = 'urn:xmpp:blocking';
const NS_BLOCKED = 'urn:xmpp:blocking:errors';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

let dir: string;
let ts: TestServer;
const { open, login } = testUsers(() => ts, PASS);
const openJs: XmppjsClient[] = [];

// darknet_only: a stanza for a clearnet domain is refused at once (no DNS, no connection), so the
// route to other servers can be exercised without one.
const start = (): Promise<TestServer> => startTestServer({ storage: 'file', dir, extra: 'darknet_only = true' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clove-blocking-'));
  ts = await start();
  for (const u of ['alice', 'bob', 'carol', 'dan', 'erin']) await ts.addUser(u, PASS);
});

afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  for (const c of openJs.splice(0)) await c.stop();
});

afterAll(async () => {
  await ts?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Logged in, roster fetched, available. */
async function online(username: string, resource: string, presence = '<presence/>'): Promise<Wire> {
  const c = await login(username, resource);
  await c.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
  c.send(presence);
  await c.waitFor(match('presence', { from: c.jid }));
  return c;
}

/** Mutual subscription (RFC 6121 §3), both sides online; inboxes are cleared afterwards. */
async function befriend(a: Wire, b: Wire): Promise<void> {
  for (const [x, y] of [[a, b], [b, a]] as const) {
    x.send(`<presence to='${y.bare}' type='subscribe'/>`);
    await y.waitFor(match('presence', { from: x.bare, type: 'subscribe' }));
    y.send(`<presence to='${x.bare}' type='subscribed'/>`);
    await x.waitFor(match('presence', { from: y.bare, type: 'subscribed' }));
    await x.waitFor(match('presence', { from: y.jid, type: null }));
  }
  await new Promise((r) => setTimeout(r, 100));
  a.clear();
  b.clear();
}

const condition = (el: El): string | undefined =>
  el.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS && e.local !== 'text')?.local;

const blockIq = (...jids: string[]): string =>
  `<iq type='set'><block xmlns='${NS_BLOCKING}'>${jids.map((j) => `<item jid='${j}'/>`).join('')}</block></iq>`;
const unblockIq = (...jids: string[]): string =>
  `<iq type='set'><unblock xmlns='${NS_BLOCKING}'>${jids.map((j) => `<item jid='${j}'/>`).join('')}</unblock></iq>`;

async function blocklist(c: Wire): Promise<string[]> {
  const r = await c.iq(`<iq type='get'><blocklist xmlns='${NS_BLOCKING}'/></iq>`);
  expect(r.attrs.type, r.toString()).toBe('result');
  return r.getChild('blocklist', NS_BLOCKING)?.getChildren('item').map((i) => i.attrs.jid ?? '') ?? [];
}

const body = (text: string) => (m: El) => m.getChildText('body') === text;

describe('blocking a contact', () => {
  it('stops messages, presence and iqs both ways, tells the blocker, and unblocking restores them', async () => {
    const a1 = await online('alice', 'a1');
    const b1 = await online('bob', 'b1');
    await befriend(a1, b1);
    const a3 = await online('alice', 'a3'); // never fetches the blocklist: no pushes
    // An xmpp.js resource of alice that fetched the list.
    const a2 = await connectXmppjs(ts, { username: 'alice', password: PASS, resource: 'a2' });
    openJs.push(a2);
    const list = await a2.iq(xml('iq', { type: 'get' }, xml('blocklist', { xmlns: NS_BLOCKING })));
    expect(list.getChild('blocklist', NS_BLOCKING)?.getChildren('item')).toEqual([]);
    await a2.send(xml('presence'));
    await b1.waitFor(match('presence', { from: 'alice@localhost/a2' }));
    expect(await blocklist(a1)).toEqual([]);
    // Let the answers to a2's probes land, then forget everything from before the block.
    await new Promise((r) => setTimeout(r, 100));
    for (const c of [a1, a3, b1]) c.clear();

    const res = await a1.iq(blockIq('bob@localhost'));
    expect(res.attrs.type, res.toString()).toBe('result');
    // Pushes to the resources that fetched the list.
    const push = await a1.waitFor(match('iq', { type: 'set' }, (i) => i.getChild('block', NS_BLOCKING) !== undefined));
    expect(push.getChild('block', NS_BLOCKING)?.getChildren('item').map((i) => i.attrs.jid)).toEqual(['bob@localhost']);
    const push2 = await a2.waitFor((s: XmlElement) => s.name === 'iq' && s.attrs.type === 'set' && s.getChild('block', NS_BLOCKING) !== undefined, 'block push');
    expect(push2.getChild('block', NS_BLOCKING)?.getChildren('item').map((i) => i.attrs.jid)).toEqual(['bob@localhost']);
    await a3.expectNothing(match('iq', { type: 'set' }), 200);
    // Bob, a subscriber, sees every resource of alice go offline.
    for (const r of ['a1', 'a2', 'a3']) await b1.waitFor(match('presence', { from: `alice@localhost/${r}`, type: 'unavailable' }));
    expect(await blocklist(a1)).toEqual(['bob@localhost']);

    // Bob → alice: a message is refused with service-unavailable, an iq too, presence vanishes.
    b1.send(`<message to='alice@localhost' type='chat' id='b2a'><body>hello?</body></message>`);
    const err = await b1.waitFor(match('message', { type: 'error', id: 'b2a' }));
    expect(condition(err)).toBe('service-unavailable');
    const ping = await b1.iq(`<iq type='get' to='alice@localhost/a1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(ping.attrs.type).toBe('error');
    expect(condition(ping)).toBe('service-unavailable');
    // Iqs the server answers for alice (her vCard, disco of her account) are refused too:
    // someone she blocked learns nothing about her.
    for (const payload of [`<vCard xmlns='vcard-temp'/>`, `<query xmlns='http://jabber.org/protocol/disco#info'/>`]) {
      const answer = await b1.iq(`<iq type='get' to='alice@localhost'>${payload}</iq>`);
      expect(answer.attrs.type, answer.toString()).toBe('error');
      expect(condition(answer)).toBe('service-unavailable');
    }
    b1.send(`<presence><show>dnd</show></presence>`);
    // A new resource of bob probes alice on its initial presence: nobody answers.
    const b2 = await online('bob', 'b2');

    // Alice → bob: refused with not-acceptable + <blocked/>; nothing reaches bob.
    a1.send(`<message to='bob@localhost' type='chat' id='a2b'><body>go away</body></message>`);
    const refused = await a1.waitFor(match('message', { type: 'error', id: 'a2b' }));
    expect(refused.attrs.from).toBe('bob@localhost');
    expect(refused.getChild('error')?.attrs.type).toBe('cancel');
    expect(condition(refused)).toBe('not-acceptable');
    expect(refused.getChild('error')?.getChild('blocked', NS_BLOCKED)).toBeDefined();
    const iqRefused = await a1.iq(`<iq type='get' to='bob@localhost/b1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(condition(iqRefused)).toBe('not-acceptable');
    a1.send(`<presence to='bob@localhost' id='dir'/>`);
    const pErr = await a1.waitFor(match('presence', { type: 'error', id: 'dir' }));
    expect(condition(pErr)).toBe('not-acceptable');
    // Alice's own presence changes still reach her other resources, never bob.
    a1.send(`<presence><show>away</show></presence>`);
    await a3.waitFor(match('presence', { from: 'alice@localhost/a1' }, (p) => p.getChildText('show') === 'away'));

    await b1.expectNothing(match('presence', {}, (p) => p.attrs.from?.startsWith('alice@') === true), 300);
    await b1.expectNothing(match('message'), 0);
    await b1.expectNothing(match('iq', {}, (i) => i.attrs.from?.startsWith('alice@') === true), 0);
    await b2.expectNothing(match('presence', {}, (p) => p.attrs.from?.startsWith('alice@') === true), 0);
    for (const c of [a1, a3]) {
      await c.expectNothing(match('message', {}, (m) => m.attrs.from?.startsWith('bob@') === true), 0);
      await c.expectNothing(match('presence', {}, (p) => p.attrs.from?.startsWith('bob@') === true), 0);
    }

    // Unblock (from xmpp.js): pushes, alice's current presence goes to bob, bob's comes back.
    a1.clear();
    b1.clear();
    const un = await a2.iq(xml('iq', { type: 'set' }, xml('unblock', { xmlns: NS_BLOCKING }, xml('item', { jid: 'bob@localhost' }))));
    expect(un.attrs.type, un.toString()).toBe('result');
    const upush = await a1.waitFor(match('iq', { type: 'set' }, (i) => i.getChild('unblock', NS_BLOCKING) !== undefined));
    expect(upush.getChild('unblock', NS_BLOCKING)?.getChildren('item').map((i) => i.attrs.jid)).toEqual(['bob@localhost']);
    const back = await b1.waitFor(match('presence', { from: 'alice@localhost/a1' }));
    expect(back.attrs.type).toBeUndefined();
    expect(back.getChildText('show')).toBe('away');
    await b1.waitFor(match('presence', { from: 'alice@localhost/a3', type: null }));
    await a1.waitFor(match('presence', { from: 'bob@localhost/b1' }, (p) => p.getChildText('show') === 'dnd'));
    b1.send(`<message to='alice@localhost/a1' type='chat'><body>friends again</body></message>`);
    await a1.waitFor(match('message', { from: 'bob@localhost/b1' }, body('friends again')));
    a1.send(`<message to='bob@localhost/b1' type='chat'><body>yes</body></message>`);
    await b1.waitFor(match('message', { from: 'alice@localhost/a1' }, body('yes')));
    expect(await blocklist(a1)).toEqual([]);
  });

  it('matches one resource, a domain and its subdomains, and applies to other servers', async () => {
    const carol = await online('carol', 'c');
    const evil = await online('dan', 'evil');
    const good = await online('dan', 'good');
    // A domain we do not serve: refused by darknet_only before blocking, refused as blocked after.
    carol.send(`<message to='x@sub.spam.example' type='chat' id='r1'><body>1</body></message>`);
    expect(condition(await carol.waitFor(match('message', { type: 'error', id: 'r1' })))).toBe('remote-server-not-found');

    expect((await carol.iq(blockIq('dan@localhost/evil', 'spam.example'))).attrs.type).toBe('result');
    evil.send(`<message to='carol@localhost' type='chat' id='e'><body>from evil</body></message>`);
    expect(condition(await evil.waitFor(match('message', { type: 'error', id: 'e' })))).toBe('service-unavailable');
    good.send(`<message to='carol@localhost' type='chat' id='g'><body>from good</body></message>`);
    await carol.waitFor(match('message', { from: 'dan@localhost/good' }, body('from good')));
    // The bare JID is not covered by a resource block; the resource is.
    carol.send(`<message to='dan@localhost/evil' type='chat' id='ce'><body>x</body></message>`);
    expect(condition(await carol.waitFor(match('message', { type: 'error', id: 'ce' })))).toBe('not-acceptable');
    carol.send(`<message to='dan@localhost/good' type='chat' id='cg'><body>to good</body></message>`);
    await good.waitFor(match('message', {}, body('to good')));
    for (const to of ['x@sub.spam.example', 'spam.example', 'y@spam.example/r']) {
      carol.send(`<message to='${to}' type='chat' id='r2'><body>2</body></message>`);
      const e = await carol.waitFor(match('message', { type: 'error', id: 'r2' }));
      expect(condition(e), to).toBe('not-acceptable');
      expect(e.getChild('error')?.getChild('blocked', NS_BLOCKED)).toBeDefined();
    }
    // Unblock all: one empty push, everything flows again.
    expect((await carol.iq(`<iq type='set'><unblock xmlns='${NS_BLOCKING}'/></iq>`)).attrs.type).toBe('result');
    expect(await blocklist(carol)).toEqual([]);
    evil.send(`<message to='carol@localhost' type='chat'><body>evil again</body></message>`);
    await carol.waitFor(match('message', { from: 'dan@localhost/evil' }, body('evil again')));
    carol.send(`<message to='x@sub.spam.example' type='chat' id='r3'><body>3</body></message>`);
    expect(condition(await carol.waitFor(match('message', { type: 'error', id: 'r3' })))).toBe('remote-server-not-found');
  });

  it('keeps what a blocked sender left offline from being delivered', async () => {
    const dan = await online('dan', 'd');
    dan.send(`<message to='erin@localhost' type='chat'><body>left offline</body></message>`);
    const pong = await dan.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(pong.attrs.type).toBe('result');
    const erin = await login('erin', 'e');
    expect((await erin.iq(blockIq('dan@localhost'))).attrs.type).toBe('result');
    // Blocked while offline: a new message is refused, not stored.
    dan.send(`<message to='erin@localhost' type='chat' id='late'><body>late</body></message>`);
    expect(condition(await dan.waitFor(match('message', { type: 'error', id: 'late' })))).toBe('service-unavailable');
    erin.send('<presence/>');
    await erin.expectNothing(match('message'), 400);
    expect((await erin.iq(unblockIq('dan@localhost'))).attrs.type).toBe('result');
  });
});

describe('bad block requests', () => {
  it('answer bad-request / jid-malformed / not-acceptable and store nothing', async () => {
    const c = await login('carol', 'bad');
    expect((await c.iq(blockIq('keep@localhost'))).attrs.type).toBe('result');
    const cases: [string, string][] = [
      [`<iq type='set'><block xmlns='${NS_BLOCKING}'/></iq>`, 'bad-request'],
      [`<iq type='set'><block xmlns='${NS_BLOCKING}'><item/></block></iq>`, 'bad-request'],
      [`<iq type='set'><block xmlns='${NS_BLOCKING}'><item jid='x@localhost'/><thing/></block></iq>`, 'bad-request'],
      [blockIq('new@localhost', '@localhost'), 'jid-malformed'],
      [blockIq('new@localhost', 'a@b@c'), 'jid-malformed'],
      [blockIq('new@localhost', 'carol@localhost/other'), 'not-acceptable'],
      [unblockIq('keep@localhost', 'bad@'), 'jid-malformed'],
    ];
    for (const [req, cond] of cases) {
      const r = await c.iq(req);
      expect(r.attrs.type, req).toBe('error');
      expect(condition(r), req).toBe(cond);
    }
    expect(await blocklist(c)).toEqual(['keep@localhost']);
    expect((await c.iq(unblockIq('keep@localhost'))).attrs.type).toBe('result');
  });
});

describe('after a restart', () => {
  it('the blocklist is still there and still applies', async () => {
    const a = await login('alice', 'r');
    expect((await a.iq(blockIq('bob@localhost', 'spam.example'))).attrs.type).toBe('result');
    await a.close();
    open.length = 0;
    await ts.stop();
    ts = await start();
    const a2 = await online('alice', 'r2');
    expect(await blocklist(a2)).toEqual(['bob@localhost', 'spam.example']);
    const b = await online('bob', 'rb');
    b.send(`<message to='alice@localhost' type='chat' id='x'><body>still?</body></message>`);
    expect(condition(await b.waitFor(match('message', { type: 'error', id: 'x' })))).toBe('service-unavailable');
    await a2.expectNothing(match('message'), 200);
  });
});
