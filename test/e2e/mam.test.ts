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
