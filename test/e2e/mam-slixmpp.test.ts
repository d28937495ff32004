// Message Archive Management with slixmpp's xep_0313 plugin (Debian's python3-slixmpp 1.8): alice
// has a laptop and a phone; the phone is offline while she talks with bob and carol. When it
// comes back it pages the history with RSM forwards and backwards, by `with` and by time; the
// archive ids equal the stanza-ids the laptop saw live; no-store messages and a JID under
// prefs `never` are not archived. Time is the mam module's clock, moved by the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Slixmpp } from '../helpers/slixmpp.js';
import type { XmlElement } from '../helpers/xmppjs.js';
import { NS_MAM, NS_SID, TestClock } from '../helpers/mam.js';
import { createMam } from '../../src/modules/mam/mam.js';

const PASS = 'mam-slix-pass';
const clock = new TestClock();

interface Item { id: string; body: string; from: string; stamp: string | null }
interface Page { items: Item[]; complete: boolean; first: string; first_index: string; last: string; count: string }

let ts: TestServer;
let py: Slixmpp;
/** Archive ids the laptop saw live, by body. */
const liveIds = new Map<string, string>();

const bodyIs = (text: string) => (el: XmlElement): boolean => el.name === 'message' && el.getChildText('body') === text;

/** `from` sends `text` to alice; the laptop gets it live, and we note its stanza-id. */
async function toAlice(from: string, text: string): Promise<XmlElement> {
  await py.call('message', { name: from, to: 'alice@localhost', body: text });
  const m = await py.waitFor('laptop', bodyIs(text), `message ${text}`);
  const sid = m.getChildren('stanza-id').find((s) => s.attrs.xmlns === NS_SID && s.attrs.by === 'alice@localhost');
  if (sid) liveIds.set(text, sid.attrs.id as string);
  return m;
}

beforeAll(async () => {
  ts = await startTestServer({ extraModules: [createMam(clock)] });
  for (const u of ['alice', 'bob', 'carol']) await ts.addUser(u, PASS);
  py = await Slixmpp.start(ts, { timeoutMs: 90_000 });
  await py.connect('laptop', 'alice@localhost', PASS, { resource: 'laptop' });
  await py.connect('phone', 'alice@localhost', PASS, { resource: 'phone' });
  await py.connect('bob', 'bob@localhost', PASS, { resource: 'b' });
  await py.connect('carol', 'carol@localhost', PASS, { resource: 'c' });
  for (const n of ['laptop', 'bob', 'carol']) await py.call('presence', { name: n });
  // The phone goes away before the conversation.
  await py.call('disconnect', { name: 'phone' });

  for (const t of ['b1', 'b2', 'b3']) await toAlice('bob', t);
  await py.call('message', { name: 'laptop', to: 'bob@localhost', body: 'a1' });
  await py.waitFor('bob', bodyIs('a1'), 'reply a1');
  await clock.advance(3_600_000);
  for (const t of ['c1', 'c2', 'c3']) await toAlice('carol', t);
  await toAlice('bob', 'b4');
}, 60_000);

afterAll(async () => {
  await py?.stop();
  await ts?.stop();
});

describe('MAM with slixmpp', () => {
  it('the returning phone pages all history forwards (xep_0313.iterate, pages of 2) with the live ids', async () => {
    await py.connect('phone', 'alice@localhost', PASS, { resource: 'phone' });
    const all = await py.call<{ items: Item[] }>('mam_all', { name: 'phone', max: 2 });
    expect(all.items.map((i) => i.body)).toEqual(['b1', 'b2', 'b3', 'a1', 'c1', 'c2', 'c3', 'b4']);
    for (const i of all.items.filter((x) => x.body !== 'a1')) expect(i.id, i.body).toBe(liveIds.get(i.body));
    expect(all.items[3]!.from).toBe('alice@localhost/laptop');
  });

  it('pages backwards from the newest (reverse iterate)', async () => {
    const back = await py.call<{ items: Item[] }>('mam_all', { name: 'phone', max: 3, reverse: true });
    expect(back.items.map((i) => i.body)).toEqual(['b4', 'c3', 'c2', 'c1', 'a1', 'b3', 'b2', 'b1']);
  });

  it('one page at a time with RSM: last page, then before its first', async () => {
    const last = await py.call<Page>('mam_page', { name: 'phone', max: 3, before: '' });
    expect(last.items.map((i) => i.body)).toEqual(['c2', 'c3', 'b4']);
    expect(last.complete).toBe(false);
    expect(last.count).toBe('8');
    const prev = await py.call<Page>('mam_page', { name: 'phone', max: 10, before: last.first });
    expect(prev.items.map((i) => i.body)).toEqual(['b1', 'b2', 'b3', 'a1', 'c1']);
    expect(prev.complete).toBe(true);
    const next = await py.call<Page>('mam_page', { name: 'phone', max: 2, after: prev.last });
    expect(next.items.map((i) => i.body)).toEqual(['c2', 'c3']);
  });

  it('filters by with and by time', async () => {
    const withCarol = await py.call<Page>('mam_page', { name: 'phone', with: 'carol@localhost' });
    expect(withCarol.items.map((i) => i.body)).toEqual(['c1', 'c2', 'c3']);
    const withBob = await py.call<{ items: Item[] }>('mam_all', { name: 'phone', with: 'bob@localhost', max: 2 });
    expect(withBob.items.map((i) => i.body)).toEqual(['b1', 'b2', 'b3', 'a1', 'b4']);
    const split = new Date(clock.now() - 1_800_000).toISOString();
    const later = await py.call<Page>('mam_page', { name: 'phone', start: split });
    expect(later.items.map((i) => i.body)).toEqual(['c1', 'c2', 'c3', 'b4']);
    const earlier = await py.call<Page>('mam_page', { name: 'phone', end: split });
    expect(earlier.items.map((i) => i.body)).toEqual(['b1', 'b2', 'b3', 'a1']);
  });

  it('serves the form and metadata', async () => {
    const { fields } = await py.call<{ fields: string[] }>('mam_fields', { name: 'phone' });
    expect(fields).toEqual(expect.arrayContaining(['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids']));
    const md = await py.call<{ start: string; end: string }>('mam_metadata', { name: 'phone' });
    expect(md.start).toBe(liveIds.get('b1'));
    expect(md.end).toBe(liveIds.get('b4'));
  });

  it('does not archive no-store messages nor a JID under prefs never; both still arrive', async () => {
    await py.call('iq', { name: 'laptop', xml: `<iq type='set'><prefs xmlns='${NS_MAM}' default='always'><always/><never><jid>carol@localhost</jid></never></prefs></iq>` });
    const m = await toAlice('carol', 'c-never');
    expect(m.getChildren('stanza-id')).toEqual([]);
    // slixmpp 1.8 has no helper for the XEP-0334 hints: a raw message.
    await py.call('raw', { name: 'bob', xml: "<message to='alice@localhost' type='chat'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>" });
    await py.waitFor('laptop', bodyIs('secret'), 'the no-store message');
    await toAlice('bob', 'b5');
    const last = await py.call<Page>('mam_page', { name: 'phone', max: 2, before: '' });
    expect(last.items.map((i) => i.body)).toEqual(['b4', 'b5']);
  });
});
