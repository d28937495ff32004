// Bookmarks 2 (XEP-0402) kept in step with legacy bookmarks (XEP-0048 in XEP-0049 private
// storage, and the legacy PEP node), end to end: a raw client publishing Bookmarks 2 as XEP-0402
// shows (publish-options included) and slixmpp's XEP-0048 plugin over XEP-0049 on the same
// account, against a real Clove on 127.0.0.1.
// Needs the pep module: skipped until PEP (XEP-0163) is merged into this branch.
import { describe, expect, it } from 'vitest';
import { MODULES } from '../../src/modules/index.js';
import { serverSuite } from '../helpers/server-suite.js';
import { Slixmpp } from '../helpers/slixmpp.js';
import { match, type El, type Wire } from '../helpers/wire.js';
import { clientInfo, showCaps } from '../helpers/caps.js';
import { NS } from '../../src/xml/ns.js';

const NS_B2 = 'urn:xmpp:bookmarks:1';
const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
const PASS = 'bookmarks2 pass';
const MODULES_CFG = 'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "private"; "pep"; "bookmarks" }';

/** XEP-0402 ("Adding a bookmark"): publish a bookmark with the publish-options the XEP requires. */
const publishBookmark = (room: string, conference: string) => `<iq type='set'><pubsub xmlns='${NS_PUBSUB}'>
  <publish node='${NS_B2}'><item id='${room}'>${conference}</item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'>
    <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>
    <field var='pubsub#persist_items'><value>true</value></field>
    <field var='pubsub#max_items'><value>max</value></field>
    <field var='pubsub#send_last_published_item'><value>never</value></field>
    <field var='pubsub#access_model'><value>whitelist</value></field>
  </x></publish-options></pubsub></iq>`;

/** XEP-0402 ("Retrieving all bookmarks"): the client's items of urn:xmpp:bookmarks:1. */
async function bookmarks2(c: Wire): Promise<El[]> {
  const r = await c.iq(`<iq type='get'><pubsub xmlns='${NS_PUBSUB}'><items node='${NS_B2}'/></pubsub></iq>`);
  if (r.attrs.type !== 'result') return [];
  return r.getChild('pubsub', NS_PUBSUB)?.getChild('items')?.getChildren('item') ?? [];
}

/** A PEP notification of `node` (a headline message with a pubsub#event). */
const eventOf = (node: string) => match('message', { type: 'headline' }, (m: El) => m.getChild('event', NS.PUBSUB_EVENT)?.getChild('items')?.attrs.node === node);
/** The room JIDs of a legacy notification's <storage/>. */
const legacyRooms = (m: El): string[] => m.getChild('event', NS.PUBSUB_EVENT)!.getChild('items')!.getChild('item')!
  .getChild('storage', 'storage:bookmarks')!.getChildren('conference').map((c) => c.attrs.jid ?? '');

interface Conference { jid: string; nick: string; name: string; autojoin: boolean }

describe.skipIf(!MODULES.has('pep'))('bookmarks 2 and legacy bookmarks agree (needs pep)', () => {
  const suite = serverSuite(PASS, { extra: MODULES_CFG });

  it('a room published with XEP-0402 is in the XEP-0048 private storage slixmpp reads', async () => {
    const user = await suite.account('b2x');
    const c = await suite.login(user);
    const r = await c.iq(publishBookmark('orchard@conference.xxx.b32.i2p',
      `<conference xmlns='${NS_B2}' name='The Orchard' autojoin='true'><nick>Juliet</nick><password>capulet</password></conference>`));
    expect(r.attrs.type).toBe('result');
    const py = await Slixmpp.start(suite.srv);
    try {
      await py.connect('s', `${user}@${suite.srv.domain}`, PASS);
      const got = await py.call<{ conferences: Conference[]; xml: string }>('bookmarks_get', { name: 's' });
      expect(got.conferences).toEqual([{ jid: 'orchard@conference.xxx.b32.i2p', nick: 'Juliet', name: 'The Orchard', autojoin: true }]);
      expect(got.xml).toContain('<password>capulet</password>');
    } finally {
      await py.stop();
    }
  });

  it('rooms slixmpp stores with XEP-0048 are Bookmarks 2 items; a room it drops is retracted, its url kept', async () => {
    const user = await suite.account('x2b');
    const c = await suite.login(user);
    const py = await Slixmpp.start(suite.srv);
    try {
      await py.connect('s', `${user}@${suite.srv.domain}`, PASS);
      const set = await py.call<{ type: string }>('bookmarks_set', {
        name: 's',
        conferences: [{ jid: 'lobby@conference.yyy.b32.i2p', nick: 'Slick', name: 'Lobby', autojoin: true },
          { jid: 'attic@conference.yyy.b32.i2p', nick: 'Slick', name: 'Attic', autojoin: false }],
        urls: [{ url: 'http://example.i2p/', name: 'Example' }],
      });
      expect(set.type).toBe('result');
      const items = await bookmarks2(c);
      expect(items.map((i) => i.attrs.id).sort()).toEqual(['attic@conference.yyy.b32.i2p', 'lobby@conference.yyy.b32.i2p']);
      const lobby = items.find((i) => i.attrs.id === 'lobby@conference.yyy.b32.i2p')!.getChild('conference', NS_B2)!;
      expect([lobby.attrs.name, lobby.attrs.autojoin, lobby.getChildText('nick')]).toEqual(['Lobby', 'true', 'Slick']);

      await py.call('bookmarks_set', { name: 's', conferences: [{ jid: 'lobby@conference.yyy.b32.i2p', nick: 'Slick', name: 'Lobby', autojoin: true }], urls: [{ url: 'http://example.i2p/', name: 'Example' }] });
      expect((await bookmarks2(c)).map((i) => i.attrs.id)).toEqual(['lobby@conference.yyy.b32.i2p']);
      const back = await py.call<{ conferences: Conference[]; urls: { url: string; name: string }[] }>('bookmarks_get', { name: 's' });
      expect(back.conferences.map((x) => x.jid)).toEqual(['lobby@conference.yyy.b32.i2p']);
      expect(back.urls).toEqual([{ url: 'http://example.i2p/', name: 'Example' }]);
    } finally {
      await py.stop();
    }
  });

  it('a legacy rewrite keeps the Bookmarks 2 extensions the legacy format cannot carry', async () => {
    const user = await suite.account('ext');
    const c = await suite.login(user);
    await c.iq(publishBookmark('den@conference.zzz.b32.i2p',
      `<conference xmlns='${NS_B2}' name='Den' autojoin='false'><extensions><state xmlns='urn:example:client'>pinned</state></extensions></conference>`));
    const set = await c.iq(`<iq type='set'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>
      <conference jid='den@conference.zzz.b32.i2p' name='The Den' autojoin='true'/></storage></query></iq>`);
    expect(set.attrs.type).toBe('result');
    const conf = (await bookmarks2(c))[0]!.getChild('conference', NS_B2)!;
    expect([conf.attrs.name, conf.attrs.autojoin]).toEqual(['The Den', 'true']);
    expect(conf.getChild('extensions')?.getChildText('state', 'urn:example:client')).toBe('pinned');
  });

  it('the legacy PEP node storage:bookmarks reads and writes the same rooms', async () => {
    const user = await suite.account('lp');
    const c = await suite.login(user);
    const pub = await c.iq(`<iq type='set'><pubsub xmlns='${NS_PUBSUB}'><publish node='storage:bookmarks'><item id='current'>
      <storage xmlns='storage:bookmarks'><conference jid='hall@conference.www.b32.i2p' name='Hall' autojoin='true'><nick>Romeo</nick></conference></storage>
      </item></publish></pubsub></iq>`);
    expect(pub.attrs.type).toBe('result');
    expect((await bookmarks2(c)).map((i) => i.attrs.id)).toEqual(['hall@conference.www.b32.i2p']);
    const got = await c.iq(`<iq type='get'><pubsub xmlns='${NS_PUBSUB}'><items node='storage:bookmarks'/></pubsub></iq>`);
    const storage = got.getChild('pubsub', NS_PUBSUB)!.getChild('items')!.getChild('item')!.getChild('storage', 'storage:bookmarks')!;
    expect(storage.getChild('conference')?.getChildText('nick')).toBe('Romeo');
  });

  it('a legacy +notify resource and a Bookmarks 2 resource online together each see the other\'s change', async () => {
    const user = await suite.account('both');
    const legacy = await suite.login(user, 'legacy');
    const b2 = await suite.login(user, 'b2');
    await showCaps(legacy, clientInfo(legacy.jid, 'storage:bookmarks+notify'));
    await showCaps(b2, clientInfo(b2.jid, `${NS_B2}+notify`));
    // Interest shown: the legacy client gets the (empty) bookmarks at once, as at Prosody's initial presence.
    expect(legacyRooms(await legacy.waitFor(eventOf('storage:bookmarks')))).toEqual([]);

    // Bookmarks 2 → legacy: the whole converted <storage/> in item 'current'.
    expect((await b2.iq(publishBookmark('one@conference.vvv.b32.i2p', `<conference xmlns='${NS_B2}' name='One' autojoin='true'><nick>B</nick></conference>`))).attrs.type).toBe('result');
    const note = await legacy.waitFor(eventOf('storage:bookmarks'));
    expect([note.attrs.from, note.attrs.to]).toEqual([`${user}@${suite.srv.domain}`, `${user}@${suite.srv.domain}/legacy`]);
    expect(note.getChild('event', NS.PUBSUB_EVENT)!.getChild('items')!.getChild('item')!.attrs.id).toBe('current');
    expect(legacyRooms(note)).toEqual(['one@conference.vvv.b32.i2p']);
    expect((await b2.waitFor(eventOf(NS_B2))).getChild('event', NS.PUBSUB_EVENT)!.getChild('items')!.getChild('item')!.attrs.id).toBe('one@conference.vvv.b32.i2p');

    // Legacy PEP node → Bookmarks 2, and one legacy notification for the whole write.
    const pub = await legacy.iq(`<iq type='set'><pubsub xmlns='${NS_PUBSUB}'><publish node='storage:bookmarks'><item id='current'><storage xmlns='storage:bookmarks'>
      <conference jid='one@conference.vvv.b32.i2p' name='One' autojoin='true'><nick>B</nick></conference><conference jid='two@conference.vvv.b32.i2p' name='Two'/></storage>
      </item></publish></pubsub></iq>`);
    expect(pub.attrs.type).toBe('result');
    expect((await b2.waitFor(eventOf(NS_B2))).getChild('event', NS.PUBSUB_EVENT)!.getChild('items')!.getChild('item')!.attrs.id).toBe('two@conference.vvv.b32.i2p');
    expect(legacyRooms(await legacy.waitFor(eventOf('storage:bookmarks')))).toEqual(['one@conference.vvv.b32.i2p', 'two@conference.vvv.b32.i2p']);

    // XEP-0048 in private storage → a retract for Bookmarks 2 and the new storage for legacy.
    const set = await legacy.iq(`<iq type='set'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='two@conference.vvv.b32.i2p' name='Two'/></storage></query></iq>`);
    expect(set.attrs.type).toBe('result');
    expect((await b2.waitFor(eventOf(NS_B2))).getChild('event', NS.PUBSUB_EVENT)!.getChild('items')!.getChild('retract')?.attrs.id).toBe('one@conference.vvv.b32.i2p');
    expect(legacyRooms(await legacy.waitFor(eventOf('storage:bookmarks')))).toEqual(['two@conference.vvv.b32.i2p']);
    // The Bookmarks 2 client, without storage:bookmarks+notify, never gets the legacy form.
    await b2.expectNothing(eventOf('storage:bookmarks'), 300);
  });

  it('a user\'s open configuration of the Bookmarks 2 node is forced back to whitelist by the next legacy write (as Prosody)', async () => {
    const user = await suite.account('cfg');
    const c = await suite.login(user);
    await c.iq(publishBookmark('cfg@conference.uuu.b32.i2p', `<conference xmlns='${NS_B2}' name='Cfg'/>`));
    const configure = await c.iq(`<iq type='set'><pubsub xmlns='${NS.PUBSUB_OWNER}'><configure node='${NS_B2}'><x xmlns='jabber:x:data' type='submit'>
      <field var='FORM_TYPE' type='hidden'><value>${NS.PUBSUB_NODE_CONFIG}</value></field><field var='pubsub#access_model'><value>open</value></field></x></configure></pubsub></iq>`);
    expect(configure.attrs.type).toBe('result'); // accepted, as Prosody's mod_pep does
    const accessModel = async (): Promise<string | undefined> => {
      const got = await c.iq(`<iq type='get'><pubsub xmlns='${NS.PUBSUB_OWNER}'><configure node='${NS_B2}'/></pubsub></iq>`);
      return got.getChild('pubsub', NS.PUBSUB_OWNER)?.getChild('configure')?.getChild('x', 'jabber:x:data')?.getChildren('field')
        .find((f) => f.attrs.var === 'pubsub#access_model')?.getChildText('value');
    };
    expect(await accessModel()).toBe('open');
    const set = await c.iq(`<iq type='set'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='cfg@conference.uuu.b32.i2p' name='Cfg'/><conference jid='new@conference.uuu.b32.i2p' name='New'/></storage></query></iq>`);
    expect(set.attrs.type).toBe('result');
    expect(await accessModel()).toBe('whitelist');
    // A stranger on the server cannot read the rooms any more.
    const other = await suite.user('stranger');
    const peek = await other.iq(`<iq type='get' to='${user}@${suite.srv.domain}'><pubsub xmlns='${NS_PUBSUB}'><items node='${NS_B2}'/></pubsub></iq>`);
    expect(peek.attrs.type).toBe('error');
    expect((await bookmarks2(c)).map((i) => i.attrs.id).sort()).toEqual(['cfg@conference.uuu.b32.i2p', 'new@conference.uuu.b32.i2p']);
  });

  it('the account advertises #compat and #compat-pep (XEP-0402, compatibility)', async () => {
    const c = await suite.user('disco');
    const info = await c.iq(`<iq type='get' to='${c.bare}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const vars = info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    expect(vars).toEqual(expect.arrayContaining([`${NS_B2}#compat`, `${NS_B2}#compat-pep`]));
  });
});
