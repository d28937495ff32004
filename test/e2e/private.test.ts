// Private XML storage (XEP-0049) and the legacy bookmarks kept in it (XEP-0048 storage:bookmarks),
// end to end: xmpp.js and slixmpp's own bookmarks plugin against a real Clove on 127.0.0.1,
// port 0, with file storage so a restart shows what was stored survives.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { connectXmppjs, xml, type XmppjsClient, type XmlElement } from '../helpers/xmppjs.js';
import { Slixmpp } from '../helpers/slixmpp.js';
import { Wire } from '../helpers/wire.js';

const NS_PRIVATE = 'jabber:iq:private';
const NS_BOOKMARKS = 'storage:bookmarks';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const MODULES = 'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "vcard"; "register"; "private" }';
const PASS = 'private pass';

let ts: TestServer;
let dir: string;
const clients: XmppjsClient[] = [];
let users = 0;

async function start(): Promise<TestServer> {
  return startTestServer({ extra: MODULES, storage: 'file', ...(dir ? { dir } : {}) });
}

beforeAll(async () => {
  ts = await start();
  dir = ts.dir;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
});

afterAll(async () => {
  await ts?.stop();
  const { rm } = await import('node:fs/promises');
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function newUser(prefix: string): Promise<string> {
  const name = `${prefix}${++users}`;
  await ts.addUser(name, PASS);
  return name;
}

async function login(username: string): Promise<XmppjsClient> {
  const c = await connectXmppjs(ts, { username, password: PASS });
  clients.push(c);
  return c;
}

const bookmarks = () => xml('storage', { xmlns: NS_BOOKMARKS },
  xml('conference', { name: 'Council of Oberon', autojoin: 'true', jid: 'council@conference.xxx.b32.i2p' }, xml('nick', {}, 'Puck'), xml('password', {}, 'titania')),
  xml('url', { name: 'Clove', url: 'http://clove.i2p/' }));

const getIq = (child: XmlElement, to?: string) => xml('iq', { type: 'get', ...(to ? { to } : {}) }, xml('query', { xmlns: NS_PRIVATE }, child));
const setIq = (children: XmlElement[], to?: string) => xml('iq', { type: 'set', ...(to ? { to } : {}) }, xml('query', { xmlns: NS_PRIVATE }, ...children));

function condition(reply: XmlElement): string | undefined {
  return reply.getChild('error')?.getChildElements().find((c) => c.getNS() === NS_STANZAS && c.name !== 'text')?.name;
}

function storedBookmarks(reply: XmlElement): XmlElement {
  expect(reply.attrs.type, reply.toString()).toBe('result');
  const q = reply.getChild('query', NS_PRIVATE)!;
  expect(q.getChildElements()).toHaveLength(1);
  return q.getChild('storage', NS_BOOKMARKS)!;
}

describe('private XML storage with xmpp.js', () => {
  it('is advertised in disco#info', async () => {
    const c = await login(await newUser('disco'));
    const info = await c.iq(xml('iq', { type: 'get', to: ts.domain }, xml('query', { xmlns: NS_DISCO_INFO })));
    expect(info.getChild('query', NS_DISCO_INFO)!.getChildren('feature').map((f) => f.attrs.var)).toContain(NS_PRIVATE);
  });

  it('bookmarks round trip: nothing stored gives the empty element back, then what was stored, then deletion', async () => {
    const c = await login(await newUser('bm'));
    const empty = storedBookmarks(await c.iq(getIq(xml('storage', { xmlns: NS_BOOKMARKS }))));
    expect(empty.getChildElements()).toEqual([]);

    expect((await c.iq(setIq([bookmarks()]))).attrs.type).toBe('result');
    const got = storedBookmarks(await c.iq(getIq(xml('storage', { xmlns: NS_BOOKMARKS }))));
    const conf = got.getChild('conference')!;
    expect(conf.attrs).toMatchObject({ name: 'Council of Oberon', autojoin: 'true', jid: 'council@conference.xxx.b32.i2p' });
    expect(conf.getChildText('nick')).toBe('Puck');
    expect(conf.getChildText('password')).toBe('titania');
    expect(got.getChild('url')!.attrs).toMatchObject({ name: 'Clove', url: 'http://clove.i2p/' });

    // Another namespace is another slot: the bookmarks stay.
    expect((await c.iq(setIq([xml('prefs', { xmlns: 'urn:example:prefs', theme: 'dark' })]))).attrs.type).toBe('result');
    const prefs = await c.iq(getIq(xml('prefs', { xmlns: 'urn:example:prefs' })));
    expect(prefs.getChild('query', NS_PRIVATE)!.getChild('prefs', 'urn:example:prefs')!.attrs.theme).toBe('dark');
    expect(storedBookmarks(await c.iq(getIq(xml('storage', { xmlns: NS_BOOKMARKS })))).getChild('conference')).toBeDefined();

    // An empty element deletes its slot.
    expect((await c.iq(setIq([xml('storage', { xmlns: NS_BOOKMARKS })]))).attrs.type).toBe('result');
    expect(storedBookmarks(await c.iq(getIq(xml('storage', { xmlns: NS_BOOKMARKS })))).getChildElements()).toEqual([]);
  });

  it('several elements in one set are all stored; a bad one among them stores none', async () => {
    const c = await login(await newUser('multi'));
    const ok = await c.iq(setIq([xml('a', { xmlns: 'urn:example:a' }, 'one'), xml('b', { xmlns: 'urn:example:b' }, 'two')]));
    expect(ok.attrs.type).toBe('result');
    for (const [n, v] of [['a', 'one'], ['b', 'two']]) {
      const r = await c.iq(getIq(xml(n!, { xmlns: `urn:example:${n}` })));
      expect(r.getChild('query', NS_PRIVATE)!.getChildText(n!, `urn:example:${n}`)).toBe(v);
    }
    const bad = await c.iq(setIq([xml('a', { xmlns: 'urn:example:a' }, 'changed'), xml('vcard', { xmlns: 'jabber:iq:nope' })]));
    expect(condition(bad)).toBe('not-acceptable');
    const a = await c.iq(getIq(xml('a', { xmlns: 'urn:example:a' })));
    expect(a.getChild('query', NS_PRIVATE)!.getChildText('a', 'urn:example:a')).toBe('one');
  });

  it('bad requests: no element, several in a get, a jabber:* namespace, no namespace of its own', async () => {
    const c = await login(await newUser('bad'));
    const cases: [string, XmlElement][] = [
      ['get with no element', xml('iq', { type: 'get' }, xml('query', { xmlns: NS_PRIVATE }))],
      ['set with no element', xml('iq', { type: 'set' }, xml('query', { xmlns: NS_PRIVATE }))],
      ['get of two elements', xml('iq', { type: 'get' }, xml('query', { xmlns: NS_PRIVATE }, xml('a', { xmlns: 'urn:a' }), xml('b', { xmlns: 'urn:b' })))],
      ['jabber:* namespace', setIq([xml('query', { xmlns: 'jabber:iq:roster' })])],
      ['inherited jabber:iq:private', setIq([xml('plain', {}, 'text')])],
      ['jabber:* get', getIq(xml('query', { xmlns: 'jabber:iq:auth' }))],
    ];
    for (const [what, iq] of cases) {
      const r = await c.iq(iq);
      expect(r.attrs.type, what).toBe('error');
      expect(condition(r), `${what}: ${r.toString()}`).toBe('not-acceptable');
    }
  });

  it("someone else's storage is forbidden, for reading and for writing", async () => {
    const owner = await newUser('owner');
    const o = await login(owner);
    await o.iq(setIq([bookmarks()]));
    const snoop = await login(await newUser('snoop'));
    const read = await snoop.iq(getIq(xml('storage', { xmlns: NS_BOOKMARKS }), `${owner}@${ts.domain}`));
    expect(condition(read)).toBe('forbidden');
    expect(read.toString()).not.toContain('titania');
    const write = await snoop.iq(setIq([xml('storage', { xmlns: NS_BOOKMARKS })], `${owner}@${ts.domain}`));
    expect(condition(write)).toBe('forbidden');
    // The owner's bookmarks are untouched; the owner may also address its own bare JID.
    const mine = await o.iq(getIq(xml('storage', { xmlns: NS_BOOKMARKS }), `${owner}@${ts.domain}`));
    expect(storedBookmarks(mine).getChild('conference')!.getChildText('nick')).toBe('Puck');
  });
});

describe('bookmarks with slixmpp (XEP-0048 plugin over XEP-0049)', () => {
  it('slixmpp stores and reads its bookmarks; xmpp.js on the same account sees them', async () => {
    const user = await newUser('slix');
    const py = await Slixmpp.start(ts);
    try {
      await py.connect('s', `${user}@${ts.domain}`, PASS);
      const set = await py.call<{ type: string }>('bookmarks_set', {
        name: 's',
        conferences: [{ jid: 'lobby@conference.yyy.b32.i2p', nick: 'Slick', name: 'Lobby', autojoin: true }],
        urls: [{ url: 'http://example.i2p/', name: 'Example' }],
      });
      expect(set.type).toBe('result');
      const got = await py.call<{ conferences: { jid: string; nick: string; name: string; autojoin: boolean }[]; urls: { url: string; name: string }[] }>('bookmarks_get', { name: 's' });
      expect(got.conferences).toEqual([{ jid: 'lobby@conference.yyy.b32.i2p', nick: 'Slick', name: 'Lobby', autojoin: true }]);
      expect(got.urls).toEqual([{ url: 'http://example.i2p/', name: 'Example' }]);
    } finally {
      await py.stop();
    }
    const c = await login(user);
    const conf = storedBookmarks(await c.iq(getIq(xml('storage', { xmlns: NS_BOOKMARKS })))).getChild('conference')!;
    expect(conf.attrs.jid).toBe('lobby@conference.yyy.b32.i2p');
    expect(conf.getChildText('nick')).toBe('Slick');
  });
});

describe('lifetime of private data', () => {
  it('survives a restart, and goes with the account when it is removed', async () => {
    const user = await newUser('keep');
    const c = await login(user);
    expect((await c.iq(setIq([bookmarks()]))).attrs.type).toBe('result');
    await c.stop();
    clients.length = 0;

    await ts.server.stop();
    ts = await start();
    const again = await login(user);
    expect(storedBookmarks(await again.iq(getIq(xml('storage', { xmlns: NS_BOOKMARKS })))).getChild('conference')!.getChildText('nick')).toBe('Puck');

    // In-band removal fires 'user-deleted'; the same name registered again starts empty.
    const raw = await Wire.login({ port: ts.port, username: user, password: PASS });
    const removed = await raw.iq(`<iq type='set'><query xmlns='jabber:iq:register'><remove/></query></iq>`);
    expect(removed.attrs.type).toBe('result');
    await raw.close();
    await ts.addUser(user, PASS);
    const fresh = await login(user);
    expect(storedBookmarks(await fresh.iq(getIq(xml('storage', { xmlns: NS_BOOKMARKS })))).getChildElements()).toEqual([]);
  });
});
