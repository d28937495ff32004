// Presence and subscriptions. The state tables are checked as pure functions; everything else
// over real streams, XML in and XML out. References: RFC 6121 §3, §4, Appendix A.
import { describe, expect, it } from 'vitest';
import { serverSuite } from '../../helpers/server-suite.js';
import { type El, match, type Named, type Predicate, Wire } from '../../helpers/wire.js';
import { stanza } from '../../helpers/stanza.js';
import type { Element } from '../../../src/xml/element.js';
import { inbound, outbound, stateName, type SubState, type SubscriptionType } from '../../../src/modules/presence/subscription.js';

const ROSTER = 'jabber:iq:roster';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

// ---- Appendix A, as tables ----

/** A state from its RFC 6121 name. */
function state(name: string): SubState {
  const parts = name.split(' + ');
  const pending = parts.find((p) => p.startsWith('Pending')) ?? '';
  return {
    subscription: (parts[0] as string).toLowerCase() as SubState['subscription'],
    out: pending.includes('Out'),
    in: pending === 'Pending In' || pending.includes('/In'),
    approved: parts.includes('Pre-Approved'),
  };
}

const STATES = ['None', 'None + Pending Out', 'None + Pending In', 'None + Pending Out/In', 'To', 'To + Pending In', 'From', 'From + Pending Out', 'Both'];
type Row = [from: string, pass: boolean, to: string];
const same = (s: string, pass: boolean): Row => [s, pass, s];

/** Inbound tables: "deliver?" and the new state (Appendix A.3). */
const INBOUND: Record<SubscriptionType, Row[]> = {
  subscribe: [
    ['None', true, 'None + Pending In'], ['None + Pending Out', true, 'None + Pending Out/In'], same('None + Pending In', false),
    same('None + Pending Out/In', false), ['To', true, 'To + Pending In'], same('To + Pending In', false),
    same('From', false), same('From + Pending Out', false), same('Both', false),
  ],
  unsubscribe: [
    same('None', false), same('None + Pending Out', false), ['None + Pending In', true, 'None'],
    ['None + Pending Out/In', true, 'None + Pending Out'], same('To', false), ['To + Pending In', true, 'To'],
    ['From', true, 'None'], ['From + Pending Out', true, 'None + Pending Out'], ['Both', true, 'To'],
  ],
  subscribed: [
    same('None', false), ['None + Pending Out', true, 'To'], same('None + Pending In', false),
    ['None + Pending Out/In', true, 'To + Pending In'], same('To', false), same('To + Pending In', false),
    same('From', false), ['From + Pending Out', true, 'Both'], same('Both', false),
  ],
  unsubscribed: [
    same('None', false), ['None + Pending Out', true, 'None'], same('None + Pending In', false),
    ['None + Pending Out/In', true, 'None + Pending In'], ['To', true, 'None'], ['To + Pending In', true, 'None + Pending In'],
    same('From', false), ['From + Pending Out', true, 'From'], ['Both', true, 'From'],
  ],
};

/** Outbound tables: "route?" and the new state (Appendix A.2; subscribe/unsubscribe always route, §3.1.2). */
const OUTBOUND: Record<SubscriptionType, Row[]> = {
  subscribe: [
    ['None', true, 'None + Pending Out'], same('None + Pending Out', true), ['None + Pending In', true, 'None + Pending Out/In'],
    same('None + Pending Out/In', true), same('To', true), same('To + Pending In', true),
    ['From', true, 'From + Pending Out'], same('From + Pending Out', true), same('Both', true),
  ],
  unsubscribe: [
    same('None', true), ['None + Pending Out', true, 'None'], same('None + Pending In', true),
    ['None + Pending Out/In', true, 'None + Pending In'], ['To', true, 'None'], ['To + Pending In', true, 'None + Pending In'],
    same('From', true), ['From + Pending Out', true, 'From'], ['Both', true, 'From'],
  ],
  subscribed: [
    ['None', false, 'None + Pre-Approved'], ['None + Pending Out', false, 'None + Pending Out + Pre-Approved'],
    ['None + Pending In', true, 'From'], ['None + Pending Out/In', true, 'From + Pending Out'], ['To', false, 'To + Pre-Approved'],
    ['To + Pending In', true, 'Both'], same('From', false), same('From + Pending Out', false), same('Both', false),
  ],
  unsubscribed: [
    same('None', false), same('None + Pending Out', false), ['None + Pending In', true, 'None'],
    ['None + Pending Out/In', true, 'None + Pending Out'], same('To', false), ['To + Pending In', true, 'To'],
    ['From', true, 'None'], ['From + Pending Out', true, 'None + Pending Out'], ['Both', true, 'To'],
  ],
};

describe('subscription state tables (RFC 6121 Appendix A)', () => {
  for (const [dir, fn, table] of [['inbound', inbound, INBOUND], ['outbound', outbound, OUTBOUND]] as const) {
    for (const type of Object.keys(table) as SubscriptionType[]) {
      it(`${dir} ${type}`, () => {
        expect(table[type].map((r) => r[0])).toEqual(STATES);
        for (const [from, pass, to] of table[type]) {
          const o = fn(type, state(from));
          expect([from, o.pass, stateName(o.next)]).toEqual([from, pass, to]);
        }
      });
    }
  }

  it('pre-approval turns an inbound subscribe into an automatic approval (§3.4.2)', () => {
    for (const [from, to] of [['None + Pre-Approved', 'From'], ['None + Pending Out + Pre-Approved', 'From + Pending Out'], ['To + Pre-Approved', 'Both']] as const) {
      const o = inbound('subscribe', state(from));
      expect([from, stateName(o.next), o.pass, o.autoReply, o.sendPresence]).toEqual([from, to, false, true, true]);
    }
  });

  it('subscribers that already see the user are answered automatically', () => {
    for (const s of ['From', 'From + Pending Out', 'Both']) expect(inbound('subscribe', state(s)).autoReply).toBe(true);
  });

  it('an outbound unsubscribed cancels a pre-approval without routing', () => {
    const o = outbound('unsubscribed', state('None + Pre-Approved'));
    expect([stateName(o.next), o.pass]).toEqual(['None', false]);
  });
});

// ---- over the wire ----

const t = serverSuite('secret');

const account = (prefix = 'p'): Promise<string> => t.account(prefix);

/** Log in; by default fetch the roster (interested) and send initial presence (available). */
async function login(user: string, resource = 'r1', opts: { roster?: boolean; available?: boolean } = {}): Promise<Wire> {
  const c = await t.login(user, resource);
  if (opts.roster !== false) await c.iq(`<iq type='get'><query xmlns='${ROSTER}'/></iq>`);
  if (opts.available !== false) {
    c.send(`<presence/>`);
    await c.waitFor(match('presence', { from: c.jid, type: null })); // our own echo: we are available
  }
  return c;
}

/** Two fresh, interested and available accounts. */
async function pair(): Promise<[Wire, Wire]> {
  return [await login(await account('alice')), await login(await account('bob'))];
}

const presence = (attrs: Record<string, string | null>): Predicate<Named> => match<Named>('presence', attrs);
const available = (from: string): Predicate => match('presence', { from, type: null });
const pushOf = (jid: string, test: (item: El) => boolean = () => true): Predicate =>
  match('iq', { type: 'set' }, (el) => (el.getChild('query', ROSTER)?.getChildren('item') ?? []).some((i) => i.attrs.jid === jid && test(i)));
const anyPush = match('iq', { type: 'set' }, (el) => el.getChild('query', ROSTER) !== undefined);
const sub = (s: string, ask?: string, approved?: string) => (i: El) =>
  i.attrs.subscription === s && i.attrs.ask === ask && i.attrs.approved === approved;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await pause(10);
  }
}

/** Mutual subscription between two available, interested clients; leaves both inboxes empty. */
async function befriend(a: Wire, b: Wire): Promise<void> {
  a.send(`<presence to='${b.bare}' type='subscribe'/>`);
  await b.waitFor(presence({ type: 'subscribe', from: a.bare }));
  b.send(`<presence to='${a.bare}' type='subscribed'/>`);
  await a.waitFor(available(b.jid));
  b.send(`<presence to='${a.bare}' type='subscribe'/>`);
  await a.waitFor(presence({ type: 'subscribe', from: b.bare }));
  a.send(`<presence to='${b.bare}' type='subscribed'/>`);
  await b.waitFor(available(a.jid));
  await pause(30);
  a.clear();
  b.clear();
}

/** Route a stanza into the server as if it came from elsewhere (a remote server, later). */
function inject(xml: string): void | Promise<void> {
  return t.srv.server.hosts.get(t.srv.domain)!.router.route(stanza(xml), undefined);
}

const session = (c: Wire) => {
  const [local, rest] = c.jid.split('@') as [string, string];
  return t.srv.server.sessions.get(t.srv.domain, local, rest.slice(rest.indexOf('/') + 1))!;
};

describe('subscriptions (RFC 6121 §3)', () => {
  it('subscribe and approve: pushes on both sides, bare JIDs, and presence for the new subscriber', async () => {
    const [a, b] = await pair();
    a.send(`<presence to='${b.jid}' type='subscribe'><status>let me in</status></presence>`);
    await a.waitFor(pushOf(b.bare, sub('none', 'subscribe')));
    // Stamped with bare JIDs both ways, even though a addressed b's full JID (§3.1.2).
    const req = await b.waitFor(presence({ type: 'subscribe' }));
    expect([req.attrs.from, req.attrs.to, req.getChildText('status')]).toEqual([a.bare, b.bare, 'let me in']);
    // A pending-in request creates no roster item for the contact (§3.1.3).
    await b.expectNothing(anyPush, 100);

    b.send(`<presence to='${a.bare}' type='subscribed'/>`);
    await b.waitFor(pushOf(a.bare, sub('from')));
    const ok = await a.waitFor(presence({ type: 'subscribed' }));
    expect([ok.attrs.from, ok.attrs.to]).toEqual([b.bare, a.bare]);
    await a.waitFor(pushOf(b.bare, sub('to')));
    // §3.1.5: the contact's current presence follows the approval.
    await a.waitFor(available(b.jid));
    // b does not see a: no presence from a.
    await b.expectNothing(available(a.jid), 100);
  });

  it('keeps a request for an offline contact and redelivers it at each available presence until answered', async () => {
    const a = await login(await account());
    const bName = await account();
    const bBare = `${bName}@${t.srv.domain}`;
    a.send(`<presence to='${bBare}' type='subscribe'/>`);
    await a.waitFor(pushOf(bBare, sub('none', 'subscribe')));

    const b1 = await login(bName, 'r1', { available: false });
    // Not shown in the roster…
    const roster = await b1.iq(`<iq type='get'><query xmlns='${ROSTER}'/></iq>`);
    expect(roster.getChild('query', ROSTER)!.getChildren('item')).toHaveLength(0);
    // …but delivered once the resource is available.
    await b1.expectNothing(presence({ type: 'subscribe' }), 100);
    b1.send(`<presence/>`);
    await b1.waitFor(presence({ type: 'subscribe', from: a.bare, to: bBare }));
    await b1.close();

    const b2 = await login(bName, 'r2');
    await b2.waitFor(presence({ type: 'subscribe', from: a.bare }));
    b2.send(`<presence to='${a.bare}' type='unsubscribed'/>`); // deny
    await a.waitFor(presence({ type: 'unsubscribed', from: bBare }));
    await a.waitFor(pushOf(bBare, sub('none')));
    await b2.close();

    const b3 = await login(bName, 'r3');
    await b3.expectNothing(presence({ type: 'subscribe' }), 150);
  });

  it('pre-approval: subscribed before the request approves it automatically (§3.4)', async () => {
    const [a, b] = await pair();
    b.send(`<presence to='${a.bare}' type='subscribed'/>`);
    await b.waitFor(pushOf(a.bare, sub('none', undefined, 'true')));
    const roster = await b.iq(`<iq type='get'><query xmlns='${ROSTER}'/></iq>`);
    expect(roster.getChild('query', ROSTER)!.getChild('item')!.attrs.approved).toBe('true');
    await a.expectNothing(presence({ from: b.bare }), 100); // nothing routed yet

    a.send(`<presence to='${b.bare}' type='subscribe'/>`);
    await a.waitFor(presence({ type: 'subscribed', from: b.bare }));
    await a.waitFor(pushOf(b.bare, sub('to')));
    await a.waitFor(available(b.jid));
    await b.waitFor(pushOf(a.bare, sub('from')));
    await b.expectNothing(presence({ type: 'subscribe' }), 100);
  });

  it('unsubscribed from the user cancels a pre-approval', async () => {
    const [a, b] = await pair();
    b.send(`<presence to='${a.bare}' type='subscribed'/>`);
    await b.waitFor(pushOf(a.bare, sub('none', undefined, 'true')));
    b.send(`<presence to='${a.bare}' type='unsubscribed'/>`);
    await b.waitFor(pushOf(a.bare, sub('none')));
    a.send(`<presence to='${b.bare}' type='subscribe'/>`);
    await b.waitFor(presence({ type: 'subscribe', from: a.bare }));
    await a.expectNothing(presence({ type: 'subscribed' }), 100);
  });

  it('unsubscribe: the user stops seeing the contact, whose resources go unavailable (§3.3)', async () => {
    const [a, b] = await pair();
    await befriend(a, b);
    a.send(`<presence to='${b.bare}' type='unsubscribe'/>`);
    await a.waitFor(pushOf(b.bare, sub('from')));
    await b.waitFor(presence({ type: 'unsubscribe', from: a.bare }));
    await b.waitFor(pushOf(a.bare, sub('to')));
    await a.waitFor(presence({ type: 'unavailable', from: b.jid }));
  });

  it('unsubscribed: the contact stops seeing the user, whose resources go unavailable (§3.2)', async () => {
    const [a, b] = await pair();
    await befriend(a, b);
    a.send(`<presence to='${b.bare}' type='unsubscribed'/>`);
    await a.waitFor(pushOf(b.bare, sub('to')));
    await b.waitFor(presence({ type: 'unsubscribed', from: a.bare }));
    await b.waitFor(pushOf(a.bare, sub('from')));
    await b.waitFor(presence({ type: 'unavailable', from: a.jid }));
    // From now on b no longer gets a's broadcasts, a still gets b's.
    a.send(`<presence><show>away</show></presence>`);
    await b.expectNothing(available(a.jid), 100);
    b.send(`<presence><show>dnd</show></presence>`);
    await a.waitFor(available(b.jid));
  });

  it('a repeated subscribe between subscribed users is neither delivered nor changes anything', async () => {
    const [a, b] = await pair();
    await befriend(a, b);
    a.send(`<presence to='${b.bare}' type='subscribe'/>`);
    await b.expectNothing(presence({ type: 'subscribe' }), 100);
    await a.expectNothing(presence({ from: b.bare }), 10);
    await a.expectNothing(anyPush, 10);
    await b.expectNothing(anyPush, 10);
  });

  it('approval, its presence, and later auto-replies leave for a remote contact through route/remote', async () => {
    const a = await login(await account());
    const ghost = 'ghost@remote.example';
    const sent: Element[] = [];
    // Above the s2s module's handler, so the stanzas are observed instead of federated.
    const unhook = t.srv.server.hosts.get(t.srv.domain)!.events.hook('route/remote', (ev) => {
      sent.push(ev.stanza);
      return true;
    }, 100);
    const saw = (p: Predicate<Element>) => until(() => sent.some(p));
    try {
      await inject(`<presence from='${ghost}' to='${a.bare}' type='subscribe'/>`);
      await a.waitFor(presence({ type: 'subscribe', from: ghost }));
      a.send(`<presence to='${ghost}' type='subscribed'/>`);
      await a.waitFor(pushOf(ghost, sub('from')));
      await saw(presence({ type: 'subscribed', from: a.bare, to: ghost }));
      await saw(presence({ type: null, from: a.jid, to: ghost })); // §3.1.5
      // The remote server lost track and asks again: answered for the user, not delivered (§3.1.3).
      sent.length = 0;
      await inject(`<presence from='${ghost}' to='${a.bare}' type='subscribe'/>`);
      await saw(presence({ type: 'subscribed', from: a.bare, to: ghost }));
      await a.expectNothing(presence({ type: 'subscribe' }), 100);
      // Broadcasts reach the remote subscriber too.
      a.send(`<presence><show>away</show></presence>`);
      await saw(presence({ type: null, from: a.jid, to: ghost }));
    } finally {
      unhook();
    }
  });

  it('drops inbound subscription stanzas that change nothing (Appendix A.3)', async () => {
    const a = await login(await account());
    const ghost = 'ghost@remote.example';
    for (const type of ['subscribed', 'unsubscribed', 'unsubscribe']) {
      await inject(`<presence from='${ghost}' to='${a.bare}' type='${type}'/>`);
    }
    await a.expectNothing(presence({ from: ghost }), 100);
    await a.expectNothing(anyPush, 10);
    // A subscribe is delivered once; a second one while pending is not (None + Pending In).
    await inject(`<presence from='${ghost}/res' to='${a.bare}' type='subscribe'/>`);
    await a.waitFor(presence({ type: 'subscribe', from: ghost })); // resource stripped
    await inject(`<presence from='${ghost}' to='${a.bare}' type='subscribe'/>`);
    await a.expectNothing(presence({ type: 'subscribe' }), 100);
    // The requester withdraws: delivered, and the request is forgotten.
    await inject(`<presence from='${ghost}' to='${a.bare}' type='unsubscribe'/>`);
    await a.waitFor(presence({ type: 'unsubscribe', from: ghost }));
    const again = await login(a.bare.split('@')[0]!, 'r2');
    await again.expectNothing(presence({ type: 'subscribe' }), 100);
  });

  it('a request for an account that does not exist is refused with unsubscribed', async () => {
    const me = await account();
    const a = await login(me);
    const nobody = `nobody-${me}@${t.srv.domain}`;
    a.send(`<presence to='${nobody}' type='subscribe'/>`);
    await a.waitFor(pushOf(nobody, sub('none', 'subscribe')));
    await a.waitFor(presence({ type: 'unsubscribed', from: nobody }));
    await a.waitFor(pushOf(nobody, sub('none')));
  });

  it('deleting an account cancels its subscriptions with its contacts', async () => {
    const [a, b] = await pair();
    await befriend(a, b);
    const name = a.bare.split('@')[0]!;
    await a.close();
    await b.waitFor(presence({ type: 'unavailable', from: a.jid }));
    await t.srv.server.hosts.get(t.srv.domain)!.events.fire('user-deleted', { host: t.srv.domain, username: name });
    await b.waitFor(presence({ type: 'unsubscribe', from: a.bare }));
    await b.waitFor(presence({ type: 'unsubscribed', from: a.bare }));
    await b.waitFor(pushOf(a.bare, sub('none')));
    expect(await t.srv.server.storage.keyval(t.srv.domain, 'roster').get(name)).toBeUndefined();
  });
});

describe('presence (RFC 6121 §4)', () => {
  it('initial presence: broadcast to subscribers and own resources, probes answered, others told nothing', async () => {
    const [a, b] = await pair();
    const c = await login(await account('carol'));
    await befriend(a, b);
    const user = a.bare.split('@')[0]!;
    const a2 = await login(user, 'second', { available: false });
    a2.send(`<presence><show>away</show><priority>3</priority></presence>`);
    const atB = await b.waitFor(available(a2.jid));
    expect(atB.attrs.to).toBe(b.bare);
    expect(atB.getChildText('show')).toBe('away');
    await a.waitFor(available(a2.jid)); // the user's other resource
    await a2.waitFor(available(a2.jid)); // and the sender itself
    await a2.waitFor(available(b.jid)); // probe answered by the contact
    await a2.waitFor(available(a.jid)); // the user's other available resource
    await c.expectNothing(available(a2.jid), 100);
    expect(session(a2).priority).toBe(3);
    expect(session(a2).presence?.getChildText('show')).toBe('away');
    expect(session(a2).presence?.attrs.to).toBeUndefined();
  });

  it('a probe for an offline contact is answered with unavailable from the bare JID', async () => {
    const [a, b] = await pair();
    await befriend(a, b);
    await b.close();
    await a.waitFor(presence({ type: 'unavailable', from: b.jid }));
    const a2 = await login(a.bare.split('@')[0]!, 'again', { available: false });
    a2.send(`<presence/>`);
    await a2.waitFor(presence({ type: 'unavailable', from: b.bare }));
  });

  it('probes from those who may not see the user get nothing', async () => {
    const [a, b] = await pair();
    a.send(`<presence to='${b.bare}' type='probe'/>`);
    await a.expectNothing(match('presence', { from: b.jid }), 150);
    await a.expectNothing(match('presence', { from: b.bare }), 10);
  });

  it('subsequent presence is broadcast; unavailable is broadcast and the session marked unavailable', async () => {
    const [a, b] = await pair();
    await befriend(a, b);
    a.send(`<presence><status>reading</status><priority>-5</priority></presence>`);
    expect((await b.waitFor(available(a.jid))).getChildText('status')).toBe('reading');
    expect(session(a).priority).toBe(-5);
    a.send(`<presence type='unavailable'><status>bye</status></presence>`);
    const gone = await b.waitFor(presence({ type: 'unavailable', from: a.jid }));
    expect(gone.getChildText('status')).toBe('bye');
    expect(session(a).presence).toBeUndefined();
    // No longer available: the contact's presence no longer reaches it.
    b.send(`<presence><show>chat</show></presence>`);
    await a.expectNothing(available(b.jid), 100);
  });

  it('disconnecting sends unavailable to subscribers and to the other resources', async () => {
    const [a, b] = await pair();
    await befriend(a, b);
    const a2 = await login(a.bare.split('@')[0]!, 'other');
    await a.waitFor(available(a2.jid));
    a.destroy(); // no </stream:stream>: the connection just drops
    await b.waitFor(presence({ type: 'unavailable', from: a.jid }));
    await a2.waitFor(presence({ type: 'unavailable', from: a.jid }));
  });

  it('a session that never sent presence leaves quietly', async () => {
    const [a, b] = await pair();
    await befriend(a, b);
    const quiet = await login(a.bare.split('@')[0]!, 'quiet', { available: false });
    await quiet.close();
    await b.expectNothing(presence({ from: quiet.jid }), 150);
  });

  it('directed presence is delivered and followed by unavailable when the resource goes offline (§4.6)', async () => {
    const [a, c] = await pair();
    a.send(`<presence to='${c.jid}'><status>psst</status></presence>`);
    expect((await c.waitFor(available(a.jid))).getChildText('status')).toBe('psst');
    a.send(`<presence type='unavailable'/>`);
    await c.waitFor(presence({ type: 'unavailable', from: a.jid }));
  });

  it('a directed unavailable ends the directed presence', async () => {
    const [a, c] = await pair();
    a.send(`<presence to='${c.bare}'/>`);
    await c.waitFor(available(a.jid));
    a.send(`<presence to='${c.bare}' type='unavailable'/>`);
    await c.waitFor(presence({ type: 'unavailable', from: a.jid }));
    await a.close();
    await c.expectNothing(presence({ from: a.jid }), 150);
  });

  it('presence to a bare JID reaches every available resource; to a full JID, only that one', async () => {
    const a = await login(await account());
    const cName = await account('carol');
    const c1 = await login(cName, 'one');
    const c2 = await login(cName, 'two');
    const c3 = await login(cName, 'three', { available: false });
    a.send(`<presence to='${c1.bare}'><status>all</status></presence>`);
    await c1.waitFor(available(a.jid));
    await c2.waitFor(available(a.jid));
    await c3.expectNothing(available(a.jid), 100);
    a.send(`<presence to='${c2.jid}'><status>two</status></presence>`);
    expect((await c2.waitFor(available(a.jid))).getChildText('status')).toBe('two');
    await c1.expectNothing(available(a.jid), 100);
  });

  it('presence errors are dropped unless addressed to a full JID', async () => {
    const [a, c] = await pair();
    a.send(`<presence to='${c.bare}' type='error'/>`);
    await c.expectNothing(presence({ type: 'error' }), 100);
    a.send(`<presence to='${c.jid}' type='error'/>`);
    await c.waitFor(presence({ type: 'error', from: a.jid }));
  });

  it.each([
    [`<presence type='online'/>`],
    [`<presence type='available' to='someone@localhost'/>`],
    [`<presence><priority>128</priority></presence>`],
    [`<presence><priority>high</priority></presence>`],
  ])('refuses %s with bad-request', async (xml) => {
    const a = await login(await account());
    a.send(xml);
    const err = await a.waitFor(presence({ type: 'error' }));
    expect(err.getChild('error')!.getChild('bad-request', STANZAS)).toBeDefined();
    expect(session(a).priority).toBe(0);
  });

  it('keeps the presence of an available session as broadcast', async () => {
    const a = await login(await account(), 'r1', { available: false });
    expect(session(a).presence).toBeUndefined();
    a.send(`<presence><show>xa</show></presence>`);
    await a.waitFor(available(a.jid));
    const p = session(a).presence!;
    expect(p.attrs.from).toBe(a.jid);
    expect(p.getChildText('show')).toBe('xa');
  });
});
