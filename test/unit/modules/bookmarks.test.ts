// The bookmarks module against a PepService test double (test/helpers/memory-pep.ts): legacy
// private storage and legacy PEP writes become Bookmarks 2 publishes/retracts, legacy reads are
// answered from Bookmarks 2, and the account features Prosody advertises. Real host, real
// private module, real router; only PEP is the double.
import { beforeEach, describe, expect, it } from 'vitest';
import type { Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { MODULES } from '../../../src/modules/index.js';
import bookmarks from '../../../src/modules/bookmarks/bookmarks.js';
import { BOOKMARKS2_OPTIONS, NS_BOOKMARKS2, NS_PUBSUB } from '../../../src/modules/bookmarks/convert.js';
import type { FakeSession, HostWorld } from '../../helpers/host-world.js';
import { worldWithPep, type MemoryPep } from '../../helpers/memory-pep.js';
import { stanza } from '../../helpers/stanza.js';

let w: HostWorld;
let pep: MemoryPep;
let alice: FakeSession;

beforeEach(async () => {
  ({ world: w, pep } = await worldWithPep([MODULES.get('private')!, MODULES.get('disco')!, MODULES.get('message')!, bookmarks]));
  alice = w.bind('alice@localhost/pc');
});

/** Send `xml` from alice and return the reply. */
async function iq(xml: string): Promise<Element> {
  const before = alice.got.length;
  await w.router.fromClient(alice, stanza(xml));
  await new Promise((r) => setImmediate(r));
  const reply = alice.got.slice(before).find((s) => s.name === 'iq');
  if (!reply) throw new Error(`no reply to ${xml}`);
  return reply;
}

const setPrivate = (inner: string) => iq(`<iq type='set' id='s'><query xmlns='jabber:iq:private'>${inner}</query></iq>`);
const getPrivate = (inner = `<storage xmlns='storage:bookmarks'/>`) => iq(`<iq type='get' id='g'><query xmlns='jabber:iq:private'>${inner}</query></iq>`);
const ROOM = (jid: string, inner = '', name = 'Room') => `<conference jid='${jid}' name='${name}' autojoin='true'>${inner}</conference>`;
const ids = async () => (await pep.items('alice', NS_BOOKMARKS2)).map((i) => i.attrs.id);
const publish2 = (room: string, inner = '') => pep.publish('alice', NS_BOOKMARKS2, stanza(`<item id='${room}'><conference xmlns='${NS_BOOKMARKS2}' name='From 402' autojoin='false'>${inner}</conference></item>`));

describe('bookmarks: private XML storage (#compat)', () => {
  it('publishes each legacy room to urn:xmpp:bookmarks:1 with the XEP-0402 node config', async () => {
    expect((await setPrivate(`<storage xmlns='storage:bookmarks'>${ROOM('a@c.x', '<nick>Puck</nick><password>pw</password>')}${ROOM('b@c.x')}</storage>`)).attrs.type).toBe('result');
    expect(await ids()).toEqual(['b@c.x', 'a@c.x']);
    const node = pep.nodes.get('alice')!.get(NS_BOOKMARKS2)!;
    expect(node.options).toMatchObject({ 'pubsub#access_model': 'whitelist', 'pubsub#max_items': 'max', 'pubsub#persist_items': 'true', 'pubsub#send_last_published_item': 'never' });
    const a = node.items.find((i) => i.attrs.id === 'a@c.x')!.getChild('conference', NS_BOOKMARKS2)!;
    expect([a.attrs.name, a.attrs.autojoin, a.getChildText('nick'), a.getChildText('password')]).toEqual(['Room', 'true', 'Puck', 'pw']);
  });

  it('retracts removed rooms and republishes only changed ones', async () => {
    await setPrivate(`<storage xmlns='storage:bookmarks'>${ROOM('a@c.x')}${ROOM('b@c.x')}${ROOM('c@c.x')}</storage>`);
    pep.calls.length = 0;
    await setPrivate(`<storage xmlns='storage:bookmarks'>${ROOM('a@c.x')}${ROOM('c@c.x', '', 'Renamed')}</storage>`);
    expect(pep.calls).toEqual([`publish alice ${NS_BOOKMARKS2} c@c.x`, `retract alice ${NS_BOOKMARKS2} b@c.x`]);
  });

  it('answers legacy reads from Bookmarks 2, with the url bookmarks Bookmarks 2 cannot hold', async () => {
    await setPrivate(`<storage xmlns='storage:bookmarks'>${ROOM('a@c.x')}<url name='Clove' url='http://clove.i2p/'/></storage>`);
    await publish2('new@c.x', '<nick>N</nick>');
    const storage = (await getPrivate()).getChild('query', NS.PRIVATE)!.getChild('storage', 'storage:bookmarks')!;
    expect(storage.getChildren('conference').map((c) => [c.attrs.jid, c.attrs.name, c.attrs.autojoin, c.getChildText('nick')]))
      .toEqual([['a@c.x', 'Room', 'true', undefined], ['new@c.x', 'From 402', 'false', 'N']]);
    expect(storage.getChild('url')?.attrs.url).toBe('http://clove.i2p/');
    await pep.retract('alice', NS_BOOKMARKS2, 'a@c.x');
    const after = (await getPrivate()).getChild('query', NS.PRIVATE)!.getChild('storage', 'storage:bookmarks')!;
    expect(after.getChildren('conference').map((c) => c.attrs.jid)).toEqual(['new@c.x']);
  });

  it('keeps a Bookmarks 2 client\'s extensions when a legacy client writes the same room', async () => {
    await publish2('a@c.x', `<extensions><x xmlns='urn:example'>keep</x></extensions>`);
    await setPrivate(`<storage xmlns='storage:bookmarks'><conference jid='a@c.x' name='Legacy' autojoin='true'/></storage>`);
    const conf = (await pep.items('alice', NS_BOOKMARKS2))[0]!.getChild('conference', NS_BOOKMARKS2)!;
    expect(conf.attrs.name).toBe('Legacy');
    expect(conf.getChild('extensions')?.getChildText('x', 'urn:example')).toBe('keep');
  });

  it('leaves other private XML to the private module, in the same set too', async () => {
    await setPrivate(`<storage xmlns='storage:bookmarks'>${ROOM('a@c.x')}</storage><prefs xmlns='urn:example:prefs'>dark</prefs>`);
    expect(await ids()).toEqual(['a@c.x']);
    expect((await getPrivate(`<prefs xmlns='urn:example:prefs'/>`)).getChild('query', NS.PRIVATE)!.getChildText('prefs')).toBe('dark');
  });

  it('an empty legacy storage removes every room', async () => {
    await setPrivate(`<storage xmlns='storage:bookmarks'>${ROOM('a@c.x')}</storage>`);
    await setPrivate(`<storage xmlns='storage:bookmarks'/>`);
    expect(await ids()).toEqual([]);
  });
});

describe('bookmarks: legacy PEP node storage:bookmarks (#compat-pep)', () => {
  it('converts a publish to the legacy node and answers its items from Bookmarks 2', async () => {
    const reply = await iq(`<iq type='set' id='p'><pubsub xmlns='${NS_PUBSUB}'><publish node='storage:bookmarks'><item id='current'><storage xmlns='storage:bookmarks'>${ROOM('a@c.x')}</storage></item></publish></pubsub></iq>`);
    expect(reply.attrs.type).toBe('result');
    expect(await ids()).toEqual(['a@c.x']);
    const items = (await iq(`<iq type='get' id='i'><pubsub xmlns='${NS_PUBSUB}'><items node='storage:bookmarks'/></pubsub></iq>`)).getChild('pubsub', NS_PUBSUB)!.getChild('items')!;
    expect(items.getChild('item')?.attrs.id).toBe('current');
    expect(items.getChild('item')!.getChild('storage', 'storage:bookmarks')!.getChild('conference')?.attrs.jid).toBe('a@c.x');
  });
});

describe('bookmarks: legacy +notify (storage:bookmarks) notifications, as Prosody\'s compat broadcast', () => {
  /** The legacy notifications `s` got: the room JIDs of each <storage/>. */
  const legacyEvents = (s: FakeSession): string[][] => s.got.filter((m) => m.name === 'message').map((m) => m.getChild('event', NS.PUBSUB_EVENT)?.getChild('items'))
    .filter((i) => i?.attrs.node === 'storage:bookmarks')
    .map((i) => i!.getChild('item')!.getChild('storage', 'storage:bookmarks')!.getChildren('conference').map((c) => c.attrs.jid ?? ''));
  const settle = async () => { for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); };

  it('a Bookmarks 2 publish, retract or node deletion sends the whole converted storage to own legacy +notify resources only', async () => {
    const legacy = w.bind('alice@localhost/legacy');
    const other = w.bind('alice@localhost/b2');
    const bob = w.bind('bob@localhost/x');
    pep.interest.set(`alice storage:bookmarks`, ['alice@localhost/legacy', 'bob@localhost/x']);
    for (const room of ['a@c.x', 'b@c.x']) await pep.publish('alice', NS_BOOKMARKS2, stanza(`<item id='${room}'><conference xmlns='${NS_BOOKMARKS2}'/></item>`), BOOKMARKS2_OPTIONS);
    await settle();
    expect(legacyEvents(legacy)).toEqual([['a@c.x'], ['a@c.x', 'b@c.x']]);
    await pep.retract('alice', NS_BOOKMARKS2, 'a@c.x');
    await pep.deleteNode('alice', NS_BOOKMARKS2);
    await settle();
    expect(legacyEvents(legacy).slice(2)).toEqual([['b@c.x'], []]);
    expect(legacyEvents(other)).toEqual([]);
    expect(legacyEvents(bob)).toEqual([]);
  });

  it('a legacy write of several changes makes one notification', async () => {
    const legacy = w.bind('alice@localhost/legacy');
    pep.interest.set(`alice storage:bookmarks`, ['alice@localhost/legacy']);
    await setPrivate(`<storage xmlns='storage:bookmarks'>${ROOM('a@c.x')}${ROOM('b@c.x')}${ROOM('c@c.x')}</storage>`);
    await settle();
    expect(legacyEvents(legacy)).toEqual([['a@c.x', 'b@c.x', 'c@c.x']]);
    await setPrivate(`<storage xmlns='storage:bookmarks'>${ROOM('a@c.x')}${ROOM('b@c.x')}${ROOM('c@c.x')}</storage>`);
    await settle();
    expect(legacyEvents(legacy)).toHaveLength(1); // nothing changed: nothing sent
  });

  it('a legacy resource that shows interest gets the current bookmarks at once', async () => {
    await publish2('a@c.x');
    const legacy = w.bind('alice@localhost/legacy');
    await w.host.events.fire('pep-interest-shown', { user: 'alice', jid: 'alice@localhost/legacy', nodes: ['storage:bookmarks'] });
    await settle();
    expect(legacyEvents(legacy)).toEqual([['a@c.x']]);
  });
});

describe('bookmarks: the Bookmarks 2 node configuration', () => {
  it('is forced back to whitelist (and the other XEP-0402 options) on the next legacy write, as Prosody does', async () => {
    await publish2('a@c.x');
    const node = pep.nodes.get('alice')!.get(NS_BOOKMARKS2)!;
    node.options['pubsub#access_model'] = 'open';
    node.options['pubsub#max_items'] = '1';
    expect((await setPrivate(`<storage xmlns='storage:bookmarks'>${ROOM('a@c.x')}${ROOM('b@c.x')}</storage>`)).attrs.type).toBe('result');
    expect(node.options).toMatchObject({ 'pubsub#access_model': 'whitelist', 'pubsub#max_items': 'max' });
    expect(await ids()).toEqual(['b@c.x', 'a@c.x']);
  });
});

describe('bookmarks: legacy bookmarks stored before the module was loaded', () => {
  /** bob's legacy bookmarks stored by the private module alone, then bookmarks loaded and bob bound. */
  async function storedBefore(cfg?: string) {
    const { world, pep: double, registry } = await worldWithPep([MODULES.get('private')!], cfg);
    const bob = world.bind('bob@localhost/pc');
    const send = async (xml: string) => {
      await world.router.fromClient(bob, stanza(xml));
      await new Promise((r) => setImmediate(r));
      return bob.got.at(-1)!;
    };
    await send(`<iq type='set' id='s'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>${ROOM('old@c.x', '<nick>Bob</nick>')}<url name='U' url='http://u.i2p/'/></storage></query></iq>`);
    await world.host.load([bookmarks], registry);
    const read = async () => (await send(`<iq type='get' id='g'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>`))
      .getChild('query', NS.PRIVATE)!.getChild('storage', 'storage:bookmarks')!;
    // Not moved yet: a legacy read still shows the room.
    expect((await read()).getChildren('conference').map((c) => c.attrs.jid)).toEqual(['old@c.x']);
    await world.host.events.fire('session-bound', { session: bob });
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    return { double, read };
  }

  it('move to Bookmarks 2 when the user binds a resource, leaving only the url bookmarks in private storage', async () => {
    const { double, read } = await storedBefore();
    expect((await double.items('bob', NS_BOOKMARKS2)).map((i) => i.attrs.id)).toEqual(['old@c.x']);
    // A legacy read gives the same room once (from PEP), and the url kept beside it.
    const storage = await read();
    expect(storage.getChildren('conference').map((c) => [c.attrs.jid, c.getChildText('nick')])).toEqual([['old@c.x', 'Bob']]);
    expect(storage.getChild('url')?.attrs.url).toBe('http://u.i2p/');
  });

  it('stay in private storage with upgrade_legacy_bookmarks = false', async () => {
    const { double, read } = await storedBefore('upgrade_legacy_bookmarks = false\nVirtualHost "localhost"');
    expect(await double.items('bob', NS_BOOKMARKS2)).toEqual([]);
    expect((await read()).getChildren('conference').map((c) => c.attrs.jid)).toEqual(['old@c.x']);
  });
});

describe('bookmarks: disco', () => {
  it('advertises #compat and #compat-pep on the account', async () => {
    await w.accounts.create('alice', 'pw');
    const info = await iq(`<iq type='get' id='d' to='alice@localhost'><query xmlns='${NS.DISCO_INFO}'/></iq>`);
    const features = info.getChild('query', NS.DISCO_INFO)!.getChildren('feature').map((f) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining([`${NS_BOOKMARKS2}#compat`, `${NS_BOOKMARKS2}#compat-pep`]));
  });
});
