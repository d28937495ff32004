// Message Archive Management (XEP-0313) with stanza ids (XEP-0359) against a real Clove on
// 127.0.0.1, port 0, with raw clients: both sides of a conversation archived, the stanza-id a
// recipient sees live, by carbons and from offline storage equal to the archive's id, spoofed
// stanza-ids stripped, hints and preferences respected, RSM paging both ways, filters, errors,
// metadata, other entities refused, retention with a clock the test moves, and deletion of the
// archive with the account.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type El, match, Wire } from '../helpers/wire.js';
import { mamQuery, NS_MAM, NS_SID, stanzaIdBy, TestClock } from '../helpers/mam.js';
import { createMam } from '../../src/modules/mam/mam.js';
import { settle } from '../helpers/contacts.js';

const PASS = 'mam-pass';
const NS_CARBONS = 'urn:xmpp:carbons:2';
const clock = new TestClock();

let ts: TestServer;
let alice: Wire;
let alice2: Wire;
let bob: Wire;
let bob2: Wire;
let carol: Wire;

const body = (text: string) => (m: El): boolean => m.name === 'message' && m.getChildText('body') === text;

async function login(username: string, resource: string, carbons = false): Promise<Wire> {
  const w = await Wire.login({ port: ts.port, username, password: PASS, resource });
  if (carbons) await w.iq(`<iq type='set'><enable xmlns='${NS_CARBONS}'/></iq>`);
  w.send('<presence/>');
  await w.waitFor(match('presence', { from: w.jid }));
  return w;
}

/** Send a chat message (to the bare JID, or the full one with `full`) and wait until the recipient's client has it. */
async function say(from: Wire, to: Wire, text: string, extra = '', full = false): Promise<El> {
  from.send(`<message to='${full ? to.jid : to.jid.split('/')[0]}' type='chat'><body>${text}</body>${extra}</message>`);
  return to.waitFor(body(text));
}

beforeAll(async () => {
  ts = await startTestServer({ extraModules: [createMam(clock)] });
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await ts.addUser(u, PASS);
  alice = await login('alice', 'one', true);
  alice2 = await login('alice', 'two', true);
  bob = await login('bob', 'b1', true);
  bob2 = await login('bob', 'b2', true);
  carol = await login('carol', 'c');
});

afterAll(async () => {
  for (const w of [alice, alice2, bob, bob2, carol]) await w?.close();
  await ts?.stop();
});

describe('MAM: archiving and stanza ids', () => {
  it('advertises exactly the archive features on the account', async () => {
    const info = await alice.iq(`<iq type='get' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const features = info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    for (const f of [NS_MAM, 'urn:xmpp:mam:1', 'urn:xmpp:mam:2#extended', NS_SID]) expect(features).toContain(f);
  });

  it('archives both sides; the stanza-ids seen live and by carbons are the archive ids', async () => {
    // To a full JID, so the account's other resource gets a carbon rather than the message.
    const live = await say(bob, alice, 'hello alice', '', true);
    const copy = await alice2.waitFor((m) => m.getChild('received', NS_CARBONS) !== undefined);
    const sentCopy = await bob2.waitFor((m) => m.getChild('sent', NS_CARBONS) !== undefined);
    const liveId = stanzaIdBy(live, 'alice@localhost');
    expect(liveId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // The recipient never learns the sender's archive id.
    expect(live.getChildren('stanza-id', NS_SID)).toHaveLength(1);
    const inner = (m: El, kind: string): El => m.getChild(kind, NS_CARBONS)!.getChild('forwarded')!.getChild('message')!;
    expect(stanzaIdBy(inner(copy, 'received'), 'alice@localhost')).toBe(liveId);
    const bobsId = stanzaIdBy(inner(sentCopy, 'sent'), 'bob@localhost');
    expect(bobsId).toBeDefined();
    expect(stanzaIdBy(inner(sentCopy, 'sent'), 'alice@localhost')).toBeUndefined();

    const a = await mamQuery(alice, { with: 'bob@localhost' });
    expect(a.reply.attrs.type).toBe('result');
    expect(a.bodies).toEqual(['hello alice']);
    expect(a.ids).toEqual([liveId]);
    const r = a.results[0]!;
    expect(r.attrs.to).toBe('alice@localhost/one');
    const fwd = r.getChild('result')!.getChild('forwarded')!;
    expect(fwd.getChild('delay', 'urn:xmpp:delay')!.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(fwd.getChild('message')!.attrs.from).toBe('bob@localhost/b1');
    // Only the asking resource gets the results.
    await expect(alice2.waitFor((m) => m.getChild('result', NS_MAM) !== undefined, 300)).rejects.toThrow(/timed out/);

    const b = await mamQuery(bob, { with: 'alice@localhost' });
    expect(b.bodies).toEqual(['hello alice']);
    expect(b.ids).toEqual([bobsId]);
  });

  it('strips stanza-ids claiming to be by the recipient or the sender, and keeps origin-id', async () => {
    const m = await say(carol, alice, 'spoofed', `<stanza-id xmlns='${NS_SID}' by='alice@localhost' id='fake'/><stanza-id xmlns='${NS_SID}' by='carol@localhost' id='fake2'/><origin-id xmlns='${NS_SID}' id='orig-1'/>`);
    const ids = m.getChildren('stanza-id', NS_SID);
    expect(ids).toHaveLength(1);
    expect(ids[0]!.attrs.id).not.toBe('fake');
    expect(m.getChild('origin-id', NS_SID)?.attrs.id).toBe('orig-1');
    const a = await mamQuery(alice, { with: 'carol@localhost' });
    expect(a.ids).toEqual([ids[0]!.attrs.id]);
    expect(a.results[0]!.getChild('result')!.getChild('forwarded')!.getChild('message')!.getChild('origin-id', NS_SID)?.attrs.id).toBe('orig-1');
  });

  it('does not archive no-store, no-permanent-store, chat states alone, headlines or errors, but delivers them', async () => {
    await say(carol, alice, 'not kept', "<no-store xmlns='urn:xmpp:hints'/>");
    await say(carol, alice, 'not kept either', "<no-permanent-store xmlns='urn:xmpp:hints'/>");
    carol.send("<message to='alice@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    await alice.waitFor((m) => m.getChild('composing') !== undefined);
    carol.send("<message to='alice@localhost' type='headline'><body>news</body></message>");
    await alice.waitFor(body('news'));
    // A hint to store makes a message without a body archived.
    carol.send("<message to='alice@localhost' type='chat'><store xmlns='urn:xmpp:hints'/><x xmlns='urn:example'/></message>");
    await alice.waitFor((m) => m.getChild('x', 'urn:example') !== undefined);
    const a = await mamQuery(alice, { with: 'carol@localhost' });
    expect(a.bodies).toEqual(['spoofed', '']);
    // The chat state is not kept in the archived copy of a message that has one.
    await say(carol, alice, 'typing done', "<active xmlns='http://jabber.org/protocol/chatstates'/>");
    const b = await mamQuery(alice, { with: 'carol@localhost', before: '', max: 1 });
    const kept = b.results[0]!.getChild('result')!.getChild('forwarded')!.getChild('message')!;
    expect(kept.getChildText('body')).toBe('typing done');
    expect(kept.getChild('active')).toBeUndefined();
  });

  it('archives messages for an offline account, and offline delivery carries the archive id', async () => {
    for (const t of ['off-1', 'off-2', 'off-3']) carol.send(`<message to='dave@localhost' type='chat'><body>${t}</body></message>`);
    const dave = await Wire.login({ port: ts.port, username: 'dave', password: PASS, resource: 'd' });
    try {
      dave.send('<presence/>');
      const got = [];
      for (const t of ['off-1', 'off-2', 'off-3']) got.push(await dave.waitFor(body(t)));
      const a = await mamQuery(dave, {});
      expect(a.bodies).toEqual(['off-1', 'off-2', 'off-3']);
      expect(got.map((m) => stanzaIdBy(m, 'dave@localhost'))).toEqual(a.ids);
    } finally {
      await dave.close();
    }
  });
});

describe('MAM: queries', () => {
  let erin: Wire;
  const texts = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'];
  let all: string[] = [];

  beforeAll(async () => {
    erin = await login('erin', 'e');
    // m0..m3 from bob, an hour later m4..m6 from carol.
    for (const t of texts.slice(0, 4)) await say(bob, erin, t);
    await clock.advance(3_600_000);
    for (const t of texts.slice(4)) await say(carol, erin, t);
    all = (await mamQuery(erin, { max: 50 })).ids;
    expect(all).toHaveLength(7);
  });
  afterAll(async () => { await erin?.close(); });

  it('serves the query form', async () => {
    const r = await erin.iq(`<iq type='get'><query xmlns='${NS_MAM}'/></iq>`);
    const vars = r.getChild('query', NS_MAM)!.getChild('x', 'jabber:x:data')!.getChildren('field').map((f) => f.attrs.var);
    expect(vars).toEqual(['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids']);
  });

  it('pages forwards with RSM after, with complete on the last page', async () => {
    const p1 = await mamQuery(erin, { max: 3 });
    expect(p1.bodies).toEqual(['m0', 'm1', 'm2']);
    expect(p1.fin!.attrs.complete).toBeUndefined();
    const set = p1.fin!.getChild('set')!;
    expect(set.getChildText('count')).toBe('7');
    expect(set.getChild('first')!.attrs.index).toBe('0');
    expect(set.getChildText('first')).toBe(all[0]);
    expect(set.getChildText('last')).toBe(all[2]);
    const p2 = await mamQuery(erin, { max: 3, after: all[2] });
    expect(p2.bodies).toEqual(['m3', 'm4', 'm5']);
    expect(p2.fin!.getChild('set')!.getChild('first')!.attrs.index).toBe('3');
    const p3 = await mamQuery(erin, { max: 3, after: all[5] });
    expect(p3.bodies).toEqual(['m6']);
    expect(p3.fin!.attrs.complete).toBe('true');
  });

  it('pages backwards from the end with an empty <before/>, then <before>id</before>', async () => {
    const last = await mamQuery(erin, { max: 3, before: '' });
    expect(last.bodies).toEqual(['m4', 'm5', 'm6']);
    expect(last.fin!.attrs.complete).toBeUndefined();
    // No index on a backward page (slixmpp 1.8 would stop paging back; Prosody sends none either).
    expect(last.fin!.getChild('set')!.getChild('first')!.attrs.index).toBeUndefined();
    expect(last.fin!.getChild('set')!.getChildText('count')).toBe('7');
    const prev = await mamQuery(erin, { max: 3, before: last.ids[0] });
    expect(prev.bodies).toEqual(['m1', 'm2', 'm3']);
    const first = await mamQuery(erin, { max: 3, before: prev.ids[0] });
    expect(first.bodies).toEqual(['m0']);
    expect(first.fin!.attrs.complete).toBe('true');
    // <flip-page/> sends the page newest first.
    const flipped = await mamQuery(erin, { max: 3, before: '', flip: true });
    expect(flipped.bodies).toEqual(['m6', 'm5', 'm4']);
  });

  it('filters by with, by time, by before-id/after-id and by ids', async () => {
    const withBob = await mamQuery(erin, { with: 'bob@localhost', max: 2, before: '' });
    expect(withBob.bodies).toEqual(['m2', 'm3']);
    expect(withBob.fin!.getChild('set')!.getChildText('count')).toBe('4');
    const start = new Date(clock.now() - 1_800_000).toISOString();
    expect((await mamQuery(erin, { start })).bodies).toEqual(['m4', 'm5', 'm6']);
    expect((await mamQuery(erin, { end: start })).bodies).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect((await mamQuery(erin, { afterId: all[1], beforeId: all[4] })).bodies).toEqual(['m2', 'm3']);
    const bounded = await mamQuery(erin, { beforeId: all[4], max: 2 });
    expect(bounded.bodies).toEqual(['m0', 'm1']);
    expect(bounded.fin!.attrs.complete).toBeUndefined();
    const rest = await mamQuery(erin, { beforeId: all[4], max: 2, after: bounded.ids[1] });
    expect(rest.bodies).toEqual(['m2', 'm3']);
    expect(rest.fin!.attrs.complete).toBe('true');
    expect((await mamQuery(erin, { ids: [all[5]!, all[1]!, 'unknown-id'] })).bodies).toEqual(['m1', 'm5']);
  });

  it('answers the older urn:xmpp:mam:1 namespace the same way', async () => {
    const r = await mamQuery(erin, { ns: 'urn:xmpp:mam:1', max: 2, before: '' });
    expect(r.bodies).toEqual(['m5', 'm6']);
    expect(r.fin?.attrs.xmlns).toBe('urn:xmpp:mam:1');
  });

  it('refuses unknown ids, bad dates, bad forms and pages past the limit', async () => {
    const cond = async (q: Parameters<typeof mamQuery>[1]): Promise<string | undefined> => {
      const r = await mamQuery(erin, q);
      expect(r.reply.attrs.type).toBe('error');
      return r.reply.getChild('error')!.elements()[0]!.name;
    };
    expect(await cond({ after: 'AAAAAAAAAAAAAAAAAAAAAA' })).toBe('item-not-found');
    expect(await cond({ beforeId: 'nope' })).toBe('item-not-found');
    expect(await cond({ start: '2024-02-31T00:00:00Z' })).toBe('bad-request');
    expect(await cond({ end: 'yesterday' })).toBe('bad-request');
    expect(await cond({ ns: NS_MAM, with: 'not a jid@@' })).toBe('bad-request');
    expect(await cond({ ids: Array.from({ length: 1001 }, (_, i) => `id${i}`) })).toBe('policy-violation');
    const wrongType = await erin.iq(`<iq type='set'><query xmlns='${NS_MAM}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x></query></iq>`);
    expect(wrongType.getChild('error')?.getChild('bad-request')).toBeDefined();
    // A max above max_archive_query_results (50) is cut to it, as in Prosody.
    const big = await mamQuery(erin, { max: 100000 });
    expect(big.bodies).toHaveLength(7);
  });

  it('gives metadata: the first and last archived message', async () => {
    const r = await erin.iq(`<iq type='get'><metadata xmlns='${NS_MAM}'/></iq>`);
    const md = r.getChild('metadata', NS_MAM)!;
    expect(md.getChild('start')!.attrs.id).toBe(all[0]);
    expect(md.getChild('end')!.attrs.id).toBe(all[6]);
    expect(Date.parse(md.getChild('end')!.attrs.timestamp!)).toBeGreaterThan(Date.parse(md.getChild('start')!.attrs.timestamp!));
  });

  it("refuses anyone else's query of the account's archive, as Prosody does", async () => {
    const r = await mamQuery(bob, {}, 'erin@localhost');
    expect(r.reply.attrs.type).toBe('error');
    expect(r.reply.getChild('error')!.getChild('service-unavailable')).toBeDefined();
    expect(r.results).toEqual([]);
    const prefs = await bob.iq(`<iq type='get' to='erin@localhost'><prefs xmlns='${NS_MAM}'/></iq>`);
    expect(prefs.attrs.type).toBe('error');
  });

  it('keeps archiving preferences: never for a JID stops archiving it, messages still arrive', async () => {
    const set = await erin.iq(`<iq type='set'><prefs xmlns='${NS_MAM}' default='always'><always/><never><jid>carol@localhost</jid></never></prefs></iq>`);
    expect(set.attrs.type).toBe('result');
    const got = await erin.iq(`<iq type='get'><prefs xmlns='${NS_MAM}'/></iq>`);
    const p = got.getChild('prefs', NS_MAM)!;
    expect(p.attrs.default).toBe('always');
    expect(p.getChild('never')!.getChildren('jid').map((j) => j.text())).toEqual(['carol@localhost']);
    const m = await say(carol, erin, 'unarchived');
    expect(m.getChild('stanza-id', NS_SID)).toBeUndefined();
    await say(bob, erin, 'archived');
    const last = await mamQuery(erin, { max: 2, before: '' });
    expect(last.bodies).toEqual(['m6', 'archived']);
    // Nor does carol's outgoing side change: her archive has it.
    expect((await mamQuery(carol, { with: 'erin@localhost', max: 1, before: '' })).bodies).toEqual(['unarchived']);
    expect((await erin.iq(`<iq type='set'><prefs xmlns='${NS_MAM}' default='sometimes'/></iq>`)).getChild('error')?.getChild('bad-request')).toBeDefined();
    await erin.iq(`<iq type='set'><prefs xmlns='${NS_MAM}' default='always'><always/><never/></prefs></iq>`);
  });
});

describe('MAM and strangers', () => {
  it('a stranger gets the same nothing for a message to an existing offline account as to a missing one', async () => {
    // carol is no contact of dave's.
    const stranger = await login('carol', 'probe');
    try {
      const probe = async (to: string): Promise<string[]> => {
        stranger.clear();
        stranger.send(`<message to='${to}' type='chat' id='p'><body>probe</body></message>`);
        await settle(stranger);
        return stranger.inbox.map(String);
      };
      // dave exists and is offline; ghost does not exist. Only dave's archive grows.
      const archive = ts.server.storage.archive('localhost', 'archive');
      const before = (await archive.metadata('dave')).count;
      expect(await probe('dave@localhost')).toEqual([]);
      expect(await probe('ghost@localhost')).toEqual([]);
      expect((await archive.metadata('dave')).count).toBe(before + 1);
      expect(await archive.owners()).not.toContain('ghost');
    } finally {
      await stranger.close();
    }
  });
});

describe('MAM: retention and deletion', () => {
  it('expires messages older than archive_expires_after (1w) when the clock passes it', async () => {
    const frank = 'frank';
    await ts.addUser(frank, PASS);
    const f = await login(frank, 'f');
    try {
      await say(bob, f, 'old news');
      await clock.advance(6 * 86_400_000);
      await say(bob, f, 'recent');
      expect((await mamQuery(f, {})).bodies).toEqual(['old news', 'recent']);
      // Past one week for the first message only: the next sweep deletes it.
      await clock.advance(86_400_000 + 3_600_000);
      const after = await mamQuery(f, {});
      expect(after.bodies).toEqual(['recent']);
    } finally {
      await f.close();
    }
  });

  it("deletes an account's archive with the account", async () => {
    await ts.addUser('gina', PASS);
    const g = await login('gina', 'g');
    await say(bob, g, 'to be forgotten');
    expect((await mamQuery(g, {})).bodies).toEqual(['to be forgotten']);
    const removed = await g.iq(`<iq type='set'><query xmlns='jabber:iq:register'><remove/></query></iq>`);
    expect(removed.attrs.type).toBe('result');
    await g.close();
    await ts.addUser('gina', PASS);
    const again = await login('gina', 'g2');
    try {
      expect((await mamQuery(again, {})).bodies).toEqual([]);
    } finally {
      await again.close();
    }
  });
});

describe('MAM with stream management (XEP-0198)', () => {
  const NS_SM = 'urn:xmpp:sm:3';
  const sm = (name: string) => match(name, {}, (el) => el.xmlns === NS_SM);

  it('a client that resumes and pages back sees every message once, with the ids it got live', async () => {
    await ts.addUser('hank', PASS);
    const h = await login('hank', 'h');
    h.send(`<enable xmlns='${NS_SM}' resume='true'/>`);
    const id = (await h.waitFor(sm('enabled'))).attrs.id!;
    await settle(h);
    const handled = h.received.slice(h.received.findIndex((e) => e.name === 'enabled') + 1).filter((e) => ['message', 'presence', 'iq'].includes(e.name)).length;
    await say(bob, h, 'r1');
    // The connection drops; r1 was never acknowledged, r2 and r3 arrive while it hibernates.
    h.destroy();
    for (const t of ['r2', 'r3']) bob.send(`<message to='hank@localhost' type='chat'><body>${t}</body></message>`);
    await settle(bob);
    const again = await Wire.open({ port: ts.port });
    try {
      await again.startTls();
      await again.authenticate('hank', PASS);
      again.send(`<resume xmlns='${NS_SM}' previd='${id}' h='${handled}'/>`);
      await again.waitFor(sm('resumed'));
      const got: El[] = [];
      for (const t of ['r1', 'r2', 'r3']) got.push(await again.waitFor(body(t)));
      const a = await mamQuery(again, { with: 'bob@localhost' });
      expect(a.bodies).toEqual(['r1', 'r2', 'r3']);
      expect(got.map((m) => stanzaIdBy(m, 'hank@localhost'))).toEqual(a.ids);
      expect(a.fin!.getChild('set')!.getChildText('count')).toBe('3');
    } finally {
      await again.close();
    }
  });

  it('unacknowledged messages routed again when a session ends are not archived twice and keep their id', async () => {
    await ts.addUser('ivy', PASS);
    const ivy = await login('ivy', 'i');
    ivy.send(`<enable xmlns='${NS_SM}'/>`);
    await ivy.waitFor(sm('enabled'));
    const live = await say(bob, ivy, 'u1');
    // A clean close with u1 unacknowledged: the server routes it again (to offline storage).
    await ivy.close();
    const back = await login('ivy', 'i2');
    try {
      const stored = await back.waitFor(body('u1'));
      expect(stanzaIdBy(stored, 'ivy@localhost')).toBe(stanzaIdBy(live, 'ivy@localhost'));
      const a = await mamQuery(back, { with: 'bob@localhost' });
      expect(a.bodies).toEqual(['u1']);
    } finally {
      await back.close();
    }
  });
});
