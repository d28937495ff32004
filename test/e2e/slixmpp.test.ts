// End to end with slixmpp (Debian's python3-slixmpp 1.8) against a real Clove on 127.0.0.1, port 0,
// plus one test where an xmpp.js user and a slixmpp user talk to each other.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { parseXml, Slixmpp, SlixError, type SlixSession } from '../helpers/slixmpp.js';
import {
  bareOf, connectXmppjs, isMessage, isPresence, isRosterPush, NS_ROSTER, rosterItem, xml,
  type XmppjsClient, type XmlElement,
} from '../helpers/xmppjs.js';

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
const NS_VCARD = 'vcard-temp';
const NS_PING = 'urn:xmpp:ping';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

const PASS = 'tr0ub4dor&3';
let ts: TestServer;
let py: Slixmpp;
let names = 0;
const clients: string[] = [];
const xmppjsClients: XmppjsClient[] = [];

let users = 0;
async function newUser(prefix: string): Promise<string> {
  const name = `${prefix}${++users}`;
  await ts.addUser(name, PASS);
  return `${name}@${ts.domain}`;
}

/** Log a slixmpp client in; returns its driver name and session. */
async function login(jid: string, opts: { mech?: string; resource?: string; password?: string } = {}): Promise<{ name: string; s: SlixSession }> {
  const name = `c${++names}`;
  const s = await py.connect(name, jid, opts.password ?? PASS, opts);
  clients.push(name);
  return { name, s };
}

async function loginError(jid: string, opts: { mech?: string; password?: string }): Promise<Record<string, unknown>> {
  try {
    await login(jid, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(SlixError);
    return (err as SlixError).info;
  }
  throw new Error(`login as ${jid} succeeded but should have failed`);
}

const features = (s: SlixSession): XmlElement[] => s.features.map(parseXml);

interface RosterView { [jid: string]: { subscription: string; ask: string; name: string; groups: string[] } }

/** Log in, fetch the roster through slixmpp and send initial presence. */
async function online(jid: string, resource?: string): Promise<{ name: string; s: SlixSession }> {
  const c = await login(jid, resource ? { resource } : {});
  await py.call('get_roster', { name: c.name });
  await py.call('presence', { name: c.name });
  return c;
}

/** RFC 6121 §3 both ways between two slixmpp clients, asserting each step on the wire. */
async function handshake(a: { name: string; s: SlixSession }, b: { name: string; s: SlixSession }): Promise<void> {
  const A = bareOf(a.s.jid);
  const B = bareOf(b.s.jid);
  await py.call('subscribe', { name: a.name, to: B });
  const p1 = await py.waitFor(a.name, (el) => isRosterPush(el, B), `roster push for ${B} after subscribe`);
  expect(rosterItem(p1, B)?.attrs).toMatchObject({ subscription: 'none', ask: 'subscribe' });
  const req = await py.waitFor(b.name, (el) => isPresence(el, A, 'subscribe'), `subscribe from ${A}`);
  expect(req.attrs.from).toBe(A);
  await py.call('approve', { name: b.name, to: A });
  await py.waitFor(b.name, (el) => isRosterPush(el, A) && rosterItem(el, A)?.attrs.subscription === 'from', `push for ${A} with 'from'`);
  await py.waitFor(a.name, (el) => isPresence(el, B, 'subscribed'), `subscribed from ${B}`);
  await py.waitFor(a.name, (el) => isRosterPush(el, B) && rosterItem(el, B)?.attrs.subscription === 'to', `push for ${B} with 'to'`);
  await py.call('subscribe', { name: b.name, to: A });
  await py.waitFor(a.name, (el) => isPresence(el, B, 'subscribe'), `subscribe from ${B}`);
  await py.call('approve', { name: a.name, to: B });
  await py.waitFor(b.name, (el) => isRosterPush(el, A) && rosterItem(el, A)?.attrs.subscription === 'both', `push for ${A} with 'both'`);
  await py.waitFor(a.name, (el) => isRosterPush(el, B) && rosterItem(el, B)?.attrs.subscription === 'both', `push for ${B} with 'both'`);
}

beforeAll(async () => {
  ts = await startTestServer();
  py = await Slixmpp.start(ts);
});

afterEach(async () => {
  // Disconnect whatever a test left connected (failures included), so tests stay independent.
  for (const name of clients.splice(0)) await py.call('disconnect', { name }).catch(() => undefined);
  await Promise.all(xmppjsClients.splice(0).map((c) => c.stop()));
});

afterAll(async () => {
  await py?.stop();
  await ts?.stop();
});

describe('slixmpp: stream negotiation', () => {
  it('STARTTLS: only STARTTLS (required) before TLS, then a TLS session with the server certificate', async () => {
    const { s } = await login(await newUser('tls'));
    const [before, afterTls, afterSasl] = features(s);
    expect(s.features).toHaveLength(3);
    expect(before?.getChild('starttls', NS_TLS)?.getChild('required')).toBeDefined();
    expect(before?.getChild('mechanisms', NS_SASL)).toBeUndefined();
    expect(afterTls?.getChild('starttls', NS_TLS)).toBeUndefined();
    expect(afterTls?.getChild('mechanisms', NS_SASL)?.getChildren('mechanism').map((m) => m.text())).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
    expect(afterSasl?.getChild('bind', NS_BIND)).toBeDefined();
    expect(s.tls?.version).toMatch(/^TLSv1\.[23]$/);
    expect(ts.server.fingerprints.get(ts.domain)).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(s.tls?.fingerprint).toBe(ts.server.fingerprints.get(ts.domain));
  });

  for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']) {
    it(`SASL ${mech}`, async () => {
      const jid = await newUser('sasl');
      const { s } = await login(jid, { mech });
      expect(s.mechanism).toBe(mech);
      expect(bareOf(s.jid)).toBe(jid);
    });
  }

  it('a wrong password fails with not-authorized (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN)', async () => {
    const jid = await newUser('wrong');
    for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']) {
      const info = await loginError(jid, { mech, password: 'not the password' });
      expect(info, mech).toMatchObject({ kind: 'sasl', condition: 'not-authorized', mechanism: mech });
    }
  });

  it('bind: the server chooses a resource when none is requested', async () => {
    const jid = await newUser('bind');
    const a = await login(jid);
    const b = await login(jid);
    expect(a.s.jid.startsWith(`${jid}/`)).toBe(true);
    expect(a.s.jid.length).toBeGreaterThan(jid.length + 1);
    expect(b.s.jid.startsWith(`${jid}/`)).toBe(true);
    expect(b.s.jid).not.toBe(a.s.jid);
  });

  it('bind: the requested resource is used', async () => {
    const jid = await newUser('bind');
    const { s } = await login(jid, { resource: 'laptop' });
    expect(s.jid).toBe(`${jid}/laptop`);
  });

  it('session: the legacy session iq is answered with a result', async () => {
    const { name, s } = await login(await newUser('session'));
    // slixmpp skips the iq when the feature says <optional/>; send it as older clients do.
    expect(features(s)[2]?.getChild('session', NS_SESSION)?.getChild('optional')).toBeDefined();
    const r = await py.iq(name, `<iq xmlns='jabber:client' type='set' id='sess-1'><session xmlns='${NS_SESSION}'/></iq>`);
    expect(r.attrs).toMatchObject({ type: 'result', id: 'sess-1' });
  });
});

describe('slixmpp: IM', () => {
  it('messages both ways between two users', async () => {
    const a = await login(await newUser('msga'));
    const b = await login(await newUser('msgb'));
    await py.call('message', { name: a.name, to: b.s.jid, body: 'hi from slixmpp ✓ <&>' });
    const got = await py.waitFor(b.name, (el) => isMessage(el, a.s.jid, 'hi from slixmpp ✓ <&>'), 'message from a');
    expect(got.attrs).toMatchObject({ from: a.s.jid, to: b.s.jid, type: 'chat' });
    await py.call('message', { name: b.name, to: a.s.jid, body: 'and back' });
    const back = await py.waitFor(a.name, (el) => isMessage(el, b.s.jid, 'and back'), 'message from b');
    expect(back.attrs.from).toBe(b.s.jid);
  });

  it('vCard: set, get own, get the other user’s by bare JID', async () => {
    const A = await newUser('vca');
    const a = await login(A);
    const b = await login(await newUser('vcb'));
    await py.call('vcard_set', { name: a.name, fn: 'Alice Liddell', nick: 'al' });
    const own = await py.call<{ fn: string; nick: string }>('vcard_get', { name: a.name, jid: null });
    expect(own).toMatchObject({ fn: 'Alice Liddell', nick: 'al' });
    const other = await py.call<{ fn: string; nick: string; from: string }>('vcard_get', { name: b.name, jid: A });
    expect(other).toMatchObject({ fn: 'Alice Liddell', nick: 'al', from: A });
  });

  it('disco#info and disco#items on the domain', async () => {
    const { name } = await login(await newUser('disco'));
    const info = await py.call<{ from: string; features: string[]; identities: string[][] }>('disco_info', { name, jid: ts.domain });
    expect(info.from).toBe(ts.domain);
    expect(info.features).toEqual(expect.arrayContaining([NS_PING, NS_VCARD, NS_DISCO_INFO, NS_DISCO_ITEMS]));
    expect(info.identities.map((i) => `${i[0]}/${i[1]}`)).toContain('server/im');
    const items = await py.call<{ from: string; type: string; items: unknown[] }>('disco_items', { name, jid: ts.domain });
    expect(items).toMatchObject({ from: ts.domain, type: 'result' });
  });

  it('ping: to the host, to the own bare JID, and with no to', async () => {
    const jid = await newUser('ping');
    const { name } = await login(jid);
    expect(await py.call('ping', { name, jid: ts.domain })).toMatchObject({ from: ts.domain, type: 'result' });
    expect(await py.call('ping', { name, jid })).toMatchObject({ from: jid, type: 'result' });
    const none = await py.iq(name, `<iq xmlns='jabber:client' type='get' id='p-none'><ping xmlns='${NS_PING}'/></iq>`);
    expect(none.attrs).toMatchObject({ type: 'result', id: 'p-none' });
    expect([undefined, jid]).toContain(none.attrs.from);
    // A ping to a user who does not exist is not answered by the server on its behalf.
    const ghost = await py.iq(name, `<iq xmlns='jabber:client' type='get' id='p-ghost' to='ghost@${ts.domain}'><ping xmlns='${NS_PING}'/></iq>`);
    expect(ghost.attrs.type).toBe('error');
  });
});

describe('slixmpp: roster and presence (RFC 6121)', () => {
  it('subscription handshake both ways ends at both in both rosters', async () => {
    const A = await newUser('suba');
    const B = await newUser('subb');
    const a = await online(A);
    const b = await online(B);
    await handshake(a, b);
    // A plain roster get (no 'ver': slixmpp's own would get an empty result, RFC 6121 §2.6.3).
    const get = `<iq xmlns='jabber:client' type='get'><query xmlns='${NS_ROSTER}'/></iq>`;
    const ra = await py.iq(a.name, get);
    const rb = await py.iq(b.name, get);
    expect(rosterItem(ra, B)?.attrs, ra.toString()).toMatchObject({ jid: B, subscription: 'both' });
    expect(rosterItem(ra, B)?.attrs.ask).toBeUndefined();
    expect(rosterItem(rb, A)?.attrs, rb.toString()).toMatchObject({ jid: A, subscription: 'both' });
    expect(rosterItem(rb, A)?.attrs.ask).toBeUndefined();
    // slixmpp's own roster, built from results and pushes, agrees.
    expect((await py.call<RosterView>('roster_state', { name: a.name }))[B]?.subscription).toBe('both');
    expect((await py.call<RosterView>('roster_state', { name: b.name }))[A]?.subscription).toBe('both');
  });

  it('presence: each sees the other available after the handshake, unavailable after disconnect', async () => {
    const A = await newUser('prea');
    const B = await newUser('preb');
    const a = await online(A);
    const b = await online(B);
    await handshake(a, b);
    await py.waitFor(a.name, (el) => isPresence(el, b.s.jid), `available from ${b.s.jid}`);
    await py.waitFor(b.name, (el) => isPresence(el, a.s.jid), `available from ${a.s.jid}`);
    await py.call('disconnect', { name: b.name });
    clients.splice(clients.indexOf(b.name), 1);
    await py.waitFor(a.name, (el) => isPresence(el, b.s.jid, 'unavailable'), `unavailable from ${b.s.jid}`);
    const b2 = await online(B);
    await py.waitFor(a.name, (el) => isPresence(el, b2.s.jid), `available from ${b2.s.jid}`);
    await py.waitFor(b2.name, (el) => isPresence(el, a.s.jid), `available from ${a.s.jid} after b came back`);
    await py.call('message', { name: a.name, to: B, body: 'welcome back' });
    await py.waitFor(b2.name, (el) => isMessage(el, a.s.jid, 'welcome back'), 'message to the bare JID');
  });

  it('roster push to a second resource after a roster set from the first', async () => {
    const jid = await newUser('push');
    const one = await online(jid, 'one');
    const two = await online(jid, 'two');
    const contact = `carol@${ts.domain}`;
    await py.call('update_roster', { name: one.name, jid: contact, nick: 'Carol', groups: ['Friends'] });
    for (const c of [two, one]) {
      const push = await py.waitFor(c.name, (el) => isRosterPush(el, contact), `roster push for ${contact} on ${c.s.jid}`);
      expect([undefined, jid]).toContain(push.attrs.from);
      const item = rosterItem(push, contact);
      expect(item?.attrs).toMatchObject({ jid: contact, name: 'Carol', subscription: 'none' });
      expect(item?.getChildText('group')).toBe('Friends');
    }
    // slixmpp on the second resource applied the push to its roster.
    expect((await py.call<RosterView>('roster_state', { name: two.name }))[contact]).toMatchObject({ name: 'Carol', groups: ['Friends'], subscription: 'none' });
  });
});

describe('xmpp.js and slixmpp together', () => {
  it('subscription, presence and messages between an xmpp.js user and a slixmpp user', async () => {
    const jsUser = await newUser('js');
    const pyJid = await newUser('py');
    const js = await connectXmppjs(ts, { username: jsUser.split('@')[0] as string, password: PASS, resource: 'node' });
    xmppjsClients.push(js);
    const JS = bareOf(js.jid);
    const r = await js.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_ROSTER })));
    expect(r.attrs.type, r.toString()).toBe('result');
    await js.send(xml('presence'));
    const p = await online(pyJid, 'python');

    // xmpp.js asks, slixmpp approves and asks back, xmpp.js approves.
    await js.send(xml('presence', { to: pyJid, type: 'subscribe' }));
    await py.waitFor(p.name, (el) => isPresence(el, JS, 'subscribe'), `subscribe from ${JS}`);
    await py.call('approve', { name: p.name, to: JS });
    await js.waitFor((s) => isPresence(s, pyJid, 'subscribed'), `subscribed from ${pyJid}`);
    await py.call('subscribe', { name: p.name, to: JS });
    await js.waitFor((s) => isPresence(s, pyJid, 'subscribe'), `subscribe from ${pyJid}`);
    await js.send(xml('presence', { to: pyJid, type: 'subscribed' }));
    await js.waitFor((s) => isRosterPush(s, pyJid) && rosterItem(s, pyJid)?.attrs.subscription === 'both', `push for ${pyJid} with 'both'`);
    await py.waitFor(p.name, (el) => isRosterPush(el, JS) && rosterItem(el, JS)?.attrs.subscription === 'both', `push for ${JS} with 'both'`);
    expect((await py.call<RosterView>('roster_state', { name: p.name }))[JS]?.subscription).toBe('both');

    // Presence both ways.
    await js.waitFor((s) => isPresence(s, p.s.jid), `available from ${p.s.jid}`);
    await py.waitFor(p.name, (el) => isPresence(el, js.jid), `available from ${js.jid}`);

    // Messages both ways, to bare JIDs.
    await js.send(xml('message', { to: pyJid, type: 'chat' }, xml('body', {}, 'from node to python')));
    const m1 = await py.waitFor(p.name, (el) => isMessage(el, js.jid, 'from node to python'), 'message from xmpp.js');
    expect(m1.attrs.from).toBe(js.jid);
    await py.call('message', { name: p.name, to: JS, body: 'from python to node' });
    const m2 = await js.waitFor((s) => isMessage(s, p.s.jid, 'from python to node'), 'message from slixmpp');
    expect(m2.attrs.from).toBe(p.s.jid);

    // slixmpp leaves; xmpp.js sees it go.
    await py.call('disconnect', { name: p.name });
    clients.splice(clients.indexOf(p.name), 1);
    await js.waitFor((s) => isPresence(s, p.s.jid, 'unavailable'), `unavailable from ${p.s.jid}`);
  });
});
