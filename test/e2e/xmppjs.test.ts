// End to end with xmpp.js (@xmpp/client 0.14) against a real Clove on 127.0.0.1, port 0.
// xmpp.js implements PLAIN and SCRAM-SHA-1 but not SCRAM-SHA-256; SCRAM-SHA-256 is covered by
// test/e2e/slixmpp.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  bareOf, connectXmppjs, isMessage, isPresence, isRosterPush, LoginError, NS_ROSTER, rosterItem, xml,
  type XmppjsClient, type XmppjsOptions, type XmlElement,
} from '../helpers/xmppjs.js';

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NS_VCARD = 'vcard-temp';
const NS_PING = 'urn:xmpp:ping';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

let ts: TestServer;
const PASS = 'correct horse battery';
const open: XmppjsClient[] = [];

/** Connect and remember the client so afterEach stops it even when the test fails. */
async function login(username: string, opts: Partial<XmppjsOptions> = {}): Promise<XmppjsClient> {
  const c = await connectXmppjs(ts, { username, password: PASS, ...opts });
  open.push(c);
  return c;
}

async function loginError(username: string, opts: Partial<XmppjsOptions>): Promise<LoginError> {
  try {
    const c = await connectXmppjs(ts, { username, password: PASS, ...opts });
    open.push(c);
  } catch (err) {
    expect(err).toBeInstanceOf(LoginError);
    return err as LoginError;
  }
  throw new Error(`login as ${username} succeeded but should have failed`);
}

let users = 0;
/** A fresh account per test, so no test sees another's roster or vCard. */
async function newUser(prefix: string): Promise<string> {
  const name = `${prefix}${++users}`;
  await ts.addUser(name, PASS);
  return name;
}

const errorCondition = (iq: XmlElement): string | undefined =>
  iq.getChild('error')?.getChildElements().find((e) => e.getNS() === NS_STANZAS)?.name;

async function fetchRoster(c: XmppjsClient): Promise<XmlElement> {
  const r = await c.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_ROSTER })));
  expect(r.attrs.type, r.toString()).toBe('result');
  return r;
}

/**
 * The RFC 6121 §3 handshake both ways, asserting every step: a subscribes to b, b approves and
 * subscribes back, a approves. Both must already have fetched the roster and sent presence.
 */
async function handshake(a: XmppjsClient, b: XmppjsClient): Promise<void> {
  const A = bareOf(a.jid);
  const B = bareOf(b.jid);
  await a.send(xml('presence', { to: B, type: 'subscribe' }));
  // §3.1.2: the user's server pushes the item with ask='subscribe' to the user.
  const p1 = await a.waitFor((s) => isRosterPush(s, B), `roster push for ${B} after subscribe`);
  expect(rosterItem(p1, B)?.attrs).toMatchObject({ subscription: 'none', ask: 'subscribe' });
  // §3.1.3: the contact receives the request from the user's bare JID.
  const req = await b.waitFor((s) => isPresence(s, A, 'subscribe'), `subscribe from ${A}`);
  expect(req.attrs.from).toBe(A);

  await b.send(xml('presence', { to: A, type: 'subscribed' }));
  // §3.1.5: the contact's item becomes 'from'; §3.1.6: the user's becomes 'to'.
  await b.waitFor((s) => isRosterPush(s, A) && rosterItem(s, A)?.attrs.subscription === 'from', `roster push for ${A} with 'from'`);
  await a.waitFor((s) => isPresence(s, B, 'subscribed'), `subscribed from ${B}`);
  const p3 = await a.waitFor((s) => isRosterPush(s, B) && rosterItem(s, B)?.attrs.subscription === 'to', `roster push for ${B} with subscription 'to'`);
  expect(rosterItem(p3, B)?.attrs.ask).toBeUndefined();

  await b.send(xml('presence', { to: A, type: 'subscribe' }));
  await a.waitFor((s) => isPresence(s, B, 'subscribe'), `subscribe from ${B}`);
  await a.send(xml('presence', { to: B, type: 'subscribed' }));
  await b.waitFor((s) => isRosterPush(s, A) && rosterItem(s, A)?.attrs.subscription === 'both', `roster push for ${A} with subscription 'both'`);
  await a.waitFor((s) => isRosterPush(s, B) && rosterItem(s, B)?.attrs.subscription === 'both', `roster push for ${B} with subscription 'both'`);
}

/** Log in, fetch the roster and send initial presence. */
async function online(username: string, resource?: string): Promise<XmppjsClient> {
  const c = await login(username, resource ? { resource } : {});
  await fetchRoster(c);
  await c.send(xml('presence'));
  return c;
}

beforeAll(async () => {
  ts = await startTestServer();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.stop()));
});

afterAll(async () => {
  await ts?.stop();
});

describe('xmpp.js: stream negotiation', () => {
  it('STARTTLS: only STARTTLS (required) before TLS, then a TLS session with the server certificate', async () => {
    const user = await newUser('tls');
    const c = await login(user);
    const [before, afterTls, afterSasl] = c.features;
    expect(c.features).toHaveLength(3);
    // Before TLS: starttls, required, and no SASL mechanisms at all.
    expect(before?.getChild('starttls', NS_TLS)?.getChild('required')).toBeDefined();
    expect(before?.getChild('mechanisms', NS_SASL)).toBeUndefined();
    // After TLS: mechanisms, no second starttls.
    expect(afterTls?.getChild('starttls', NS_TLS)).toBeUndefined();
    expect(afterTls?.getChild('mechanisms', NS_SASL)).toBeDefined();
    expect(afterSasl?.getChild('bind', NS_BIND)).toBeDefined();
    // The session really is TLS, with the certificate this server generated.
    expect(c.xmpp.isSecure()).toBe(true);
    expect(c.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(ts.server.fingerprints.get(ts.domain)).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(c.tls?.fingerprint).toBe(ts.server.fingerprints.get(ts.domain));
  });

  it('SASL PLAIN', async () => {
    const user = await newUser('plain');
    const c = await login(user, { mechanism: 'PLAIN' });
    expect(c.mechanism).toBe('PLAIN');
    expect(c.offered).toContain('PLAIN');
    expect(bareOf(c.jid)).toBe(`${user}@${ts.domain}`);
  });

  it('SASL SCRAM-SHA-1 (and xmpp.js picks it over PLAIN by itself)', async () => {
    const user = await newUser('scram');
    const c = await login(user, { mechanism: 'SCRAM-SHA-1' });
    expect(c.mechanism).toBe('SCRAM-SHA-1');
    expect(bareOf(c.jid)).toBe(`${user}@${ts.domain}`);
    // The server offers all three, strongest first; xmpp.js does not know SCRAM-SHA-256.
    expect(c.offered).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
    const d = await login(user);
    expect(d.mechanism).toBe('SCRAM-SHA-1');
  });

  it('a wrong password fails with not-authorized (PLAIN and SCRAM-SHA-1)', async () => {
    const user = await newUser('wrong');
    for (const mechanism of ['PLAIN', 'SCRAM-SHA-1'] as const) {
      const err = await loginError(user, { mechanism, password: 'not the password' });
      expect(err.condition, `${mechanism}: ${err.message}`).toBe('not-authorized');
    }
    // An unknown account fails the same way (no account enumeration).
    const err = await loginError('nosuchuser', { mechanism: 'SCRAM-SHA-1' });
    expect(err.condition).toBe('not-authorized');
  });

  it('bind: the server chooses a resource when none is requested', async () => {
    const user = await newUser('bind');
    const a = await login(user);
    const b = await login(user);
    const bare = `${user}@${ts.domain}`;
    expect(a.jid.startsWith(`${bare}/`)).toBe(true);
    expect(a.jid.length).toBeGreaterThan(bare.length + 1);
    expect(b.jid.startsWith(`${bare}/`)).toBe(true);
    expect(b.jid).not.toBe(a.jid);
  });

  it('bind: the requested resource is used', async () => {
    const user = await newUser('bind');
    const c = await login(user, { resource: 'desk top' });
    expect(c.jid).toBe(`${user}@${ts.domain}/desk top`);
  });

  it('session: the legacy session iq is answered with a result', async () => {
    const user = await newUser('session');
    const c = await login(user);
    // xmpp.js 0.14 does not send it itself; the feature is advertised as optional.
    const session = c.features[2]?.getChild('session', NS_SESSION);
    expect(session?.getChild('optional')).toBeDefined();
    const r = await c.iq(xml('iq', { type: 'set', id: 'sess-1' }, xml('session', { xmlns: NS_SESSION })));
    expect(r.attrs).toMatchObject({ type: 'result', id: 'sess-1' });
  });
});

describe('xmpp.js: IM', () => {
  it('messages both ways between two users', async () => {
    const a = await login(await newUser('msga'));
    const b = await login(await newUser('msgb'));
    await a.send(xml('message', { to: b.jid, type: 'chat', id: 'm1' }, xml('body', {}, 'hello from a ✓ <&>')));
    const got = await b.waitFor((s) => isMessage(s, a.jid, 'hello from a ✓ <&>'), 'message from a');
    expect(got.attrs).toMatchObject({ from: a.jid, to: b.jid, type: 'chat', id: 'm1' });
    await b.send(xml('message', { to: a.jid, type: 'chat' }, xml('body', {}, 'and back from b')));
    const back = await a.waitFor((s) => isMessage(s, b.jid, 'and back from b'), 'message from b');
    expect(back.attrs.from).toBe(b.jid);
  });

  it('vCard: set, get own, get the other user’s by bare JID', async () => {
    const a = await login(await newUser('vca'));
    const b = await login(await newUser('vcb'));
    const A = bareOf(a.jid);
    const set = await a.iq(xml('iq', { type: 'set' }, xml('vCard', { xmlns: NS_VCARD }, xml('FN', {}, 'Alice Liddell'), xml('NICKNAME', {}, 'al'))));
    expect(set.attrs.type, set.toString()).toBe('result');
    const own = await a.iq(xml('iq', { type: 'get' }, xml('vCard', { xmlns: NS_VCARD })));
    expect(own.attrs.type, own.toString()).toBe('result');
    expect(own.getChild('vCard', NS_VCARD)?.getChildText('FN')).toBe('Alice Liddell');
    expect(own.getChild('vCard', NS_VCARD)?.getChildText('NICKNAME')).toBe('al');
    const other = await b.iq(xml('iq', { type: 'get', to: A }, xml('vCard', { xmlns: NS_VCARD })));
    expect(other.attrs.type, other.toString()).toBe('result');
    expect(other.attrs.from).toBe(A);
    expect(other.getChild('vCard', NS_VCARD)?.getChildText('FN')).toBe('Alice Liddell');
    // Only the owner may change it.
    const forbidden = await b.iq(xml('iq', { type: 'set', to: A }, xml('vCard', { xmlns: NS_VCARD }, xml('FN', {}, 'Mallory'))));
    expect(forbidden.attrs.type).toBe('error');
    expect(errorCondition(forbidden)).toBe('forbidden');
  });

  it('disco#info and disco#items on the domain', async () => {
    const c = await login(await newUser('disco'));
    const info = await c.iq(xml('iq', { type: 'get', to: ts.domain }, xml('query', { xmlns: NS_DISCO_INFO })));
    expect(info.attrs).toMatchObject({ type: 'result', from: ts.domain });
    const q = info.getChild('query', NS_DISCO_INFO);
    const features = q?.getChildren('feature').map((f) => f.attrs.var) ?? [];
    expect(features).toEqual(expect.arrayContaining([NS_PING, NS_VCARD, NS_DISCO_INFO, NS_DISCO_ITEMS]));
    expect(q?.getChildren('identity').map((i) => `${i.attrs.category}/${i.attrs.type}`)).toContain('server/im');
    const items = await c.iq(xml('iq', { type: 'get', to: ts.domain }, xml('query', { xmlns: NS_DISCO_ITEMS })));
    expect(items.attrs).toMatchObject({ type: 'result', from: ts.domain });
    expect(items.getChild('query', NS_DISCO_ITEMS)).toBeDefined();
  });

  it('ping: to the host, to the own bare JID, and with no to', async () => {
    const c = await login(await newUser('ping'));
    const bare = bareOf(c.jid);
    const host = await c.iq(xml('iq', { type: 'get', to: ts.domain }, xml('ping', { xmlns: NS_PING })));
    expect(host.attrs, host.toString()).toMatchObject({ type: 'result', from: ts.domain });
    const self = await c.iq(xml('iq', { type: 'get', to: bare }, xml('ping', { xmlns: NS_PING })));
    expect(self.attrs.type, self.toString()).toBe('result');
    expect(self.attrs.from).toBe(bare);
    const none = await c.iq(xml('iq', { type: 'get' }, xml('ping', { xmlns: NS_PING })));
    expect(none.attrs.type, none.toString()).toBe('result');
    // RFC 6120 §8.1.2.1: a reply to a stanza with no 'to' comes from the account or from no one.
    expect([undefined, bare]).toContain(none.attrs.from);
    // An unknown payload still gets an error, so the results above are not a blanket answer.
    const bogus = await c.iq(xml('iq', { type: 'get', to: ts.domain }, xml('nope', { xmlns: 'urn:example:none' })));
    expect(errorCondition(bogus)).toBe('service-unavailable');
  });
});

describe('xmpp.js: roster and presence (RFC 6121)', () => {
  it('subscription handshake both ways ends at both in both rosters', async () => {
    const a = await online(await newUser('suba'));
    const b = await online(await newUser('subb'));
    const A = bareOf(a.jid);
    const B = bareOf(b.jid);
    await handshake(a, b);
    const ra = await fetchRoster(a);
    const rb = await fetchRoster(b);
    expect(rosterItem(ra, B)?.attrs).toMatchObject({ jid: B, subscription: 'both' });
    expect(rosterItem(ra, B)?.attrs.ask).toBeUndefined();
    expect(rosterItem(rb, A)?.attrs).toMatchObject({ jid: A, subscription: 'both' });
    expect(rosterItem(rb, A)?.attrs.ask).toBeUndefined();
  });

  it('presence: each sees the other available after the handshake, unavailable after disconnect', async () => {
    const a = await online(await newUser('prea'));
    const bUser = await newUser('preb');
    const b = await online(bUser);
    await handshake(a, b);
    // RFC 6121 §3.1.6/§4.3: once subscribed, each gets the other's current presence.
    await a.waitFor((s) => isPresence(s, b.jid), `available presence from ${b.jid}`);
    await b.waitFor((s) => isPresence(s, a.jid), `available presence from ${a.jid}`);
    // Disconnecting without sending unavailable: the server broadcasts it (§4.5.2).
    await b.stop();
    const gone = await a.waitFor((s) => isPresence(s, b.jid, 'unavailable'), `unavailable from ${b.jid}`);
    expect(gone.attrs.to === undefined || bareOf(gone.attrs.to) === bareOf(a.jid)).toBe(true);
    // Coming back: a sees the new resource, and b gets a's presence in answer to its probe.
    const b2 = await online(bUser);
    await a.waitFor((s) => isPresence(s, b2.jid), `available presence from ${b2.jid}`);
    await b2.waitFor((s) => isPresence(s, a.jid), `available presence from ${a.jid} after b came back`);
    // And a message to the bare JID reaches the available resource.
    await a.send(xml('message', { to: bareOf(b2.jid), type: 'chat' }, xml('body', {}, 'welcome back')));
    await b2.waitFor((s) => isMessage(s, a.jid, 'welcome back'), 'message to the bare JID');
  });

  it('roster push to a second resource after a roster set from the first', async () => {
    const user = await newUser('push');
    const one = await online(user, 'one');
    const two = await online(user, 'two');
    const bare = bareOf(one.jid);
    const contact = `carol@${ts.domain}`;
    const set = await one.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: contact, name: 'Carol' }, xml('group', {}, 'Friends')))));
    expect(set.attrs.type, set.toString()).toBe('result');
    for (const c of [two, one]) {
      const push = await c.waitFor((s) => isRosterPush(s, contact), `roster push for ${contact} on ${c.jid}`);
      // §2.1.6: a push comes from the account's bare JID or from no one.
      expect([undefined, bare]).toContain(push.attrs.from);
      const item = rosterItem(push, contact);
      expect(item?.attrs).toMatchObject({ jid: contact, name: 'Carol', subscription: 'none' });
      expect(item?.getChildText('group')).toBe('Friends');
    }
    // Removal is pushed too.
    const del = await two.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: contact, subscription: 'remove' }))));
    expect(del.attrs.type, del.toString()).toBe('result');
    const removed = await one.waitFor((s) => isRosterPush(s, contact), `removal push on ${one.jid}`);
    expect(rosterItem(removed, contact)?.attrs.subscription).toBe('remove');
    expect(rosterItem(await fetchRoster(one), contact)).toBeUndefined();
  });
});
